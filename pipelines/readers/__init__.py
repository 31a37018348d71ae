"""Pure-Python readers: one input split in, document / quarantine / stats rows out. No pyspark here."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Iterator, Optional

import pyarrow as pa

from schemas.columns import DOCUMENT_SCHEMA, QUARANTINE_SCHEMA

from .jsonl import read_jsonl
from .parquet import read_parquet
from .records import REASONS, RecordBuilder
from .remote import Fetched, FetchOptions, InputError, fetch, is_remote, local_path_of, url_scheme
from .splits import InputFile, InputSplit, detect_format, expand_inputs, plan_splits
from .streams import Limits
from .text import read_text_file
from .warc import read_warc

log = logging.getLogger(__name__)

#: The one schema the ingest scan produces: documents, quarantine rows and per-split stats together,
#: told apart by ``kind``. The runner writes it once and splits it into its tables.
INGEST_SCHEMA = pa.schema(
    [pa.field("kind", pa.string(), nullable=False), pa.field("offset_unit", pa.string())]
    + [f.with_nullable(True) for f in DOCUMENT_SCHEMA]
    + [
        f.with_nullable(True)
        for f in QUARANTINE_SCHEMA
        if f.name not in DOCUMENT_SCHEMA.names and f.name != "offset_unit"
    ]
    + [
        pa.field("split_index", pa.int32()),
        pa.field("records", pa.int64()),
        pa.field("skipped", pa.map_(pa.string(), pa.int64())),
        pa.field("encoding", pa.string()),
    ]
)


def read_split(split: InputSplit, cfg, local_path: Optional[str] = None,
               unreadable: Optional[str] = None) -> Iterator[dict[str, Any]]:
    """All rows of one split, ending with its ``stats`` row. Never raises for bad input.

    An unexpected failure while reading (a bug, or an I/O error) becomes one quarantine row with the
    exception type; every row read before it is kept. ``local_path`` is where a remote file was
    downloaded to (rows still name ``split.path``, its URL); ``unreadable`` says why a remote file could
    not be downloaded, and the split is then one ``ingest:unreadable_file`` row.
    """
    builder = RecordBuilder(cfg, split.source, split.path, split.rel_path)
    limits = Limits(cfg.max_decompressed_bytes, cfg.max_compression_ratio, cfg.ratio_check_min_bytes)
    if unreadable is not None:
        yield builder.quarantine(0, "file", "unreadable_file", None, detail=unreadable)
        yield builder.stats(split.split_index)
        return
    if local_path is not None:
        split = replace(split, path=local_path)
    try:
        if split.fmt == "jsonl":
            yield from read_jsonl(split, cfg, builder, limits)
        elif split.fmt == "parquet":
            yield from read_parquet(split, cfg, builder)
        elif split.fmt == "text":
            yield from read_text_file(split, cfg, builder, limits)
        elif split.fmt in ("warc", "wet"):
            yield from read_warc(split, cfg, builder, limits)
        else:
            yield builder.quarantine(
                0,
                "file",
                "unsupported_format",
                None,
                detail="unknown file extension; set ingest.format to read it as jsonl, parquet, text, warc or wet",
            )
    except OSError as exc:
        yield builder.quarantine(
            0, "file", "unreadable_file", None, detail=f"{type(exc).__name__}: {exc.strerror or ''}"
        )
    except Exception as exc:  # noqa: BLE001 - one bad file must not kill the job
        log.warning("reader failed on a split of %s: %s", split.rel_path, type(exc).__name__)
        yield builder.quarantine(0, "file", "unreadable_file", None, detail=f"reader error {type(exc).__name__}")
    yield builder.stats(split.split_index)


def rows_to_batches(rows: Iterator[dict[str, Any]], batch_rows: int = 2048, max_batch_bytes: int = 64 << 20,
                    schema: pa.Schema = INGEST_SCHEMA) -> Iterator[pa.RecordBatch]:
    """Group rows into Arrow record batches of ``schema`` (INGEST_SCHEMA by default), bounded in rows and
    text bytes. Keys of a row that are not in ``schema`` are ignored; missing ones are null."""
    names = schema.names
    cols: dict[str, list] = {n: [] for n in names}
    count = size = 0
    for r in rows:
        for n in names:
            cols[n].append(r.get(n))
        count += 1
        size += r.get("n_bytes") or 0
        if count >= batch_rows or size >= max_batch_bytes:
            yield pa.RecordBatch.from_pydict(cols, schema=schema)
            cols = {n: [] for n in names}
            count = size = 0
    if count:
        yield pa.RecordBatch.from_pydict(cols, schema=schema)


__all__ = [
    "INGEST_SCHEMA", "REASONS", "FetchOptions", "Fetched", "InputError", "InputFile", "InputSplit", "Limits",
    "RecordBuilder", "detect_format", "expand_inputs", "fetch", "is_remote", "local_path_of", "plan_splits",
    "read_split", "rows_to_batches", "url_scheme",
]
