"""Column contracts of a run's tables (Arrow schemas; Spark schemas are derived from them).

``DOCUMENT_SCHEMA`` is what ingest produces and every stage receives. Stages add their own columns
(``lang``, ``lang_score``, quality signals, ``dup_cluster_id`` ...) and a ``<stage>_reason`` column:
null when the document passes, ``"<stage>:<rule>"`` when the stage would drop it. The runner copies the
reason into ``drop_reason`` when the stage's mode is ``drop`` and routes the row to ``rejected/``.
"""
from __future__ import annotations

import pyarrow as pa

#: Opt-out and licence signals of a web page, kept by the WARC reader from the HTTP headers and the HTML
#: (null for other inputs and when the page has no such signal; docs/compliance.md, "Opt-out reservations").
WEB_SIGNAL_FIELDS = (
    pa.field("content_language", pa.string()),  # HTTP Content-Language, lower case, tags joined by ","
    pa.field("x_robots_tag", pa.list_(pa.string())),  # X-Robots-Tag directives ("noai", "gptbot:noai")
    pa.field("meta_robots", pa.list_(pa.string())),  # <meta name="robots"|"<bot>"> directives
    pa.field("tdm_reservation_header", pa.bool_()),  # HTTP tdm-reservation (TDMRep): 1 -> true, 0 -> false
    pa.field("tdm_reservation_meta", pa.bool_()),  # <meta name="tdm-reservation">
    pa.field("tdm_policy", pa.string()),  # TDMRep policy URL (header, Link rel=tdm-policy or meta)
    pa.field("license_url", pa.string()),  # licence link (Link rel=license, <link|a rel=license>, CC link)
    pa.field("license_spdx", pa.string()),  # SPDX id when the licence URL is recognised
    pa.field("license_kind", pa.string()),  # cc, cc0, public_domain_mark, known, other
    pa.field("license_source", pa.string()),  # http_link, html_rel, cc_href
    pa.field("web_signal_issues", pa.list_(pa.string())),  # malformed signals, e.g. "tdm_reservation_header:invalid"
)

#: Columns every document row carries from ingest on.
DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),  # 32 hex chars, see pipelines.text.ids
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),  # path as given on the command line (expanded)
        pa.field("source_offset", pa.int64(), nullable=False),  # line number (JSONL), byte offset (WARC), row (Parquet)
        pa.field("url", pa.string()),
        pa.field("text", pa.string(), nullable=False),  # normalized text
        pa.field("metadata", pa.map_(pa.string(), pa.string())),  # unmapped input fields, JSON-encoded values
        pa.field("content_sha256", pa.string(), nullable=False),  # sha256 of the normalized text (UTF-8)
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("n_bytes", pa.int64(), nullable=False),
        pa.field("truncated", pa.bool_(), nullable=False),
        *WEB_SIGNAL_FIELDS,
    ]
)

#: A quarantined record. Never the whole raw record: its sha256 and a short scrubbed prefix only.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_offset", pa.int64(), nullable=False),
        pa.field("offset_unit", pa.string(), nullable=False),  # "line", "byte", "row", "file"
        pa.field("reason", pa.string(), nullable=False),  # e.g. "ingest:malformed_json"
        pa.field("detail", pa.string()),  # short, content-free explanation
        pa.field("raw_sha256", pa.string()),
        pa.field("raw_bytes", pa.int64()),
        pa.field("raw_prefix", pa.string()),  # scrubbed, printable, at most 64 characters
    ]
)

#: Per input split, what the reader saw. Written as data so that accounting never relies on accumulators.
SPLIT_STATS_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("split_index", pa.int32(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),  # documents + quarantined records
        pa.field("skipped", pa.map_(pa.string(), pa.int64())),  # e.g. WARC request records, by reason
        pa.field("encoding", pa.string()),
    ]
)

#: The column of ``rejected/`` (and the ledger) that says why a row was removed: ``"<stage>:<rule>"``.
DROP_REASON = "drop_reason"


def reason_column(stage: str) -> str:
    """Name of the column in which ``stage`` writes the reason it would drop a document for."""
    return f"{stage}_reason"
