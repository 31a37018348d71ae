"""Exact dedup on the sha256 of the normalized text.

Survivor rule: within a group of documents with the same ``content_sha256``, the one with the lowest
``doc_id`` survives; the others get ``exact_dedup_reason = "exact_dedup:duplicate"``. Columns added:
``exact_dup_count`` (size of the group) and ``exact_dup_of`` (the survivor's doc_id, null for survivors).
The rule depends only on the data, so it is the same whatever the input order or partitioning.
"""
from __future__ import annotations

from .base import Stage


class ExactDedupStage(Stage):
    name = "exact_dedup"
    #: The stage is a join with a (written) lookup table: recomputing it is cheaper than writing it out.
    materialize = False

    def apply(self, df):
        from pyspark.sql import functions as F  # deferred: pyspark, driver side only (as in base.py)

        # Decide on the narrow (content_sha256, doc_id) projection: only groups with duplicates matter.
        # The groups are written once and, when small enough, joined by broadcast: the texts are then
        # never shuffled for dedup (see RunContext.lookup_table).
        groups, n_groups = self.ctx.lookup_table(
            df.select("content_sha256", "doc_id")
            .groupBy("content_sha256")
            .agg(F.min("doc_id").alias("_survivor"), F.count(F.lit(1)).cast("int").alias("_n"))
            .filter(F.col("_n") > 1),
            "exact_dedup_groups",
        )
        if n_groups == 0:  # no duplicates at all: nothing to join
            return df.select(
                *df.columns, F.lit(1).alias("exact_dup_count"), F.lit(None).cast("string").alias("exact_dup_of"),
                F.lit(None).cast("string").alias(self.reason_column),
            )
        joined = df.join(groups, on="content_sha256", how="left")
        return (
            joined.withColumn("exact_dup_count", F.coalesce(F.col("_n"), F.lit(1)))
            .withColumn("exact_dup_of", F.when(F.col("doc_id") != F.col("_survivor"), F.col("_survivor")))
            .withColumn(
                self.reason_column,
                F.when(F.col("exact_dup_of").isNotNull(), F.lit("exact_dedup:duplicate")).otherwise(
                    F.lit(None).cast("string")
                ),
            )
            .drop("_survivor", "_n")
            .select(*df.columns, "exact_dup_count", "exact_dup_of", self.reason_column)
        )
