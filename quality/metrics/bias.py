"""Bias figures of the curated documents: identity-axis mentions, pronoun balance and toxicity flags.

Which signal decided each flag (the toxicity model or the lexicons) and the model's measured error rates
come from run.json (``stage_info.bias``), where the stage copied them from the model card.
"""
from __future__ import annotations

from typing import Optional

from pyspark.sql import functions as F

from pipelines.stages.bias import bias_aggregates
from schemas.report import BiasSummary

from ..rounding import round_tree
from .tables import RunTables


def bias(t: RunTables) -> Optional[BiasSummary]:
    """The report's ``bias`` section, or None when the documents have no bias columns."""
    if "bias_identity_counts" not in t.columns or "bias_flags" not in t.columns:
        return None
    info = t.manifest.stage_info.get("bias") or {}
    axes = list(info.get("axes") or (t.manifest.config.get("bias") or {}).get("axes") or [])
    scored_col = "bias_n_words" if "bias_n_words" in t.columns else "bias_flags"
    scored = t.docs.where(F.col("_kept") & F.col(scored_col).isNotNull())
    aggregates = bias_aggregates(scored, axes or None)
    flags = {r["f"]: int(r["count"]) for r in
             scored.select(F.explode("bias_flags").alias("f")).groupBy("f").count().collect()}
    return BiasSummary(
        lexicon_version=info.get("lexicon_version"), axes=sorted(axes), docs=scored.count(),
        flags=dict(sorted(flags.items())), aggregates=round_tree(aggregates),
        signals=dict(info.get("signals") or {}), toxicity_model=info.get("toxicity_model"),
    )


__all__ = ["bias"]
