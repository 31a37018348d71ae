"""The ``quality`` stage: Gopher, C4 and FineWeb signals and rules over Arrow batches (``mapInArrow``).

Columns added: every signal of :data:`pipelines.text.quality.SIGNALS` (``q_words``, ``q_dup_lines``, ...)
and ``quality_reason`` (null, ``quality:<first failing rule>`` or ``quality:error``). When the input has
a ``lang`` column (the language stage ran) each document is judged with its language's settings (stop
words, ``quality.languages`` overrides); without it, ``quality.default_language`` applies.

The signals are stored so that ``corpusforge whatif`` can replay other thresholds over a finished run.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator, Optional

import pyarrow as pa

from pipelines.text.quality import SIGNALS, QualityEvaluator
from pipelines.text.stopwords import STOPWORDS, stopwords_sha256

from .base import Stage, StageConfigError

log = logging.getLogger(__name__)

_ARROW_TYPES = {"int": pa.int64(), "float": pa.float64()}

#: Output columns of the stage (besides the input columns), with their Arrow types.
QUALITY_COLUMNS: tuple[tuple[str, pa.DataType], ...] = tuple(
    (name, _ARROW_TYPES[kind]) for name, kind in SIGNALS
) + (("quality_reason", pa.string()),)

_WORKER_CACHE: dict[str, QualityEvaluator] = {}


def _worker_evaluator(section: Any) -> QualityEvaluator:
    key = section.model_dump_json()
    evaluator = _WORKER_CACHE.get(key)
    if evaluator is None:
        evaluator = _WORKER_CACHE[key] = QualityEvaluator(section)
    return evaluator


def evaluate_batch(
    batch: pa.RecordBatch, evaluator: QualityEvaluator, text_column: str = "text", lang_column: Optional[str] = "lang"
) -> pa.RecordBatch:
    """``batch`` with the quality columns appended (pure Arrow; what each Spark task runs per batch)."""
    names = batch.schema.names
    text_array = batch.column(names.index(text_column))
    texts = text_array.to_pylist()
    langs = batch.column(names.index(lang_column)).to_pylist() if lang_column and lang_column in names else None
    columns, reasons = evaluator.evaluate_many(texts, langs)
    str_type = pa.large_string() if pa.types.is_large_string(text_array.type) else pa.string()
    arrays = list(batch.columns)
    for name, typ in QUALITY_COLUMNS[:-1]:
        arrays.append(pa.array(columns[name], type=typ))
    arrays.append(pa.array(reasons, type=str_type))
    return pa.RecordBatch.from_arrays(arrays, names=list(names) + [name for name, _ in QUALITY_COLUMNS])


class QualityStage(Stage):
    """Quality rules; see the module docstring for the columns it adds."""

    name = "quality"

    def prepare(self) -> None:
        """Record the stop-word lists' hash and the rule settings for run.json."""
        self.ctx.assets["quality_stopwords"] = {
            "path": "pipelines/text/stopwords.py",
            "sha256": stopwords_sha256(),
            "languages": sorted(STOPWORDS),
        }
        self.ctx.stage_info["quality"] = {
            "rules_off": [name for name, value in self.section.rules_for(None).items() if value is False],
            "language_overrides": sorted(self.section.languages),
            "default_language": self.section.default_language,
        }

    def apply(self, df):
        """Append the signal columns and ``quality_reason``; same rows, never filtered."""
        from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

        if "text" not in df.columns:
            raise StageConfigError("the quality stage needs a 'text' column; run it after ingest")
        ours = {name for name, _ in QUALITY_COLUMNS}
        base = df.drop(*[c for c in df.columns if c in ours])
        spark_types = {pa.int64(): LongType(), pa.float64(): DoubleType(), pa.string(): StringType()}
        schema = StructType(
            list(base.schema.fields) + [StructField(n, spark_types[t], True) for n, t in QUALITY_COLUMNS]
        )
        lang_column = "lang" if "lang" in base.columns else None
        if lang_column is None:
            log.info("quality: no 'lang' column (language stage off); default_language=%s applies",
                     self.section.default_language)
        section = self.section

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            evaluator = _worker_evaluator(section)
            for batch in batches:
                yield evaluate_batch(batch, evaluator, lang_column=lang_column)

        return base.mapInArrow(run, schema)
