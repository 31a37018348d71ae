"""The nightly pipeline: process new raw date partitions, gate, publish a dataset version atomically.

``run_nightly(config, raw_root, date, store)`` does, under the store lock:

1. **Recover** what an interrupted run left (staging folders, half-built or unpublished versions) and
   **repair** the post-publish steps of the published versions (the processed-input ledger and the
   near-dedup index commit are both idempotent). The store and index locks are ``flock`` locks: a
   killed run leaves none behind.
2. **Plan**: the raw partitions ``RAW/date=YYYY-MM-DD/`` up to ``date`` whose files are not all in the
   processed-input ledger (by path relative to RAW and sha256; a file whose size and mtime match its
   ledger entry is not re-hashed). The requested date must exist. A partition that was processed and
   then changed (a file added or rewritten) is skipped with a warning: raw partitions are immutable once
   published; late data goes into a new partition.
3. **Run** the pipeline over the pending partitions into ``STORE/runs/<run_id>``. The run id is derived
   from the date, the config and the input files' hashes, so a rerun of the same night uses the same id
   and produces the same bytes. Near dedup (when enabled) uses the store's incremental index. A run
   whose output is complete and whose verdict was recorded is reused instead of recomputed.
4. **Gate**: a run whose gates failed (``RunResult.gates_passed is False``) is kept for inspection and
   not published; its partitions stay pending.
5. **Publish**: standing erasure requests are enforced on the run (a safety net for runs made without
   the ingest hook), then version ``vN+1`` = the current version's shards + the run's shards is built
   beside the store and ``CURRENT`` is switched by rename. Only then are the inputs recorded as
   processed and the run's near-dedup delta added to the index.

Before step 1, **standing opt-outs**: domains of ``optout.domains.file`` that are not standing takedown
requests yet become ones (``optout-domain:<domain>``) and are removed from the published versions by the
takedown path; the night's run then rejects them at ingest (``takedown:domain``) like any standing request.

A failed, gated or killed run never changes ``CURRENT`` or any file of a published version.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from pipelines.runner import ReportWriter, run_pipeline
from pipelines.runtime import build_spark_session, resolve_jit
from pipelines.stages import near_dedup_index as dedup_index
from pipelines.store import DatasetStore, check_compatible_index, entries_of, run_entries
from pipelines.takedown import TakedownError, apply_takedowns, enforce_on_run, new_optout_domain_requests
from pipelines.text.optout import DomainListError, check_domains, read_domain_file
from pipelines.text.pii_offline import offline_extractor
from storage.files import atomic_write_json, file_sha256

log = logging.getLogger(__name__)

PARTITION_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


class NightlyError(RuntimeError):
    """The nightly run cannot proceed; the message says what to do."""


@dataclass
class PartitionPlan:
    """One raw date partition and its files (paths relative to the raw root)."""

    date: str
    path: str
    files: list[dict[str, Any]]


@dataclass
class NightlyResult:
    """What a nightly invocation did.

    ``status``: ``published`` (a new version is CURRENT), ``up_to_date`` (nothing pending; nothing
    changed) or ``gated`` (the run's gates failed; nothing published).
    """

    status: str
    date: str
    version: Optional[str]
    run_id: Optional[str] = None
    run_dir: Optional[str] = None
    partitions: list[str] = field(default_factory=list)
    gates_passed: Optional[bool] = None
    reused_run: bool = False
    counts: dict[str, Any] = field(default_factory=dict)
    skipped_changed: list[str] = field(default_factory=list)
    takedowns_enforced: int = 0
    #: Opt-out domains (``optout.domains.file``) that became standing takedown requests this night, and the
    #: published documents they removed.
    optout_domains_added: list[str] = field(default_factory=list)
    optout_documents_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_date(date: str) -> str:
    """Validate ``YYYY-MM-DD`` (raises NightlyError)."""
    try:
        _dt.date.fromisoformat(date)
    except (TypeError, ValueError):
        raise NightlyError(f"--date must be YYYY-MM-DD, got {date!r}") from None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise NightlyError(f"--date must be YYYY-MM-DD, got {date!r}")
    return date


def list_partitions(raw_root: Path, upto: str) -> list[tuple[str, Path]]:
    """``(date, folder)`` of every ``date=YYYY-MM-DD`` folder under ``raw_root`` up to ``upto``, oldest first."""
    raw_root = Path(raw_root)
    if not raw_root.is_dir():
        raise NightlyError(f"raw root {raw_root} is not a directory; pass --raw ROOT holding date=YYYY-MM-DD/ folders")
    out = []
    for p in raw_root.iterdir():
        m = PARTITION_RE.match(p.name)
        if m and p.is_dir() and m.group(1) <= upto:
            out.append((m.group(1), p))
    return sorted(out)


def _partition_files(raw_root: Path, part: Path) -> list[dict[str, Any]]:
    files = []
    for dirpath, dirnames, filenames in os.walk(part):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for fn in sorted(filenames):
            if fn.startswith((".", "_")):
                continue  # the readers skip hidden files and Spark/Hadoop markers too
            full = Path(dirpath) / fn
            st = full.stat()
            files.append({"path": full.relative_to(raw_root).as_posix(), "abs": str(full), "bytes": st.st_size,
                          "mtime_ns": st.st_mtime_ns})
    return files


def plan_partitions(store: DatasetStore, raw_root: Path, date: str, backfill: bool = True
                    ) -> tuple[list[PartitionPlan], list[str]]:
    """The pending partitions (oldest first) and the processed ones that changed since.

    Raises:
        NightlyError: the requested date's partition does not exist or holds no file.
    """
    raw_root = Path(raw_root).absolute()
    parts = list_partitions(raw_root, date)
    if not any(d == date for d, _ in parts):
        raise NightlyError(f"no partition {raw_root}/date={date}/; has the day's data landed? (rerun when it has)")
    if not backfill:
        parts = [(d, p) for d, p in parts if d == date]
    ledger = store.processed_inputs()
    pending, changed = [], []
    for d, p in parts:
        files = _partition_files(raw_root, p)
        if not files:
            if d == date:
                raise NightlyError(f"partition {p} holds no input file; rerun when the day's data has landed")
            continue
        done = 0
        for f in files:
            entry = ledger.get(f["path"])
            if entry and entry.get("bytes") == f["bytes"] and entry.get("mtime_ns") == f["mtime_ns"]:
                f["sha256"] = entry["sha256"]
            else:
                f["sha256"] = file_sha256(f["abs"])
            done += bool(entry and entry["sha256"] == f["sha256"])
        if done == len(files):
            continue
        if done:
            log.warning("partition %s changed after it was processed (%d of %d files new or rewritten); it is "
                        "skipped: raw partitions are immutable once published, put late data in a new partition",
                        p.name, len(files) - done, len(files))
            changed.append(p.name)
            continue
        pending.append(PartitionPlan(d, str(p), files))
    return pending, changed


def nightly_run_id(date: str, config_sha256: str, plans: list[PartitionPlan]) -> str:
    """``nightly-<date>-<digest>``: the same date, config and input bytes always give the same id."""
    h = hashlib.sha256(config_sha256.encode())
    for pp in plans:
        for f in pp.files:
            h.update(f"\n{f['path']}\t{f['sha256']}".encode())
    return f"nightly-{date}-{h.hexdigest()[:10]}"


def repair_published(store: DatasetStore) -> dict[str, int]:
    """Finish the post-publish steps of every published version (idempotent).

    Records the inputs of the runs each version added in the processed-input ledger and commits their
    near-dedup index deltas. A run killed between switching CURRENT and these steps is completed here.
    """
    recorded = committed = 0
    for name in reversed(store.chain()):
        info = store.version_info(name)
        for added in info.get("added_runs", []):
            rows = [{"path": f["path"], "sha256": f["sha256"], "bytes": f["bytes"], "mtime_ns": f.get("mtime_ns"),
                     "partition": f.get("partition"), "run_id": added["run_id"], "version": name}
                    for f in added.get("inputs", [])]
            recorded += store.record_inputs(rows)
            run_dir = store.runs_dir / added["run_id"]
            if (dedup_index.delta_dir(run_dir) / dedup_index.DELTA_MANIFEST).is_file():
                committed += bool(dedup_index.commit_index(store.dedup_index_dir, run_dir)["committed"])
    return {"inputs_recorded": recorded, "index_commits": committed}


def _config_for_store(config, store: DatasetStore):
    """The config with near dedup pointed at the store's incremental index."""
    if not config.near_dedup.enabled:
        return config
    wanted = str(store.dedup_index_dir)
    if config.near_dedup.index_path and config.near_dedup.index_path != wanted:
        log.warning("near_dedup.index_path is replaced by the store's index %s for nightly runs", wanted)
    return config.model_copy(update={"near_dedup": config.near_dedup.model_copy(update={"index_path": wanted})})


def _build_spark(config):
    return build_spark_session(
        app_name=f"corpusforge-nightly-{config.name}",
        master=config.spark.master,
        driver_memory=config.spark.driver_memory,
        shuffle_partitions=config.spark.shuffle_partitions,
        extra_conf=dict(config.spark.extra_conf),
        # the night's input size is not known yet: "auto" means the full JIT here
        jit=resolve_jit(config.spark.jit, config.spark.master, None),
    )


def run_nightly(
    config,
    raw_root: os.PathLike | str,
    date: str,
    store_root: os.PathLike | str,
    spark=None,
    *,
    backfill: bool = True,
    runner: Optional[Callable[..., Any]] = None,
    report_writer: Optional[ReportWriter] = None,
) -> NightlyResult:
    """Process the night's partition (and earlier pending ones) and publish when the gates pass.

    Args:
        config: the validated pipeline config (tokenize must be enabled: versions are token shards).
        raw_root: folder holding ``date=YYYY-MM-DD/`` partitions.
        date: the night to process.
        store_root: the dataset store.
        spark: an existing SparkSession (built from ``config.spark`` when None).
        backfill: also process earlier partitions not processed yet (default).
        runner: the pipeline function (default :func:`pipelines.runner.run_pipeline`); same signature,
            called with ``commit_dedup_index=False`` (nightly commits the index after publishing).
        report_writer: passed on to the runner: writes the run's report and evaluates its gates
            (``quality.report.write_report``); without one no gate is evaluated and the run is published.

    Returns:
        A :class:`NightlyResult`.

    Raises:
        NightlyError: bad date, missing partition, or config that cannot publish.
        StoreLockedError: another nightly or takedown holds the store.
        Exception: whatever the run raised; nothing was published.
    """
    check_date(date)
    if not config.tokenize.enabled:
        raise NightlyError("nightly publishes token shards: enable the tokenize stage (tokenize.enabled: true "
                           "and tokenize.tokenizer_path)")
    store = DatasetStore(store_root)
    raw_root = Path(raw_root).absolute()
    added, removed, spark = _apply_optout_domains(config, store, spark)
    with store.lock(f"nightly {date}"):
        store.recover()
        repair_published(store)
        plans, changed = plan_partitions(store, raw_root, date, backfill)
        current = store.current_version()
        if not plans:
            log.info("nightly %s: nothing pending; CURRENT stays %s", date, current)
            return NightlyResult("up_to_date", date, current, skipped_changed=changed, optout_domains_added=added,
                                 optout_documents_removed=removed)

        run_id = nightly_run_id(date, config.sha256(), plans)
        if spark is None:
            spark = _build_spark(config)
        gates_passed, counts, reused = _run_or_reuse(config, store, plans, date, run_id, spark,
                                                     runner or run_pipeline, report_writer)
        partitions = [Path(pp.path).name for pp in plans]
        out = NightlyResult("gated", date, current, run_id, str(store.run_dir(run_id)), partitions, gates_passed,
                            reused, counts, changed, optout_domains_added=added, optout_documents_removed=removed)
        if gates_passed is False:
            log.warning("nightly %s: quality gates failed for run %s; CURRENT stays %s (see %s/report)",
                        date, run_id, current, out.run_dir)
            return out
        return _publish(spark, store, out, plans)


def _apply_optout_domains(config, store: DatasetStore, spark) -> tuple[list[str], int, Any]:
    """Standing opt-outs: every domain of ``optout.domains.file`` not yet a standing takedown request becomes
    one and is removed from the published versions (``apply_takedowns``, which takes the store lock itself).

    Returns ``(domains added, documents removed, spark)`` (a session is built only when there is work).

    Raises:
        NightlyError: the domain file cannot be read or lists something that is not a domain.
    """
    oc = config.optout
    if not (oc.enabled and oc.domains.enabled and oc.domains.file and oc.domains.apply_to_published):
        return [], 0, spark
    try:
        domains = check_domains(read_domain_file(oc.domains.file), offline_extractor(), where="optout.domains.file")
    except OSError as exc:
        raise NightlyError(f"optout.domains.file {oc.domains.file} cannot be read ({exc.strerror})") from None
    except DomainListError as exc:
        raise NightlyError(str(exc)) from None
    new = new_optout_domain_requests(store, domains)
    if not new:
        return [], 0, spark
    if spark is None:
        spark = _build_spark(config)
    try:
        proof = apply_takedowns(spark, store, new)
    except TakedownError as exc:
        raise NightlyError(f"applying the opt-out domain list to the published versions failed: {exc}") from None
    log.info("nightly: %d new opt-out domain(s) applied to the published versions: %d document(s) removed",
             len(new), proof["documents_removed"])
    return [r.value for r in new], int(proof["documents_removed"]), spark


def _run_or_reuse(config, store: DatasetStore, plans: list[PartitionPlan], date: str, run_id: str, spark,
                  runner: Callable[..., Any], report_writer: Optional[ReportWriter]
                  ) -> tuple[Optional[bool], dict[str, Any], bool]:
    """Run the pipeline over the pending partitions, or reuse the complete run of an earlier attempt.

    Returns ``(gates_passed, counts, reused)``; the verdict of a new run is recorded in its state file.
    """
    run_dir = store.run_dir(run_id)
    state_file = store.run_state_file(run_id)
    partitions = [Path(pp.path).name for pp in plans]
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.is_file() else None
    if state and (run_dir / "run.json").is_file() and state.get("run_json_sha256") == file_sha256(run_dir / "run.json"):
        log.info("nightly %s: reusing the complete run %s", date, run_id)
        return state.get("gates_passed"), state.get("counts", {}), True
    log.info("nightly %s: running %s over %s", date, run_id, ", ".join(partitions))
    # The index grows only once the run is published (gated runs must not enter it).
    requests = store.takedown_dir / "requests.jsonl"
    result = runner(_config_for_store(config, store), [pp.path for pp in plans], str(run_dir), spark=spark,
                    run_id=run_id, commit_dedup_index=False,
                    takedown_requests=str(requests) if requests.is_file() else None, report_writer=report_writer)
    gates_passed = result.gates_passed
    counts = {k: v for k, v in result.manifest.counts.model_dump().items()
              if k in ("records", "curated", "rejected", "quarantined")}
    atomic_write_json(state_file, {
        "run_id": run_id, "date": date, "partitions": partitions, "gates_passed": gates_passed,
        "counts": counts, "config_sha256": config.sha256(),
        "run_json_sha256": file_sha256(run_dir / "run.json"),
    })
    return gates_passed, counts, False


def _publish(spark, store: DatasetStore, out: NightlyResult, plans: list[PartitionPlan]) -> NightlyResult:
    """Enforce standing takedowns on the run, publish CURRENT's shards + the run's, then repair."""
    current, run_id, run_dir = out.version, out.run_id, Path(out.run_dir)
    out.takedowns_enforced = enforce_on_run(spark, store, run_dir)["documents"]
    run_index, new_entries = run_entries(run_dir, run_id)
    parent_entries, runs, config_sha = [], [], run_index.config_sha256
    if current:
        cur_index = store.version_index(current)
        check_compatible_index(cur_index, run_index, f"run {run_id}")
        parent_entries = entries_of(store, current)
        runs = list(store.version_info(current).get("runs", []))
        if cur_index.config_sha256 != run_index.config_sha256:
            config_sha = None
    if run_id in runs:  # published before (e.g. recovered): nothing more to do
        out.status, out.version = "up_to_date", current
        return out
    name = store.next_version_name()
    inputs = [{**{k: f[k] for k in ("path", "sha256", "bytes", "mtime_ns")}, "partition": pp.date}
              for pp in plans for f in pp.files]
    info = {
        "parent": current, "reason": "nightly", "date": out.date, "runs": runs + [run_id],
        "added_runs": [{"run_id": run_id, "date": out.date, "partitions": out.partitions, "inputs": inputs,
                        "counts": out.counts, "gates_passed": out.gates_passed}],
    }
    tok = run_dir / "shards" / "tokenizer.json"
    store.build_version(name, parent_entries + new_entries, run_index, info,
                        tokenizer_source=tok if tok.is_file() else None,
                        verify_paths={ve.entry.path for ve in new_entries}, config_sha256=config_sha)
    store.switch_current(name)  # the commit point
    repair_published(store)
    out.status, out.version = "published", name
    log.info("nightly %s: published %s (run %s)", out.date, name, run_id)
    return out


__all__ = ["NightlyError", "NightlyResult", "PartitionPlan", "check_date", "list_partitions", "nightly_run_id",
           "plan_partitions", "repair_published", "run_nightly"]
