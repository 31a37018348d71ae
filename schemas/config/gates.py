"""Configuration section ``gates``: declarative quality gates a run must pass before it is published.

Every gate is optional: a threshold left at ``null`` is disabled, and ``enabled: false`` switches them all
off. Each enabled gate's value, threshold and verdict is written to ``report/report.json`` and shown in
``report.html``; ``corpusforge run`` and ``corpusforge report`` exit with code 3 when one fails, so a
scheduler can stop before publishing. Rates are shares in [0, 1] (0.05 = 5 %). See docs/report.md.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from .base import Section

#: Statistics a signal bound may constrain (quantiles are approximate, see docs/report.md).
SIGNAL_STATS = ("mean", "min", "max", "p50", "p90", "p99", "null_rate")


class SignalBound(Section):
    """A bound on one statistic of one numeric column of the run's documents (e.g. ``q_words``)."""

    signal: str = Field(description="Column name, e.g. q_words, lang_score, n_chars, pii_density.")
    stat: Literal["mean", "min", "max", "p50", "p90", "p99", "null_rate"] = Field(
        "mean", description="Statistic of the column that is bounded."
    )
    scope: Literal["curated", "all"] = Field(
        "curated", description="curated: the kept documents; all: kept and removed documents."
    )
    min: Optional[float] = Field(None, description="The statistic must be >= this (null: no lower bound).")
    max: Optional[float] = Field(None, description="The statistic must be <= this (null: no upper bound).")

    @model_validator(mode="after")
    def _some_bound(self) -> "SignalBound":
        if self.min is None and self.max is None:
            raise ValueError(f"gates.signals entry for {self.signal!r}: set min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"gates.signals entry for {self.signal!r}: min ({self.min}) is above max ({self.max})")
        return self

    @property
    def name(self) -> str:
        """The gate's name in reports: ``signal:<scope>:<signal>:<stat>``."""
        return f"signal:{self.scope}:{self.signal}:{self.stat}"


class GatesSection(Section):
    """Quality gates: thresholds on the run's figures, checked when the report is written.

    ``accounting`` (records in = curated + rejected + quarantined, from the written data) is always
    checked while the gates are enabled. Drift gates compare with the previous run given to
    ``corpusforge report --previous`` (or by the scheduler); without one they are ``skipped`` unless
    ``on_missing_previous: fail``. A gate whose figure is absent (e.g. a residual PII gate when the pii
    stage did not run) fails unless ``on_missing: skip``.
    """

    enabled: bool = Field(True, description="false: no gate is evaluated (the report says so).")
    min_keep_rate: Optional[float] = Field(
        None, ge=0.0, le=1.0, description="Curated documents / input records must be >= this."
    )
    max_quarantine_rate: Optional[float] = Field(
        None, ge=0.0, le=1.0, description="Quarantined records / input records must be <= this."
    )
    max_residual_pii_rate: Optional[float] = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Share of curated documents in which the residual PII patterns still find something, "
        "after scrubbing, must be <= this (needs the pii stage).",
    )
    max_language_drift: Optional[float] = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Total variation distance between this run's and the previous run's curated language "
        "mix (0 = identical, 1 = disjoint) must be <= this.",
    )
    max_removal_rate_drift: Optional[float] = Field(
        None,
        ge=0.0,
        le=1.0,
        description="For every removal or quarantine reason, and the keep rate, the absolute change of its "
        "rate (per input record) against the previous run must be <= this.",
    )
    max_dup_cluster_share: Optional[float] = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Giant duplicate cluster guard: the largest near-duplicate cluster's share of the "
        "documents near dedup saw must be <= this (needs the near_dedup stage).",
    )
    max_dup_cluster_size: Optional[int] = Field(
        None, ge=1, description="Giant duplicate cluster guard: no near-duplicate cluster may hold more documents."
    )
    signals: list[SignalBound] = Field(
        default_factory=list, description="Bounds on statistics of any numeric document column."
    )
    on_missing: Literal["fail", "skip"] = Field(
        "fail", description="Verdict of a gate whose figure the run does not have (stage off, column absent)."
    )
    on_missing_previous: Literal["skip", "fail"] = Field(
        "skip", description="Verdict of a drift gate when no previous run is given."
    )

    @model_validator(mode="after")
    def _unique_signal_gates(self) -> "GatesSection":
        names = [s.name for s in self.signals]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"gates.signals lists the same signal/stat/scope twice: {dup}; merge the bounds")
        return self


__all__ = ["GatesSection", "SIGNAL_STATS", "SignalBound"]
