"""Spark adapter of ingest: input splits are read in Python workers and come back as Arrow batches.

The scan produces one table (``pipelines.readers.INGEST_SCHEMA``) holding documents, quarantine rows and
one statistics row per split. The runner writes it once to its work directory and splits it, so the
inputs are read exactly once and the accounting is computed from written data.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Iterator

import pyarrow as pa

from pipelines.readers import INGEST_SCHEMA, InputFile, InputSplit, read_split, rows_to_batches

log = logging.getLogger(__name__)

_SPLIT_FIELDS = ["path", "rel_path", "source", "fmt", "compression", "split_index", "start", "end"]


def _split_schema():
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

    return StructType(
        [
            StructField("path", StringType(), False),
            StructField("rel_path", StringType(), False),
            StructField("source", StringType(), False),
            StructField("fmt", StringType(), False),
            StructField("compression", StringType(), True),
            StructField("split_index", IntegerType(), False),
            StructField("start", LongType(), False),
            StructField("end", LongType(), False),
        ]
    )


def scan_inputs(spark, splits: list[InputSplit], cfg):
    """A DataFrame of INGEST_SCHEMA rows for all ``splits`` (lazy; one Spark task per split)."""
    rows = [tuple(getattr(s, f) for f in _SPLIT_FIELDS) for s in splits]
    rdd = spark.sparkContext.parallelize(rows, max(1, min(len(rows), 10000)))
    split_df = spark.createDataFrame(rdd, _split_schema())

    def read_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for rec in batch.to_pylist():
                split = InputSplit(**rec)
                yield from rows_to_batches(read_split(split, cfg))

    from pyspark.sql.pandas.types import from_arrow_schema

    return split_df.mapInArrow(read_batches, from_arrow_schema(INGEST_SCHEMA))


def _hash_file(path: str) -> tuple[str, int, str]:
    h = hashlib.sha256()
    n = 0
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(4 << 20), b""):
                h.update(chunk)
                n += len(chunk)
    except OSError as exc:
        return path, -1, f"unreadable: {exc.strerror}"
    return path, n, h.hexdigest()


def hash_inputs(spark, files: list[InputFile]) -> dict[str, dict]:
    """sha256 and size of every input file, computed in parallel on the executors."""
    if not files:
        return {}
    paths = [f.path for f in files]
    res = spark.sparkContext.parallelize(paths, max(1, min(len(paths), 1000))).map(_hash_file).collect()
    return {p: {"bytes": n, "sha256": sha} for p, n, sha in res}
