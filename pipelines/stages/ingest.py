"""Spark adapter of ingest: input splits are read in Python workers, which write the rows to Parquet.

Each Spark task (plain RDD API) reads one input split (``pipelines.readers.read_split``) and writes its
document and quarantine rows (``SCAN_SCHEMA``: ``INGEST_SCHEMA`` without the statistics columns) with
pyarrow into one Parquet part file of the run's work directory, named after the split. Only the split's
statistics (records read, skipped records, encoding, the part file and its row count) go back to the
driver.

Why the workers write the files themselves: handing every row to the JVM as Arrow, converting it to
Spark rows and encoding Parquet in Java cost more CPU than reading and parsing the input (about 5 CPU
seconds for 200 MB on the benchmark machine, against under 1 s for pyarrow's writer). The table is read
back by Spark with an explicit schema and split by ``kind``, so the inputs are still read exactly once
and the accounting is still computed from written data.

Safety: a part file is written under a hidden temporary name and renamed when complete, and its name
depends only on the split, so a retried or speculative task replaces it with the same content. The work
directory must be visible to the executors under the same path, which the run's staging directory
already is (Spark's own writers put the outputs there).
"""
from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.readers import INGEST_SCHEMA, FetchOptions, InputSplit, fetch, is_remote, read_split, rows_to_batches
from storage.files import file_sha256

log = logging.getLogger(__name__)

_STATS_FIELDS = ("split_index", "records", "skipped", "encoding")

#: The rows of the work table: documents and quarantine rows, told apart by ``kind``.
SCAN_SCHEMA = pa.schema([f for f in INGEST_SCHEMA if f.name not in _STATS_FIELDS])

#: Compression of the work table's part files: read once more and deleted, so speed over size.
WORK_COMPRESSION = "lz4"


def write_split_part(number: int, split: InputSplit, cfg, out_dir: str) -> dict:
    """Read one split and write its document and quarantine rows to ``out_dir/split-NNNNNN.parquet``.

    Returns the split's statistics (a dict) with ``part_file``, ``part_rows`` and ``quarantine_rows``.
    The task of a file's first split also hashes the whole file (``file_bytes``, ``file_sha256``) before
    reading it, which leaves the file in the page cache for the reader. A remote file (one split) is first
    downloaded whole to a local temporary file, with retries (``pipelines/readers/remote.py``), hashed on
    the way, read from there and deleted; ``fetch`` then says how many attempts it took and, when it
    could not be read, why (``unreadable``). Runs in a Python worker. A split without rows still gets a
    (row-less) file, so every split has exactly one part.
    """
    if is_remote(split.path):
        got = fetch(split.path, FetchOptions.of(cfg.remote))
        try:
            fetched = {"attempts": got.attempts, "seconds": got.seconds, "bytes": got.bytes}
            sha = got.sha256 if got.error is None else f"unreadable: {got.error}"
            return _write_part(number, split, cfg, out_dir, got.bytes, sha, local_path=got.local_path,
                               unreadable=got.error, fetched=fetched)
        finally:
            if got.local_path is not None:
                try:
                    os.unlink(got.local_path)
                except OSError:
                    pass
    file_bytes = file_sha256 = None
    if split.split_index == 0:
        _, file_bytes, file_sha256 = _hash_file(split.path)
    unreadable = file_sha256 if file_bytes is not None and file_bytes < 0 else None
    return _write_part(number, split, cfg, out_dir, file_bytes, file_sha256, unreadable_local=unreadable)


def _write_part(number: int, split: InputSplit, cfg, out_dir: str, file_bytes, file_sha256, local_path=None,
                unreadable=None, fetched=None, unreadable_local=None) -> dict:
    name = f"split-{number:06d}.parquet"
    final = os.path.join(out_dir, name)
    tmp = os.path.join(out_dir, f".{name}.{uuid.uuid4().hex}.tmp")
    stats: dict = {}

    quarantined = 0

    def rows():
        nonlocal quarantined
        for r in read_split(split, cfg, local_path=local_path, unreadable=unreadable):
            if r["kind"] == "stats":
                stats.update(r)
            else:
                quarantined += r["kind"] == "quarantine"
                yield r

    n = 0
    try:
        with pq.ParquetWriter(tmp, SCAN_SCHEMA, compression=WORK_COMPRESSION) as writer:
            for batch in rows_to_batches(rows(), schema=SCAN_SCHEMA):
                writer.write_batch(batch)
                n += batch.num_rows
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return {"split": number, "source": stats.get("source"), "source_file": stats.get("source_file"),
            "split_index": stats.get("split_index"), "records": stats.get("records"),
            "skipped": stats.get("skipped"), "encoding": stats.get("encoding"),
            "part_file": name, "part_rows": n, "quarantine_rows": quarantined,
            "file_bytes": file_bytes, "file_sha256": file_sha256,
            "unreadable": unreadable or unreadable_local, "fetch": fetched}


def scan_to_parquet(spark, splits: list[InputSplit], cfg, out_dir: Path):
    """Read every split (one Spark task each) into Parquet part files under ``out_dir``.

    Returns ``(table, stats_rows, hashes)``: the work table (a DataFrame of ``SCAN_SCHEMA``, documents
    and quarantine rows), one statistics dict per split in split order (with ``quarantine_rows``), and
    ``{path: {"bytes": size, "sha256": hex}}`` for every input file (size -1 and the reason in
    ``sha256`` when it cannot be read).

    Raises:
        RuntimeError: a split did not report back, or a part file is missing (a bug; nothing is lost
            silently).
    """
    from pyspark.sql.pandas.types import from_arrow_schema  # deferred: pyspark; workers import this module

    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = str(out_dir)
    # Plain RDD tasks: what comes back is one small dict per split, so no Arrow or pandas machinery is
    # needed between the JVM and the workers.
    numbered = list(enumerate(splits))
    results = (
        # one task per split, at most 10,000 tasks (a task then reads several splits, each to its own part)
        spark.sparkContext.parallelize(numbered, max(1, min(len(numbered), 10000)))
        .map(lambda item: write_split_part(item[0], item[1], cfg, target))
        .collect()
    )
    results.sort(key=lambda r: r["split"])
    got = [r["split"] for r in results]
    if got != list(range(len(splits))):
        raise RuntimeError(f"ingest: {len(splits)} splits planned but {len(set(got))} reported back")
    missing = [r["part_file"] for r in results if not (out_dir / r["part_file"]).is_file()]
    if missing:
        raise RuntimeError(f"ingest: part files missing from {out_dir}: {missing[:5]}")
    table = spark.read.schema(from_arrow_schema(SCAN_SCHEMA)).parquet(str(out_dir))
    stats, hashes = [], {}
    for r in results:
        if splits[r["split"]].split_index == 0:
            hashes[splits[r["split"]].path] = {"bytes": r["file_bytes"], "sha256": r["file_sha256"]}
        stats.append({k: v for k, v in r.items()
                      if k not in ("split", "part_file", "part_rows", "file_bytes", "file_sha256")})
    return table, stats, hashes


def _hash_file(path: str) -> tuple[str, int, str]:
    try:
        return path, os.path.getsize(path), file_sha256(path)
    except OSError as exc:
        return path, -1, f"unreadable: {exc.strerror}"
