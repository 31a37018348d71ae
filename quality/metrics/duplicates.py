"""Duplicate figures: exact-duplicate groups and near-duplicate clusters (when those stages ran)."""
from __future__ import annotations

from typing import Optional

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.columns import DROP_REASON
from schemas.report import ClusterSizeBin, DuplicateSummary, ExactDupSummary, LargestCluster, NearDupSummary

from ..rounding import rate
from .counts import Counts
from .tables import RunTables

TOP_CLUSTERS = 10


def exact_duplicates(t: RunTables, c: Counts) -> Optional[ExactDupSummary]:
    """Exact-duplicate groups by size and the largest ones; None when exact dedup did not run."""
    if "exact_dup_count" not in t.columns or "exact_dup_of" not in t.columns:
        return None
    survivors = t.docs.where((F.col("exact_dup_count") > 1) & F.col("exact_dup_of").isNull())
    sizes = survivors.groupBy("exact_dup_count").count().collect()
    top = survivors.orderBy(F.desc("exact_dup_count"), "doc_id").select(
        "doc_id", "exact_dup_count", "source").limit(TOP_CLUSTERS).collect()
    removed = c.rejected_by_reason.get("exact_dedup:duplicate", 0)
    bins = sorted((int(r["exact_dup_count"]), int(r["count"])) for r in sizes)
    return ExactDupSummary(
        groups=sum(n for _, n in bins), documents_in_groups=sum(s * n for s, n in bins),
        duplicates_removed=removed,
        group_sizes=[ClusterSizeBin(size=s, clusters=n, documents=s * n) for s, n in bins],
        largest_groups=[LargestCluster(cluster_id=r["doc_id"], size=int(r["exact_dup_count"]),
                                       removed=int(r["exact_dup_count"]) - 1) for r in top],
    )


def _clusters(t: RunTables) -> tuple[DataFrame, DataFrame]:
    """The documents in a near-duplicate cluster, and per cluster its size, removed members and giant flag."""
    members = t.docs.where(F.col("dup_cluster_id").isNotNull())
    is_dup = F.coalesce(F.col(DROP_REASON) == F.lit("near_dedup:duplicate"), F.lit(False))
    giant = F.col("dup_giant_cluster") if "dup_giant_cluster" in t.columns else F.lit(False)
    clusters = members.groupBy("dup_cluster_id").agg(
        F.count(F.lit(1)).alias("size"),
        F.sum(F.when(is_dup, 1).otherwise(0)).alias("removed"),
        F.max(F.coalesce(giant, F.lit(False)).cast("int")).alias("giant"),
    )
    return members, clusters


def _source_mix(members: DataFrame, top: list) -> dict[str, dict[str, int]]:
    """Per cluster of ``top``: its members per source."""
    mix: dict[str, dict[str, int]] = {}
    if top:
        ids = [r["dup_cluster_id"] for r in top]
        for r in members.where(F.col("dup_cluster_id").isin(ids)).groupBy("dup_cluster_id", "source").count().collect():
            mix.setdefault(r["dup_cluster_id"], {})[r["source"]] = int(r["count"])
    return mix


def near_duplicates(t: RunTables, c: Counts) -> Optional[NearDupSummary]:
    """Near-duplicate clusters by size and the largest ones; None when near dedup did not run."""
    if "dup_cluster_id" not in t.columns:
        return None
    members, clusters = _clusters(t)
    hist = clusters.groupBy("size").agg(F.count(F.lit(1)).alias("clusters"), F.sum("giant").alias("giant")).collect()
    evaluated = sum(int(r["size"]) * int(r["clusters"]) for r in hist)
    multi = sorted((int(r["size"]), int(r["clusters"])) for r in hist if r["size"] > 1)
    top = clusters.where(F.col("size") > 1).orderBy(F.desc("size"), "dup_cluster_id").limit(TOP_CLUSTERS).collect()
    mix = _source_mix(members, top)
    largest = max((s for s, _ in multi), default=1 if evaluated else 0)
    params = (t.manifest.stage_info.get("near_dedup") or {}).get("params") or {}
    return NearDupSummary(
        evaluated_docs=evaluated, clusters=sum(n for _, n in multi),
        documents_in_clusters=sum(s * n for s, n in multi),
        duplicates_removed=c.rejected_by_reason.get("near_dedup:duplicate", 0),
        largest_cluster=largest, largest_cluster_share=rate(largest, evaluated),
        giant_clusters=sum(int(r["giant"] or 0) for r in hist),
        clusters_by_size=[ClusterSizeBin(size=s, clusters=n, documents=s * n) for s, n in multi],
        largest_clusters=[LargestCluster(cluster_id=r["dup_cluster_id"], size=int(r["size"]),
                                         removed=int(r["removed"]), giant=bool(r["giant"]),
                                         sources=dict(sorted(mix.get(r["dup_cluster_id"], {}).items())))
                          for r in top],
        params=params if isinstance(params, dict) else {},
    )


def duplicates(t: RunTables, c: Counts) -> DuplicateSummary:
    """The report's ``duplicates`` section."""
    return DuplicateSummary(exact=exact_duplicates(t, c), near=near_duplicates(t, c))


__all__ = ["TOP_CLUSTERS", "duplicates", "exact_duplicates", "near_duplicates"]
