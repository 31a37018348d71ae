"""Erasure and opt-out requests: applied at ingest of every future run, and to the published data.

A request is one JSON line with a ``request_id`` and exactly one of:

=================== ==================================================================================
``doc_id``          the document id
``url``             the document URL (scheme and host compared case-insensitively, fragment ignored,
                    default ports dropped)
``url_prefix``      every URL that starts with it (normalized the same way)
``domain``          every URL whose host is the domain or one of its subdomains
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

Rerunning the same requests changes nothing and adds no ledger rows; new matches (e.g. from a run made
before the request arrived) are removed and recorded as a supplement.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

KINDS = ("doc_id", "url", "url_prefix", "domain", "content_sha256")
REASON_PREFIX = "takedown"
REASON_COLUMN = "takedown_reason"
REQUEST_COLUMN = "takedown_request_id"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$")


class TakedownError(ValueError):
    """A request file or request that cannot be applied; the message says how to fix it."""


# ------------------------------------------------------------------------------------------ requests


@dataclass(frozen=True, order=True)
class TakedownRequest:
    """One validated request: ``kind`` is one of :data:`KINDS`, ``value`` is normalized."""

    request_id: str
    kind: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {"request_id": self.request_id, self.kind: self.value}

    @property
    def reason(self) -> str:
        return f"{REASON_PREFIX}:{self.kind}"


def normalize_url(url: str) -> Optional[str]:
    """A URL in comparable form: scheme and host lower case, default port and fragment dropped,
    empty path as ``/``. None when it is not an absolute http(s)-like URL."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    scheme = parts.scheme.lower()
    netloc = host.lower()
    if port is not None and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{netloc}:{port}"
    if parts.username or parts.password:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def url_host(url: Optional[str]) -> Optional[str]:
    """The lower-case host of a URL (no port, no trailing dot), or None."""
    if not isinstance(url, str):
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


def normalize_domain(domain: str) -> Optional[str]:
    d = domain.strip().lower().rstrip(".")
    if d.startswith("*."):
        d = d[2:]
    if not d or "/" in d or ":" in d or " " in d or d.startswith("."):
        return None
    return d


def parse_request(obj: Any, where: str = "request") -> TakedownRequest:
    """Validate one request object.

    Raises:
        TakedownError: no request_id, not exactly one key, or an invalid value (the value itself is
            never echoed: it may be personal data).
    """
    if not isinstance(obj, dict):
        raise TakedownError(f"{where}: a request is a JSON object with request_id and one of {', '.join(KINDS)}")
    rid = obj.get("request_id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise TakedownError(f"{where}: request_id must be a non-empty string of letters, digits and ._:@/- "
                            "(at most 200 characters)")
    keys = [k for k in KINDS if k in obj]
    extra = sorted(set(obj) - set(KINDS) - {"request_id", "note", "received_at"})
    if extra:
        raise TakedownError(f"{where} ({rid}): unknown keys {extra}; allowed: request_id, {', '.join(KINDS)}, note")
    if len(keys) != 1:
        raise TakedownError(f"{where} ({rid}): give exactly one of {', '.join(KINDS)} (found {len(keys)})")
    kind = keys[0]
    raw = obj[kind]
    if not isinstance(raw, str) or not raw.strip():
        raise TakedownError(f"{where} ({rid}): {kind} must be a non-empty string")
    value: Optional[str]
    if kind == "doc_id":
        value = raw.strip()
    elif kind == "content_sha256":
        value = raw.strip().lower()
        if not _SHA_RE.match(value):
            raise TakedownError(f"{where} ({rid}): content_sha256 must be 64 hex digits; print it with "
                                "'corpusforge hash-text' from the document's text")
    elif kind in ("url", "url_prefix"):
        value = normalize_url(raw)
        if value is None:
            raise TakedownError(f"{where} ({rid}): {kind} must be an absolute URL such as https://host/path")
    else:
        value = normalize_domain(raw)
        if value is None:
            raise TakedownError(f"{where} ({rid}): domain must be a host name such as example.com")
    return TakedownRequest(rid, kind, value)


def load_requests(source: Union[str, os.PathLike, Iterable[Any]]) -> list[TakedownRequest]:
    """Requests from a JSON-lines file (or an iterable of dicts / requests), validated and de-duplicated.

    Raises:
        TakedownError: a bad line, or one request_id used for two different requests.
    """
    items: list[tuple[str, Any]] = []
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise TakedownError(f"request file {path} not found")
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((f"{path.name}:{i}", json.loads(line)))
            except json.JSONDecodeError:
                raise TakedownError(f"{path.name}:{i} is not valid JSON (one request object per line)") from None
    else:
        items = [(f"request #{i}", obj) for i, obj in enumerate(source, 1)]
    out: dict[str, TakedownRequest] = {}
    for where, obj in items:
        req = obj if isinstance(obj, TakedownRequest) else parse_request(obj, where)
        if req.request_id in out and out[req.request_id] != req:
            raise TakedownError(f"{where}: request_id {req.request_id} is used for two different requests; "
                                "give each request its own id")
        out[req.request_id] = req
    return sorted(out.values())


class RequestMatcher:
    """Matches documents against requests in O(1) per document (plus one check per url_prefix)."""

    def __init__(self, requests: Iterable[TakedownRequest]) -> None:
        self.by_kind: dict[str, dict[str, list[str]]] = {k: {} for k in KINDS}
        for r in requests:
            self.by_kind[r.kind].setdefault(r.value, []).append(r.request_id)
        self.prefixes = sorted(self.by_kind["url_prefix"].items())

    def __bool__(self) -> bool:
        return any(self.by_kind.values())

    def match(self, doc_id: Optional[str], url: Optional[str], content_sha256: Optional[str]) -> list[tuple[str, str]]:
        """All ``(request_id, kind)`` that match a document, sorted by request id."""
        found: list[tuple[str, str]] = []
        bk = self.by_kind
        if doc_id is not None:
            found += [(r, "doc_id") for r in bk["doc_id"].get(doc_id, ())]
        if content_sha256 is not None:
            found += [(r, "content_sha256") for r in bk["content_sha256"].get(content_sha256, ())]
        if url is not None and (bk["url"] or self.prefixes or bk["domain"]):
            norm = normalize_url(url)
            if norm is not None:
                found += [(r, "url") for r in bk["url"].get(norm, ())]
                for prefix, rids in self.prefixes:
                    if norm.startswith(prefix):
                        found += [(r, "url_prefix") for r in rids]
            host = url_host(url)
            if host and bk["domain"]:
                labels = host.split(".")
                for i in range(len(labels)):
                    found += [(r, "domain") for r in bk["domain"].get(".".join(labels[i:]), ())]
        return sorted(set(found))


# ------------------------------------------------------------------------------------------ Spark


def _match_udf(requests: list[tuple[str, str, str]]):
    """mapInArrow over (doc_id, url, content_sha256): yields only matched rows with all request ids."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        matcher = RequestMatcher(TakedownRequest(*r) for r in requests)
        for batch in batches:
            ids = batch.column("doc_id").to_pylist()
            urls = batch.column("url").to_pylist()
            hashes = batch.column("content_sha256").to_pylist()
            keep, reasons, rids, alls = [], [], [], []
            for i in range(len(ids)):
                found = matcher.match(ids[i], urls[i], hashes[i])
                if found:
                    keep.append(i)
                    reasons.append(f"{REASON_PREFIX}:{found[0][1]}")
                    rids.append(found[0][0])
                    alls.append(sorted({r for r, _ in found}))
            if keep:
                idx = pa.array(keep, pa.int64())
                yield pa.RecordBatch.from_pydict({
                    "doc_id": batch.column("doc_id").take(idx),
                    "url": batch.column("url").take(idx),
                    "content_sha256": batch.column("content_sha256").take(idx),
                    REASON_COLUMN: pa.array(reasons, pa.string()),
                    REQUEST_COLUMN: pa.array(rids, pa.string()),
                    "takedown_request_ids": pa.array(alls, pa.list_(pa.string())),
                })

    return run


_MATCH_SCHEMA = (f"doc_id string, url string, content_sha256 string, {REASON_COLUMN} string, "
                 f"{REQUEST_COLUMN} string, takedown_request_ids array<string>")


def _as_requests(requests: Union[str, os.PathLike, Iterable[Any], None]) -> list[TakedownRequest]:
    if requests is None:
        return []
    return load_requests(requests)


def matched_documents(spark, docs_df, requests):
    """The documents of ``docs_df`` that some request matches.

    Returns:
        DataFrame ``(doc_id, url, content_sha256, takedown_reason, takedown_request_id,
        takedown_request_ids)``: one row per distinct (doc_id, url, content_sha256) that matches;
        ``takedown_request_id`` is the smallest matching request id, ``takedown_request_ids`` all of them.
    """
    from pyspark.sql import functions as F

    reqs = _as_requests(requests)
    cols = set(docs_df.columns)
    narrow = docs_df.select(
        F.col("doc_id").cast("string").alias("doc_id"),
        (F.col("url") if "url" in cols else F.lit(None)).cast("string").alias("url"),
        (F.col("content_sha256") if "content_sha256" in cols else F.lit(None)).cast("string").alias("content_sha256"),
    ).distinct()
    payload = [(r.request_id, r.kind, r.value) for r in reqs]
    return narrow.mapInArrow(_match_udf(payload), _MATCH_SCHEMA)


def mark_takedowns(spark, docs_df, requests):
    """Add ``takedown_reason`` and ``takedown_request_id`` to ingested documents (same rows).

    Call it right after ingest; the runner then rejects rows whose ``takedown_reason`` is not null
    (``drop_reason = "takedown:<kind>"``) like any stage's rejects.

    Args:
        spark: the SparkSession.
        docs_df: documents with ``doc_id`` and, when present, ``url`` and ``content_sha256``.
        requests: a JSON-lines path, an iterable of request dicts or :class:`TakedownRequest`, or None.

    Returns:
        ``docs_df`` with the two string columns added (null where no request matches).
    """
    from pyspark.sql import functions as F

    reqs = _as_requests(requests)
    null = F.lit(None).cast("string")
    if not reqs:
        return docs_df.withColumn(REASON_COLUMN, null).withColumn(REQUEST_COLUMN, null)
    matched = matched_documents(spark, docs_df, reqs).select(
        F.col("doc_id").alias("_td_doc_id"), F.col("url").alias("_td_url"),
        F.col("content_sha256").alias("_td_sha"), REASON_COLUMN, REQUEST_COLUMN,
    )
    cols = set(docs_df.columns)
    url = F.col("url").cast("string") if "url" in cols else null
    sha = F.col("content_sha256").cast("string") if "content_sha256" in cols else null
    cond = (F.col("doc_id") == F.col("_td_doc_id")) & url.eqNullSafe(F.col("_td_url")) & sha.eqNullSafe(F.col("_td_sha"))
    out = docs_df.join(matched, cond, "left")
    return out.select(*[docs_df[c] for c in docs_df.columns], F.col(REASON_COLUMN), F.col(REQUEST_COLUMN))


# ------------------------------------------------------------------------------------------ shards


def shard_doc_ids(path: Path, candidates: set[str]) -> set[str]:
    """The ids among ``candidates`` that a shard holds (row-group doc_id statistics skip most groups)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not candidates:
        return set()
    pf = pq.ParquetFile(path)
    ordered = sorted(candidates)
    found: set[str] = set()
    col = pf.schema_arrow.get_field_index("doc_id")
    for i in range(pf.metadata.num_row_groups):
        st = pf.metadata.row_group(i).column(col).statistics
        if st is not None and st.has_min_max:
            import bisect

            lo = bisect.bisect_left(ordered, st.min)
            if lo == len(ordered) or ordered[lo] > st.max:
                continue
        ids = pf.read_row_group(i, columns=["doc_id"]).column("doc_id")
        hit = pc.is_in(ids, value_set=_pa_strings(ordered))
        found.update(ids.filter(hit).to_pylist())
    return found


def _pa_strings(values: list[str]):
    import pyarrow as pa

    return pa.array(values, pa.string())


def rewrite_shard(src: Path, dst: Path, drop: set[str]):
    """Write ``src`` without the rows whose doc_id is in ``drop``, keeping every other row group as is.

    Row groups keep their rows in order (a group that loses all rows disappears); compression,
    dictionary and statistics settings are those the shard writer uses. Returns the new
    ``(rows, tokens, row_groups)``; ``rows == 0`` means nothing was written.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from storage.shards import RowGroupInfo

    pf = pq.ParquetFile(src)
    md = pf.metadata
    codec = md.row_group(0).column(0).compression if md.num_row_groups else "ZSTD"
    codec = None if codec in ("UNCOMPRESSED", None) else codec.lower()
    value_set = _pa_strings(sorted(drop))
    groups: list[RowGroupInfo] = []
    writer = None
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        for i in range(md.num_row_groups):
            t = pf.read_row_group(i)
            t = t.filter(pc.invert(pc.is_in(t.column("doc_id"), value_set=value_set)))
            if t.num_rows == 0:
                continue
            if writer is None:
                writer = pq.ParquetWriter(tmp, pf.schema_arrow, compression=codec, use_dictionary=["source", "lang"],
                                          write_statistics=["doc_id", "n_tokens"], store_schema=True)
            writer.write_table(t, row_group_size=t.num_rows + 1)
            groups.append(RowGroupInfo(rows=t.num_rows, tokens=int(pc.sum(t.column("n_tokens")).as_py() or 0)))
        if writer is not None:
            writer.close()
            writer = None
            os.replace(tmp, dst)
    finally:
        if writer is not None:
            writer.close()
        if tmp.exists():
            tmp.unlink()
    return sum(g.rows for g in groups), sum(g.tokens for g in groups), groups


def _rewritten_entry(src: Path, dst: Path, entry, drop: set[str]):
    """A rewritten shard's ShardEntry (None when no row is left)."""
    from pipelines.store import sha256_file

    rows, tokens, groups = rewrite_shard(src, dst, drop)
    if rows == 0:
        return None
    return entry.model_copy(update={"rows": rows, "tokens": tokens, "bytes": dst.stat().st_size,
                                    "sha256": sha256_file(dst), "row_groups": groups})


def rewrite_table_files(folder: Path, drop: set[str]) -> int:
    """Rewrite every Parquet part file of a run table without the given doc_ids. Returns rows removed."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    removed = 0
    if not folder.is_dir() or not drop:
        return 0
    value_set = _pa_strings(sorted(drop))
    for f in sorted(folder.glob("*.parquet")):
        table = pq.read_table(f)
        mask = pc.is_in(table.column("doc_id"), value_set=value_set)
        n = int(pc.sum(mask).as_py() or 0)
        if not n:
            continue
        kept = table.filter(pc.invert(mask))
        codec = pq.ParquetFile(f).metadata
        codec = codec.row_group(0).column(0).compression if codec.num_row_groups else "ZSTD"
        tmp = f.with_name(f".{f.name}.tmp")
        pq.write_table(kept, tmp, compression=None if codec == "UNCOMPRESSED" else codec.lower())
        os.replace(tmp, f)
        removed += n
    return removed


# ------------------------------------------------------------------------------------------ dedup index


def forget_in_dedup_index(index_path: Path, doc_ids: set[str]) -> int:
    """Remove documents from every version of the incremental near-dedup index. Returns rows removed.

    Every Parquet file of ``versions/*/docs`` and ``versions/*/keys`` holding one of the ids is rewritten
    to a temporary file and renamed over the old one (each file atomically; rerunning completes an
    interrupted pass). The index manifest's document counts are updated. Takes the index's commit lock.
    """
    from pipelines.stages import near_dedup_index as dedup_index

    index_path = Path(index_path)
    if not doc_ids or not (index_path / dedup_index.MANIFEST).is_file():
        return 0
    removed_docs = 0
    with dedup_index._Lock(index_path / dedup_index.LOCK):
        manifest = json.loads((index_path / dedup_index.MANIFEST).read_text(encoding="utf-8"))
        for v in manifest.get("versions", []):
            vdir = index_path / "versions" / v["run_id"]
            n_docs = rewrite_table_files_recursive(vdir / "docs", doc_ids)
            rewrite_table_files_recursive(vdir / "keys", doc_ids)
            if n_docs:
                v["documents"] = int(v.get("documents", 0)) - n_docs
                v["forgotten"] = int(v.get("forgotten", 0)) + n_docs
                removed_docs += n_docs
        if removed_docs:
            manifest["documents"] = sum(int(v.get("documents", 0)) for v in manifest.get("versions", []))
            from pipelines.store import atomic_write_json

            atomic_write_json(index_path / dedup_index.MANIFEST, manifest)
    log.info("near-dedup index: %d document(s) forgotten", removed_docs)
    return removed_docs


def rewrite_table_files_recursive(folder: Path, drop: set[str]) -> int:
    """:func:`rewrite_table_files` over a folder and its partition subfolders (``band=<j>``)."""
    if not folder.is_dir():
        return 0
    total = rewrite_table_files(folder, drop)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        total += rewrite_table_files_recursive(sub, drop)
    return total


def clear_stale_dedup_lock(index_path: Path) -> bool:
    """Remove the near-dedup index's commit lock when the process that wrote it is gone.

    Only call it with the store lock held: then no other corpusforge process of this store can be
    committing. Returns True when a stale lock was removed.
    """
    from pipelines.stages import near_dedup_index as dedup_index

    lock = Path(index_path) / dedup_index.LOCK
    if not lock.is_file():
        return False
    m = re.search(r"pid=(\d+)", lock.read_text(encoding="utf-8", errors="replace"))
    if m:
        try:
            os.kill(int(m.group(1)), 0)
            return False  # alive: not ours to remove
        except ProcessLookupError:
            pass
        except PermissionError:
            return False
    lock.unlink(missing_ok=True)
    log.warning("removed a stale near-dedup index lock left by a killed process")
    return True


# ------------------------------------------------------------------------------------------ the store


def standing_requests(store) -> list[TakedownRequest]:
    """The store's standing requests (applied to every future run)."""
    path = store.takedown_dir / "requests.jsonl"
    return load_requests(path) if path.is_file() else []


def add_standing_requests(store, requests: list[TakedownRequest]) -> int:
    """Add requests to the standing list (by request_id; a reused id with other content is an error)."""
    from pipelines.store import append_jsonl

    have = {r.request_id: r for r in standing_requests(store)}
    new = []
    for r in requests:
        if r.request_id in have:
            if have[r.request_id] != r:
                raise TakedownError(f"request_id {r.request_id} is already on file for another request; "
                                    "give the new request its own id")
            continue
        new.append(r.to_json())
    return append_jsonl(store.takedown_dir / "requests.jsonl", new)


def _complete_runs(store) -> list[str]:
    if not store.runs_dir.is_dir():
        return []
    return sorted(p.name for p in store.runs_dir.iterdir() if not p.name.startswith(".") and (p / "run.json").is_file())


def find_matches(spark, store, requests: list[TakedownRequest],
                 run_ids: Optional[list[str]] = None) -> dict[str, dict[str, Any]]:
    """Documents of the store's runs (all, or ``run_ids``) that the requests match.

    Returns:
        ``{doc_id: {"requests": [request ids], "runs": [run ids]}}``.
    """
    from pyspark.sql import functions as F

    found: dict[str, dict[str, Any]] = {}
    if not requests:
        return found
    frames = []
    for run_id in (run_ids if run_ids is not None else _complete_runs(store)):
        for table in ("curated", "rejected"):
            d = store.run_dir(run_id) / table
            if d.is_dir() and any(d.glob("*.parquet")):
                df = spark.read.parquet(str(d))
                cols = set(df.columns)
                frames.append(df.select(
                    "doc_id",
                    (F.col("url") if "url" in cols else F.lit(None)).cast("string").alias("url"),
                    (F.col("content_sha256") if "content_sha256" in cols else F.lit(None)).cast("string").alias("content_sha256"),
                    F.lit(run_id).alias("run_id"),
                ))
    if frames:
        docs = frames[0]
        for f in frames[1:]:
            docs = docs.unionByName(f)
        matched = matched_documents(spark, docs, requests)
        keyed = docs.join(matched, ["doc_id"], "left_semi").select("doc_id", "run_id").distinct().collect()
        runs_of: dict[str, set[str]] = {}
        for r in keyed:
            runs_of.setdefault(r["doc_id"], set()).add(r["run_id"])
        for r in matched.select("doc_id", "takedown_request_ids").collect():
            entry = found.setdefault(r["doc_id"], {"requests": set(), "runs": set()})
            entry["requests"].update(r["takedown_request_ids"])
            entry["runs"].update(runs_of.get(r["doc_id"], ()))
    return {k: {"requests": sorted(v["requests"]), "runs": sorted(v["runs"])} for k, v in sorted(found.items())}


def _versions_holding(store, ids: set[str]) -> dict[str, dict[str, set[str]]]:
    """For every published version with an index: ``{version: {shard path: ids it holds}}``."""
    out: dict[str, dict[str, set[str]]] = {}
    for name in store.chain():
        vdir = store.version_dir(name)
        if not (vdir / "index.json").is_file():
            continue
        hits = {}
        for e in store.version_index(name).shards:
            held = shard_doc_ids(vdir / e.path, ids)
            if held:
                hits[e.path] = held
        if hits:
            out[name] = hits
    return out


def apply_takedowns(spark, store, requests: Union[str, os.PathLike, Iterable[Any]]) -> dict[str, Any]:
    """Apply erasure requests to a dataset store (see the module docstring for the steps).

    Args:
        spark: a SparkSession (to search the runs' tables).
        store: a :class:`pipelines.store.DatasetStore`.
        requests: a JSON-lines path or an iterable of request dicts.

    Returns:
        The proof-of-deletion record of this application (counts, ids, versions; no content).

    Raises:
        TakedownError: invalid requests (nothing is changed).
        StoreLockedError: a nightly or another takedown is running.
    """
    from pipelines.store import (
        VersionEntry, append_jsonl, atomic_write_json, entries_of, read_jsonl, utc_now,
    )

    reqs = load_requests(requests)
    with store.lock("takedown"):
        store.recover()
        clear_stale_dedup_lock(store.dedup_index_dir)
        add_standing_requests(store, reqs)
        pending_path = store.takedown_dir / "pending.json"
        pending = json.loads(pending_path.read_text(encoding="utf-8")) if pending_path.is_file() else {}
        matches = find_matches(spark, store, reqs)
        by_req: dict[str, set[str]] = {r.request_id: set() for r in reqs}
        for doc_id, m in matches.items():
            for rid in m["requests"]:
                if rid in by_req:
                    by_req[rid].add(doc_id)
        for rid, ids in pending.get("by_request", {}).items():
            by_req.setdefault(rid, set()).update(ids)
        # doc_id requests also match published shards whose run folder was cleaned up
        direct = {r.value: r.request_id for r in reqs if r.kind == "doc_id"}
        targets = set().union(*by_req.values()) if by_req else set()
        holding = _versions_holding(store, targets | set(direct))
        for vname, shards in holding.items():
            for ids in shards.values():
                for d in ids & set(direct):
                    by_req[direct[d]].add(d)
        targets = set().union(*by_req.values()) if by_req else set()
        affected_versions = sorted(set(pending.get("affected_versions", [])) | {
            v for v, shards in holding.items() if any(ids & targets for ids in shards.values())})
        versions_of = {rid: sorted(set(pending.get("versions_of", {}).get(rid, [])) | {
            v for v, shards in holding.items() if any(ids & hit for hit in shards.values())})
            for rid, ids in by_req.items()}
        journal = {"by_request": {k: sorted(v) for k, v in sorted(by_req.items())},
                   "affected_versions": affected_versions, "versions_of": versions_of,
                   "new_version": pending.get("new_version"), "started_at": pending.get("started_at") or utc_now()}
        if targets:
            atomic_write_json(pending_path, journal)

        cur = store.current_version()
        new_version = None
        rewritten = 0
        if cur and cur in affected_versions:
            hits = holding[cur]
            name = store.next_version_name()
            scratch = store.versions_dir / f".rewrite-{uuid.uuid4().hex[:8]}"
            scratch.mkdir(parents=True)
            try:
                entries = []
                verify = set()
                for ve in entries_of(store, cur):
                    drop = hits.get(ve.entry.path, set()) & targets
                    if not drop:
                        entries.append(ve)
                        continue
                    dst = scratch / ve.entry.path
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    new_entry = _rewritten_entry(ve.source, dst, ve.entry, drop)
                    rewritten += 1
                    if new_entry is not None:
                        entries.append(VersionEntry(dst, new_entry))
                        verify.add(new_entry.path)
                info = store.version_info(cur)
                index = store.version_index(cur)
                tok = store.version_dir(cur) / "tokenizer.json"
                store.build_version(
                    name, entries, index,
                    {"parent": cur, "reason": "takedown", "runs": info.get("runs", []), "added_runs": [],
                     "takedown_requests": sorted(r for r, ids in by_req.items() if ids)},
                    tokenizer_source=tok if tok.is_file() else None, verify_paths=verify,
                    config_sha256=index.config_sha256,
                )
            finally:
                import shutil

                shutil.rmtree(scratch, ignore_errors=True)
            store.switch_current(name)
            new_version = name
            journal["new_version"] = name
            atomic_write_json(pending_path, journal)
        new_version = new_version or journal.get("new_version")

        forgotten = forget_in_dedup_index(store.dedup_index_dir, targets)
        withdrawn = []
        stamp = {"by": "takedown", "requests": sorted(r for r, ids in by_req.items() if ids)}
        for v in affected_versions:
            if v != store.current_version():
                store.withdraw_version(v, stamp)
                withdrawn.append(v)
        purged = _purge_runs(store, targets, by_req)

        # verification: nothing left in the runs, nor in the current version
        left_runs = find_matches(spark, store, reqs)
        left_ids = set(left_runs) & targets
        cur_now = store.current_version()
        left_published = _versions_holding(store, targets)
        record_time = utc_now()
        rows = []
        done = {r["request_id"] for r in read_jsonl(store.ledger_dir / "takedowns.jsonl")}
        for r in reqs:
            ids = sorted(by_req.get(r.request_id, ()))
            if r.request_id in done and not ids:
                continue
            rows.append({
                "request_id": r.request_id, "kind": r.kind, "matched_doc_ids": ids, "documents": len(ids),
                "affected_versions": versions_of.get(r.request_id, []) if ids else [],
                "new_version": new_version if ids else None,
                "withdrawn_versions": withdrawn if ids else [], "applied_at": record_time,
                "supplement": r.request_id in done,
            })
        append_jsonl(store.ledger_dir / "takedowns.jsonl", rows)
        proof = {
            "applied_at": record_time,
            "requests": len(reqs),
            "requests_with_matches": sum(1 for ids in by_req.values() if ids),
            "documents_removed": len(targets),
            "shards_rewritten": rewritten,
            "new_version": new_version,
            "current_version": cur_now,
            "withdrawn_versions": withdrawn,
            "runs_purged": purged,
            "dedup_index_documents_forgotten": forgotten,
            "verified": {"documents_left_in_runs": len(left_ids),
                         "documents_left_in_published_versions": sum(len(i) for s in left_published.values() for i in s.values())},
        }
        proof["verified"]["ok"] = not left_ids and not left_published
        if targets:
            batch = hashlib.sha256(json.dumps(sorted(r.request_id for r in reqs)).encode()).hexdigest()[:12]
            atomic_write_json(store.takedown_dir / "proofs" / f"{record_time.replace(':', '')}-{batch}.json", proof)
        atomic_write_json(store.takedown_dir / "summary.json", proof_of_deletion_summary(store))
        pending_path.unlink(missing_ok=True)
        if not proof["verified"]["ok"]:
            raise TakedownError("documents matched by the requests are still present after the takedown; "
                                "rerun 'corpusforge takedown' (it resumes) and report the problem if it persists")
        log.info("takedown: %d request(s), %d document(s) removed, new version %s", len(reqs), len(targets), new_version)
        return proof


def _purge_runs(store, targets: set[str], by_req: dict[str, set[str]]) -> dict[str, int]:
    """Remove the documents from every run folder (curated, rejected, shards); record erasures.json."""
    from pipelines.store import atomic_write_json, utc_now
    from storage.shards import ShardIndex

    purged: dict[str, int] = {}
    if not targets:
        return purged
    for run_id in _complete_runs(store):
        rdir = store.run_dir(run_id)
        n = rewrite_table_files(rdir / "curated", targets) + rewrite_table_files(rdir / "rejected", targets)
        idx_path = rdir / "shards" / "index.json"
        shards_changed = 0
        if idx_path.is_file():
            index = ShardIndex.from_file(idx_path)
            entries = []
            for e in index.shards:
                p = rdir / "shards" / e.path
                drop = shard_doc_ids(p, targets) if p.is_file() else set()
                if not drop:
                    entries.append(e)
                    continue
                shards_changed += 1
                new = _rewritten_entry(p, p, e, drop)
                if new is None:
                    p.unlink()
                else:
                    entries.append(new)
            if shards_changed:
                from storage.files import atomic_write_text

                new_index = index.model_copy(update={"shards": entries, "total_rows": sum(e.rows for e in entries),
                                                     "total_tokens": sum(e.tokens for e in entries)})
                atomic_write_text(idx_path, ShardIndex.model_validate(new_index.model_dump()).to_json())
        if n or shards_changed:
            rec_path = rdir / "erasures.json"
            rec = json.loads(rec_path.read_text(encoding="utf-8")) if rec_path.is_file() else {"erasures": []}
            rec["erasures"].append({"at": utc_now(), "rows_removed": n, "shards_rewritten": shards_changed,
                                    "requests": sorted(r for r, ids in by_req.items() if ids)})
            atomic_write_json(rec_path, rec)
            purged[run_id] = n
    return purged


def proof_of_deletion_summary(store) -> dict[str, Any]:
    """Counts over the takedown ledger, for the report: requests, documents, versions; never content."""
    from pipelines.store import read_jsonl

    rows = read_jsonl(store.ledger_dir / "takedowns.jsonl")
    by_kind: dict[str, int] = {}
    docs: set[str] = set()
    versions: set[str] = set()
    withdrawn: set[str] = set()
    for r in rows:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
        docs.update(r.get("matched_doc_ids", []))
        if r.get("new_version"):
            versions.add(r["new_version"])
        withdrawn.update(r.get("withdrawn_versions", []))
    return {
        "ledger_entries": len(rows),
        "requests": len({r["request_id"] for r in rows}),
        "requests_by_kind": dict(sorted(by_kind.items())),
        "requests_without_matches": len({r["request_id"] for r in rows} - {r["request_id"] for r in rows if r.get("documents")}),
        "documents_removed": len(docs),
        "versions_published_by_takedowns": sorted(versions),
        "versions_withdrawn": sorted(withdrawn),
        "current_version": store.current_version(),
    }


def enforce_on_run(spark, store, run_dir: Path) -> dict[str, Any]:
    """Remove documents matched by the standing requests from a committed run before it is published.

    Nightly calls it as a safety net, so a run made without the ingest hook (or before a request
    arrived) never publishes a taken-down document. Returns ``{"documents": n, "requests": [...]}``.
    """
    reqs = standing_requests(store)
    if not reqs:
        return {"documents": 0, "requests": []}
    run_id = Path(run_dir).name
    matches = find_matches(spark, store, reqs, [run_id])
    ids = {d for d, m in matches.items() if run_id in m["runs"]}
    if not ids:
        return {"documents": 0, "requests": []}
    by_req: dict[str, set[str]] = {}
    for d in ids:
        for rid in matches[d]["requests"]:
            by_req.setdefault(rid, set()).add(d)
    rdir = Path(run_dir)
    n = rewrite_table_files(rdir / "curated", ids) + rewrite_table_files(rdir / "rejected", ids)
    from storage.files import atomic_write_text
    from pipelines.store import atomic_write_json, utc_now
    from storage.shards import ShardIndex

    idx_path = rdir / "shards" / "index.json"
    if idx_path.is_file():
        index = ShardIndex.from_file(idx_path)
        entries = []
        for e in index.shards:
            p = rdir / "shards" / e.path
            drop = shard_doc_ids(p, ids)
            if not drop:
                entries.append(e)
                continue
            new = _rewritten_entry(p, p, e, drop)
            if new is None:
                p.unlink()
            else:
                entries.append(new)
        atomic_write_text(idx_path, ShardIndex.model_validate({**index.model_dump(), "shards": [e.model_dump() for e in entries],
                                                               "total_rows": sum(e.rows for e in entries),
                                                               "total_tokens": sum(e.tokens for e in entries)}).to_json())
    rec_path = rdir / "erasures.json"
    rec = json.loads(rec_path.read_text(encoding="utf-8")) if rec_path.is_file() else {"erasures": []}
    rec["erasures"].append({"at": utc_now(), "rows_removed": n, "requests": sorted(by_req), "stage": "pre-publish"})
    atomic_write_json(rec_path, rec)
    log.warning("takedown: %d document(s) of run %s matched standing requests and were removed before publishing",
                len(ids), run_id)
    return {"documents": len(ids), "requests": sorted(by_req)}


__all__ = [
    "KINDS",
    "RequestMatcher",
    "TakedownError",
    "TakedownRequest",
    "apply_takedowns",
    "clear_stale_dedup_lock",
    "enforce_on_run",
    "find_matches",
    "forget_in_dedup_index",
    "load_requests",
    "mark_takedowns",
    "matched_documents",
    "normalize_url",
    "parse_request",
    "proof_of_deletion_summary",
    "rewrite_shard",
    "standing_requests",
]
