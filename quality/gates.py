"""Quality gates: the thresholds of :class:`schemas.config.gates.GatesSection` checked against a run's figures.

Pure functions over the report's parts (no Spark). Each configured gate yields one
:class:`schemas.report.GateVerdict` with its value, threshold and status (``pass``, ``fail`` or
``skipped``); a run passes when no verdict is ``fail``. ``accounting`` (records in = curated + rejected +
quarantined) is always checked while gates are enabled: a run that does not add up is never published.
"""
from __future__ import annotations

import logging
from typing import Optional

from schemas.config.gates import GatesSection, SignalBound
from schemas.report import Accounting, Drift, DriftBasis, DuplicateSummary, GateVerdict, GatesResult, PiiSummary, SignalStats

log = logging.getLogger(__name__)

#: Exit code of ``corpusforge run`` / ``corpusforge report`` when a gate fails (jobs.cli.EXIT_GATES_FAILED).
EXIT_GATES_FAILED = 3


def _compare(gate: str, description: str, value: Optional[float], threshold: float, op: str, detail: str = "",
             missing_status: str = "fail", missing_detail: str = "") -> GateVerdict:
    if value is None:
        status = "skipped" if missing_status in ("skip", "skipped") else "fail"
        return GateVerdict(gate=gate, description=description, value=None, threshold=threshold, op=op,
                           status=status, detail=missing_detail)
    ok = value >= threshold if op == ">=" else value <= threshold
    return GateVerdict(gate=gate, description=description, value=value, threshold=threshold, op=op,
                       status="pass" if ok else "fail", detail=detail)


def _signal_value(bound: SignalBound, st: Optional[SignalStats]) -> Optional[float]:
    if st is None:
        return None
    if bound.stat == "null_rate":
        total = st.count + st.nulls
        return round(st.nulls / total, 6) if total else None
    return getattr(st, bound.stat)


def evaluate_gates(gates: Optional[GatesSection], accounting: Accounting, basis: DriftBasis,
                   pii: Optional[PiiSummary], duplicates: DuplicateSummary, signal_stats: dict[str, SignalStats],
                   drift: Optional[Drift]) -> GatesResult:
    """Check every configured gate.

    Args:
        gates: the gates configuration (None: the defaults, i.e. only the accounting gate).
        accounting: the report's accounting.
        basis: the run's drift basis (keep and quarantine rates).
        pii: the report's PII summary (None when the pii stage did not run).
        duplicates: the report's duplicate summary.
        signal_stats: statistics keyed ``"<scope>:<signal>"`` (see :func:`quality.metrics.compute_metrics`).
        drift: drift against the previous run, or None when there is none.

    Returns:
        The verdicts, whether all passed, and the gates configuration they were checked against.
    """
    gates = gates or GatesSection()
    cfg = gates.model_dump(mode="json")
    if not gates.enabled:
        return GatesResult(enabled=False, passed=True, verdicts=[], config=cfg)
    missing = gates.on_missing
    verdicts: list[GateVerdict] = []
    a = accounting
    verdicts.append(GateVerdict(
        gate="accounting", description="records in = curated + rejected + quarantined (overall, per source, per file)",
        value=float(a.kept + a.removed + a.quarantined), threshold=float(a.records_in), op="==",
        status="pass" if a.balanced else "fail",
        detail="" if a.balanced else (
            f"{a.records_in} records in but {a.kept} + {a.removed} + {a.quarantined} written; unbalanced "
            f"sources: {a.unbalanced_sources or 'none'}, files: {a.unbalanced_files or 'none'}; the run directory "
            "is incomplete or was altered: re-run the pipeline"),
    ))
    if gates.min_keep_rate is not None:
        verdicts.append(_compare("min_keep_rate", "curated documents / records in", basis.keep_rate,
                                 gates.min_keep_rate, ">=", missing_status=missing,
                                 missing_detail="the run read no records"))
    if gates.max_quarantine_rate is not None:
        verdicts.append(_compare("max_quarantine_rate", "quarantined records / records in", basis.quarantine_rate,
                                 gates.max_quarantine_rate, "<=", missing_status=missing,
                                 missing_detail="the run read no records"))
    if gates.max_residual_pii_rate is not None:
        value = pii.residual_rate if pii else None
        verdicts.append(_compare(
            "max_residual_pii_rate", "curated documents in which residual PII patterns still match / curated scanned",
            value, gates.max_residual_pii_rate, "<=", missing_status=missing,
            missing_detail="the pii stage did not run (or wrote no residual counts): enable pii or remove the gate"))
    near = duplicates.near
    if gates.max_dup_cluster_share is not None:
        verdicts.append(_compare(
            "max_dup_cluster_share", "largest near-duplicate cluster / documents near dedup saw",
            near.largest_cluster_share if near else None, gates.max_dup_cluster_share, "<=",
            detail=f"largest cluster: {near.largest_cluster} documents" if near else "", missing_status=missing,
            missing_detail="the near_dedup stage did not run: enable near_dedup or remove the gate"))
    if gates.max_dup_cluster_size is not None:
        verdicts.append(_compare(
            "max_dup_cluster_size", "documents in the largest near-duplicate cluster",
            float(near.largest_cluster) if near else None, float(gates.max_dup_cluster_size), "<=",
            missing_status=missing, missing_detail="the near_dedup stage did not run: enable near_dedup or remove the gate"))
    no_prev = gates.on_missing_previous
    no_prev_detail = "no previous run to compare with (corpusforge report --previous OUT_PREV)"
    if gates.max_language_drift is not None:
        if drift is None:
            verdicts.append(_compare("max_language_drift", "total variation distance of the curated language mix",
                                     None, gates.max_language_drift, "<=", missing_status=no_prev,
                                     missing_detail=no_prev_detail))
        else:
            top = drift.language_changes[0] if drift.language_changes else None
            verdicts.append(_compare(
                "max_language_drift", "total variation distance of the curated language mix", drift.language_tvd,
                gates.max_language_drift, "<=", missing_status=missing,
                detail=f"largest change: {top.key} {top.previous:.4f} -> {top.current:.4f}" if top else "",
                missing_detail="the language stage did not run in this or the previous run"))
    if gates.max_removal_rate_drift is not None:
        if drift is None:
            verdicts.append(_compare("max_removal_rate_drift", "largest change of a removal, quarantine or keep rate",
                                     None, gates.max_removal_rate_drift, "<=", missing_status=no_prev,
                                     missing_detail=no_prev_detail))
        else:
            changes = list(drift.removal_changes) + ([drift.keep_rate] if drift.keep_rate else [])
            top = max(changes, key=lambda c: (abs(c.delta), c.key), default=None)
            verdicts.append(_compare(
                "max_removal_rate_drift", "largest change of a removal, quarantine or keep rate",
                abs(top.delta) if top else 0.0, gates.max_removal_rate_drift, "<=",
                detail=f"{top.key}: {top.previous:.4f} -> {top.current:.4f}" if top else ""))
    for bound in gates.signals:
        st = signal_stats.get(f"{bound.scope}:{bound.signal}")
        value = _signal_value(bound, st)
        why = (f"column {bound.signal!r} is not in the run's documents (its stage did not run, or the name is wrong)"
               if st is None else f"no {bound.scope} document has a value for {bound.signal!r}")
        approx = " (approximate quantile)" if bound.stat.startswith("p") else ""
        if bound.min is not None:
            verdicts.append(_compare(f"{bound.name}:min", f"{bound.stat} of {bound.signal} over {bound.scope} documents{approx}",
                                     value, bound.min, ">=", missing_status=missing, missing_detail=why))
        if bound.max is not None:
            verdicts.append(_compare(f"{bound.name}:max", f"{bound.stat} of {bound.signal} over {bound.scope} documents{approx}",
                                     value, bound.max, "<=", missing_status=missing, missing_detail=why))
    failed = [v.gate for v in verdicts if v.status == "fail"]
    if failed:
        log.warning("quality gates failed: %s", ", ".join(failed))
    return GatesResult(enabled=True, passed=not failed, verdicts=verdicts, config=cfg)


def gates_from_config(config: dict) -> GatesSection:
    """The gates section of a resolved configuration (``run.json``'s ``config``); defaults when absent."""
    raw = (config or {}).get("gates")
    return GatesSection.model_validate(raw) if raw is not None else GatesSection()


__all__ = ["EXIT_GATES_FAILED", "evaluate_gates", "gates_from_config"]
