"""Parquet reader: row group by row group, so that one corrupt row group does not take the file with it."""
from __future__ import annotations

import os
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from storage.files import file_sha256

from .records import RecordBuilder
from .splits import InputSplit


def read_parquet(split: InputSplit, cfg, builder: RecordBuilder) -> Iterator[dict[str, Any]]:
    """Yield document and quarantine rows of a Parquet file (offset unit: row number)."""
    try:
        pf = pq.ParquetFile(split.path)
        schema = pf.schema_arrow
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for broken footers
        sha, n = file_sha256(split.path), os.path.getsize(split.path)
        yield builder.quarantine(0, "file", "corrupt_parquet", None, raw_sha256=sha, raw_bytes=n,
                                 detail=f"cannot open as Parquet ({type(exc).__name__})")
        return
    names = schema.names
    t = schema.field(cfg.text_field).type if cfg.text_field in names else None
    if t is None or not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
                         or pa.types.is_large_binary(t) or pa.types.is_string_view(t)):
        sha, n = file_sha256(split.path), os.path.getsize(split.path)
        found = (
            f"column type {t}"
            if t is not None
            else f"no column named {cfg.text_field!r}; columns: {', '.join(names[:20])}"
        )
        yield builder.quarantine(0, "file", "parquet_schema_mismatch", None, raw_sha256=sha, raw_bytes=n,
                                 detail=f"ingest.text_field={cfg.text_field!r} must be a string column: {found}")
        return
    row = 0
    for rg in range(pf.num_row_groups):
        n_rows = pf.metadata.row_group(rg).num_rows
        try:
            table = pf.read_row_group(rg)
        except Exception as exc:
            yield builder.quarantine(
                row,
                "row",
                "corrupt_parquet",
                None,
                raw_bytes=None,
                detail=f"row group {rg} ({n_rows} rows from row {row}) unreadable ({type(exc).__name__})",
            )
            row += n_rows
            continue
        for rec in table.to_pylist():
            text = rec.get(cfg.text_field)
            raw_text = text
            if isinstance(text, (bytes, bytearray)):
                try:
                    text = bytes(text).decode("utf-8")
                except UnicodeDecodeError:
                    if cfg.invalid_utf8 == "quarantine":
                        yield builder.quarantine(row, "row", "invalid_utf8", bytes(raw_text))
                        row += 1
                        continue
                    text = bytes(text).decode("utf-8", "replace")
            raw = (
                raw_text
                if isinstance(raw_text, bytes)
                else (str(raw_text).encode("utf-8", "surrogatepass") if raw_text is not None else b"")
            )
            yield builder.document(
                text, row, "row", raw,
                source_id=rec.get(cfg.id_field) if cfg.id_field else None,
                url=rec.get(cfg.url_field) if cfg.url_field else None,
                metadata=builder.metadata_of(rec),
            )
            row += 1
