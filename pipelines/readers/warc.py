"""WARC and WET reader (plain or per-record gzip), with its own strict record framing.

Why a parser of our own: corpusforge must say *which* record is broken and keep every good record
around it. The framing is simple (version line, headers, blank line, ``Content-Length`` bytes, two CRLFs),
and checking it ourselves lets a truncated record or a wrong ``Content-Length`` become a quarantine row
with its byte offset, after which reading resumes at the next record.

Documents come from ``conversion`` records (WET text) and from ``response``/``resource`` records with an
HTML or plain-text payload. HTML is turned into its main text by ``pipelines.text.extract`` with the
extractor of ``ingest.warc.extractor`` (trafilatura or Resiliparse, measured in docs/ingest.md) under the
per-page budget ``ingest.warc.timeout_seconds``: a page over it is quarantined as
``ingest:html_extraction_timeout`` and the split goes on. Other record types (``request``, ``metadata``,
``warcinfo``, ``revisit``), non-200 responses and non-text payloads are skipped and counted by reason in
the split statistics (they are not documents, so they are not in the in = out accounting).

Opt-out and licence signals: for every document from a ``response`` or ``resource`` record, the HTTP
headers that carry reservations and licences (``X-Robots-Tag``, ``tdm-reservation``, ``tdm-policy``,
``Link`` rel=tdm-policy / rel=license, ``Content-Language``; repeated headers all count) and the HTML's
robots/TDM meta tags and licence links become the typed columns of ``schemas.columns.WEB_SIGNAL_FIELDS``
(``pipelines.text.optout.web_signals``; docs/compliance.md). ``conversion`` (WET) records have neither, so
their columns are null, like those of every non-WARC input.
"""
from __future__ import annotations

import logging
import re
import zlib
from typing import Any, Iterator, Optional

from pipelines.text.extract import ExtractionFailed, ExtractionSettings, ExtractionTimeout, extract_html
from pipelines.text.optout import SIGNAL_NAMES, web_signals
from schemas.config import IngestSection

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


#: HTTP response headers kept for the opt-out and licence signals (all occurrences, in order).
_SIGNAL_HEADERS = frozenset({"x-robots-tag", "tdm-reservation", "tdm-policy", "link", "content-language"})
#: Bounds on what one malformed response can make us keep.
_MAX_SIGNAL_HEADERS = 64
_MAX_SIGNAL_HEADER_CHARS = 8192


def _signal_headers(lines: list[bytes]) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of the signal headers, repeated names kept, folded lines joined."""
    out: list[tuple[str, str]] = []
    kept_last = False  # whether the header a folded line continues is one we keep
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line[:1] in (" ", "\t"):
            if kept_last:
                out[-1] = (out[-1][0], (out[-1][1] + " " + line.strip())[:_MAX_SIGNAL_HEADER_CHARS])
            continue
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        kept_last = bool(sep) and name in _SIGNAL_HEADERS and len(out) < _MAX_SIGNAL_HEADERS
        if kept_last:
            out.append((name, value.strip()[:_MAX_SIGNAL_HEADER_CHARS]))
    return out


def _signals(headers: Optional[list[tuple[str, str]]], page: Optional[bytes], url: Optional[str]) -> dict[str, Any]:
    """The web signal columns of one page; a parsing failure is an issue code, never a lost document."""
    try:
        return web_signals(headers, page, url)
    except Exception as exc:  # noqa: BLE001 - a signal parser bug must not cost the document
        log.debug("web signal parsing failed: %s", type(exc).__name__)
        return {**dict.fromkeys(SIGNAL_NAMES), "web_signal_issues": ["web_signals:error"]}


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
        extraction = ExtractionSettings.from_options(cfg.warc)
        last_reason = None
        for item in _records(stream, cfg, builder):
            if isinstance(item, dict):
                last_reason = item.get("reason")
                yield item
                continue
            last_reason = None
            yield from _to_document(item, cfg, builder, extraction)
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


def _to_document(rec: _Record, cfg, builder: RecordBuilder,
                 extraction: ExtractionSettings) -> Iterator[dict[str, Any]]:
    h = rec.headers
    rtype = h.get("warc-type", "").lower()
    url = h.get("warc-target-uri") or None
    if url and url.startswith("<") and url.endswith(">"):
        url = url[1:-1].strip() or None  # WARC 1.0's grammar (wget writes it): WARC-Target-URI: <https://...>
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
    if rtype == "resource" and url and url.lower().startswith("metadata:"):
        # The crawler's own files (wget stores its command line and log as metadata://gnu.org/... resources):
        # not web content. Counted, not read as documents.
        builder.counters.skip("warc:crawler_metadata_resource")
        return
    payload = rec.block
    content_type = ""
    http_signal_headers: Optional[list[tuple[str, str]]] = None
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
        http_signal_headers = _signal_headers(http_head[1:])
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
    raw_bytes = len(rec.raw_head) + len(rec.block)
    if ctype == "text/plain":
        text = payload.decode("utf-8", "replace")
    else:
        try:
            text = extract_html(payload, content_type, extraction)
        except ExtractionTimeout as exc:
            yield builder.quarantine(rec.offset, "byte", "html_extraction_timeout", rec.raw_head, raw_bytes=raw_bytes,
                                     detail=str(exc) + " (ingest.warc.timeout_seconds)")
            return
        except ExtractionFailed as exc:
            yield builder.quarantine(rec.offset, "byte", "html_extraction_failed", rec.raw_head, raw_bytes=raw_bytes,
                                     detail=f"{extraction.extractor}: {exc.kind}")
            return
        except Exception as exc:  # decoding must never stop the file either
            yield builder.quarantine(rec.offset, "byte", "html_extraction_failed", rec.raw_head, raw_bytes=raw_bytes,
                                     detail=type(exc).__name__)
            return
    meta["warc-type"] = rtype
    if ctype:
        meta["content-type"] = ctype
    raw_digest_src = rec.raw_head + rec.block
    row = builder.document(text, rec.offset, "byte", raw_digest_src, source_id=rid, url=url, metadata=meta)
    if row["kind"] == "doc":
        row.update(_signals(http_signal_headers, payload if ctype != "text/plain" else None, url))
    yield row



class HttpResponse:
    """One HTTP response of a WARC file (what :func:`read_http_responses` yields)."""

    __slots__ = ("uri", "status", "content_type", "location", "body", "date")

    def __init__(self, uri: Optional[str], status: Optional[int], content_type: str, location: Optional[str],
                 body: bytes, date: str):
        self.uri = uri
        self.status = status
        self.content_type = content_type
        self.location = location
        self.body = body
        self.date = date


def read_http_responses(path: str, max_record_bytes: int = 64 << 20,
                        counters: Optional[dict[str, int]] = None) -> Iterator[HttpResponse]:
    """The ``response`` records of a WARC file (plain, gzip or zstd) as HTTP responses, body decoded.

    Used for Common Crawl's robots.txt archives. Records that are not HTTP responses are skipped; broken
    records and undecodable bodies are counted in ``counters`` (by reason) and skipped, never fatal.
    """
    counters = counters if counters is not None else {}
    cfg = IngestSection(warc={"max_record_bytes": max_record_bytes})
    builder = RecordBuilder(cfg, "robots", path, path)
    limits = Limits(cfg.max_decompressed_bytes, cfg.max_compression_ratio, cfg.ratio_check_min_bytes)
    with open(path, "rb") as fh:
        comp = sniff_compression(fh)
        chunks = (
            gzip_chunks(fh, limits) if comp == "gz" else zstd_chunks(fh, limits) if comp == "zst" else plain_chunks(fh)
        )
        for item in _records(ByteStream(chunks), cfg, builder):
            if isinstance(item, dict):
                counters[item["reason"]] = counters.get(item["reason"], 0) + 1
                continue
            h = item.headers
            if h.get("warc-type", "").lower() != "response" or not h.get("content-type", "").lower().startswith(
                    "application/http"):
                continue
            block = item.block
            sep = block.find(b"\r\n\r\n")
            if sep < 0:
                counters["http_malformed"] = counters.get("http_malformed", 0) + 1
                continue
            head = block[:sep].split(b"\r\n")
            body = block[sep + 4:]
            parts = head[0].split(b" ")
            try:
                status: Optional[int] = int(parts[1]) if len(parts) > 1 else None
            except ValueError:
                status = None
            hh = _parse_headers(head[1:])
            if "chunked" in hh.get("transfer-encoding", "").lower():
                body = _dechunk(body) or body
            ce = hh.get("content-encoding", "").lower()
            if ce in ("gzip", "x-gzip", "deflate"):
                try:
                    body = zlib.decompressobj(wbits=47 if "gzip" in ce else 15).decompress(body, max_record_bytes)
                except zlib.error:
                    counters["bad_content_encoding"] = counters.get("bad_content_encoding", 0) + 1
                    continue
            yield HttpResponse(h.get("warc-target-uri") or None, status, hh.get("content-type", ""),
                               hh.get("location") or None, body, h.get("warc-date", ""))
