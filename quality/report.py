"""Writing a run's data-quality report: ``run_dir/report/report.json`` and ``report.html``.

:func:`write_report` reads only what the run wrote (its ``run.json`` and tables), evaluates the quality
gates and writes both files atomically. It works on a finished run (``corpusforge report OUT``) and on
the runner's staging directory before the commit; the report never records the run directory's
absolute path, so it stays valid when the directory is moved. Re-rendering the same run with the same
gates and previous run gives byte-identical files. Next to them, ``report/domains.parquet`` lists the kept
documents and bytes per source and registrable domain (:mod:`quality.sources`), which ``corpusforge
summary`` ranks for the training-content summary's top-domain list.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from pyspark import SparkContext
from pyspark.sql import SparkSession

from pipelines.runtime import build_spark_session
from schemas.config.gates import GatesSection
from schemas.manifest import RunManifest
from schemas.report import (
    REPORT_DIR,
    REPORT_HTML,
    REPORT_JSON,
    DriftBasis,
    GateVerdict,
    OptoutSummary,
    Provenance,
    Report,
    RunInfo,
)
from storage.files import atomic_write_text

from .drift import compute_drift
from .gates import evaluate_gates, gates_from_config
from .html import render_html
from .metrics import compute_metrics, read_manifest
from .scrub import DEFAULT_MAX_CHARS
from .sources import DOMAINS_FILE, source_details, write_domains

log = logging.getLogger(__name__)

_STAGING = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<run>.+)$")


@dataclass
class ReportResult:
    """What :func:`write_report` wrote and whether the run passed its gates."""

    report: Report
    json_path: Path
    html_path: Path
    gates_passed: bool
    verdicts: list[GateVerdict]

    @property
    def failed_gates(self) -> list[GateVerdict]:
        """The verdicts with status ``fail``."""
        return [v for v in self.verdicts if v.status == "fail"]


def _run_roots(run_dir: Path) -> list[str]:
    """Absolute spellings of the run directory (and, for a staging directory, of its final name)."""
    roots = {str(run_dir), str(run_dir.resolve())}
    m = _STAGING.match(run_dir.name)
    if m:
        final = run_dir.parent / m.group("name")
        roots |= {str(final), str(final.resolve())}
    return sorted((r for r in roots if r and r != "/"), key=len, reverse=True)


def relativize(obj: Any, roots: list[str]) -> Any:
    """``obj`` with every mention of one of ``roots`` in its strings made relative (``./...``)."""
    if isinstance(obj, str):
        for root in roots:
            if root in obj:
                obj = re.sub(re.escape(root) + r"(?![\w.\-])(/?)", lambda m: "./" if m.group(1) else ".", obj)
        return obj
    if isinstance(obj, dict):
        return {k: relativize(v, roots) for k, v in obj.items()}
    if isinstance(obj, list):
        return [relativize(v, roots) for v in obj]
    return obj


def _local_spark():
    """The active SparkSession, or a new local one (returned with True when this call created it)."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    if SparkContext._active_spark_context is not None:
        # A session exists but is not active in this thread: share it, and never stop it.
        return SparkSession.builder.getOrCreate(), False
    return build_spark_session(app_name="corpusforge-report", master="local[*]", driver_memory="2g",
                               shuffle_partitions=4, ui=False), True


def previous_basis(previous: Path, spark) -> tuple[DriftBasis, RunManifest]:
    """The drift basis of a previous run: from its report.json when that is current, else from its data.

    Raises:
        FileNotFoundError: ``previous`` is not a finished run.
    """
    previous = Path(previous)
    manifest = read_manifest(previous)
    stored = previous / REPORT_DIR / REPORT_JSON
    if stored.is_file():
        try:
            rep = Report.from_file(stored)
            if rep.run.run_id == manifest.run_id:
                return rep.drift_basis, manifest
            log.warning("previous run's report.json belongs to another run id; recomputing from its data")
        except ValueError as exc:
            log.warning("previous run's report.json cannot be used (%s); recomputing from its data",
                        str(exc).splitlines()[0])
    metrics = compute_metrics(previous, spark, manifest, examples_per_reason=0)
    return metrics.drift_basis, manifest


def optout_summary(stage_info: dict[str, Any]) -> Optional[OptoutSummary]:
    """The report's opt-out section from run.json ``stage_info.optout`` (None when the stage did not run)."""
    info = stage_info.get("optout")
    if not info or "by_rule" not in info:
        return None
    return OptoutSummary(
        mode=info.get("mode", "drop"), rules=list(info.get("rules", [])),
        documents_reserved=int(info.get("documents_reserved", 0)), by_rule=dict(info["by_rule"]),
        by_reason=dict(info.get("by_reason", {})), signals=dict(info.get("signals", {})),
        domains=int(info.get("domains", 0)),
        robots_hosts_by_status=dict((info.get("robots_txt") or {}).get("hosts_by_status", {})),
    )


def build_report(run_dir: Path, spark, previous: Optional[Path] = None, gates: Optional[GatesSection] = None,
                 examples_per_reason: int = 3, example_chars: int = DEFAULT_MAX_CHARS,
                 domains_out: Optional[list] = None) -> Report:
    """The :class:`Report` of the run in ``run_dir`` (nothing is written).

    Args:
        run_dir: the run (or staging) directory; it must hold run.json.
        spark: the SparkSession to aggregate with.
        previous: a previous run directory to measure drift against.
        gates: the gates to check; default: the ``gates`` section of the run's own configuration.
        examples_per_reason: removed documents shown per reason (0: none).
        example_chars: preview length of each example.
        domains_out: a list that receives the (source, domain, docs, bytes) rows of ``report/domains.parquet``.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if gates is None:
        gates = gates_from_config(manifest.config)
    wanted = [(b.scope, b.signal) for b in gates.signals] if gates.enabled else []
    metrics = compute_metrics(run_dir, spark, manifest, gate_signals=wanted,
                              examples_per_reason=examples_per_reason, example_chars=example_chars)
    details, domains = source_details(run_dir, spark, manifest, metrics.outputs.tokens_by_source)
    if domains_out is not None:
        domains_out.extend(domains)
    drift = None
    if previous is not None:
        prev_basis, prev_manifest = previous_basis(Path(previous), spark)
        drift = compute_drift(metrics.drift_basis, prev_basis, prev_manifest.run_id, prev_manifest.config_sha256,
                              manifest.config_sha256)
    gate_result = evaluate_gates(gates, metrics.accounting, metrics.drift_basis, metrics.pii, metrics.duplicates,
                                 metrics.gate_signal_stats, drift)
    roots = _run_roots(run_dir)
    provenance = Provenance(
        config=relativize(manifest.config, roots), config_sha256=manifest.config_sha256,
        code_version=manifest.code_version, library_versions=manifest.library_versions,
        spark={k: v for k, v in manifest.spark.items()}, assets=relativize(manifest.assets, roots),
        stage_info=relativize(manifest.stage_info, roots),
    )
    report = Report(
        run=RunInfo(run_id=manifest.run_id, started_at=manifest.started_at, finished_at=manifest.finished_at,
                    duration_s=manifest.duration_s, status=manifest.status, manifest_version=manifest.manifest_version),
        stages_run=metrics.stages_run, stages_not_run=metrics.stages_not_run, inputs=metrics.inputs,
        sources=metrics.sources, outputs=metrics.outputs, accounting=metrics.accounting, funnel=metrics.funnel,
        removals=metrics.removals, quarantine=metrics.quarantine, examples=metrics.examples,
        quarantine_examples=metrics.quarantine_examples, languages=metrics.languages, signals=metrics.signals,
        duplicates=metrics.duplicates, pii=metrics.pii, bias=metrics.bias,
        contamination=metrics.contamination, optout=optout_summary(manifest.stage_info),
        source_details=details, drift_basis=metrics.drift_basis,
        drift=drift, gates=gate_result, provenance=provenance,
    )
    # Last line of defence: no absolute spelling of the run directory may be in what we publish.
    text = report.to_json()
    leaked = [r for r in roots if r in text]
    if leaked:
        report = Report.model_validate(relativize(report.model_dump(mode="json"), roots))
    return report


def write_report(run_dir: Path, spark=None, previous: Optional[Path] = None, gates: Optional[GatesSection] = None,
                 examples_per_reason: int = 3, example_chars: int = DEFAULT_MAX_CHARS) -> ReportResult:
    """Compute the report of ``run_dir`` and write ``report/report.json`` and ``report/report.html`` there.

    Args:
        run_dir: a finished run, or the runner's staging directory once run.json is written.
        spark: the SparkSession to aggregate with; the active session or a new local one when None.
        previous: a previous run directory: drift figures and drift gates compare against it.
        gates: the gates to check; default: the ``gates`` section recorded in the run's run.json.
        examples_per_reason: removed documents shown per reason (scrubbed, truncated; 0: none).
        example_chars: preview length of each example.

    Returns:
        The report, the written paths, whether every gate passed and the verdicts.

    Raises:
        FileNotFoundError: ``run_dir`` (or ``previous``) is not a finished run.
        ValueError: its run.json or a stored report is invalid.
    """
    run_dir = Path(run_dir)
    own = False
    if spark is None:
        spark, own = _local_spark()
    try:
        domains: list = []
        report = build_report(run_dir, spark, previous, gates, examples_per_reason, example_chars, domains)
    finally:
        if own:
            spark.stop()
    out = run_dir / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / REPORT_JSON, out / REPORT_HTML
    atomic_write_text(json_path, report.to_json())
    atomic_write_text(html_path, render_html(report))
    write_domains(out / DOMAINS_FILE, domains)
    g = report.gates
    log.info("report of run %s written (%d curated, %d removed, %d quarantined); gates %s", report.run.run_id,
             report.accounting.kept, report.accounting.removed, report.accounting.quarantined,
             "disabled" if not g.enabled else ("passed" if g.passed else "FAILED"))
    return ReportResult(report=report, json_path=json_path, html_path=html_path, gates_passed=g.passed,
                        verdicts=list(g.verdicts))


__all__ = ["ReportResult", "build_report", "previous_basis", "relativize", "write_report"]
