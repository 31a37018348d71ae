"""What the run wrote: file counts of its tables, and the token shards (``shards/index.json``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from pyspark.sql import functions as F

from schemas.report import OutputSummary
from storage.shards import ShardIndex

from .counts import Counts
from .tables import RunTables


@dataclass
class ShardFigures:
    """The shard index (as JSON) and token counts of the run's shards; empty when it wrote none."""

    index: Optional[dict] = None
    rows: Optional[int] = None
    tokens_by_lang: dict[str, int] = field(default_factory=dict)
    tokens_by_source: dict[str, int] = field(default_factory=dict)


def read_shards(t: RunTables) -> ShardFigures:
    """The run's shard index and its tokens per language and per source (one Spark job over the shards)."""
    out = ShardFigures()
    idx_path = t.run_dir / "shards" / "index.json"
    if not idx_path.is_file():
        return out
    index = ShardIndex.from_file(idx_path)
    out.index = index.model_dump(mode="json")
    out.rows = index.total_rows
    files = [str(t.run_dir / "shards" / s.path) for s in index.shards]
    if files:
        df = t.spark.read.parquet(*files)
        lang = F.coalesce(F.col("lang"), F.lit("und")) if "lang" in df.columns else F.lit("und")
        for r in df.groupBy(F.col("source"), lang.alias("lang")).agg(F.sum("n_tokens").alias("t")).collect():
            n = int(r["t"] or 0)
            out.tokens_by_lang[r["lang"]] = out.tokens_by_lang.get(r["lang"], 0) + n
            out.tokens_by_source[r["source"]] = out.tokens_by_source.get(r["source"], 0) + n
    return out


def output_summary(t: RunTables, c: Counts, shards: ShardFigures) -> OutputSummary:
    """The report's ``outputs`` section."""
    files = {}
    for name in ("curated", "rejected", "quarantine"):
        d = t.run_dir / name
        files[name] = len(list(d.glob("*.parquet"))) if d.is_dir() else 0
    idx = shards.index
    return OutputSummary(
        curated_docs=c.kept, curated_bytes=c.curated_bytes, curated_chars=c.curated_chars,
        rejected_docs=c.removed, quarantined_records=c.quarantined, files=files,
        tokens=idx["total_tokens"] if idx else None, shards=len(idx["shards"]) if idx else None,
        shard_bytes=sum(s["bytes"] for s in idx["shards"]) if idx else None,
        shard_rows=idx["total_rows"] if idx else None, dataset_version=idx["dataset_version"] if idx else None,
        tokens_by_lang=dict(sorted(shards.tokens_by_lang.items())),
        tokens_by_source=dict(sorted(shards.tokens_by_source.items())),
    )


__all__ = ["ShardFigures", "output_summary", "read_shards"]
