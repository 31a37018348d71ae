"""Drift between two runs, from their :class:`schemas.report.DriftBasis` figures (pure, no Spark).

* language mix and source mix: total variation distance (TVD) of the curated shares,
  ``0.5 * sum(|p_i - q_i|)``: 0 when identical, 1 when the two runs share no language;
* keep rate, every removal and quarantine reason's rate (per input record), PII rates and the mean of
  each quality signal: previous value, current value and the signed change. A reason present in only
  one of the runs counts with rate 0 in the other.
"""
from __future__ import annotations

from typing import Optional

from schemas.report import Drift, DriftBasis, RateChange

from .rounding import sig_round


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """Total variation distance of two distributions given as shares (missing keys count as 0)."""
    keys = set(p) | set(q)
    return sig_round(0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)) or 0.0


def _change(key: str, prev: Optional[float], cur: Optional[float]) -> Optional[RateChange]:
    if prev is None or cur is None:
        return None
    return RateChange(key=key, previous=prev, current=cur, delta=sig_round(cur - prev) or 0.0)


def _changes(prev: dict[str, float], cur: dict[str, float]) -> list[RateChange]:
    out = [_change(k, prev.get(k, 0.0), cur.get(k, 0.0)) for k in set(prev) | set(cur)]
    return sorted((c for c in out if c is not None), key=lambda c: (-abs(c.delta), c.key))


def compute_drift(current: DriftBasis, previous: DriftBasis, previous_run_id: str,
                  previous_config_sha256: Optional[str], current_config_sha256: Optional[str]) -> Drift:
    """Drift figures of ``current`` against ``previous``."""
    removal = _changes(previous.removal_rates, current.removal_rates)
    lang_tvd = None
    lang_changes: list[RateChange] = []
    if current.language_mix is not None and previous.language_mix is not None:
        lang_tvd = total_variation(current.language_mix, previous.language_mix)
        lang_changes = _changes(previous.language_mix, current.language_mix)
    signal_changes = [
        c for c in (_change(k, previous.signal_means.get(k), current.signal_means.get(k))
                    for k in sorted(set(previous.signal_means) & set(current.signal_means)))
        if c is not None
    ]
    pii = [c for c in (_change("residual_pii_rate", previous.residual_pii_rate, current.residual_pii_rate),
                       _change("pii_doc_rate", previous.pii_doc_rate, current.pii_doc_rate)) if c is not None]
    return Drift(
        previous_run_id=previous_run_id,
        previous_config_sha256=previous_config_sha256,
        config_changed=previous_config_sha256 != current_config_sha256,
        records_previous=previous.records,
        records_current=current.records,
        keep_rate=_change("keep_rate", previous.keep_rate, current.keep_rate),
        language_tvd=lang_tvd,
        language_changes=lang_changes,
        source_tvd=total_variation(current.source_mix, previous.source_mix)
        if current.source_mix or previous.source_mix else None,
        removal_changes=removal,
        max_removal_rate_change=removal[0] if removal else None,
        signal_mean_changes=signal_changes,
        pii_changes=pii,
    )


__all__ = ["compute_drift", "total_variation"]
