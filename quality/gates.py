"""Quality gates: the thresholds of :class:`schemas.config.gates.GatesSection` checked against a run's figures.

Pure functions over the report's parts (no Spark). Each configured gate yields one
:class:`schemas.report.GateVerdict` with its value, threshold and status (``pass``, ``fail`` or
``skipped``); a run passes when no verdict is ``fail``. ``accounting`` (records in = curated + rejected +
quarantined) is always checked while gates are enabled: a run that does not add up is never published.

The threshold gates are a table (:data:`_THRESHOLD_GATES`): one small evaluator per field of
:class:`GatesSection`, called in the table's order when that field is set.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Optional

from schemas.config.gates import GatesSection, SignalBound
from schemas.report import (
    Accounting,
    Drift,
    DriftBasis,
    DuplicateSummary,
    GatesResult,
    GateVerdict,
    PiiSummary,
    SignalStats,
)

log = logging.getLogger(__name__)


_NO_RECORDS = "the run read no records"
_NO_NEAR_DEDUP = "the near_dedup stage did not run: enable near_dedup or remove the gate"
_NO_PREVIOUS = "no previous run to compare with (corpusforge report --previous OUT_PREV)"
_LANGUAGE_DRIFT = "total variation distance of the curated language mix"
_REMOVAL_DRIFT = "largest change of a removal, quarantine or keep rate"


@dataclass(frozen=True)
class _Figures:
    """The run's figures the gates are checked against."""

    gates: GatesSection
    accounting: Accounting
    basis: DriftBasis
    pii: Optional[PiiSummary]
    duplicates: DuplicateSummary
    signal_stats: dict[str, SignalStats]
    drift: Optional[Drift]


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


def _accounting_gate(a: Accounting) -> GateVerdict:
    return GateVerdict(
        gate="accounting",
        description="records in = curated + rejected + quarantined (overall, per source, per file)",
        value=float(a.kept + a.removed + a.quarantined), threshold=float(a.records_in), op="==",
        status="pass" if a.balanced else "fail",
        detail="" if a.balanced else (
            f"{a.records_in} records in but {a.kept} + {a.removed} + {a.quarantined} written; unbalanced "
            f"sources: {a.unbalanced_sources or 'none'}, files: {a.unbalanced_files or 'none'}; the run directory "
            "is incomplete or was altered: re-run the pipeline"),
    )


def _min_keep_rate(f: _Figures, threshold: float) -> GateVerdict:
    return _compare("min_keep_rate", "curated documents / records in", f.basis.keep_rate, threshold, ">=",
                    missing_status=f.gates.on_missing, missing_detail=_NO_RECORDS)


def _max_quarantine_rate(f: _Figures, threshold: float) -> GateVerdict:
    return _compare("max_quarantine_rate", "quarantined records / records in", f.basis.quarantine_rate, threshold,
                    "<=", missing_status=f.gates.on_missing, missing_detail=_NO_RECORDS)


def _max_residual_pii_rate(f: _Figures, threshold: float) -> GateVerdict:
    return _compare(
        "max_residual_pii_rate", "curated documents in which residual PII patterns still match / curated scanned",
        f.pii.residual_rate if f.pii else None, threshold, "<=", missing_status=f.gates.on_missing,
        missing_detail="the pii stage did not run (or wrote no residual counts): enable pii or remove the gate")


def _max_dup_cluster_share(f: _Figures, threshold: float) -> GateVerdict:
    near = f.duplicates.near
    return _compare(
        "max_dup_cluster_share", "largest near-duplicate cluster / documents near dedup saw",
        near.largest_cluster_share if near else None, threshold, "<=",
        detail=f"largest cluster: {near.largest_cluster} documents" if near else "",
        missing_status=f.gates.on_missing, missing_detail=_NO_NEAR_DEDUP)


def _max_dup_cluster_size(f: _Figures, threshold: float) -> GateVerdict:
    near = f.duplicates.near
    return _compare("max_dup_cluster_size", "documents in the largest near-duplicate cluster",
                    float(near.largest_cluster) if near else None, float(threshold), "<=",
                    missing_status=f.gates.on_missing, missing_detail=_NO_NEAR_DEDUP)


def _max_language_drift(f: _Figures, threshold: float) -> GateVerdict:
    drift = f.drift
    if drift is None:
        return _compare("max_language_drift", _LANGUAGE_DRIFT, None, threshold, "<=",
                        missing_status=f.gates.on_missing_previous, missing_detail=_NO_PREVIOUS)
    top = drift.language_changes[0] if drift.language_changes else None
    return _compare(
        "max_language_drift", _LANGUAGE_DRIFT, drift.language_tvd, threshold, "<=",
        missing_status=f.gates.on_missing,
        detail=f"largest change: {top.key} {top.previous:.4f} -> {top.current:.4f}" if top else "",
        missing_detail="the language stage did not run in this or the previous run")


def _max_removal_rate_drift(f: _Figures, threshold: float) -> GateVerdict:
    drift = f.drift
    if drift is None:
        return _compare("max_removal_rate_drift", _REMOVAL_DRIFT, None, threshold, "<=",
                        missing_status=f.gates.on_missing_previous, missing_detail=_NO_PREVIOUS)
    changes = list(drift.removal_changes) + ([drift.keep_rate] if drift.keep_rate else [])
    top = max(changes, key=lambda c: (abs(c.delta), c.key), default=None)
    return _compare("max_removal_rate_drift", _REMOVAL_DRIFT, abs(top.delta) if top else 0.0, threshold, "<=",
                    detail=f"{top.key}: {top.previous:.4f} -> {top.current:.4f}" if top else "")


#: The threshold gates in verdict order: GatesSection field -> evaluator (called when the field is not None).
_THRESHOLD_GATES: dict[str, Callable[[_Figures, float], GateVerdict]] = {
    "min_keep_rate": _min_keep_rate,
    "max_quarantine_rate": _max_quarantine_rate,
    "max_residual_pii_rate": _max_residual_pii_rate,
    "max_dup_cluster_share": _max_dup_cluster_share,
    "max_dup_cluster_size": _max_dup_cluster_size,
    "max_language_drift": _max_language_drift,
    "max_removal_rate_drift": _max_removal_rate_drift,
}


def _signal_gates(f: _Figures, bound: SignalBound) -> list[GateVerdict]:
    """The ``:min`` and ``:max`` verdicts of one signal bound."""
    st = f.signal_stats.get(f"{bound.scope}:{bound.signal}")
    value = _signal_value(bound, st)
    why = (f"column {bound.signal!r} is not in the run's documents (its stage did not run, or the name is wrong)"
           if st is None else f"no {bound.scope} document has a value for {bound.signal!r}")
    approx = " (approximate quantile)" if bound.stat.startswith("p") else ""
    description = f"{bound.stat} of {bound.signal} over {bound.scope} documents{approx}"
    out = []
    for suffix, threshold, op in (("min", bound.min, ">="), ("max", bound.max, "<=")):
        if threshold is not None:
            out.append(_compare(f"{bound.name}:{suffix}", description, value, threshold, op,
                                missing_status=f.gates.on_missing, missing_detail=why))
    return out


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
    figures = _Figures(gates, accounting, basis, pii, duplicates, signal_stats, drift)
    verdicts = [_accounting_gate(accounting)]
    for name, evaluate in _THRESHOLD_GATES.items():
        threshold = getattr(gates, name)
        if threshold is not None:
            verdicts.append(evaluate(figures, threshold))
    for bound in gates.signals:
        verdicts.extend(_signal_gates(figures, bound))
    failed = [v.gate for v in verdicts if v.status == "fail"]
    if failed:
        log.warning("quality gates failed: %s", ", ".join(failed))
    return GatesResult(enabled=True, passed=not failed, verdicts=verdicts, config=cfg)


def gates_from_config(config: dict) -> GatesSection:
    """The gates section of a resolved configuration (``run.json``'s ``config``); defaults when absent."""
    raw = (config or {}).get("gates")
    return GatesSection.model_validate(raw) if raw is not None else GatesSection()


__all__ = ["evaluate_gates", "gates_from_config"]
