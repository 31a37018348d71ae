"""Bounded, failure-aware byte streams over plain, gzip and zstd files.

Readers never trust a file: decompression is done in small steps with a cap on the total output and on
the compression ratio (decompression bombs), a truncated stream is reported with how much was read, and
lines longer than a cap are skipped in constant memory (hashed and counted, never held).

The decompressors run as chunk generators; :class:`ByteStream` turns them into ``readline``/``read``
with absolute (decompressed) offsets. A failure inside the generator (truncation, bomb, I/O error) is not
raised at the reader: the stream ends, and :attr:`ByteStream.error` tells why, so that everything that
was read completely before the failure is still delivered.
"""
from __future__ import annotations

import codecs
import hashlib
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Optional

import zstandard

CHUNK = 1 << 20  # 1 MiB of output per yielded chunk (approximately)
_GZ_IN = 64 * 1024
_ZST_IN = 2 * 1024  # zstd cannot bound output per call: small inputs bound it (RLE blocks: ~64x/byte)


class StreamError(Exception):
    """Why a stream ended early. ``reason`` is an ingest reason code without the ``ingest:`` prefix."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """Safety caps for one input file."""

    max_decompressed_bytes: int
    max_compression_ratio: float
    ratio_check_min_bytes: int


def compression_of(path: str) -> Optional[str]:
    """``"gz"``, ``"zst"`` or None from the file name."""
    lower = path.lower()
    if lower.endswith(".gz"):
        return "gz"
    if lower.endswith(".zst") or lower.endswith(".zstd"):
        return "zst"
    return None


def sniff_compression(fh: BinaryIO) -> Optional[str]:
    """Compression from the magic bytes (the name can lie); the file position is restored."""
    pos = fh.tell()
    magic = fh.read(4)
    fh.seek(pos)
    if magic[:2] == b"\x1f\x8b":
        return "gz"
    if magic == b"\x28\xb5\x2f\xfd":
        return "zst"
    return None


def _check(out_total: int, in_total: int, limits: Limits) -> None:
    if out_total > limits.max_decompressed_bytes:
        raise StreamError(
            "decompression_bomb",
            f"more than {limits.max_decompressed_bytes} decompressed bytes "
            f"(ingest.max_decompressed_bytes) from {in_total} compressed bytes",
        )
    if out_total >= limits.ratio_check_min_bytes and in_total > 0:
        ratio = out_total / in_total
        if ratio > limits.max_compression_ratio:
            raise StreamError(
                "decompression_bomb",
                f"compression ratio {ratio:.0f} exceeds ingest.max_compression_ratio="
                f"{limits.max_compression_ratio:g} after {out_total} decompressed bytes",
            )


def plain_chunks(fh: BinaryIO, start: int = 0, end: Optional[int] = None) -> Iterator[bytes]:
    """Raw chunks of ``fh`` from ``start``; stops at ``end`` if given (the consumer may read past it)."""
    fh.seek(start)
    while True:
        data = fh.read(CHUNK)
        if not data:
            return
        yield data


def gzip_chunks(fh: BinaryIO, limits: Limits) -> Iterator[bytes]:
    """Decompressed chunks of a (possibly multi-member) gzip file, bounded per call."""
    in_total = out_total = 0
    d = zlib.decompressobj(wbits=31)
    member_has_data = False
    pending = b""
    while True:
        data = fh.read(_GZ_IN)
        if not data:
            break
        in_total += len(data)
        buf = data
        while buf:
            out = d.decompress(buf, CHUNK)
            member_has_data = True
            if out:
                out_total += len(out)
                try:
                    _check(out_total, in_total, limits)
                except StreamError:
                    # What was decompressed up to the cap (at most one bounded step more) is delivered.
                    yield bytes(pending) + out
                    raise
                pending += out
                if len(pending) >= CHUNK:
                    yield pending
                    pending = b""
            if d.eof:
                rest = d.unused_data
                d = zlib.decompressobj(wbits=31)
                member_has_data = False
                # Trailing zero padding after the last member is tolerated.
                buf = rest if rest.strip(b"\x00") else b""
            else:
                buf = d.unconsumed_tail
    if pending:
        yield pending
    if member_has_data and not d.eof:
        raise StreamError(
            "truncated_stream", f"gzip stream ends before its end marker after {in_total} compressed bytes"
        )


def zstd_chunks(fh: BinaryIO, limits: Limits) -> Iterator[bytes]:
    """Decompressed chunks of a (possibly multi-frame) zstd file, bounded per call."""
    dctx = zstandard.ZstdDecompressor()
    d = dctx.decompressobj()
    in_total = out_total = 0
    frame_has_data = False
    pending = bytearray()
    while True:
        data = fh.read(_GZ_IN)
        if not data:
            break
        in_total += len(data)
        for i in range(0, len(data), _ZST_IN):
            piece = data[i : i + _ZST_IN]
            while piece:
                try:
                    out = d.decompress(piece)
                except zstandard.ZstdError as exc:
                    raise StreamError(
                        "corrupt_stream", f"zstd error after {in_total} compressed bytes: {exc}"
                    ) from None
                frame_has_data = True
                piece = b""
                if out:
                    out_total += len(out)
                    try:
                        _check(out_total, in_total, limits)
                    except StreamError:
                        yield bytes(pending) + out
                        raise
                    pending += out
                    if len(pending) >= CHUNK:
                        yield bytes(pending)
                        pending = bytearray()
                if d.eof:
                    piece = d.unused_data
                    d = dctx.decompressobj()
                    frame_has_data = False
    if pending:
        yield bytes(pending)
    if frame_has_data and not d.eof:
        raise StreamError("truncated_stream", f"zstd frame ends early after {in_total} compressed bytes")


def transcode_chunks(chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """Re-encode a UTF-16/UTF-32 chunk stream as UTF-8 (invalid sequences become U+FFFD, counted by callers)."""
    dec = codecs.getincrementaldecoder(encoding)("replace")
    for c in chunks:
        s = dec.decode(c)
        if s:
            yield s.encode("utf-8", "surrogatepass")
    tail = dec.decode(b"", final=True)
    if tail:
        yield tail.encode("utf-8", "surrogatepass")


def detect_bom(head: bytes) -> tuple[Optional[str], int]:
    """(encoding, BOM length) for a UTF-8/16/32 byte-order mark; UTF-16 without BOM by its NUL pattern."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        return "utf-32", 0  # the codec consumes the BOM itself
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", 0
    sample = head[:64]
    if len(sample) >= 8:
        odd_nuls = sample[1::2].count(0)
        even_nuls = sample[0::2].count(0)
        half = len(sample) // 2
        if odd_nuls >= 0.9 * half and even_nuls == 0:
            return "utf-16-le", 0
        if even_nuls >= 0.9 * half and odd_nuls == 0:
            return "utf-16-be", 0
    return None, 0


class ByteStream:
    """``readline``/``read`` over a chunk generator, with absolute offsets and early-end reporting."""

    def __init__(self, chunks: Iterator[bytes], start_offset: int = 0):
        self._chunks = chunks
        self._buf = b""
        self._off = 0
        self._base = start_offset  # absolute offset of self._buf[0]
        self._eof = False
        self.error: Optional[StreamError] = None

    @property
    def pos(self) -> int:
        """Absolute offset of the next unread byte."""
        return self._base + self._off

    def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._eof = True
            return False
        except StreamError as exc:
            self.error = exc
            self._eof = True
            return False
        except OSError as exc:
            self.error = StreamError("unreadable_file", f"I/O error: {exc.strerror or type(exc).__name__}")
            self._eof = True
            return False
        if self._off:
            self._base += self._off
            self._buf = self._buf[self._off :]
            self._off = 0
        self._buf = self._buf + chunk if self._buf else chunk
        return True

    def peek(self, n: int) -> bytes:
        while len(self._buf) - self._off < n and self._fill():
            pass
        return self._buf[self._off : self._off + n]

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the stream)."""
        while len(self._buf) - self._off < n and self._fill():
            pass
        out = self._buf[self._off : self._off + n]
        self._off += len(out)
        return out

    def skip(self, n: int) -> int:
        """Discard up to ``n`` bytes without holding them; returns how many were skipped."""
        done = 0
        while done < n:
            avail = len(self._buf) - self._off
            if avail == 0 and not self._fill():
                break
            take = min(n - done, len(self._buf) - self._off)
            self._off += take
            done += take
        return done

    def unread(self, data: bytes) -> None:
        """Push ``data`` back in front of the stream (it must be what was just read)."""
        self._buf = data + self._buf[self._off :]
        self._base -= len(data)
        self._base += self._off
        self._off = 0

    def readline(self, max_bytes: int) -> tuple[Optional[bytes], int, Optional[str], bool]:
        """Read one line (with its ``\\n``).

        Returns ``(line, length, sha256, complete)``: ``line`` is None when it was longer than
        ``max_bytes`` (then it was skipped in constant memory and ``sha256`` is its hash); ``length`` is
        its byte length; ``complete`` is False when the stream ended before a newline (a last line
        without newline is complete only when the stream ended cleanly). Returns ``(b"", 0, None, True)``
        at the end of the stream.
        """
        while True:
            idx = self._buf.find(b"\n", self._off)
            if idx >= 0:
                if idx + 1 - self._off > max_bytes:
                    break  # oversized: fall through to skipping
                line = self._buf[self._off : idx + 1]
                self._off = idx + 1
                return line, len(line), None, True
            if len(self._buf) - self._off > max_bytes:
                break
            if not self._fill():
                line = self._buf[self._off :]
                self._off = len(self._buf)
                return line, len(line), None, self.error is None
        # Oversized line: hash and count it chunk by chunk.
        h = hashlib.sha256()
        length = 0
        while True:
            idx = self._buf.find(b"\n", self._off)
            end = idx + 1 if idx >= 0 else len(self._buf)
            h.update(self._buf[self._off : end])
            length += end - self._off
            self._off = end
            if idx >= 0:
                return None, length, h.hexdigest(), True
            if not self._fill():
                return None, length, h.hexdigest(), self.error is None
