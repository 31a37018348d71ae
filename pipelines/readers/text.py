"""Plain text files: one document per file (optionally gzip or zstd compressed)."""
from __future__ import annotations

import hashlib
from typing import Any, Iterator

from .records import RecordBuilder
from .splits import InputSplit
from .streams import ByteStream, Limits, detect_bom, gzip_chunks, plain_chunks, sniff_compression, zstd_chunks


def read_text_file(split: InputSplit, cfg, builder: RecordBuilder, limits: Limits) -> Iterator[dict[str, Any]]:
    """Yield one document (or one quarantine row) for a text file."""
    with open(split.path, "rb") as fh:
        comp = sniff_compression(fh)
        chunks = (
            gzip_chunks(fh, limits) if comp == "gz" else zstd_chunks(fh, limits) if comp == "zst" else plain_chunks(fh)
        )
        stream = ByteStream(chunks)
        data = stream.read(cfg.max_text_file_bytes + 1)
        if len(data) > cfg.max_text_file_bytes:
            h = hashlib.sha256(data)
            total = len(data)
            while True:
                more = stream.read(1 << 20)
                if not more:
                    break
                h.update(more)
                total += len(more)
            yield builder.quarantine(0, "file", "file_too_large", data[:256], raw_sha256=h.hexdigest(), raw_bytes=total,
                                     detail=f"{total} bytes > ingest.max_text_file_bytes={cfg.max_text_file_bytes}")
            return
        if stream.error is not None:
            yield builder.quarantine(0, "file", stream.error.reason, data, detail=stream.error.detail)
            return
    enc, bom = detect_bom(data[:64])
    builder.counters.encoding = enc or "utf-8"
    if enc in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        text = data.decode(enc, "replace")
    else:
        body = data[bom:]
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            if b"\x00" in body[:8192] or cfg.invalid_utf8 == "quarantine":
                reason = "binary_content" if b"\x00" in body[:8192] else "invalid_utf8"
                yield builder.quarantine(0, "file", reason, data, detail=f"invalid UTF-8 at byte {exc.start}")
                return
            text = body.decode("utf-8", "replace")
    yield builder.document(text, 0, "file", data, source_id=split.rel_path)
