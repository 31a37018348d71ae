"""Applying erasure requests to a dataset store (the steps are in the package docstring).

Everything here runs under the store lock: :func:`apply_takedowns` (``corpusforge takedown``) removes
matched documents from the published versions, the near-dedup index and the runs, and records the
proof of deletion; :func:`enforce_on_run` is nightly's safety net before a run is published.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from pipelines.store import DatasetStore, VersionEntry, append_jsonl, entries_of, read_jsonl
from pipelines.takedown.documents import matched_documents
from pipelines.takedown.requests import TakedownError, TakedownRequest, load_requests, optout_domain_requests
from pipelines.takedown.rewrite import (
    forget_in_dedup_index,
    rewrite_run_shards,
    rewrite_table_files,
    rewritten_entry,
    shard_doc_ids,
)
from storage.files import atomic_write_json, utc_now

log = logging.getLogger(__name__)

#: ``{version: {shard path: doc_ids the shard holds}}``
Holdings = dict[str, dict[str, set[str]]]


# ------------------------------------------------------------------------------------------ requests


def standing_requests(store: DatasetStore) -> list[TakedownRequest]:
    """The store's standing requests (applied to every future run)."""
    path = store.takedown_dir / "requests.jsonl"
    return load_requests(path) if path.is_file() else []


def add_standing_requests(store: DatasetStore, requests: list[TakedownRequest]) -> int:
    """Add requests to the standing list (by request_id; a reused id with other content is an error)."""
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


def new_optout_domain_requests(store: DatasetStore, domains: list[str]) -> list[TakedownRequest]:
    """The ``optout-domain:<domain>`` requests for ``domains`` that are not standing requests yet."""
    have = {r.request_id for r in standing_requests(store)}
    return [r for r in optout_domain_requests(domains) if r.request_id not in have]


# ------------------------------------------------------------------------------------------ finding


def _complete_runs(store: DatasetStore) -> list[str]:
    if not store.runs_dir.is_dir():
        return []
    return sorted(p.name for p in store.runs_dir.iterdir() if not p.name.startswith(".") and (p / "run.json").is_file())


def _run_documents(spark, store: DatasetStore, run_ids: list[str]):
    """``(doc_id, url, content_sha256, run_id)`` of the runs' curated and rejected tables (None: no table)."""
    # deferred: pyspark is imported only when Spark is used (the CLI imports this module for every command)
    from pyspark.sql import functions as F

    docs = None
    for run_id in run_ids:
        for table in ("curated", "rejected"):
            d = store.run_dir(run_id) / table
            if d.is_dir() and any(d.glob("*.parquet")):
                df = spark.read.parquet(str(d))
                cols = set(df.columns)
                frame = df.select(
                    "doc_id",
                    (F.col("url") if "url" in cols else F.lit(None)).cast("string").alias("url"),
                    (F.col("content_sha256") if "content_sha256" in cols else F.lit(None))
                    .cast("string").alias("content_sha256"),
                    F.lit(run_id).alias("run_id"),
                )
                docs = frame if docs is None else docs.unionByName(frame)
    return docs


def find_matches(spark, store: DatasetStore, requests: list[TakedownRequest],
                 run_ids: Optional[list[str]] = None) -> dict[str, dict[str, Any]]:
    """Documents of the store's runs (all, or ``run_ids``) that the requests match.

    Returns:
        ``{doc_id: {"requests": [request ids], "runs": [run ids]}}``.
    """
    found: dict[str, dict[str, Any]] = {}
    if not requests:
        return found
    docs = _run_documents(spark, store, run_ids if run_ids is not None else _complete_runs(store))
    if docs is not None:
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


def _versions_holding(store: DatasetStore, ids: set[str]) -> Holdings:
    """For every published version with an index: ``{version: {shard path: ids it holds}}``."""
    out: Holdings = {}
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


@dataclass
class _Plan:
    """What a takedown removes: matched ids by request, where they are published, and the journal."""

    by_req: dict[str, set[str]]
    holding: Holdings
    targets: set[str]
    affected_versions: list[str]
    versions_of: dict[str, list[str]]
    journal: dict[str, Any]

    @property
    def requests_with_matches(self) -> list[str]:
        return sorted(r for r, ids in self.by_req.items() if ids)


def _matched_by_request(spark, store: DatasetStore, reqs: list[TakedownRequest],
                        pending: dict[str, Any]) -> tuple[dict[str, set[str]], Holdings]:
    """Matched doc_ids per request (runs, an interrupted takedown's journal, published shards)."""
    by_req: dict[str, set[str]] = {r.request_id: set() for r in reqs}
    for doc_id, m in find_matches(spark, store, reqs).items():
        for rid in m["requests"]:
            if rid in by_req:
                by_req[rid].add(doc_id)
    for rid, ids in pending.get("by_request", {}).items():
        by_req.setdefault(rid, set()).update(ids)
    # doc_id requests also match published shards whose run folder was cleaned up
    direct = {r.value: r.request_id for r in reqs if r.kind == "doc_id"}
    targets = set().union(*by_req.values()) if by_req else set()
    holding = _versions_holding(store, targets | set(direct))
    for shards in holding.values():
        for ids in shards.values():
            for d in ids & set(direct):
                by_req[direct[d]].add(d)
    return by_req, holding


def _plan(spark, store: DatasetStore, reqs: list[TakedownRequest], pending_path: Path) -> _Plan:
    """Find what to remove and journal it, so that an interrupted takedown resumes with the same set."""
    pending = json.loads(pending_path.read_text(encoding="utf-8")) if pending_path.is_file() else {}
    by_req, holding = _matched_by_request(spark, store, reqs, pending)
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
    return _Plan(by_req, holding, targets, affected_versions, versions_of, journal)


# ------------------------------------------------------------------------------------------ removing


def _publish_without(store: DatasetStore, plan: _Plan) -> tuple[Optional[str], int]:
    """Publish a version without the targets when CURRENT holds some: ``(new version, shards rewritten)``.

    Only the shards holding matched documents are rewritten; every other shard is the same file.
    """
    cur = store.current_version()
    if not (cur and cur in plan.affected_versions):
        return None, 0
    hits = plan.holding[cur]
    name = store.next_version_name()
    scratch = store.versions_dir / f".rewrite-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    rewritten = 0
    try:
        entries = []
        verify = set()
        for ve in entries_of(store, cur):
            drop = hits.get(ve.entry.path, set()) & plan.targets
            if not drop:
                entries.append(ve)
                continue
            dst = scratch / ve.entry.path
            dst.parent.mkdir(parents=True, exist_ok=True)
            new_entry = rewritten_entry(ve.source, dst, ve.entry, drop)
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
             "takedown_requests": plan.requests_with_matches},
            tokenizer_source=tok if tok.is_file() else None, verify_paths=verify,
            config_sha256=index.config_sha256,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    store.switch_current(name)
    return name, rewritten


def _withdraw_superseded(store: DatasetStore, plan: _Plan) -> list[str]:
    """Withdraw every affected version that is not CURRENT. Returns their names."""
    withdrawn = []
    stamp = {"by": "takedown", "requests": plan.requests_with_matches}
    for v in plan.affected_versions:
        if v != store.current_version():
            store.withdraw_version(v, stamp)
            withdrawn.append(v)
    return withdrawn


def _record_erasure(run_dir: Path, record: dict[str, Any]) -> None:
    """Append to the run's ``erasures.json`` (what was removed, so its run.json counts stay explainable)."""
    rec_path = run_dir / "erasures.json"
    rec = json.loads(rec_path.read_text(encoding="utf-8")) if rec_path.is_file() else {"erasures": []}
    rec["erasures"].append({"at": utc_now(), **record})
    atomic_write_json(rec_path, rec)


def _purge_runs(store: DatasetStore, targets: set[str], by_req: dict[str, set[str]]) -> dict[str, int]:
    """Remove the documents from every run folder (curated, rejected, shards); record erasures.json."""
    purged: dict[str, int] = {}
    if not targets:
        return purged
    for run_id in _complete_runs(store):
        rdir = store.run_dir(run_id)
        n = rewrite_table_files(rdir / "curated", targets) + rewrite_table_files(rdir / "rejected", targets)
        shards_changed = rewrite_run_shards(rdir, targets)
        if n or shards_changed:
            _record_erasure(rdir, {"rows_removed": n, "shards_rewritten": shards_changed,
                                   "requests": sorted(r for r, ids in by_req.items() if ids)})
            purged[run_id] = n
    return purged


# ------------------------------------------------------------------------------------------ proof


def _ledger_rows(store: DatasetStore, reqs: list[TakedownRequest], plan: _Plan, new_version: Optional[str],
                 withdrawn: list[str], record_time: str) -> list[dict[str, Any]]:
    """One takedown-ledger row per request; a request already on file gets one only for new matches."""
    rows = []
    done = {r["request_id"] for r in read_jsonl(store.ledger_dir / "takedowns.jsonl")}
    for r in reqs:
        ids = sorted(plan.by_req.get(r.request_id, ()))
        if r.request_id in done and not ids:
            continue
        rows.append({
            "request_id": r.request_id, "kind": r.kind, "matched_doc_ids": ids, "documents": len(ids),
            "affected_versions": plan.versions_of.get(r.request_id, []) if ids else [],
            "new_version": new_version if ids else None,
            "withdrawn_versions": withdrawn if ids else [], "applied_at": record_time,
            "supplement": r.request_id in done,
        })
    return rows


def _verify_and_record(spark, store: DatasetStore, reqs: list[TakedownRequest], plan: _Plan,
                       removed: dict[str, Any]) -> dict[str, Any]:
    """Check that nothing matched is left, append the ledger and write the proof of deletion.

    ``removed``: ``new_version``, ``shards_rewritten``, ``withdrawn_versions``, ``runs_purged`` and
    ``dedup_index_documents_forgotten`` of this application. Returns the proof.
    """
    left_ids = set(find_matches(spark, store, reqs)) & plan.targets
    cur_now = store.current_version()
    left_published = _versions_holding(store, plan.targets)
    record_time = utc_now()
    append_jsonl(store.ledger_dir / "takedowns.jsonl",
                 _ledger_rows(store, reqs, plan, removed["new_version"], removed["withdrawn_versions"], record_time))
    proof = {
        "applied_at": record_time,
        "requests": len(reqs),
        "requests_with_matches": sum(1 for ids in plan.by_req.values() if ids),
        "documents_removed": len(plan.targets),
        "shards_rewritten": removed["shards_rewritten"],
        "new_version": removed["new_version"],
        "current_version": cur_now,
        "withdrawn_versions": removed["withdrawn_versions"],
        "runs_purged": removed["runs_purged"],
        "dedup_index_documents_forgotten": removed["dedup_index_documents_forgotten"],
        "verified": {"documents_left_in_runs": len(left_ids),
                     "documents_left_in_published_versions": sum(len(i) for s in left_published.values()
                                                                 for i in s.values())},
    }
    proof["verified"]["ok"] = not left_ids and not left_published
    if plan.targets:
        batch = hashlib.sha256(json.dumps(sorted(r.request_id for r in reqs)).encode()).hexdigest()[:12]
        atomic_write_json(store.takedown_dir / "proofs" / f"{record_time.replace(':', '')}-{batch}.json", proof)
    atomic_write_json(store.takedown_dir / "summary.json", proof_of_deletion_summary(store))
    return proof


def proof_of_deletion_summary(store: DatasetStore) -> dict[str, Any]:
    """Counts over the takedown ledger, for the report: requests, documents, versions; never content."""
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
    ids = {r["request_id"] for r in rows}
    return {
        "ledger_entries": len(rows),
        "requests": len(ids),
        "requests_by_kind": dict(sorted(by_kind.items())),
        "requests_without_matches": len(ids - {r["request_id"] for r in rows if r.get("documents")}),
        "documents_removed": len(docs),
        "versions_published_by_takedowns": sorted(versions),
        "versions_withdrawn": sorted(withdrawn),
        "current_version": store.current_version(),
    }


# ------------------------------------------------------------------------------------------ entry points


def apply_takedowns(spark, store: DatasetStore, requests: Union[str, os.PathLike, Iterable[Any]]) -> dict[str, Any]:
    """Apply erasure requests to a dataset store (see the package docstring for the steps).

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
    reqs = load_requests(requests)
    with store.lock("takedown"):
        store.recover()
        add_standing_requests(store, reqs)
        pending_path = store.takedown_dir / "pending.json"
        plan = _plan(spark, store, reqs, pending_path)
        new_version, rewritten = _publish_without(store, plan)
        if new_version is not None:
            plan.journal["new_version"] = new_version
            atomic_write_json(pending_path, plan.journal)
        new_version = new_version or plan.journal.get("new_version")
        removed = {
            "new_version": new_version,
            "shards_rewritten": rewritten,
            "dedup_index_documents_forgotten": forget_in_dedup_index(store.dedup_index_dir, plan.targets),
            "withdrawn_versions": _withdraw_superseded(store, plan),
            "runs_purged": _purge_runs(store, plan.targets, plan.by_req),
        }
        proof = _verify_and_record(spark, store, reqs, plan, removed)
        pending_path.unlink(missing_ok=True)
        if not proof["verified"]["ok"]:
            raise TakedownError("documents matched by the requests are still present after the takedown; "
                                "rerun 'corpusforge takedown' (it resumes) and report the problem if it persists")
        log.info("takedown: %d request(s), %d document(s) removed, new version %s", len(reqs), len(plan.targets),
                 new_version)
        return proof


def enforce_on_run(spark, store: DatasetStore, run_dir: Path) -> dict[str, Any]:
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
    rewrite_run_shards(rdir, ids)
    _record_erasure(rdir, {"rows_removed": n, "requests": sorted(by_req), "stage": "pre-publish"})
    log.warning("takedown: %d document(s) of run %s matched standing requests and were removed before publishing",
                len(ids), run_id)
    return {"documents": len(ids), "requests": sorted(by_req)}


__all__ = [
    "add_standing_requests",
    "apply_takedowns",
    "enforce_on_run",
    "find_matches",
    "proof_of_deletion_summary",
    "standing_requests",
]
