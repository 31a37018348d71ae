"""The ``language`` stage: fastText language identification over Arrow batches (``mapInArrow``).

Columns added: ``lang`` (normalized code), ``lang_label`` (the model's label without ``__label__``),
``lang_score`` (probability), ``lang_share`` (share of text in the main language; null unless
``language.main_share``) and ``language_reason`` (null, ``language:not_kept``, ``language:low_score`` or
``language:error``). The model is loaded once per Python worker (module-level cache in
:mod:`pipelines.text.lid`); only its path travels to the executors, never the model object.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Optional

import pyarrow as pa

from pipelines.text.lid import (
    LanguageIdentifier,
    LanguagePolicy,
    LidModelError,
    file_sha256,
    load_model,
    resolve_model_path,
)

from .base import Stage, StageConfigError

log = logging.getLogger(__name__)

#: Output columns of the stage (besides the input columns), with their Arrow types.
LANGUAGE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("lang", pa.string()),
    ("lang_label", pa.string()),
    ("lang_score", pa.float64()),
    ("lang_share", pa.float64()),
    ("language_reason", pa.string()),
)

_WORKER_CACHE: dict[tuple, tuple[LanguageIdentifier, LanguagePolicy]] = {}


def _worker_state(section: Any, model_path: str) -> tuple[LanguageIdentifier, LanguagePolicy]:
    key = (model_path, section.newlines, section.min_line_chars, section.main_share, section.max_chars,
           repr(section.keep), section.min_score, tuple(sorted(section.min_score_by_lang.items())))
    state = _WORKER_CACHE.get(key)
    if state is None:
        identifier = LanguageIdentifier(
            load_model(model_path),
            newlines=section.newlines,
            min_line_chars=section.min_line_chars,
            main_share=section.main_share,
            max_chars=section.max_chars,
        )
        state = _WORKER_CACHE[key] = (identifier, LanguagePolicy.from_section(section))
    return state


def identify_batch(
    batch: pa.RecordBatch, identifier: LanguageIdentifier, policy: LanguagePolicy, text_column: str = "text"
) -> pa.RecordBatch:
    """``batch`` with the language columns appended (pure Arrow; what each Spark task runs per batch)."""
    text_array = batch.column(batch.schema.get_field_index(text_column))
    texts = text_array.to_pylist()
    results = identifier.identify_many(texts)
    langs: list[Optional[str]] = []
    labels: list[Optional[str]] = []
    scores: list[Optional[float]] = []
    shares: list[Optional[float]] = []
    reasons: list[Optional[str]] = []
    reason = policy.reason
    for res in results:
        if res is None:
            langs.append(None)
            labels.append(None)
            scores.append(None)
            shares.append(None)
        else:
            langs.append(res.lang)
            labels.append(res.label)
            scores.append(res.score)
            shares.append(res.share)
        reasons.append(reason(res))
    new = [langs, labels, scores, shares, reasons]
    # Strings follow the input's string type (large_string when Spark runs with large Arrow var types).
    str_type = pa.large_string() if pa.types.is_large_string(text_array.type) else pa.string()
    arrays = list(batch.columns) + [
        pa.array(v, type=str_type if t == pa.string() else t) for v, (_, t) in zip(new, LANGUAGE_COLUMNS)
    ]
    names = list(batch.schema.names) + [name for name, _ in LANGUAGE_COLUMNS]
    return pa.RecordBatch.from_arrays(arrays, names=names)


class LanguageStage(Stage):
    """Language identification; see the module docstring for the columns it adds."""

    name = "language"

    def __init__(self, section: Any, ctx: Any) -> None:
        super().__init__(section, ctx)
        self._model_path: Optional[str] = None

    def prepare(self) -> None:
        """Resolve and load the model on the driver (fails fast when missing) and record its sha256."""
        try:
            path = resolve_model_path(self.section.model_path)
            model = load_model(path)
        except LidModelError as exc:
            raise StageConfigError(str(exc)) from None
        self._model_path = path
        self.ctx.assets["language_model"] = {"path": path, "sha256": file_sha256(path)}
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

    def apply(self, df):
        """Append the language columns and ``language_reason``; same rows, never filtered."""
        from pyspark.sql.types import DoubleType, StringType, StructField, StructType

        if "text" not in df.columns:
            raise StageConfigError("the language stage needs a 'text' column; run it after ingest")
        if self._model_path is None:
            self.prepare()
        ours = {name for name, _ in LANGUAGE_COLUMNS}
        base = df.drop(*[c for c in df.columns if c in ours])
        spark_types = {pa.string(): StringType(), pa.float64(): DoubleType()}
        schema = StructType(
            list(base.schema.fields) + [StructField(n, spark_types[t], True) for n, t in LANGUAGE_COLUMNS]
        )
        section, model_path = self.section, self._model_path

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            identifier, policy = _worker_state(section, model_path)
            for batch in batches:
                yield identify_batch(batch, identifier, policy)

        return base.mapInArrow(run, schema)
