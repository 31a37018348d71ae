"""Turning raw records into document rows or quarantine rows, the same way for every format.

A reader calls :meth:`RecordBuilder.document` with the decoded text and fields of one record, or
:meth:`RecordBuilder.quarantine` with a reason. Rows are plain dicts in the column layout of
``schemas.columns`` plus ``kind`` (``"doc"``, ``"quarantine"`` or ``"stats"``).

Reason codes (``ingest:`` + code) are documented in docs/ingest.md.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from pipelines.text.ids import make_doc_id
from pipelines.text.normalize import (
    binary_ratio,
    has_lone_surrogate,
    is_plain,
    normalize_plain,
    normalize_text,
    replace_surrogates,
)
from pipelines.text.scrub import shape_prefix

#: Every ingest reason code, with what it means (rendered into docs/ingest.md and the report).
REASONS = {
    "malformed_json": "the line is not valid JSON",
    "not_an_object": "the JSON value is not an object (array, string, number...)",
    "missing_text": "the text field is missing or null",
    "text_not_string": "the text field is a number, list, object or boolean",
    "empty_text": "the text is empty or whitespace only after normalization",
    "invalid_utf8": "invalid UTF-8 bytes (with ingest.invalid_utf8=quarantine)",
    "lone_surrogate": "a lone UTF-16 surrogate escape such as \\ud800 (with ingest.invalid_utf8=quarantine)",
    "binary_content": "the text is mostly control characters or replacement characters (ingest.max_binary_ratio)",
    "line_too_long": "one line is longer than ingest.max_line_bytes; skipped in constant memory",
    "doc_too_long": "the text is longer than ingest.max_doc_chars (with ingest.on_too_long=quarantine)",
    "file_too_large": "a one-document text file is larger than ingest.max_text_file_bytes",
    "truncated_stream": "a compressed stream ends early; complete records before it were kept",
    "corrupt_stream": "a compressed stream is corrupt; complete records before it were kept",
    "decompression_bomb": "decompressed size or ratio over ingest.max_decompressed_bytes / max_compression_ratio",
    "corrupt_parquet": "the Parquet file or one of its row groups cannot be read",
    "parquet_schema_mismatch": "the Parquet file has no string column named like ingest.text_field",
    "warc_malformed_record": "a WARC record without a valid version line or headers",
    "warc_truncated_record": "a WARC record whose block is shorter than its Content-Length (file ends)",
    "warc_bad_content_length": "a WARC record whose Content-Length does not match where the next record starts",
    "warc_record_too_large": "a WARC record larger than ingest.warc.max_record_bytes",
    "html_extraction_failed": "the HTML payload could not be turned into text",
    "html_extraction_timeout": "extracting the HTML page's text ran past ingest.warc.timeout_seconds (it was stopped)",
    "duplicate_source_id": "another record of the same source has the same id; the first one (file, offset) is kept",
    "unsupported_format": "the file's format is not one of jsonl, parquet, text, warc, wet",
    "unreadable_file": "the file could not be opened or read (a remote one after ingest.remote.retries)",
}


@dataclass
class SplitCounters:
    """What one reader call saw; emitted as a ``stats`` row (data, not accumulators)."""

    records: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    encoding: Optional[str] = None

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


class RecordBuilder:
    """Builds document and quarantine rows for one input split.

    Args:
        cfg: the ``ingest`` configuration section.
        source: the source name of the file.
        source_file: the file's path as recorded in outputs.
        rel_path: the file's path relative to its ``--input`` root (used in positional source ids).
    """

    def __init__(self, cfg, source: str, source_file: str, rel_path: str):
        self.cfg = cfg
        self.source = source
        self.source_file = source_file
        self.rel_path = rel_path
        self.counters = SplitCounters()
        mapped = {cfg.text_field, cfg.id_field, cfg.url_field}
        self._mapped = {m for m in mapped if m}
        self._meta_fields = set(cfg.metadata_fields) if cfg.metadata_fields is not None else None

    # -- rows -----------------------------------------------------------------------------------------
    def quarantine(self, offset: int, unit: str, reason: str, raw: Optional[bytes], detail: str = "",
                   raw_sha256: Optional[str] = None, raw_bytes: Optional[int] = None) -> dict[str, Any]:
        """A quarantine row; ``raw`` is hashed and only its scrubbed shape is kept."""
        assert reason in REASONS, reason
        self.counters.records += 1
        return {
            "kind": "quarantine",
            "source": self.source,
            "source_file": self.source_file,
            "source_offset": offset,
            "offset_unit": unit,
            "reason": f"ingest:{reason}",
            "detail": detail or REASONS[reason],
            "raw_sha256": raw_sha256
            if raw_sha256 is not None
            else (hashlib.sha256(raw).hexdigest() if raw is not None else None),
            "raw_bytes": raw_bytes if raw_bytes is not None else (len(raw) if raw is not None else None),
            "raw_prefix": shape_prefix(raw) if raw is not None else None,
        }

    def document(self, text: Any, offset: int, unit: str, raw: bytes, source_id: Any = None,
                 url: Any = None, metadata: Optional[dict[str, str]] = None) -> dict[str, Any]:
        """A document row, or a quarantine row when the text breaks a rule. ``raw`` is the record's bytes."""
        if text is None:
            return self.quarantine(offset, unit, "missing_text", raw)
        if not isinstance(text, str):
            return self.quarantine(offset, unit, "text_not_string", raw, f"text field is a {type(text).__name__}")
        if is_plain(text):  # the common case: one scan instead of the four checks below
            text = normalize_plain(text)
        else:
            if has_lone_surrogate(text):
                if self.cfg.invalid_utf8 == "quarantine":
                    return self.quarantine(offset, unit, "lone_surrogate", raw)
                text = replace_surrogates(text)
            if len(text) >= 16 and binary_ratio(text) > self.cfg.max_binary_ratio:
                return self.quarantine(offset, unit, "binary_content", raw)
            text = normalize_text(text)
        if len(text) < self.cfg.min_chars:
            return self.quarantine(offset, unit, "empty_text", raw)
        truncated = False
        if len(text) > self.cfg.max_doc_chars:
            if self.cfg.on_too_long == "quarantine":
                return self.quarantine(
                    offset,
                    unit,
                    "doc_too_long",
                    raw,
                    f"{len(text)} characters > ingest.max_doc_chars={self.cfg.max_doc_chars}",
                )
            text = text[: self.cfg.max_doc_chars].rstrip()
            truncated = True
        if isinstance(source_id, bool) or not isinstance(source_id, (str, int)) or source_id == "":
            source_id = f"{self.rel_path}@{offset}"
        else:
            source_id = str(source_id)
            if has_lone_surrogate(source_id):
                source_id = replace_surrogates(source_id)
        if not isinstance(url, str) or not url.strip():
            url = None
        elif has_lone_surrogate(url):
            url = replace_surrogates(url)
        encoded = text.encode("utf-8")
        self.counters.records += 1
        return {
            "kind": "doc",
            "doc_id": make_doc_id(self.source, source_id),
            "source": self.source,
            "source_id": source_id,
            "source_file": self.source_file,
            "source_offset": offset,
            "offset_unit": unit,
            "url": url,
            "text": text,
            "metadata": metadata or None,
            "content_sha256": hashlib.sha256(encoded).hexdigest(),
            "n_chars": len(text),
            "n_bytes": len(encoded),
            "truncated": truncated,
        }

    def metadata_of(self, obj: dict[str, Any]) -> Optional[dict[str, str]]:
        """Unmapped fields as a string map: strings as they are, other values JSON-encoded."""
        out: dict[str, str] = {}
        for k, v in obj.items():
            if k in self._mapped or (self._meta_fields is not None and k not in self._meta_fields):
                continue
            key = str(k)
            if isinstance(v, str):
                out[key] = replace_surrogates(v) if has_lone_surrogate(v) else v
            else:
                try:
                    out[key] = json.dumps(v, ensure_ascii=False, sort_keys=True)
                except (TypeError, ValueError):
                    continue
                if has_lone_surrogate(out[key]):
                    out[key] = replace_surrogates(out[key])
        return out or None

    def stats(self, split_index: int) -> dict[str, Any]:
        return {
            "kind": "stats",
            "source": self.source,
            "source_file": self.source_file,
            "source_offset": -1,
            "offset_unit": "split",
            "split_index": split_index,
            "records": self.counters.records,
            "skipped": dict(self.counters.skipped) or None,
            "encoding": self.counters.encoding,
        }
