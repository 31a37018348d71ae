"""WARC and WET reader (plain or per-record gzip), with its own strict record framing.

Why a parser of our own: corpusforge must say *which* record is broken and keep every good record
around it. The framing is simple (version line, headers, blank line, ``Content-Length`` bytes, two CRLFs),
and checking it ourselves lets a truncated record or a wrong ``Content-Length`` become a quarantine row
with its byte offset, after which reading resumes at the next record.

Documents come from ``conversion`` records (WET text) and from ``response``/``resource`` records with an
HTML or plain-text payload. HTML is turned into text with Resiliparse (``extract_plain_text`` on a Lexbor
DOM): it is an order of magnitude faster than trafilatura, robust on broken markup, and has a main-content
mode; it ships as a binary wheel with no runtime downloads. Other record types (``request``, ``metadata``,
``warcinfo``, ``revisit``), non-200 responses and non-text payloads are skipped and counted by reason in
the split statistics (they are not documents, so they are not in the in = out accounting).
"""
from __future__ import annotations

import logging
import re
import zlib
from typing import Any, Iterator, Optional

from .records import RecordBuilder
from .splits import InputSplit
from .streams import ByteStream, Limits, gzip_chunks, plain_chunks, sniff_compression, zstd_chunks

log = logging.getLogger(__name__)

_MAX_HEADER_BYTES = 64 * 1024
_RESYNC_RE = re.compile(rb"\r?\n\r?\n(?=WARC/\d)")
_TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


def _parse_headers(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = None
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line[:1] in (" ", "\t") and last:
            headers[last] += " " + line.strip()
            continue
        if ":" not in line:
            continue
        k, v = line.split(":", 1)
        last = k.strip().lower()
        headers[last] = v.strip()
    return headers


def _dechunk(body: bytes) -> Optional[bytes]:
    """Undo HTTP chunked transfer encoding; None when the body is not validly chunked."""
    out = bytearray()
    pos = 0
    while True:
        nl = body.find(b"\r\n", pos)
        if nl < 0:
            return None
        size_s = body[pos:nl].split(b";", 1)[0].strip()
        try:
            size = int(size_s, 16)
        except ValueError:
            return None
        if size == 0:
            return bytes(out)
        start = nl + 2
        if start + size > len(body):
            return None
        out += body[start : start + size]
        pos = start + size + 2


def _html_to_text(payload: bytes, content_type: str, main_content: bool) -> str:
    from resiliparse.extract.html2text import extract_plain_text  # deferred: only WARC HTML input needs it
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    m = re.search(r"charset=([\w.:-]+)", content_type, re.I)
    enc = m.group(1) if m else detect_encoding(payload)
    html = bytes_to_str(payload, enc)
    tree = HTMLTree.parse(html)
    return extract_plain_text(tree, main_content=main_content, alt_texts=False, links=False, form_fields=False)


class _Record:
    __slots__ = ("offset", "headers", "block", "raw_head")

    def __init__(self, offset: int, headers: dict[str, str], block: bytes, raw_head: bytes):
        self.offset = offset
        self.headers = headers
        self.block = block
        self.raw_head = raw_head


def read_warc(split: InputSplit, cfg, builder: RecordBuilder, limits: Limits) -> Iterator[dict[str, Any]]:
    """Yield document and quarantine rows of a WARC or WET file (offset unit: decompressed byte)."""
    with open(split.path, "rb") as fh:
        comp = sniff_compression(fh)
        chunks = (
            gzip_chunks(fh, limits) if comp == "gz" else zstd_chunks(fh, limits) if comp == "zst" else plain_chunks(fh)
        )
        stream = ByteStream(chunks)
        last_reason = None
        for item in _records(stream, cfg, builder):
            if isinstance(item, dict):
                last_reason = item.get("reason")
                yield item
                continue
            last_reason = None
            yield from _to_document(item, cfg, builder)
        # A record cut by the end of a truncated stream was already reported as that record.
        if stream.error is not None and last_reason != "ingest:warc_truncated_record":
            yield builder.quarantine(
                stream.pos,
                "byte",
                stream.error.reason,
                None,
                raw_bytes=0,
                detail=f"stream ended early at decompressed offset {stream.pos}: {stream.error.detail}",
            )


def _read_headers(stream: ByteStream, head_bytes: int) -> tuple[list[bytes], int, bool, bool]:
    """The header lines after the version line: ``(lines, bytes read, ok, truncated)``.

    ``ok`` is False when the headers are malformed or too long; ``truncated`` when the stream ended inside them.
    """
    head_lines: list[bytes] = []
    while True:
        hl, hlen, _, hcomplete = stream.readline(_MAX_HEADER_BYTES)
        head_bytes += hlen
        if hlen == 0 or hl is None or not hcomplete:
            return head_lines, head_bytes, False, hlen == 0 or not hcomplete
        if not hl.strip():
            return head_lines, head_bytes, True, False
        head_lines.append(hl)
        if head_bytes > _MAX_HEADER_BYTES:
            return head_lines, head_bytes, False, False


def _records(stream: ByteStream, cfg, builder: RecordBuilder) -> Iterator[Any]:
    max_block = cfg.warc.max_record_bytes
    while True:
        # Skip blank lines between records.
        offset = stream.pos
        line, length, _, complete = stream.readline(_MAX_HEADER_BYTES)
        if length == 0:
            return
        if line is not None and not line.strip():
            continue
        if line is None or not line.startswith(b"WARC/"):
            skipped = _resync(stream)
            yield builder.quarantine(offset, "byte", "warc_malformed_record", line if line else None,
                                     raw_bytes=length + skipped,
                                     detail=f"no WARC version line; skipped {length + skipped} bytes to the next "
                                     "record")
            continue
        head_lines, head_bytes, ok, truncated = _read_headers(stream, length)
        raw_head = line + b"".join(head_lines)
        if not ok:
            if truncated:
                yield builder.quarantine(offset, "byte", "warc_truncated_record", raw_head, raw_bytes=head_bytes,
                                         detail="the file ends inside the record's headers")
                return
            skipped = _resync(stream)
            yield builder.quarantine(offset, "byte", "warc_malformed_record", raw_head, raw_bytes=head_bytes + skipped,
                                     detail="record headers are malformed or too long")
            continue
        headers = _parse_headers(head_lines)
        try:
            clen = int(headers.get("content-length", ""))
            if clen < 0:
                raise ValueError
        except ValueError:
            skipped = _resync(stream)
            yield builder.quarantine(offset, "byte", "warc_malformed_record", raw_head, raw_bytes=head_bytes + skipped,
                                     detail="missing or invalid Content-Length")
            continue
        if clen > max_block:
            got = stream.skip(clen)
            yield builder.quarantine(offset, "byte", "warc_record_too_large", raw_head, raw_bytes=head_bytes + got,
                                     detail=f"Content-Length {clen} > ingest.warc.max_record_bytes={max_block}")
            if got < clen:
                return
            continue
        block = stream.read(clen)
        if len(block) < clen:
            yield builder.quarantine(offset, "byte", "warc_truncated_record", raw_head + block[:64],
                                     raw_bytes=head_bytes + len(block),
                                     detail=f"block has {len(block)} of the {clen} bytes its Content-Length announces")
            return
        trailer = stream.peek(4)
        if trailer.startswith(b"\r\n\r\n") or trailer == b"" or trailer.startswith(b"\r\n") and len(trailer) == 2:
            stream.skip(min(4, len(trailer)))
            yield _Record(offset, headers, block, raw_head)
            continue
        # Content-Length disagrees with the framing: find where the next record really starts.
        m = _RESYNC_RE.search(block)
        if m:
            # Too long: the next record began inside what we read; give those bytes back.
            stream.unread(block[m.end():])
            detail = f"Content-Length {clen} runs {clen - m.start()} bytes into the next record"
        else:
            skipped = _resync(stream)
            detail = f"Content-Length {clen} ends {skipped} bytes before the record's end"
        yield builder.quarantine(offset, "byte", "warc_bad_content_length", raw_head, raw_bytes=head_bytes + clen,
                                 detail=detail)


def _resync(stream: ByteStream) -> int:
    """Skip to the start of the next line that begins a WARC record; returns bytes skipped."""
    skipped = 0
    while True:
        nxt = stream.peek(5)
        if not nxt:
            return skipped
        if nxt == b"WARC/":
            return skipped
        line, length, _, _ = stream.readline(_MAX_HEADER_BYTES)
        if length == 0:
            return skipped
        skipped += length


def _to_document(rec: _Record, cfg, builder: RecordBuilder) -> Iterator[dict[str, Any]]:
    h = rec.headers
    rtype = h.get("warc-type", "").lower()
    url = h.get("warc-target-uri") or None
    rid = h.get("warc-record-id") or None
    meta = {k: h[k] for k in ("warc-date", "warc-identified-content-language") if k in h}
    if rtype == "conversion":
        try:
            text = rec.block.decode("utf-8")
        except UnicodeDecodeError:
            if cfg.invalid_utf8 == "quarantine":
                yield builder.quarantine(rec.offset, "byte", "invalid_utf8", rec.raw_head + rec.block[:64],
                                         raw_bytes=len(rec.raw_head) + len(rec.block))
                return
            text = rec.block.decode("utf-8", "replace")
        meta["warc-type"] = rtype
        yield builder.document(
            text, rec.offset, "byte", rec.raw_head + rec.block, source_id=rid, url=url, metadata=meta
        )
        return
    if rtype not in ("response", "resource"):
        builder.counters.skip(f"warc:{rtype or 'untyped'}")
        return
    payload = rec.block
    content_type = ""
    if rtype == "response" and h.get("content-type", "").lower().startswith("application/http"):
        sep = payload.find(b"\r\n\r\n")
        if sep < 0:
            yield builder.quarantine(
                rec.offset,
                "byte",
                "warc_malformed_record",
                rec.raw_head,
                raw_bytes=len(rec.raw_head) + len(payload),
                detail="HTTP response without header terminator",
            )
            return
        http_head = payload[:sep].split(b"\r\n")
        payload = payload[sep + 4 :]
        status = http_head[0].split(b" ")
        code = status[1] if len(status) > 1 else b""
        if code != b"200":
            builder.counters.skip("warc:http_status_not_200")
            return
        hh = _parse_headers(http_head[1:])
        content_type = hh.get("content-type", "")
        if "chunked" in hh.get("transfer-encoding", "").lower():
            payload = _dechunk(payload) or payload
        ce = hh.get("content-encoding", "").lower()
        if ce in ("gzip", "x-gzip", "deflate"):
            try:
                d = zlib.decompressobj(wbits=47 if "gzip" in ce else 15)
                payload = d.decompress(payload, cfg.warc.max_record_bytes)
            except zlib.error:
                yield builder.quarantine(rec.offset, "byte", "html_extraction_failed", rec.raw_head,
                                         raw_bytes=len(rec.raw_head) + len(rec.block), detail=f"bad {ce} payload")
                return
    else:
        content_type = h.get("content-type", "")
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype and ctype not in _TEXT_TYPES:
        builder.counters.skip("warc:non_text_content_type")
        return
    if not payload.strip():
        builder.counters.skip("warc:empty_payload")
        return
    try:
        if ctype == "text/plain":
            text = payload.decode("utf-8", "replace")
        else:
            text = _html_to_text(payload, content_type, cfg.warc.main_content)
    except Exception as exc:  # the extractor must never stop the file
        yield builder.quarantine(rec.offset, "byte", "html_extraction_failed", rec.raw_head,
                                 raw_bytes=len(rec.raw_head) + len(rec.block), detail=type(exc).__name__)
        return
    meta["warc-type"] = rtype
    if ctype:
        meta["content-type"] = ctype
    raw_digest_src = rec.raw_head + rec.block
    yield builder.document(text, rec.offset, "byte", raw_digest_src, source_id=rid, url=url, metadata=meta)

