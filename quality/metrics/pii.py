"""PII figures: documents and spans found per entity, and what residual patterns still match after scrubbing."""
from __future__ import annotations

from typing import Optional

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.report import PiiSummary

from ..rounding import rate, sig_round
from .counts import Counts
from .tables import RunTables, stage_of


def _doc_figures(scanned: DataFrame, has_res: bool, has_density: bool):
    """Scanned documents, those with PII, curated ones, curated with residual PII, mean density (one row)."""
    aggs = [F.count(F.lit(1)).alias("n"),
            F.sum(F.when(F.size("pii_counts") > 0, 1).otherwise(0)).alias("with_pii"),
            F.sum(F.when(F.col("_kept"), 1).otherwise(0)).alias("cur")]
    if has_res:
        residual_any = F.coalesce(F.exists(F.map_values("pii_residual_counts"), lambda v: v > 0), F.lit(False))
        aggs.append(F.sum(F.when(F.col("_kept") & residual_any, 1).otherwise(0)).alias("res"))
    if has_density:
        aggs.append(F.avg("pii_density").alias("dens"))
    return scanned.agg(*aggs).collect()[0]


def _entity_figures(scanned: DataFrame, has_res: bool) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Spans and documents per entity, and residual spans per entity in curated documents."""
    spans, docs = {}, {}
    for r in (scanned.select(F.explode("pii_counts").alias("k", "v")).groupBy("k")
              .agg(F.sum("v").alias("s"), F.sum(F.when(F.col("v") > 0, 1).otherwise(0)).alias("d")).collect()):
        spans[r["k"]], docs[r["k"]] = int(r["s"] or 0), int(r["d"] or 0)
    residual = {}
    if has_res:
        for r in (scanned.where("_kept").select(F.explode("pii_residual_counts").alias("k", "v"))
                  .groupBy("k").agg(F.sum("v").alias("s")).collect()):
            if r["s"]:
                residual[r["k"]] = int(r["s"])
    return spans, docs, residual


def pii(t: RunTables, c: Counts) -> Optional[PiiSummary]:
    """The report's ``pii`` section, or None when the documents have no ``pii_counts`` column."""
    if "pii_counts" not in t.columns:
        return None
    scanned = t.docs.where(F.col("pii_counts").isNotNull())
    has_res = "pii_residual_counts" in t.columns
    has_density = "pii_density" in t.columns
    row = _doc_figures(scanned, has_res, has_density)
    spans, docs, residual = _entity_figures(scanned, has_res)
    info = t.manifest.stage_info.get("pii") or {}
    cfg = t.manifest.config.get("pii") or {}
    n, cur = int(row["n"]), int(row["cur"] or 0)
    res_docs = int(row["res"] or 0) if has_res else 0
    with_pii = int(row["with_pii"] or 0)
    return PiiSummary(
        operator=info.get("operator") or cfg.get("operator"),
        entities_configured=list(info.get("active_entities") or cfg.get("entities") or []),
        docs_scanned=n, docs_with_pii=with_pii, pii_doc_rate=rate(with_pii, n),
        spans_by_entity=dict(sorted(spans.items())), docs_by_entity=dict(sorted(docs.items())),
        curated_docs_scanned=cur, residual_docs=res_docs,
        residual_rate=rate(res_docs, cur) if has_res else None,
        residual_spans_by_entity=dict(sorted(residual.items())),
        removed_by_reason={r: k for r, k in sorted(c.rejected_by_reason.items()) if stage_of(r) == "pii"},
        mean_density=sig_round(row["dens"]) if has_density else None,
    )


__all__ = ["pii"]
