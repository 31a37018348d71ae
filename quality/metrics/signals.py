"""Distributions of the per-document signals: statistics (exact counts, approximate quantiles) and histograms.

The report shows :data:`MAIN_SIGNALS` (those the documents have) over all and over curated documents;
gates may ask for the statistics of any other numeric column. All statistics are one aggregation, all
histograms one more.
"""
from __future__ import annotations

import math
from typing import Iterable

from pyspark.sql import Column
from pyspark.sql import functions as F

from schemas.report import Histogram, SignalStats, SignalSummary

from ..rounding import sig_round
from .tables import RunTables, is_numeric

#: Signals whose distributions the report always shows (when the column exists), in display order.
MAIN_SIGNALS: tuple[str, ...] = (
    "n_chars",
    "lang_score",
    "q_words",
    "q_mean_word_len",
    "q_symbol_ratio",
    "q_alpha_words",
    "q_distinct_stop_words",
    "q_dup_line_chars",
    "q_top_2gram",
    "q_c4_removed_lines",
    "pii_density",
)
HISTOGRAM_BINS = 20
QUANTILE_ACCURACY = 10_000
_INTEGRAL_TYPES = ("tinyint", "smallint", "int", "bigint")


def _stat_aggs(i: int, scope: str, s: str) -> list[Column]:
    """The aggregations of signal ``s`` over ``scope`` documents, aliased with suffix ``i``."""
    x = F.col(s).cast("double")
    if scope == "curated":
        x = F.when(F.col("_kept"), x)
        present = F.col("_kept")
    else:
        present = F.lit(True)
    return [
        F.count(x).alias(f"n{i}"),
        F.sum(F.when(present & F.col(s).isNull(), 1).otherwise(0)).alias(f"z{i}"),
        F.min(x).alias(f"lo{i}"),
        F.max(x).alias(f"hi{i}"),
        F.avg(x).alias(f"mu{i}"),
        F.percentile_approx(x, [0.5, 0.9, 0.99], QUANTILE_ACCURACY).alias(f"q{i}"),
    ]


def signal_stats(t: RunTables, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], SignalStats]:
    """Statistics of every ``(scope, signal)`` in ``wanted`` (one Spark job)."""
    if not wanted:
        return {}
    aggs = [a for i, (scope, s) in enumerate(wanted) for a in _stat_aggs(i, scope, s)]
    row = t.docs.agg(*aggs).collect()[0]
    stats: dict[tuple[str, str], SignalStats] = {}
    for i, (scope, s) in enumerate(wanted):
        q = row[f"q{i}"] or [None, None, None]
        stats[(scope, s)] = SignalStats(
            signal=s, scope=scope, count=int(row[f"n{i}"]), nulls=int(row[f"z{i}"] or 0),
            min=sig_round(row[f"lo{i}"]), max=sig_round(row[f"hi{i}"]), mean=sig_round(row[f"mu{i}"]),
            p50=sig_round(q[0]), p90=sig_round(q[1]), p99=sig_round(q[2]),
        )
    return stats


def _bin_plan(st: SignalStats, dtype: str) -> tuple[str, int, list, Column]:
    """How to bin one signal: scale, bin count, bin edges and the bin-index column (null for null values)."""
    lo, hi = float(st.min), float(st.max)
    integral = dtype.split("(")[0] in _INTEGRAL_TYPES
    x = F.col(st.signal).cast("double")
    if lo >= 0 and hi <= 1 and not integral:
        scale, a, b, n = "linear", 0.0, 1.0, HISTOGRAM_BINS
    elif integral and hi - lo < HISTOGRAM_BINS:
        scale, a, b, n = "linear", lo, hi + 1, int(hi - lo) + 1
    elif lo >= 0 and hi >= 1000 and hi > 50 * max(st.p50 or 0.0, 1.0):
        scale, a, b, n = "log", math.log10(1 + lo), math.log10(1 + hi), HISTOGRAM_BINS
        x = F.log10(F.lit(1.0) + x)
    else:
        scale, a, b, n = "linear", lo, hi, HISTOGRAM_BINS
    if b <= a:
        b, n = a + 1.0, 1
    width = (b - a) / n
    idx = F.least(F.greatest(F.floor((x - F.lit(a)) / F.lit(width)), F.lit(0)), F.lit(n - 1)).cast("int")
    edges_t = [a + width * k for k in range(n + 1)]
    edges = [sig_round(10 ** e - 1) if scale == "log" else sig_round(e) for e in edges_t]
    if scale == "log":
        edges[0], edges[-1] = sig_round(lo), sig_round(hi)
    return scale, n, edges, F.when(F.col(st.signal).isNotNull(), idx)


def histograms(t: RunTables, stats: list[SignalStats]) -> list[Histogram]:
    """Kept/removed histograms of the given signals (one Spark job for all of them)."""
    if not stats:
        return []
    dtypes = dict(t.docs.dtypes)
    plans = [(st.signal, *_bin_plan(st, dtypes[st.signal])) for st in stats]
    arr = F.array(*[F.struct(F.lit(i).alias("s"), e.alias("b")) for i, (_, _, _, _, e) in enumerate(plans)])
    rows = (
        t.docs.select("_kept", F.explode(arr).alias("h"))
        .where(F.col("h.b").isNotNull())
        .groupBy(F.col("h.s").alias("s"), F.col("h.b").alias("b"), "_kept")
        .count()
        .collect()
    )
    out = []
    for i, (name, scale, n, edges, _) in enumerate(plans):
        kept, removed = [0] * n, [0] * n
        for r in rows:
            if r["s"] == i:
                (kept if r["_kept"] else removed)[r["b"]] += r["count"]
        out.append(Histogram(signal=name, scale=scale, edges=edges, kept=kept, removed=removed))
    return out


def signals(t: RunTables,
            gate_signals: Iterable[tuple[str, str]]) -> tuple[SignalSummary, dict[str, SignalStats]]:
    """The report's ``signals`` section, and the statistics gates asked for keyed ``"<scope>:<signal>"``."""
    main = [s for s in MAIN_SIGNALS if s in t.columns and is_numeric(t.docs, s)]
    wanted = [(scope, s) for s in main for scope in ("all", "curated")]
    for scope, s in gate_signals:
        if s in t.columns and is_numeric(t.docs, s) and (scope, s) not in wanted:
            wanted.append((scope, s))
    stats = signal_stats(t, wanted)
    gate_stats = {f"{scope}:{s}": st for (scope, s), st in stats.items()}
    hists = histograms(t, [stats[("all", s)] for s in main if stats[("all", s)].count])
    summary = SignalSummary(stats=[stats[("all", s)] for s in main] + [stats[("curated", s)] for s in main],
                            histograms=hists)
    return summary, gate_stats


__all__ = ["HISTOGRAM_BINS", "MAIN_SIGNALS", "QUANTILE_ACCURACY", "histograms", "signal_stats", "signals"]
