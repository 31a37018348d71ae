"""Stable identifiers.

``doc_id`` = the first 32 hex characters (128 bits) of ``sha256(source + "\\x1f" + source_id)``.

``source`` is ``ingest.source`` or, by default, the name of the ``--input`` path the file came from;
``source_id`` is the record's id field when present, else a position: ``<relative path>@<offset>``
(byte offset for JSONL and WARC, row number for Parquet) or the relative path for one-document text files.
The id therefore survives re-runs, a different input order and a different number of partitions; it
changes only when the source name or the record's own id changes.
"""
from __future__ import annotations

import hashlib


def make_doc_id(source: str, source_id: str) -> str:
    """The 32-hex-character document id of ``(source, source_id)``."""
    h = hashlib.sha256()
    h.update(source.encode("utf-8", "surrogatepass"))
    h.update(b"\x1f")
    h.update(source_id.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def content_sha256(text: str) -> str:
    """sha256 (hex) of a normalized text's UTF-8 bytes: the key of exact dedup and of erasure requests."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
