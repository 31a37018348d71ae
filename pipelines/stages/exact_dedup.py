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

    def apply(self, df):
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        w = Window.partitionBy("content_sha256")
        first = F.min("doc_id").over(w)
        return (
            df.withColumn("exact_dup_count", F.count(F.lit(1)).over(w).cast("int"))
            .withColumn("_survivor", first)
            .withColumn("exact_dup_of", F.when(F.col("doc_id") != F.col("_survivor"), F.col("_survivor")))
            .withColumn(
                self.reason_column,
                F.when(F.col("exact_dup_of").isNotNull(), F.lit("exact_dedup:duplicate")).otherwise(F.lit(None).cast("string")),
            )
            .drop("_survivor")
        )
