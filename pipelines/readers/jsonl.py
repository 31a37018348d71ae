"""JSON Lines reader (plain, gzip, zstd; UTF-8 with or without BOM, UTF-16/32 transcoded)."""
from __future__ import annotations

import json
from typing import Any, Iterator

from .records import RecordBuilder
from .splits import InputSplit
from .streams import (
    ByteStream,
    Limits,
    detect_bom,
    gzip_chunks,
    plain_chunks,
    sniff_compression,
    transcode_chunks,
    zstd_chunks,
)


def open_chunks(fh, split: InputSplit, limits: Limits, builder: RecordBuilder):
    """Decompressed (and transcoded) chunks of a split, and the offset of the first byte."""
    comp = sniff_compression(fh) if split.start == 0 else None
    if comp == "gz":
        chunks = gzip_chunks(fh, limits)
    elif comp == "zst":
        chunks = zstd_chunks(fh, limits)
    else:
        chunks = plain_chunks(fh, split.start)
    if split.start != 0:
        return chunks, split.start
    stream = ByteStream(chunks)
    head = stream.peek(64)
    enc, bom = detect_bom(head)
    if enc is None or enc == "utf-8":
        builder.counters.encoding = "utf-8-sig" if enc == "utf-8" else "utf-8"
        stream.skip(bom)
        return _rest(stream), bom
    builder.counters.encoding = enc
    return transcode_chunks(_rest(stream), enc), 0


def _rest(stream: ByteStream) -> Iterator[bytes]:
    """The unread part of a stream as chunks again (errors re-raised at the end)."""
    while True:
        data = stream.read(1 << 20)
        if not data:
            break
        yield data
    if stream.error is not None:
        raise stream.error


def read_jsonl(split: InputSplit, cfg, builder: RecordBuilder, limits: Limits) -> Iterator[dict[str, Any]]:
    """Yield document and quarantine rows for the lines that start inside ``split``."""
    with open(split.path, "rb") as fh:
        chunks, first = open_chunks(fh, split, limits, builder)
        stream = ByteStream(chunks, start_offset=first)
        end = split.end if split.end >= 0 else None
        if split.start > 0:
            # The line straddling the split start belongs to the previous split, unless it starts exactly here.
            fh2 = open(split.path, "rb")
            try:
                fh2.seek(split.start - 1)
                starts_here = fh2.read(1) == b"\n"
            finally:
                fh2.close()
            if not starts_here:
                stream.readline(1)  # skipped in constant memory
        incomplete_emitted = False
        while True:
            offset = stream.pos
            if end is not None and offset >= end:
                break
            line, length, sha, complete = stream.readline(cfg.max_line_bytes)
            if length == 0:
                break
            if not complete:
                err = stream.error
                yield builder.quarantine(
                    offset,
                    "byte",
                    err.reason if err else "truncated_stream",
                    line,
                    raw_bytes=length,
                    raw_sha256=sha,
                    detail=f"{length} bytes of an incomplete record at the end of the stream; "
                    f"{err.detail if err else ''}",
                )
                incomplete_emitted = True
                break
            if line is None:
                yield builder.quarantine(offset, "byte", "line_too_long", None, raw_sha256=sha, raw_bytes=length,
                                         detail=f"{length} bytes > ingest.max_line_bytes={cfg.max_line_bytes}")
                continue
            yield from _one_line(line, offset, cfg, builder)
        if stream.error is not None and (end is None or stream.pos < end):
            err = stream.error
            # The stream failed at a record boundary: say so, with where it happened.
            if not incomplete_emitted:
                yield builder.quarantine(stream.pos, "byte", err.reason, None, raw_bytes=0,
                                         detail=f"stream ended early at decompressed offset {stream.pos}: {err.detail}")


def _one_line(line: bytes, offset: int, cfg, builder: RecordBuilder) -> Iterator[dict[str, Any]]:
    stripped = line.rstrip(b"\r\n")
    if not stripped.strip():
        builder.counters.skip("blank_line")
        return
    try:
        s = stripped.decode("utf-8")
    except UnicodeDecodeError as exc:
        if cfg.invalid_utf8 == "quarantine":
            yield builder.quarantine(
                offset, "byte", "invalid_utf8", line, detail=f"invalid UTF-8 at byte {exc.start} of the line"
            )
            return
        s = stripped.decode("utf-8", "replace")
    try:
        obj = json.loads(s)
    except (ValueError, RecursionError) as exc:
        pos = getattr(exc, "pos", None)
        yield builder.quarantine(
            offset,
            "byte",
            "malformed_json",
            line,
            detail=f"JSON syntax error at character {pos}" if pos is not None else "JSON cannot be parsed",
        )
        return
    if not isinstance(obj, dict):
        yield builder.quarantine(
            offset, "byte", "not_an_object", line, detail=f"JSON {type(obj).__name__}, expected an object"
        )
        return
    cfg_t = cfg.text_field
    yield builder.document(
        obj.get(cfg_t), offset, "byte", line,
        source_id=obj.get(cfg.id_field) if cfg.id_field else None,
        url=obj.get(cfg.url_field) if cfg.url_field else None,
        metadata=builder.metadata_of(obj),
    )
