"""The pipeline runner: ingest, stages in code order, deterministic outputs, exact accounting, atomic commit.

Layout of a finished run (see DESIGN.md)::

    OUT/run.json      written last: its presence marks a complete run
    OUT/curated/      part-00000.parquet ... (hash-partitioned by doc_id, sorted by doc_id)
    OUT/rejected/     same columns + drop_reason; text minimised by output.rejected_text (pipelines.minimise)
    OUT/quarantine/   malformed input records with reason codes
    OUT/stages/       side tables of stages (e.g. cluster statistics)

The run is built in a staging directory beside OUT (``.OUT.tmp-<run_id>``) and committed by renames.
An existing OUT is only replaced when it is a corpusforge run (it has run.json) or empty, and only after
the new run is complete; a crash leaves the old OUT in place (or, at worst between the two renames, as
``.OUT.old-<run_id>`` next to a complete new one).
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Optional

import pyarrow.parquet as pq

from pipelines.ledger import write_removal_ledger
from pipelines.minimise import RejectedTextPolicy, minimise_rejected, record_policy, rejected_text_policy
from pipelines.readers import expand_inputs, local_path_of, plan_splits, url_scheme
from pipelines.runtime import build_spark_session, default_parallelism, resolve_jit, shuffle_partitions_for
from pipelines.stages.base import RunContext
from pipelines.stages.ingest import scan_to_parquet
from pipelines.stages.near_dedup_index import commit_index
from pipelines.stages.registry import STAGE_ORDER, check_enabled_stages_built, load_stage_class
from pipelines.tables import write_empty_table, write_split_tables, write_table
from pipelines.takedown import REASON_COLUMN as TAKEDOWN_REASON
from pipelines.takedown import mark_takedowns
from schemas.columns import DOCUMENT_SCHEMA, DROP_REASON
from schemas.config import PipelineConfig
from schemas.manifest import Counts, InputFileRecord, RunManifest
from storage.files import atomic_write_json, utc_now

log = logging.getLogger(__name__)

_MIB = 1 << 20
_DOC_COLUMNS = list(DOCUMENT_SCHEMA.names)  # ingest's columns, web opt-out and licence signals included
_QUARANTINE_COLUMNS = ["source", "source_file", "source_offset", "offset_unit", "reason", "detail",
                       "raw_sha256", "raw_bytes", "raw_prefix"]
_LIBS = ["pyspark", "pyarrow", "pydantic", "datasketch", "fasttext", "presidio-analyzer", "spacy",
         "tokenizers", "torch", "resiliparse", "trafilatura", "zstandard", "numpy"]

#: Writes a run's data-quality report and checks its gates: called as
#: ``report_writer(run_dir, spark=..., previous=..., gates=...)`` on the staging directory before the
#: commit, it returns an object with ``gates_passed`` (``quality.report.write_report`` is one).
ReportWriter = Callable[..., Any]


class RunError(RuntimeError):
    """A run that cannot be completed; nothing was committed."""


class OutputLocationError(ValueError):
    """``--output`` is a location a run cannot be committed to (an object-store URI): a usage error."""


def check_output_location(output: str) -> Path:
    """The local run directory ``output`` names (``file://`` accepted); fails fast on an object-store URI.

    A run is built in a staging directory beside OUT and committed by renaming it, and Spark's writers,
    the ingest workers and the accounting all write under it: OUT must be a filesystem path that the
    driver and every executor see (a local disk in local mode, a shared mount on a cluster).
    """
    scheme = url_scheme(output)
    if scheme is None or scheme == "file":
        return Path(local_path_of(output)).absolute()
    raise OutputLocationError(
        f"--output {output!r}: {scheme}:// is not supported as an output. A run is built beside OUT and "
        f"committed by renaming the staging directory, which object stores (s3://, gs://, abfs://...) cannot do "
        f"atomically, and corpusforge writes OUT through the local filesystem API. Write to a path on storage "
        f"that the driver and every executor mount (a local disk, NFS, a mounted volume) and copy the committed "
        f"run to {scheme}:// afterwards; see docs/cluster.md (Remote inputs and object stores)."
    )


@dataclass
class RunResult:
    """What a committed run produced. ``gates_passed`` is None when no quality gates were evaluated."""

    output: Path
    manifest: RunManifest
    gates_passed: Optional[bool] = None
    report: Optional[object] = None  # what the report writer returned (quality.report.ReportResult)
    #: Wall seconds per phase (ingest, stages, outputs, ledger, tokenize, accounting, report).
    timings: Optional[dict] = None


@dataclass(frozen=True)
class _Inputs:
    """The expanded input files, their read splits and total size."""

    files: list
    splits: list
    total_bytes: int


@dataclass(frozen=True)
class _Layout:
    """How the run's tables are written: files per table and Parquet compression."""

    num_files: int
    compression: str


class _Progress:
    """One log line when a step of the run starts and one when it ends: ``[3/8] quality (drop) started``.

    Plain log lines (no carriage returns or colours), so a terminal and a log file read the same; Spark's
    own console progress bar is on only when stderr is a terminal (``pipelines.runtime``).
    """

    def __init__(self, total: int):
        self.total = total
        self.step = 0
        self._t0 = 0.0

    def start(self, what: str, detail: str = "") -> None:
        self.step += 1
        self._t0 = time.time()
        log.info("[%d/%d] %s started%s", self.step, self.total, what, f": {detail}" if detail else "")

    def done(self, what: str, detail: str = "") -> float:
        seconds = time.time() - self._t0
        log.info("[%d/%d] %s done in %.1fs%s", self.step, self.total, what, seconds, f": {detail}" if detail else "")
        return seconds


def _mb(n: int) -> str:
    return f"{n / _MIB:.1f} MB"


def _rate(n_bytes: int, seconds: float) -> str:
    return f"{n_bytes / _MIB / seconds:.1f} MB/s" if seconds > 0 and n_bytes > 0 else "MB/s unknown"


def _log_start(ctx: RunContext, inp: "_Inputs") -> None:
    """The first lines of a run: inputs, master and where the Spark UI is (when it is on)."""
    sc = ctx.spark.sparkContext
    try:
        ui = sc.uiWebUrl if sc.getConf().get("spark.ui.enabled", "true") == "true" else None
    except Exception:  # noqa: BLE001 - the UI address is a courtesy, never a reason to fail
        ui = None
    log.info("run %s: %d input files (%s), Spark %s, master %s, Spark UI %s", ctx.run_id, len(inp.files),
             _mb(inp.total_bytes), ctx.spark.version, sc.master, ui or "off")


def new_run_id() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def code_version() -> dict[str, Optional[str]]:
    try:
        version = metadata.version("corpusforge")
    except metadata.PackageNotFoundError:
        version = None
    commit = None
    repo = Path(__file__).resolve().parents[1]
    if (repo / ".git").exists():
        try:
            commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                                    timeout=10).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {"package": version, "git_commit": commit}


def library_versions() -> dict[str, Optional[str]]:
    out = {}
    for lib in _LIBS:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


def check_output_replaceable(out: Path) -> None:
    """Refuse to replace a directory that is not a corpusforge run: it may be someone's data."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "run.json").exists())):
        raise RunError(
            f"output {out} exists and is not a corpusforge run (no run.json); choose another --output or "
            f"remove it yourself"
        )


def commit(staging: Path, out: Path, run_id: str) -> None:
    """Move a complete staging directory to ``out``, replacing an earlier run only now."""
    check_output_replaceable(out)
    old = out.with_name(f".{out.name}.old-{run_id}")
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _warn_ambiguous_positions(files) -> None:
    """Warn when two input files share a source and a relative path.

    Records without an id get the positional ``source_id`` ``<relative path>@<offset>`` (text files: the
    relative path), so such records of the second file would share doc_ids with the first file's and be
    quarantined as ``ingest:duplicate_source_id``. This happens with ``ingest.source`` set and several
    ``--input`` directories holding the same file names.
    """
    seen: dict[tuple[str, str], str] = {}
    clashes = []
    for f in files:
        first = seen.setdefault((f.source, f.rel_path), f.path)
        if first != f.path:
            clashes.append((f.source, f.rel_path))
    if clashes:
        log.warning(
            "%d input file(s) share source and relative path with another input (first: source %r, %r): "
            "their records without an id field get the same positional ids and would be quarantined as "
            "ingest:duplicate_source_id; leave ingest.source unset (each --input is then its own source) "
            "or give the inputs distinct names", len(clashes), clashes[0][0], clashes[0][1])


def run_pipeline(config: PipelineConfig, inputs: list[str], output: str, spark=None,
                 run_id: Optional[str] = None, commit_dedup_index: bool = True,
                 previous: Optional[str] = None, takedown_requests: Optional[str] = None,
                 report_writer: Optional[ReportWriter] = None) -> RunResult:
    """Run the configured pipeline over ``inputs`` and commit the result to ``output``.

    Args:
        config: the validated configuration.
        inputs: files, directories or globs.
        output: the run directory to (re)place.
        spark: an existing SparkSession (tests, spark-submit); one is built from ``config.spark`` if None.
        run_id: fixed run id (default: UTC timestamp + random suffix).
        previous: an earlier run directory to compare with in the report (drift figures and gates).
        takedown_requests: a JSON-lines file of erasure/opt-out requests (see docs/nightly.md); matching
            documents are rejected right after ingest as ``takedown:<kind>`` with their text removed.
        commit_dedup_index: add the run's kept documents to the incremental near-dedup index
            (``near_dedup.index_path``) right after the commit. The nightly job passes False and commits
            the index only once the run is published.
        report_writer: writes the run's report into the staging directory before the commit (every run
            of the CLI leaves one; a failed gate still commits the run so a reviewer can see why).
            The commands pass ``quality.report.write_report``; None writes no report and evaluates no
            gate (``RunResult.gates_passed`` is then None).

    Raises:
        StageConfigError / ConfigError: configuration problems, before any data moves.
        FileNotFoundError: an input matches nothing.
        RunError: the run could not complete; nothing was committed.
    """
    started, started_at = time.time(), utc_now()
    run_id = run_id or new_run_id()
    out = check_output_location(output)
    check_enabled_stages_built(config)
    check_output_replaceable(out)
    inp = _plan_inputs(config, inputs)
    if spark is None:
        spark = _build_spark(config, inp.total_bytes)
    ctx = _new_context(spark, config, run_id, out, inp.total_bytes)
    _log_start(ctx, inp)
    # ingest, the enabled stages, outputs, shards, accounting, report
    n_stages = sum(1 for name, _ in STAGE_ORDER if getattr(config, name).enabled)
    progress = _Progress(1 + n_stages + 1 + config.tokenize.enabled + 1 + (report_writer is not None))
    try:
        manifest = _run(ctx, inp, started, started_at, takedown_requests, progress)
        shutil.rmtree(ctx.work_dir, ignore_errors=True)
        atomic_write_json(ctx.staging_dir / "run.json", manifest.model_dump(mode="json"))
        report = _write_report(ctx, report_writer, previous, progress)
        commit(ctx.staging_dir, out, run_id)
    except BaseException:
        shutil.rmtree(ctx.staging_dir, ignore_errors=True)
        raise
    if commit_dedup_index and config.near_dedup.enabled and config.near_dedup.index_path:
        # After the output: a crash in between can only let a later run keep a near copy, never remove
        # a document wrongly; commit_index is idempotent, so re-running it is always safe.
        info = commit_index(config.near_dedup.index_path, out)
        log.info("near-dedup index %s: %s", config.near_dedup.index_path, info)
    log.info("run %s committed to %s: %d curated, %d rejected, %d quarantined", run_id, out,
             manifest.counts.curated, manifest.counts.rejected, manifest.counts.quarantined)
    gates_passed = report.gates_passed if report is not None else None
    return RunResult(out, manifest, gates_passed=gates_passed, report=report, timings=ctx.timings)


def _plan_inputs(config: PipelineConfig, inputs: list[str]) -> _Inputs:
    """Expand the inputs and plan their read splits (raises RunError when nothing is found)."""
    files = expand_inputs(inputs, config.ingest.format, config.ingest.source, config.ingest.remote)
    if not files:
        raise RunError(f"no input files found in {inputs}")
    _warn_ambiguous_positions(files)
    # a remote file whose size the server did not tell (-1) counts as empty for sizing the run
    return _Inputs(files, plan_splits(files, config.ingest.split_bytes), sum(max(f.size, 0) for f in files))


def _build_spark(config: PipelineConfig, total_bytes: int):
    """The SparkSession of a run started without one, sized to the input."""
    return build_spark_session(
        app_name=f"corpusforge-{config.name}",
        master=config.spark.master,
        driver_memory=config.spark.driver_memory,
        shuffle_partitions=config.spark.shuffle_partitions or shuffle_partitions_for(total_bytes, os.cpu_count() or 2),
        extra_conf=dict(config.spark.extra_conf),
        jit=resolve_jit(config.spark.jit, config.spark.master, total_bytes),
    )


def _new_context(spark, config: PipelineConfig, run_id: str, out: Path, total_bytes: int) -> RunContext:
    """Set the shuffle partitions for the input size and create the staging and work folders."""
    num_partitions = config.spark.shuffle_partitions or shuffle_partitions_for(total_bytes, default_parallelism(spark))
    spark.conf.set("spark.sql.shuffle.partitions", str(num_partitions))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.tmp-{run_id}")
    if staging.exists():  # a run with this id was killed before its commit; nothing in it was ever visible
        log.warning("removing %s, left by an earlier run with the same run id that did not finish", staging)
        shutil.rmtree(staging)
    work = staging / "_work"
    work.mkdir(parents=True)
    return RunContext(spark=spark, config=config, run_id=run_id, staging_dir=staging, work_dir=work,
                      num_partitions=num_partitions)


def _layout(config: PipelineConfig, total_bytes: int) -> _Layout:
    num_files = config.output.num_files or max(1, -(-total_bytes // (128 * _MIB)))
    compression = "uncompressed" if config.output.compression == "none" else config.output.compression
    return _Layout(num_files, compression)


def _write_report(ctx: RunContext, report_writer: Optional[ReportWriter], previous: Optional[str],
                  progress: Optional[_Progress] = None):
    """Write the report into the staging directory (None without a report writer)."""
    if report_writer is None:
        return None
    progress = progress or _Progress(1)
    progress.start("report")
    report = report_writer(ctx.staging_dir, spark=ctx.spark, previous=Path(previous) if previous else None,
                           gates=ctx.config.gates)
    ctx.timings["report"] = round(progress.done("report"), 3)
    return report


def _run(ctx: RunContext, inp: _Inputs, started: float, started_at: str,
         takedown_requests: Optional[str] = None, progress: Optional[_Progress] = None) -> RunManifest:
    """Ingest, stages, outputs, removal ledger, shards and accounting, all inside the staging directory."""
    layout = _layout(ctx.config, inp.total_bytes)
    stages, writer = _prepare_stages(ctx)
    # What rejected/ keeps of removed documents (output.rejected_text), decided and recorded before any data moves.
    policy = rejected_text_policy(ctx.config)
    record_policy(policy, ctx, pii_stage_ran=any(s.name == "pii" for s in stages))
    progress = progress or _Progress(3 + len(stages) + (writer is not None))
    docs, quarantine, stats_rows, hashes = _ingest(ctx, inp, progress)
    kept, quarantine, n_repeated = _drop_repeated_source_ids(ctx, docs, quarantine)
    progress.done("ingest", _ingest_summary(ctx, stats_rows, hashes, n_repeated))
    rejected_parts = []
    if takedown_requests:
        # Erasure and opt-out requests apply to every future run, before any stage sees the text.
        kept, erased = _mark_takedowns(ctx.spark, kept, takedown_requests)
        rejected_parts.append(minimise_rejected(erased, policy, scrubbed_by_pii=False))
    documents, stage_records = _run_stages(ctx, stages, kept, rejected_parts, progress, policy)
    any_quarantined = bool(n_repeated) or any(st["quarantine_rows"] for st in stats_rows)
    outputs = _write_outputs(ctx, stages, documents, rejected_parts, quarantine, any_quarantined, layout, progress)
    if writer is not None:
        outputs["shards"] = _write_shards(ctx, writer, stage_records, progress)

    # Accounting from the written data, checked against what the readers saw.
    progress.start("accounting")
    staging = ctx.staging_dir
    counts, per_file = _account(ctx.spark, staging / "curated", staging / "rejected", staging / "quarantine",
                                stats_rows)
    records = _input_records(inp.files, hashes, per_file)
    ctx.timings["accounting"] = round(progress.done(
        "accounting", f"{counts.records} records = {counts.curated} curated + {counts.rejected} rejected + "
        f"{counts.quarantined} quarantined"), 3)
    return _manifest(ctx, started, started_at, records, counts, stage_records, outputs)


def _prepare_stages(ctx: RunContext) -> tuple[list, Any]:
    """The enabled document stages in run order and the terminal writer (None when off), prepared."""
    stages = []
    for name, _ in STAGE_ORDER:
        section = getattr(ctx.config, name)
        if section.enabled:
            stage = load_stage_class(name)(section, ctx)
            stage.ensure_prepared()
            stages.append(stage)
    writer = None
    if ctx.config.tokenize.enabled:
        writer = load_stage_class("tokenize")(ctx.config.tokenize, ctx)
        # a terminal writer not (yet) built on the Stage base class has prepare() only
        getattr(writer, "ensure_prepared", writer.prepare)()
    return stages, writer


def _ingest(ctx: RunContext, inp: _Inputs, progress: _Progress):
    """Read every split once into the work table; the readers' statistics come back directly.

    Returns ``(documents, quarantine, reader statistics rows, file hashes by path)``.
    """
    n_remote = sum(1 for f in inp.files if url_scheme(f.path) not in (None, "file"))
    remote = f", {n_remote} remote" if n_remote else ""
    progress.start("ingest", f"{len(inp.files)} files{remote} ({_mb(inp.total_bytes)}) in {len(inp.splits)} splits")
    t0 = time.time()
    scan, stats_rows, hashes = scan_to_parquet(ctx.spark, inp.splits, ctx.config.ingest, ctx.work_dir / "ingest")
    ctx.stage_info["ingest"] = _ingest_info(inp.files, stats_rows, hashes)
    _check_unreadable(ctx.config.ingest, inp.files, ctx.stage_info["ingest"]["unreadable"])
    ctx.timings["ingest"] = round(time.time() - t0, 3)
    docs = scan.filter("kind = 'doc'").select(*_DOC_COLUMNS, "offset_unit")
    quarantine = scan.filter("kind = 'quarantine'").select(*_QUARANTINE_COLUMNS)
    return docs, quarantine, stats_rows, hashes


def _ingest_summary(ctx: RunContext, stats_rows: list[dict], hashes: dict, n_repeated: int) -> str:
    """The ``ingest done`` progress line: records, documents, quarantined, bytes and read rate."""
    records = sum(st["records"] or 0 for st in stats_rows)
    quarantined = sum(st["quarantine_rows"] for st in stats_rows) + n_repeated
    read_bytes = sum(max(h["bytes"] or 0, 0) for h in hashes.values())
    return (f"{records} records ({records - quarantined} documents, {quarantined} quarantined) from "
            f"{_mb(read_bytes)}, read at {_rate(read_bytes, ctx.timings.get('ingest', 0))}")


def _ingest_info(files, stats_rows: list[dict], hashes: dict) -> dict[str, Any]:
    """run.json's ``stage_info.ingest``: remote downloads (attempts, retries) and every unreadable file."""
    fetches = {st["source_file"]: st["fetch"] for st in stats_rows if st.get("fetch")}
    unreadable = [{"path": f.path, "rel_path": f.rel_path, "error": str(hashes[f.path]["sha256"])
                   .removeprefix("unreadable: ")}
                  for f in files if (hashes[f.path]["bytes"] or 0) < 0]
    info: dict[str, Any] = {"files": len(files), "unreadable_files": len(unreadable), "unreadable": unreadable}
    if fetches:
        info["remote"] = {
            "files": len(fetches),
            "bytes": sum(max(v["bytes"], 0) for v in fetches.values()),
            "attempts": sum(v["attempts"] for v in fetches.values()),
            "retries": sum(v["attempts"] - 1 for v in fetches.values()),
            "retried_files": {path: v["attempts"] - 1 for path, v in sorted(fetches.items()) if v["attempts"] > 1},
            "download_seconds": round(sum(v["seconds"] for v in fetches.values()), 3),
        }
    return info


def _check_unreadable(cfg, files, unreadable: list[dict]) -> None:
    """Apply ``ingest.on_unreadable`` and ``ingest.max_unreadable_files``; a run that reads nothing fails."""
    if not unreadable:
        return
    n = len(unreadable)
    first = f"{unreadable[0]['rel_path']}: {unreadable[0]['error']}"
    if cfg.on_unreadable == "fail":
        raise RunError(f"{n} input file(s) cannot be read and ingest.on_unreadable=fail (first: {first})")
    if cfg.max_unreadable_files is not None and n > cfg.max_unreadable_files:
        raise RunError(f"{n} input files cannot be read, more than ingest.max_unreadable_files="
                       f"{cfg.max_unreadable_files} (first: {first})")
    if n == len(files):
        raise RunError(f"no input file could be read ({n} unreadable; first: {first})")
    log.warning("%d input file(s) cannot be read; each is quarantined as ingest:unreadable_file and listed in "
                "run.json (stage_info.ingest.unreadable); first: %s", n, first)


def _drop_repeated_source_ids(ctx: RunContext, docs, quarantine):
    """Quarantine documents whose (source, source_id), i.e. doc_id, an earlier record already has.

    The first by (file, offset) is kept. Decided on a narrow projection, written once; usually empty,
    and then there is nothing to join. Returns ``(kept documents, quarantine, repeated ids)``.
    """
    # deferred: pyspark loads only when a run starts (the CLI imports this module for every command)
    from pyspark.sql import functions as F

    t0 = time.time()
    pos = F.struct(F.col("source_file"), F.col("source_offset"))
    firsts, n_repeated = ctx.lookup_table(
        docs.select("doc_id", pos.alias("_pos"))
        .groupBy("doc_id")
        .agg(F.min("_pos").alias("_first"), F.count(F.lit(1)).alias("_n"))
        .filter("_n > 1")
        .select("doc_id", F.col("_first.source_file").alias("_ff"), F.col("_first.source_offset").alias("_fo")),
        "repeated_source_ids",
    )
    if n_repeated:
        marked = docs.join(firsts, on="doc_id", how="left")
        is_dup = F.col("_ff").isNotNull() & (
            (F.col("source_file") != F.col("_ff")) | (F.col("source_offset") != F.col("_fo")))
        dup_ids = marked.filter(is_dup).select(
            "source", "source_file", "source_offset", "offset_unit",
            F.lit("ingest:duplicate_source_id").alias("reason"),
            F.concat(F.lit("same source and id as the record at "), F.col("_ff"), F.lit("@"),
                     F.col("_fo").cast("string")).alias("detail"),
            F.col("content_sha256").alias("raw_sha256"), F.col("n_bytes").alias("raw_bytes"),
            F.lit(None).cast("string").alias("raw_prefix"),
        )
        quarantine = quarantine.unionByName(dup_ids)
        kept = marked.filter(~is_dup).select(*_DOC_COLUMNS)
    else:
        kept = docs.select(*_DOC_COLUMNS)
    ctx.timings["source_ids"] = round(time.time() - t0, 3)
    return kept, quarantine, n_repeated


def _mark_takedowns(spark, kept, takedown_requests: str):
    """Split the documents into those no request matches and the erased ones (``drop_reason`` set)."""
    # deferred: pyspark loads only when a run starts
    from pyspark.sql import functions as F

    marked = mark_takedowns(spark, kept, takedown_requests)
    erased = (
        marked.filter(F.col(TAKEDOWN_REASON).isNotNull())
        .withColumn(DROP_REASON, F.col(TAKEDOWN_REASON))
        .withColumn("text", F.lit(None).cast("string"))  # erased text is never written, not even to rejected/
    )
    return marked.filter(F.col(TAKEDOWN_REASON).isNull()).select(*_DOC_COLUMNS), erased


def _run_stages(ctx: RunContext, stages: list, kept, rejected_parts: list,
                progress: Optional[_Progress] = None,
                policy: Optional[RejectedTextPolicy] = None) -> tuple[Any, list[dict]]:
    """Apply the stages in code order; each stage's output is materialized once (it feeds two branches).

    Rows a ``drop`` stage rejects are appended to ``rejected_parts``, their text minimised by ``policy``
    (``output.rejected_text``; default: the configuration's) exactly once: rows removed before the
    ``pii`` stage are scrubbed here, rows removed at or after it were scrubbed by it. Returns the
    documents still kept (``drop_reason`` null, or set by a cheap last stage whose rows are routed at
    the final write) and the stage records of run.json.
    """
    # deferred: pyspark loads only when a run starts
    from pyspark.sql import functions as F

    progress = progress or _Progress(len(stages))
    policy = policy or rejected_text_policy(ctx.config)
    stage_records = []
    last_with_reasons = None
    pii_ran = False
    for i, stage in enumerate(stages):
        t0 = time.time()
        mode = getattr(stage.section, "mode", "tag")  # stages without a mode only annotate
        progress.start(f"{stage.name} ({mode})")
        out_df = stage.apply(kept)
        done = "its rows are computed by the next write"
        if stage.materialize:
            path = ctx.work_dir / f"stage-{i:02d}-{stage.name}"
            out_df.write.option("compression", "lz4").parquet(str(path))
            out_df = ctx.spark.read.parquet(str(path))
            n_docs = _parquet_rows(path)
            seconds = time.time() - t0
            done = f"{n_docs} documents" + (f", {n_docs / seconds:.0f} documents/s" if n_docs and seconds else "")
        reason = F.col(stage.reason_column)
        pii_ran = pii_ran or stage.name == "pii"  # the pii stage rewrites text and fields in both modes
        if mode == "drop" and i == len(stages) - 1 and not stage.materialize:
            # A cheap last stage is not split into two branches (each would recompute it): its rows go
            # to the final write with their drop_reason, which routes them to curated/ or rejected/.
            last_with_reasons = minimise_rejected(out_df.withColumn(DROP_REASON, reason), policy,
                                                  scrubbed_by_pii=pii_ran, only_rejected=True)
            kept = None
        elif mode == "drop":
            rejected_parts.append(minimise_rejected(
                out_df.filter(reason.isNotNull()).withColumn(DROP_REASON, reason), policy, scrubbed_by_pii=pii_ran))
            kept = out_df.filter(reason.isNull())
        else:
            kept = out_df
        stage_records.append({"name": stage.name, "mode": mode, "seconds": round(time.time() - t0, 3)})
        ctx.timings[f"stage:{stage.name}"] = round(time.time() - t0, 3)
        progress.done(f"{stage.name} ({mode})", done)
    if kept is None:
        return last_with_reasons, stage_records
    # Curated and rejected rows share one schema (curated's drop_reason is always null) and one write.
    return kept.withColumn(DROP_REASON, F.lit(None).cast("string")), stage_records


def _parquet_rows(path: Path) -> int:
    """Rows of a folder of Parquet files, from their footers (no Spark job)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in sorted(Path(path).glob("*.parquet")))


def _write_outputs(ctx: RunContext, stages: list, documents, rejected_parts: list, quarantine,
                   any_quarantined: bool, layout: _Layout, progress: Optional[_Progress] = None) -> dict[str, Any]:
    """Write curated/, rejected/, quarantine/ and the removal ledger deterministically."""
    # deferred: pyspark loads only when a run starts
    from pyspark.sql import functions as F

    progress = progress or _Progress(1)
    progress.start("outputs", "curated/, rejected/, quarantine/ and the removal ledger (stages not yet "
                   "computed run here)")
    t0 = time.time()
    staging = ctx.staging_dir
    curated_dir, rejected_dir, quarantine_dir = staging / "curated", staging / "rejected", staging / "quarantine"
    for part in rejected_parts:
        documents = documents.unionByName(part, allowMissingColumns=True)
    documents = documents.withColumn("_table", F.when(F.col(DROP_REASON).isNull(), "curated").otherwise("rejected"))
    table_files = write_split_tables(documents, "_table", {"curated": curated_dir, "rejected": rejected_dir},
                                     layout.num_files, ["doc_id"], layout.compression)
    outputs: dict[str, Any] = {"curated": {"files": table_files["curated"]},
                               "rejected": {"files": table_files["rejected"]}}
    written = ctx.spark.read.parquet(str(curated_dir))
    for stage in stages:
        stage.finalize(written)  # e.g. the near-dedup index delta of the kept documents
    if any_quarantined:
        files = write_table(quarantine, quarantine_dir, max(1, layout.num_files // 4),
                            ["source_file", "source_offset", "reason"], layout.compression)
    else:  # the readers quarantined nothing: no Spark job to find that out again
        quarantine_dir.mkdir()
        write_empty_table(quarantine.schema, quarantine_dir / "part-00000.parquet", layout.compression)
        files = 1
    outputs["quarantine"] = {"files": files}

    t1 = time.time()
    outputs["ledger"] = write_removal_ledger(ctx.spark, staging, ctx.run_id)
    ctx.timings["ledger"] = round(time.time() - t1, 3)
    ctx.timings["outputs"] = round(t1 - t0, 3)
    progress.done("outputs", f"removal ledger {time.time() - t1:.1f}s")
    return outputs


def _write_shards(ctx: RunContext, writer, stage_records: list[dict],
                  progress: Optional[_Progress] = None) -> dict[str, Any]:
    """Tokenize the written curated documents into shards; returns run.json's ``outputs.shards``."""
    progress = progress or _Progress(1)
    progress.start("tokenize")
    t0 = time.time()
    info = writer.run(ctx.spark.read.parquet(str(ctx.staging_dir / "curated")))
    stage_records.append({"name": "tokenize", "mode": "write", "seconds": round(time.time() - t0, 3)})
    ctx.timings["tokenize"] = round(time.time() - t0, 3)
    progress.done("tokenize", f"{info.get('shards')} shards, {info.get('tokens')} tokens")
    return {"files": info.get("shards"), "tokens": info.get("tokens")}


def _input_records(files, hashes: dict, per_file: dict) -> list[InputFileRecord]:
    """One record per input file; fails when its records are not all written somewhere."""
    records = []
    for f in files:
        pf = per_file.get(f.path, {})
        st = pf.get("stats", {})
        rec = InputFileRecord(
            path=f.path, rel_path=f.rel_path, source=f.source, format=f.fmt, compression=f.compression,
            bytes=hashes[f.path]["bytes"], sha256=hashes[f.path]["sha256"], encoding=st.get("encoding"),
            records=st.get("records", 0), curated=pf.get("curated", 0), rejected=pf.get("rejected", 0),
            quarantined=pf.get("quarantined", 0), skipped=st.get("skipped", {}),
        )
        if rec.records != rec.curated + rec.rejected + rec.quarantined:
            raise RunError(
                f"accounting invariant violated for {f.rel_path}: read {rec.records} records but wrote "
                f"{rec.curated} curated + {rec.rejected} rejected + {rec.quarantined} "
                f"quarantined; this is a bug, please report it with the run's log"
            )
        records.append(rec)
    return records


def _manifest(ctx: RunContext, started: float, started_at: str, records: list[InputFileRecord], counts: Counts,
              stage_records: list[dict], outputs: dict[str, Any]) -> RunManifest:
    spark, config = ctx.spark, ctx.config
    return RunManifest(
        run_id=ctx.run_id,
        started_at=started_at,
        finished_at=utc_now(),
        duration_s=round(time.time() - started, 3),
        status="complete",
        config=config.resolved_dict(),
        config_sha256=config.sha256(),
        code_version=code_version(),
        library_versions=library_versions(),
        spark={"master": spark.sparkContext.master, "version": spark.version,
               "shuffle_partitions": ctx.num_partitions, "default_parallelism": spark.sparkContext.defaultParallelism},
        assets=ctx.assets,
        inputs=records,
        counts=counts,
        stages=stage_records,
        stage_info=ctx.stage_info,
        outputs=outputs,
    )


def _account(spark, curated_dir: Path, rejected_dir: Path, quarantine_dir: Path, stats_rows: list[dict]):
    """Counts of the written tables by file, source and reason, and the readers' statistics by file."""
    # deferred: pyspark loads only when a run starts
    from pyspark.sql import functions as F

    per_file: dict[str, dict] = {}
    for row in stats_rows:
        st = per_file.setdefault(row["source_file"], {}).setdefault(
            "stats", {"records": 0, "skipped": {}, "encoding": None})
        st["records"] += row["records"] or 0
        for k, v in (row["skipped"] or {}).items():
            st["skipped"][k] = st["skipped"].get(k, 0) + v
        if row["split_index"] == 0:
            st["encoding"] = row["encoding"]

    # One job over the three written tables: rows and bytes by table, file, source and reason.
    parts = []
    for key, d, reason in (("curated", curated_dir, F.lit(None).cast("string")),
                           ("rejected", rejected_dir, F.col(DROP_REASON)),
                           ("quarantined", quarantine_dir, F.col("reason"))):
        df = spark.read.parquet(str(d))
        nbytes = F.col("n_bytes") if key != "quarantined" else F.lit(0).cast("long")
        parts.append(df.select(F.lit(key).alias("_table"), "source_file", "source", reason.alias("_reason"),
                               nbytes.alias("_bytes")))
    union = parts[0].unionByName(parts[1]).unionByName(parts[2])
    groups = union.groupBy("_table", "source_file", "source", "_reason").agg(
        F.count(F.lit(1)).alias("n"), F.coalesce(F.sum("_bytes"), F.lit(0)).alias("b")).collect()

    by_source: dict[str, dict[str, int]] = {}
    rejected_by_reason: dict[str, int] = {}
    quarantined_by_reason: dict[str, int] = {}
    curated = curated_bytes = 0
    for g in groups:
        key, n = g["_table"], int(g["n"])
        pf = per_file.setdefault(g["source_file"], {})
        pf[key] = pf.get(key, 0) + n
        src = by_source.setdefault(g["source"], {"curated": 0, "rejected": 0, "quarantined": 0})
        src[key] += n
        if key == "curated":
            curated += n
            curated_bytes += int(g["b"])
        elif key == "rejected":
            rejected_by_reason[g["_reason"]] = rejected_by_reason.get(g["_reason"], 0) + n
        else:
            quarantined_by_reason[g["_reason"]] = quarantined_by_reason.get(g["_reason"], 0) + n
    skipped: dict[str, int] = {}
    for pf in per_file.values():
        for k, v in pf.get("stats", {}).get("skipped", {}).items():
            skipped[k] = skipped.get(k, 0) + v
    counts = Counts(
        records=sum(pf.get("stats", {}).get("records", 0) for pf in per_file.values()),
        curated=curated,
        rejected=sum(rejected_by_reason.values()),
        quarantined=sum(quarantined_by_reason.values()),
        curated_bytes=curated_bytes,
        rejected_by_reason=dict(sorted(rejected_by_reason.items())),
        quarantined_by_reason=dict(sorted(quarantined_by_reason.items())),
        skipped_by_reason=dict(sorted(skipped.items())),
        by_source=dict(sorted(by_source.items())),
    )
    return counts, per_file
