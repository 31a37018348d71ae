"""The ``language`` stage: fastText language identification, per document, over Arrow batches.

Columns added: ``lang`` (normalized code), ``lang_label`` (the model's label without ``__label__``),
``lang_score`` (probability), ``lang_share`` (share of text in the main language; null unless
``language.main_share``) and ``language_reason`` (null, ``language:not_kept``, ``language:low_score`` or
``language:error``). The model is loaded once per Python worker (the :class:`DocumentStage` cache, and
:mod:`pipelines.text.lid`'s per-process model cache); only its path and sha256 travel to the executors,
never the model object.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.text.lid import (
    LanguageIdentifier,
    LanguagePolicy,
    LidModelError,
    load_model,
    resolve_model_path,
)
from storage.files import file_sha256

from .base import Batch, DocumentStage, StageConfigError


class LanguageStage(DocumentStage):
    """Language identification; see the module docstring for the columns it adds."""

    name = "language"
    columns = (
        ("lang", pa.string()),
        ("lang_label", pa.string()),
        ("lang_score", pa.float64()),
        ("lang_share", pa.float64()),
        ("language_reason", pa.string()),
    )

    def __init__(self, section: Any, ctx: Any) -> None:
        super().__init__(section, ctx)
        self._model_path: str = ""
        self._model_sha256: str = ""

    def prepare(self) -> None:
        """Resolve and load the model on the driver (fails fast when missing) and record its sha256."""
        try:
            path = resolve_model_path(self.section.model_path)
            model = load_model(path)
        except LidModelError as exc:
            raise StageConfigError(str(exc)) from None
        self._model_path, self._model_sha256 = path, file_sha256(path)
        self.ctx.assets["language_model"] = {"path": path, "sha256": self._model_sha256}
        keep = self.section.keep
        self.ctx.stage_info["language"] = {
            "model": Path(path).name,
            "model_labels": len(model.labels),
            "keep": keep if keep == "all" else list(keep),
            "min_score": self.section.min_score,
            "min_score_by_lang": dict(self.section.min_score_by_lang),
            "newlines": self.section.newlines,
            "main_share": self.section.main_share,
        }

    def worker_payload(self) -> tuple[Any, str, str]:
        """The section, the resolved model path and the model's sha256 (part of the worker cache key)."""
        return self.section, self._model_path, self._model_sha256

    @classmethod
    def load(cls, payload: tuple[Any, str, str]) -> tuple[LanguageIdentifier, LanguagePolicy]:
        section, model_path, _ = payload
        identifier = LanguageIdentifier(
            load_model(model_path),
            newlines=section.newlines,
            min_line_chars=section.min_line_chars,
            main_share=section.main_share,
            max_chars=section.max_chars,
        )
        return identifier, LanguagePolicy.from_section(section)

    @classmethod
    def process(cls, model: tuple[LanguageIdentifier, LanguagePolicy], batch: Batch) -> dict[str, list]:
        identifier, policy = model
        results = identifier.identify_many(batch.column("text"))
        return {
            "lang": [None if r is None else r.lang for r in results],
            "lang_label": [None if r is None else r.label for r in results],
            "lang_score": [None if r is None else r.score for r in results],
            "lang_share": [None if r is None else r.share for r in results],
            "language_reason": [policy.reason(r) for r in results],
        }
