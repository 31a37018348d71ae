"""Every data-derived figure of one run, assembled from the section modules of :mod:`quality.metrics`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from pyspark.sql import SparkSession

from schemas.manifest import RunManifest
from schemas.report import (
    Accounting,
    BiasSummary,
    ContaminationSummary,
    DriftBasis,
    DuplicateSummary,
    Example,
    FunnelStep,
    InputSummary,
    LanguageSummary,
    OutputSummary,
    PiiSummary,
    QuarantineExample,
    ReasonCount,
    SignalStats,
    SignalSummary,
    SourceSummary,
)

from ..rounding import rate
from ..scrub import DEFAULT_MAX_CHARS
from .bias import bias
from .contamination import contamination
from .counts import Counts, count_rows, inputs_and_sources, reason_lists
from .duplicates import duplicates
from .examples import examples
from .funnel import funnel
from .languages import languages
from .outputs import output_summary, read_shards
from .pii import pii
from .signals import signals
from .tables import load_tables, read_manifest


@dataclass
class RunMetrics:
    """Every data-derived part of a report (see :class:`schemas.report.Report` for the meanings)."""

    stages_run: list[dict[str, Any]]
    stages_not_run: list[str]
    inputs: list[InputSummary]
    sources: dict[str, SourceSummary]
    outputs: OutputSummary
    accounting: Accounting
    funnel: list[FunnelStep]
    removals: list[ReasonCount]
    quarantine: list[ReasonCount]
    examples: dict[str, list[Example]]
    quarantine_examples: dict[str, list[QuarantineExample]]
    languages: Optional[LanguageSummary]
    signals: SignalSummary
    duplicates: DuplicateSummary
    pii: Optional[PiiSummary]
    bias: Optional[BiasSummary]
    contamination: Optional[ContaminationSummary]
    drift_basis: DriftBasis
    #: Statistics of every (scope, signal) asked for by a gate, keyed ``"<scope>:<signal>"``.
    gate_signal_stats: dict[str, SignalStats] = field(default_factory=dict)


def drift_basis(c: Counts, langs: Optional[LanguageSummary], pii_summary: Optional[PiiSummary],
                signal_summary: SignalSummary, sources: dict[str, SourceSummary]) -> DriftBasis:
    """The figures a later run's drift is measured against."""
    removal = {r: rate(n, c.records) or 0.0 for r, n in c.rejected_by_reason.items()}
    removal.update({r: rate(n, c.records) or 0.0 for r, n in c.quarantined_by_reason.items()})
    cur_total = sum(s.curated for s in sources.values())
    return DriftBasis(
        records=c.records, keep_rate=rate(c.kept, c.records), quarantine_rate=rate(c.quarantined, c.records),
        removal_rates=dict(sorted(removal.items())),
        language_mix=dict(sorted(langs.mix.items())) if langs else None,
        source_mix={k: rate(s.curated, cur_total) or 0.0 for k, s in sorted(sources.items()) if s.curated},
        residual_pii_rate=pii_summary.residual_rate if pii_summary else None,
        pii_doc_rate=pii_summary.pii_doc_rate if pii_summary else None,
        signal_means={s.signal: s.mean for s in signal_summary.stats if s.scope == "curated" and s.mean is not None},
    )


def compute_metrics(run_dir: Path, spark: SparkSession, manifest: Optional[RunManifest] = None,
                    gate_signals: Iterable[tuple[str, str]] = (), examples_per_reason: int = 3,
                    example_chars: int = DEFAULT_MAX_CHARS) -> RunMetrics:
    """Every data-derived figure of the run in ``run_dir``.

    Args:
        run_dir: a run directory (or the runner's staging directory) with run.json.
        spark: the SparkSession to aggregate with.
        manifest: the run's manifest (read from run.json when None).
        gate_signals: extra ``(scope, column)`` pairs whose statistics gates need.
        examples_per_reason: removed documents shown per reason (0: none).
        example_chars: length of each scrubbed preview.
    """
    run_dir = Path(run_dir)
    manifest = manifest or read_manifest(run_dir)
    t = load_tables(run_dir, spark, manifest)
    try:
        c = count_rows(t)
        shards = read_shards(t)
        inputs, sources, accounting = inputs_and_sources(t, c)
        steps, stages_run, not_run = funnel(t, c, shards)
        removals, quarantine = reason_lists(c)
        removal_ex, quarantine_ex = examples(t, c.removed, c.quarantined, examples_per_reason, example_chars)
        lang_summary = languages(t)
        signal_summary, gate_stats = signals(t, gate_signals)
        dup_summary = duplicates(t, c)
        pii_summary = pii(t, c)
        bias_summary = bias(t)
        contamination_summary = contamination(t)
        outputs = output_summary(t, c, shards)
    finally:
        t.close()
    return RunMetrics(
        stages_run=stages_run, stages_not_run=not_run, inputs=inputs, sources=sources, outputs=outputs,
        accounting=accounting, funnel=steps, removals=removals, quarantine=quarantine, examples=removal_ex,
        quarantine_examples=quarantine_ex, languages=lang_summary, signals=signal_summary, duplicates=dup_summary,
        pii=pii_summary, bias=bias_summary, contamination=contamination_summary,
        gate_signal_stats=gate_stats,
        drift_basis=drift_basis(c, lang_summary, pii_summary, signal_summary, sources),
    )


__all__ = ["RunMetrics", "compute_metrics", "drift_basis"]
