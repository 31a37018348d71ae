"""The ``quality`` stage: Gopher, C4 and FineWeb signals and rules, per document, over Arrow batches.

Columns added: every signal of :data:`pipelines.text.quality.SIGNALS` (``q_words``, ``q_dup_lines``, ...)
and ``quality_reason`` (null, ``quality:<first failing rule>`` or ``quality:error``). When the input has
a ``lang`` column (the language stage ran) each document is judged with its language's settings (stop
words, ``quality.languages`` overrides); without it, ``quality.default_language`` applies.

The signals are stored so that ``corpusforge whatif`` can replay other thresholds over a finished run.
"""
from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from pipelines.text.quality import SIGNALS, QualityEvaluator
from pipelines.text.stopwords import STOPWORDS, stopwords_sha256

from .base import Batch, DocumentStage

log = logging.getLogger(__name__)

_ARROW_TYPES = {"int": pa.int64(), "float": pa.float64()}


class QualityStage(DocumentStage):
    """Quality rules; see the module docstring for the columns it adds."""

    name = "quality"
    columns = tuple((name, _ARROW_TYPES[kind]) for name, kind in SIGNALS) + (("quality_reason", pa.string()),)
    optional_reads = ("lang",)

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

    def check_input(self, df: Any) -> None:
        """Besides the required ``text``: say when documents are judged without their language."""
        super().check_input(df)
        if "lang" not in df.columns:
            log.info("quality: no 'lang' column (language stage off); default_language=%s applies",
                     self.section.default_language)

    @classmethod
    def load(cls, payload: Any) -> QualityEvaluator:
        return QualityEvaluator(payload)

    @classmethod
    def process(cls, model: QualityEvaluator, batch: Batch) -> dict[str, list]:
        signals, reasons = model.evaluate_many(batch.column("text"), batch.column("lang"))
        return {**signals, "quality_reason": reasons}
