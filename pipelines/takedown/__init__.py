"""Erasure and opt-out requests: applied at ingest of every future run, and to the published data.

A request is one JSON line with a ``request_id`` and exactly one of:

=================== ==================================================================================
``doc_id``          the document id
``url``             the document URL (scheme and host compared case-insensitively, hosts in IDNA
                    form without trailing dot, fragment ignored, default ports dropped)
``url_prefix``      every URL that starts with it (normalized the same way)
``domain``          every URL whose host is the domain or one of its subdomains (hosts compared as
                    :mod:`pipelines.text.hosts` writes them, as the opt-out domain list)
``content_sha256``  sha256 of the normalized text (``corpusforge hash-text`` prints it)
=================== ==================================================================================

Future runs: :func:`mark_takedowns` adds ``takedown_reason`` (``"takedown:<kind>"``, null when no
request matches) and ``takedown_request_id`` to the documents right after ingest; the runner rejects the
marked documents like any other stage's. The store keeps the standing list in
``STORE/takedown/requests.jsonl`` and nightly passes it to every run.

Published data (:func:`apply_takedowns`, ``corpusforge takedown``), under the store lock:

1. the requests join the standing list;
2. every run in the store is searched (curated and rejected tables: doc_id, url, content_sha256) and
   every published version's shards (doc_id); the matched ids are journaled
   (``takedown/pending.json``) so that an interrupted takedown resumes with the same set;
3. a new version is published in which only the shards holding matched documents are rewritten (their
   other rows, row groups and bytes layout kept); every other shard is the same file (hard link);
4. the incremental near-dedup index forgets the documents (so a later copy is not dropped as a
   duplicate of a document that no longer exists);
5. every older version that held them is withdrawn (its index.json and shards removed, its version.json
   kept with the reason), and the runs' curated, rejected and shard files are rewritten without them
   (``erasures.json`` in the run records what was removed, so its run.json counts stay explainable);
6. the append-only ledger ``ledger/takedowns.jsonl`` gets one row per request (request id, kind, matched
   doc_ids, affected versions, new version, time) and ``takedown/summary.json`` the proof-of-deletion
   summary (counts only, no content), re-checked after the purge.

Standing opt-outs: :func:`optout_domain_requests` turns the opt-out domain list (``optout.domains``,
docs/compliance.md) into ``domain`` requests with ids ``optout-domain:<domain>``; ``corpusforge takedown
--optout-domains FILE`` and, for the configured list, ``corpusforge nightly`` apply the new ones.

Rerunning the same requests changes nothing and adds no ledger rows; new matches (e.g. from a run made
before the request arrived) are removed and recorded as a supplement.

Modules: :mod:`.requests` (parsing, URL normalization, matching; pure Python), :mod:`.documents` (the
Spark matching of documents and the ingest hook), :mod:`.rewrite` (Parquet rewriting of shards, run
tables and the near-dedup index), :mod:`.apply` (the store orchestration above).
"""
from __future__ import annotations

from pipelines.takedown.apply import (
    add_standing_requests,
    apply_takedowns,
    enforce_on_run,
    find_matches,
    new_optout_domain_requests,
    proof_of_deletion_summary,
    standing_requests,
)
from pipelines.takedown.documents import mark_takedowns, matched_documents
from pipelines.takedown.requests import (
    KINDS,
    OPTOUT_DOMAIN_PREFIX,
    REASON_COLUMN,
    REASON_PREFIX,
    REQUEST_COLUMN,
    RequestMatcher,
    TakedownError,
    TakedownRequest,
    load_requests,
    normalize_domain,
    normalize_url,
    optout_domain_requests,
    parse_request,
    url_host,
)
from pipelines.takedown.rewrite import (
    forget_in_dedup_index,
    rewrite_run_shards,
    rewrite_shard,
    rewrite_table_files,
    rewrite_table_files_recursive,
    rewritten_entry,
    shard_doc_ids,
)

__all__ = [
    "KINDS",
    "OPTOUT_DOMAIN_PREFIX",
    "REASON_COLUMN",
    "REASON_PREFIX",
    "REQUEST_COLUMN",
    "RequestMatcher",
    "TakedownError",
    "TakedownRequest",
    "add_standing_requests",
    "apply_takedowns",
    "enforce_on_run",
    "find_matches",
    "forget_in_dedup_index",
    "load_requests",
    "mark_takedowns",
    "new_optout_domain_requests",
    "matched_documents",
    "normalize_domain",
    "normalize_url",
    "optout_domain_requests",
    "parse_request",
    "proof_of_deletion_summary",
    "rewrite_run_shards",
    "rewrite_shard",
    "rewrite_table_files",
    "rewrite_table_files_recursive",
    "rewritten_entry",
    "shard_doc_ids",
    "standing_requests",
    "url_host",
]
