"""Writing a run's Parquet tables with stable file names (used by the runner and the removal ledger).

Spark names its part files with a random UUID; these helpers rename them ``part-NNNNN.parquet`` by
partition index, so two runs on the same data produce the same file names and bytes.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_PART_RE = re.compile(r"part-(\d+)-.*\.parquet$")


def _move_parts(src: Path, dst: Path) -> int:
    """Move Spark's part files of ``src`` to ``dst`` as ``part-NNNNN.parquet``. Returns how many."""
    n = 0
    for f in sorted(src.iterdir()):
        m = _PART_RE.match(f.name)
        if m:
            os.replace(f, dst / f"part-{int(m.group(1)):05d}.parquet")
            n += 1
    return n


def write_table(df, path: Path, num_files: int, sort_cols: list[str], compression: str) -> int:
    """Write ``df`` as ``num_files`` hash partitions sorted within, with stable file names.

    Returns the number of files.
    """
    # deferred: pyspark loads only when a run starts (the CLI imports this module for every command)
    from pyspark.sql import functions as F

    tmp = path.with_name(path.name + ".spark")
    (
        df.repartition(num_files, *[F.col(c) for c in sort_cols])
        .sortWithinPartitions(*sort_cols)
        .write.option("compression", compression)
        .mode("errorifexists")
        .parquet(str(tmp))
    )
    path.mkdir(parents=True, exist_ok=False)
    n = _move_parts(tmp, path)
    shutil.rmtree(tmp)
    return n


def write_empty_table(spark_schema, file: Path, compression: str) -> None:
    """One row-less Parquet file with ``spark_schema``, so that readers always find a table."""
    # deferred: pyspark loads only when a run starts
    from pyspark.sql.pandas.types import to_arrow_schema

    pq.write_table(pa.Table.from_batches([], schema=to_arrow_schema(spark_schema)), file,
                   compression=None if compression == "uncompressed" else compression)


def write_split_tables(df, by: str, targets: dict[str, Path], num_files: int, sort_cols: list[str],
                       compression: str) -> dict[str, int]:
    """Write the rows of ``df`` into one table per value of column ``by`` in a single pass.

    Curated and rejected documents are written together: one shuffle by ``sort_cols`` instead of one per
    table (each table's files are then exactly what :func:`write_table` would write for its rows). A
    table without rows gets one empty Parquet file with the schema, so readers always find a table.
    Returns the number of files per table.
    """
    # deferred: pyspark loads only when a run starts
    from pyspark.sql import functions as F

    first = next(iter(targets.values()))
    tmp = first.parent / "_tables.spark"
    (
        df.repartition(num_files, *[F.col(c) for c in sort_cols])
        # the writer needs rows ordered by the partition column; sorting by it first keeps sort_cols'
        # order inside each table (a sort by `by` alone, which Spark would add, would lose it)
        .sortWithinPartitions(by, *sort_cols)
        .write.partitionBy(by)
        .option("compression", compression)
        .mode("errorifexists")
        .parquet(str(tmp))
    )
    counts = {}
    for value, path in targets.items():
        path.mkdir(parents=True, exist_ok=False)
        src = tmp / f"{by}={value}"
        n = _move_parts(src, path) if src.is_dir() else 0
        if n == 0:
            write_empty_table(df.drop(by).schema, path / "part-00000.parquet", compression)
            n = 1
        counts[value] = n
    shutil.rmtree(tmp)
    return counts


__all__ = ["write_empty_table", "write_split_tables", "write_table"]
