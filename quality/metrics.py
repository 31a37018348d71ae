"""Data-quality figures of one run, computed from its written data with Spark aggregations.

Everything here reads what the run wrote (``curated/``, ``rejected/``, ``quarantine/``, ``shards/``,
``stages/``) plus ``run.json`` for what is not data (records the readers saw, configuration, versions).
Counts are exact: they are ``count``/``sum`` aggregations over the Parquet tables, never accumulators.
Quantiles are ``percentile_approx`` (accuracy 10 000) and flagged as approximate.

Columns of optional stages are looked up by name, so the figures of a stage appear exactly when its
columns are in the data (``lang`` -> languages, ``dup_cluster_id`` -> near duplicates, ``pii_counts`` ->
PII, ``bias_flags`` -> bias). Only small, content-free values reach the driver, except the few example
texts, which are scrubbed (:mod:`quality.scrub`) before they go anywhere.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from schemas.config import STAGE_SECTIONS
from schemas.manifest import RunManifest
from schemas.report import (
    Accounting,
    BiasSummary,
    ClusterSizeBin,
    DriftBasis,
    DuplicateSummary,
    Example,
    ExactDupSummary,
    Histogram,
    InputSummary,
    LanguageRow,
    LanguageSummary,
    LargestCluster,
    NearDupSummary,
    OutputSummary,
    PiiSummary,
    QuarantineExample,
    ReasonCount,
    SignalStats,
    SignalSummary,
    SourceSummary,
    FunnelStep,
)

from .scrub import DEFAULT_MAX_CHARS, scrub_example

log = logging.getLogger(__name__)

#: Signals whose distributions the report always shows (when the column exists), in display order.
MAIN_SIGNALS: tuple[str, ...] = (
    "n_chars",
    "lang_score",
    "q_words",
    "q_mean_word_len",
    "q_symbol_ratio",
    "q_alpha_words",
    "q_stop_words",
    "q_dup_line_chars",
    "q_top_2gram",
    "q_c4_removed_lines",
    "pii_density",
)
HISTOGRAM_BINS = 20
TOP_CLUSTERS = 10
QUANTILE_ACCURACY = 10_000
#: Columns never read into the cached narrow projection (texts and free-form fields).
_WIDE_COLUMNS = ("text", "metadata", "url", "source_id")
_SHAPE_ONLY = re.compile(r"^[xX9 ?!-/:-@\[-`{-~]*$")
_NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")


def sig_round(x: Optional[float], digits: int = 6) -> Optional[float]:
    """``x`` rounded to ``digits`` significant digits (None and non-finite values become None).

    Sums of floats depend on the order Spark adds them in; rounding keeps reports byte-identical across
    partitionings.
    """
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def rate(num: int, den: int) -> Optional[float]:
    """``num / den`` rounded, or None when ``den`` is 0."""
    return sig_round(num / den) if den else None


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
    drift_basis: DriftBasis
    #: Statistics of every (scope, signal) asked for by a gate, keyed ``"<scope>:<signal>"``.
    gate_signal_stats: dict[str, SignalStats] = field(default_factory=dict)


def read_manifest(run_dir: Path) -> RunManifest:
    """The run's ``run.json``; raises FileNotFoundError / ValueError that say how to fix the problem."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path.name} not found in the run directory: it is not a finished corpusforge run (run.json is "
            f"written last); point at a run's output directory or re-run the pipeline"
        )
    try:
        return RunManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"run.json of the run is not a valid run manifest ({str(exc).splitlines()[0]})") from None


def _read_table(spark, d: Path):
    """The Parquet table in ``d``, or None when the folder is absent or holds no Parquet file."""
    if not d.is_dir() or not any(d.glob("*.parquet")):
        return None
    return spark.read.parquet(str(d))


def _is_numeric(df, col: str) -> bool:
    t = dict(df.dtypes).get(col)
    return t is not None and t.split("(")[0] in _NUMERIC_TYPES


def _stage_of(reason: str) -> str:
    return reason.split(":", 1)[0] if ":" in reason else reason


class _Collector:
    """Computes the metrics of one run; one instance per call of :func:`compute_metrics`."""

    def __init__(self, run_dir: Path, spark, manifest: RunManifest, signals: Iterable[tuple[str, str]],
                 examples_per_reason: int, example_chars: int) -> None:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        self.F = F
        self.run_dir = Path(run_dir)
        self.spark = spark
        self.m = manifest
        self.examples_per_reason = examples_per_reason
        self.example_chars = example_chars
        self.gate_signals = list(signals)
        self.curated = _read_table(spark, self.run_dir / "curated")
        self.rejected = _read_table(spark, self.run_dir / "rejected")
        self.quarantine_df = _read_table(spark, self.run_dir / "quarantine")
        if self.curated is None and self.rejected is None:
            raise FileNotFoundError(
                "the run has neither curated/ nor rejected/ Parquet files: the run directory is incomplete; "
                "re-run the pipeline"
            )
        parts = []
        if self.curated is not None:
            parts.append(self.curated.withColumn("_kept", F.lit(True)).withColumn("drop_reason", F.lit(None).cast("string")))
        if self.rejected is not None:
            parts.append(self.rejected.withColumn("_kept", F.lit(False)))
        docs = parts[0]
        for p in parts[1:]:
            docs = docs.unionByName(p, allowMissingColumns=True)
        self.docs_wide = docs
        self.columns = set(docs.columns)
        narrow = [c for c in docs.columns if c not in _WIDE_COLUMNS]
        self.docs = docs.select(*narrow).persist(StorageLevel.MEMORY_AND_DISK)
        self.file_names = {i.path: i.rel_path for i in manifest.inputs}

    def close(self) -> None:
        self.docs.unpersist()

    # ------------------------------------------------------------------ counts and accounting
    def counts(self) -> None:
        F = self.F
        rows = (
            self.docs.groupBy("source", "source_file", "_kept", "drop_reason")
            .agg(F.count(F.lit(1)).alias("n"), F.sum("n_bytes").alias("b"), F.sum("n_chars").alias("c"))
            .collect()
        )
        self.doc_rows = [r.asDict() for r in rows]
        q_rows = []
        if self.quarantine_df is not None:
            q_rows = [r.asDict() for r in self.quarantine_df.groupBy("source", "source_file", "reason").count().collect()]
        self.q_rows = q_rows

        self.kept = sum(r["n"] for r in self.doc_rows if r["_kept"])
        self.removed = sum(r["n"] for r in self.doc_rows if not r["_kept"])
        self.quarantined = sum(r["count"] for r in q_rows)
        self.curated_bytes = sum(int(r["b"] or 0) for r in self.doc_rows if r["_kept"])
        self.curated_chars = sum(int(r["c"] or 0) for r in self.doc_rows if r["_kept"])
        self.rejected_by_reason: dict[str, int] = {}
        for r in self.doc_rows:
            if not r["_kept"]:
                key = r["drop_reason"] or "(none)"
                self.rejected_by_reason[key] = self.rejected_by_reason.get(key, 0) + r["n"]
        self.quarantined_by_reason: dict[str, int] = {}
        for r in q_rows:
            self.quarantined_by_reason[r["reason"]] = self.quarantined_by_reason.get(r["reason"], 0) + r["count"]
        self.records = sum(i.records for i in self.m.inputs)

    def inputs_and_sources(self) -> tuple[list[InputSummary], dict[str, SourceSummary], Accounting]:
        per_file: dict[str, dict[str, int]] = {}
        per_source: dict[str, dict[str, Any]] = {}

        def src(name: str) -> dict[str, Any]:
            return per_source.setdefault(name, {"records": 0, "curated": 0, "rejected": 0, "quarantined": 0,
                                                "rejected_by_reason": {}, "quarantined_by_reason": {}})

        for r in self.doc_rows:
            key = "curated" if r["_kept"] else "rejected"
            pf = per_file.setdefault(r["source_file"], {"curated": 0, "rejected": 0, "quarantined": 0})
            pf[key] += r["n"]
            s = src(r["source"])
            s[key] += r["n"]
            if not r["_kept"]:
                reason = r["drop_reason"] or "(none)"
                s["rejected_by_reason"][reason] = s["rejected_by_reason"].get(reason, 0) + r["n"]
        for r in self.q_rows:
            pf = per_file.setdefault(r["source_file"], {"curated": 0, "rejected": 0, "quarantined": 0})
            pf["quarantined"] += r["count"]
            s = src(r["source"])
            s["quarantined"] += r["count"]
            s["quarantined_by_reason"][r["reason"]] = s["quarantined_by_reason"].get(r["reason"], 0) + r["count"]

        inputs = []
        unbalanced_files = []
        matches = (self.kept, self.removed, self.quarantined) == (
            self.m.counts.curated, self.m.counts.rejected, self.m.counts.quarantined)
        for i in self.m.inputs:
            pf = per_file.get(i.path, {"curated": 0, "rejected": 0, "quarantined": 0})
            src(i.source)["records"] += i.records
            inputs.append(InputSummary(
                rel_path=i.rel_path, source=i.source, format=i.format, compression=i.compression, bytes=i.bytes,
                sha256=i.sha256, records=i.records, curated=pf["curated"], rejected=pf["rejected"],
                quarantined=pf["quarantined"], skipped=dict(sorted(i.skipped.items())),
            ))
            if i.records != pf["curated"] + pf["rejected"] + pf["quarantined"]:
                unbalanced_files.append(i.rel_path)
            if (i.curated, i.rejected, i.quarantined) != (pf["curated"], pf["rejected"], pf["quarantined"]):
                matches = False
        unknown = sorted(set(per_file) - set(self.file_names))
        if unknown:
            # Rows whose file is not an input of run.json: the run directory was altered.
            unbalanced_files.append(f"({len(unknown)} file(s) not listed in run.json)")
        sources = {}
        for name, s in sorted(per_source.items()):
            sources[name] = SourceSummary(
                records=s["records"], curated=s["curated"], rejected=s["rejected"], quarantined=s["quarantined"],
                keep_rate=rate(s["curated"], s["records"]),
                rejected_by_reason=dict(sorted(s["rejected_by_reason"].items())),
                quarantined_by_reason=dict(sorted(s["quarantined_by_reason"].items())),
            )
        unbalanced_sources = [n for n, s in sources.items() if s.records != s.curated + s.rejected + s.quarantined]
        accounting = Accounting(
            records_in=self.records, kept=self.kept, removed=self.removed, quarantined=self.quarantined,
            balanced=self.records == self.kept + self.removed + self.quarantined and not unbalanced_sources
            and not unbalanced_files,
            unbalanced_sources=unbalanced_sources, unbalanced_files=unbalanced_files, matches_manifest=matches,
        )
        return inputs, sources, accounting

    # ------------------------------------------------------------------ funnel
    def funnel(self) -> tuple[list[FunnelStep], list[dict[str, Any]], list[str]]:
        F = self.F
        stages = [s for s in self.m.stages if s.get("name") != "tokenize"]
        tag_stages = [s["name"] for s in stages if s.get("mode") == "tag" and f"{s['name']}_reason" in self.columns]
        flagged: dict[str, int] = {}
        if tag_stages:
            aggs = []
            for name in tag_stages:
                col = F.col(f"{name}_reason")
                own = F.coalesce(F.col("drop_reason").startswith(f"{name}:"), F.lit(False))
                aggs.append(F.sum(F.when(col.isNotNull() & ~own, 1).otherwise(0)).alias(name))
            row = self.docs.agg(*aggs).collect()[0]
            flagged = {n: int(row[n] or 0) for n in tag_stages}

        steps = [FunnelStep(step="ingest", mode="read", docs_in=self.records, removed=self.quarantined,
                            docs_out=self.records - self.quarantined,
                            removed_by_reason=dict(sorted(self.quarantined_by_reason.items())))]
        remaining = dict(self.rejected_by_reason)
        current = self.records - self.quarantined
        order = [s["name"] for s in stages]
        for name in sorted({_stage_of(r) for r in remaining} - set(order)):
            order.append(name)  # reasons of a stage run.json does not list (should not happen)
        modes = {s["name"]: s.get("mode", "drop") for s in stages}
        for name in order:
            mine = {r: c for r, c in remaining.items() if _stage_of(r) == name}
            removed = sum(mine.values())
            steps.append(FunnelStep(step=name, mode=modes.get(name, "drop"), docs_in=current, removed=removed,
                                    docs_out=current - removed, flagged=flagged.get(name, 0),
                                    removed_by_reason=dict(sorted(mine.items()))))
            current -= removed
        if self.m.config.get("tokenize", {}).get("enabled") and self.shard_rows is not None:
            steps.append(FunnelStep(step="tokenize", mode="write", docs_in=self.kept,
                                    removed=self.kept - self.shard_rows, docs_out=self.shard_rows))
        stages_run = [{"name": s["name"], "mode": s.get("mode"), "seconds": s.get("seconds")} for s in self.m.stages]
        ran = {s["name"] for s in self.m.stages} | {"ingest"}
        not_run = [n for n in STAGE_SECTIONS if n not in ran]
        return steps, stages_run, not_run

    def reason_lists(self) -> tuple[list[ReasonCount], list[ReasonCount]]:
        def lst(d: dict[str, int]) -> list[ReasonCount]:
            return [ReasonCount(reason=r, stage=_stage_of(r), count=c, rate=rate(c, self.records) or 0.0)
                    for r, c in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))]

        return lst(self.rejected_by_reason), lst(self.quarantined_by_reason)

    # ------------------------------------------------------------------ examples
    def _first_n(self, df, group: str, keys: list[str], n: int):
        """The ``n`` smallest ``keys`` tuples per ``group`` value, as a lazy DataFrame (group, *keys).

        A ``row_number() <= n`` window over the narrow projection: Spark plans it with a partial
        per-partition group limit before the shuffle (WindowGroupLimit), so at most ``n`` rows per group
        and input partition are shuffled and sorted, however many rows a reason has. One job, computed
        as part of the query that uses it.
        """
        from pyspark.sql import Window

        F = self.F
        w = Window.partitionBy(group).orderBy(*keys)
        return (
            df.select(group, *keys)
            .withColumn("_rn", F.row_number().over(w))
            .where(F.col("_rn") <= n)
            .drop("_rn")
        )

    def examples(self) -> tuple[dict[str, list[Example]], dict[str, list[QuarantineExample]]]:
        F = self.F
        out: dict[str, list[Example]] = {}
        n = self.examples_per_reason
        if n > 0 and self.rejected is not None and self.removed:
            chosen = self._first_n(self.rejected.where(F.col("drop_reason").isNotNull()), "drop_reason", ["doc_id"], n)
            lang = F.col("lang") if "lang" in self.rejected.columns else F.lit(None).cast("string")
            rows = (
                self.rejected.join(F.broadcast(chosen), ["drop_reason", "doc_id"])
                .select(
                    "drop_reason", "doc_id", "source", lang.alias("lang"), "n_chars",
                    # Only a bounded prefix of the text ever reaches the driver.
                    F.substring("text", 1, 4 * self.example_chars).alias("head"),
                )
                .collect()
            )
            for r in sorted(rows, key=lambda r: (r["drop_reason"] or "", r["doc_id"])):
                out.setdefault(r["drop_reason"] or "(none)", []).append(Example(
                    doc_id=r["doc_id"], source=r["source"], lang=r["lang"], n_chars=int(r["n_chars"] or 0),
                    text=scrub_example(r["head"] or "", self.example_chars),
                ))
        qout: dict[str, list[QuarantineExample]] = {}
        if n > 0 and self.quarantine_df is not None and self.quarantined:
            chosen = self._first_n(self.quarantine_df, "reason", ["source_file", "source_offset"], n)
            rows = (
                self.quarantine_df.join(F.broadcast(chosen), ["reason", "source_file", "source_offset"])
                .select("reason", "source_file", "source_offset", "offset_unit", "raw_bytes", "raw_prefix")
                .collect()
            )
            for r in sorted(rows, key=lambda r: (r["reason"], r["source_file"], r["source_offset"])):
                # raw_prefix is a content-free shape (pipelines.text.scrub.shape_prefix: x, X, 9, space,
                # ASCII punctuation, ?). Anything else in it was not written by that function: scrub it.
                prefix = r["raw_prefix"]
                shape = None
                if prefix:
                    shape = prefix if _SHAPE_ONLY.match(prefix) else scrub_example(prefix, 96)
                qout.setdefault(r["reason"], []).append(QuarantineExample(
                    file=self.file_names.get(r["source_file"], "(not an input of run.json)"),
                    offset=int(r["source_offset"]), offset_unit=r["offset_unit"],
                    raw_bytes=None if r["raw_bytes"] is None else int(r["raw_bytes"]), shape=shape,
                ))
        return out, qout

    # ------------------------------------------------------------------ outputs and shards
    def shards(self) -> None:
        self.shard_index: Optional[dict] = None
        self.shard_rows: Optional[int] = None
        self.tokens_by_lang: dict[str, int] = {}
        self.tokens_by_source: dict[str, int] = {}
        idx_path = self.run_dir / "shards" / "index.json"
        if not idx_path.is_file():
            return
        from storage.shards import ShardIndex

        index = ShardIndex.from_file(idx_path)
        self.shard_index = index.model_dump(mode="json")
        self.shard_rows = index.total_rows
        files = [str(self.run_dir / "shards" / s.path) for s in index.shards]
        if files:
            F = self.F
            df = self.spark.read.parquet(*files)
            lang = F.coalesce(F.col("lang"), F.lit("und")) if "lang" in df.columns else F.lit("und")
            for r in df.groupBy(F.col("source"), lang.alias("lang")).agg(F.sum("n_tokens").alias("t")).collect():
                t = int(r["t"] or 0)
                self.tokens_by_lang[r["lang"]] = self.tokens_by_lang.get(r["lang"], 0) + t
                self.tokens_by_source[r["source"]] = self.tokens_by_source.get(r["source"], 0) + t

    def outputs(self) -> OutputSummary:
        files = {}
        for name in ("curated", "rejected", "quarantine"):
            d = self.run_dir / name
            files[name] = len(list(d.glob("*.parquet"))) if d.is_dir() else 0
        idx = self.shard_index
        return OutputSummary(
            curated_docs=self.kept, curated_bytes=self.curated_bytes, curated_chars=self.curated_chars,
            rejected_docs=self.removed, quarantined_records=self.quarantined, files=files,
            tokens=idx["total_tokens"] if idx else None, shards=len(idx["shards"]) if idx else None,
            shard_bytes=sum(s["bytes"] for s in idx["shards"]) if idx else None,
            shard_rows=idx["total_rows"] if idx else None, dataset_version=idx["dataset_version"] if idx else None,
            tokens_by_lang=dict(sorted(self.tokens_by_lang.items())),
            tokens_by_source=dict(sorted(self.tokens_by_source.items())),
        )

    # ------------------------------------------------------------------ languages
    def languages(self) -> Optional[LanguageSummary]:
        if "lang" not in self.columns:
            return None
        F = self.F
        rows = (
            self.docs.where(F.col("lang").isNotNull() | F.col("_kept"))
            .groupBy(F.coalesce(F.col("lang"), F.lit("und")).alias("lang"), "_kept")
            .agg(F.count(F.lit(1)).alias("n"), F.sum("n_chars").alias("c"))
            .collect()
        )
        per: dict[str, dict[str, int]] = {}
        for r in rows:
            p = per.setdefault(r["lang"], {"cur": 0, "chars": 0, "rej": 0})
            if r["_kept"]:
                p["cur"] += r["n"]
                p["chars"] += int(r["c"] or 0)
            else:
                p["rej"] += r["n"]
        cur_total = sum(p["cur"] for p in per.values())
        out = [LanguageRow(lang=k, curated_docs=p["cur"], curated_share=rate(p["cur"], cur_total) or 0.0,
                           curated_chars=p["chars"], rejected_docs=p["rej"])
               for k, p in sorted(per.items(), key=lambda kv: (-kv[1]["cur"], -kv[1]["rej"], kv[0]))]
        return LanguageSummary(
            rows=out, evaluated_docs=sum(p["cur"] + p["rej"] for p in per.values()),
            mix={r.lang: r.curated_share for r in out if r.curated_docs},
        )

    # ------------------------------------------------------------------ signals
    def signals(self) -> SignalSummary:
        F = self.F
        main = [s for s in MAIN_SIGNALS if s in self.columns and _is_numeric(self.docs, s)]
        wanted = [(scope, s) for s in main for scope in ("all", "curated")]
        for scope, s in self.gate_signals:
            if s in self.columns and _is_numeric(self.docs, s) and (scope, s) not in wanted:
                wanted.append((scope, s))
        stats: dict[tuple[str, str], SignalStats] = {}
        if wanted:
            aggs = []
            for i, (scope, s) in enumerate(wanted):
                x = F.col(s).cast("double")
                if scope == "curated":
                    x = F.when(F.col("_kept"), x)
                    present = F.col("_kept")
                else:
                    present = F.lit(True)
                aggs += [
                    F.count(x).alias(f"n{i}"),
                    F.sum(F.when(present & F.col(s).isNull(), 1).otherwise(0)).alias(f"z{i}"),
                    F.min(x).alias(f"lo{i}"),
                    F.max(x).alias(f"hi{i}"),
                    F.avg(x).alias(f"mu{i}"),
                    F.percentile_approx(x, [0.5, 0.9, 0.99], QUANTILE_ACCURACY).alias(f"q{i}"),
                ]
            row = self.docs.agg(*aggs).collect()[0]
            for i, (scope, s) in enumerate(wanted):
                q = row[f"q{i}"] or [None, None, None]
                stats[(scope, s)] = SignalStats(
                    signal=s, scope=scope, count=int(row[f"n{i}"]), nulls=int(row[f"z{i}"] or 0),
                    min=sig_round(row[f"lo{i}"]), max=sig_round(row[f"hi{i}"]), mean=sig_round(row[f"mu{i}"]),
                    p50=sig_round(q[0]), p90=sig_round(q[1]), p99=sig_round(q[2]),
                )
        self.gate_stats = {f"{scope}:{s}": st for (scope, s), st in stats.items()}
        histograms = self._histograms([stats[("all", s)] for s in main if stats[("all", s)].count])
        return SignalSummary(stats=[stats[("all", s)] for s in main] + [stats[("curated", s)] for s in main],
                             histograms=histograms)

    def _histograms(self, stats: list[SignalStats]) -> list[Histogram]:
        F = self.F
        if not stats:
            return []
        plans = []
        for st in stats:
            lo, hi = float(st.min), float(st.max)
            integral = dict(self.docs.dtypes)[st.signal].split("(")[0] in ("tinyint", "smallint", "int", "bigint")
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
            plans.append((st.signal, scale, n, edges, F.when(F.col(st.signal).isNotNull(), idx)))
        arr = F.array(*[F.struct(F.lit(i).alias("s"), e.alias("b")) for i, (_, _, _, _, e) in enumerate(plans)])
        rows = (
            self.docs.select("_kept", F.explode(arr).alias("h"))
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

    # ------------------------------------------------------------------ duplicates
    def duplicates(self) -> DuplicateSummary:
        F = self.F
        exact = near = None
        if "exact_dup_count" in self.columns and "exact_dup_of" in self.columns:
            survivors = self.docs.where((F.col("exact_dup_count") > 1) & F.col("exact_dup_of").isNull())
            sizes = survivors.groupBy("exact_dup_count").count().collect()
            top = survivors.orderBy(F.desc("exact_dup_count"), "doc_id").select(
                "doc_id", "exact_dup_count", "source").limit(TOP_CLUSTERS).collect()
            removed = self.rejected_by_reason.get("exact_dedup:duplicate", 0)
            bins = sorted((int(r["exact_dup_count"]), int(r["count"])) for r in sizes)
            exact = ExactDupSummary(
                groups=sum(c for _, c in bins), documents_in_groups=sum(s * c for s, c in bins),
                duplicates_removed=removed,
                group_sizes=[ClusterSizeBin(size=s, clusters=c, documents=s * c) for s, c in bins],
                largest_groups=[LargestCluster(cluster_id=r["doc_id"], size=int(r["exact_dup_count"]),
                                               removed=int(r["exact_dup_count"]) - 1) for r in top],
            )
        if "dup_cluster_id" in self.columns:
            members = self.docs.where(F.col("dup_cluster_id").isNotNull())
            is_dup = F.coalesce(F.col("drop_reason") == F.lit("near_dedup:duplicate"), F.lit(False))
            giant = F.col("dup_giant_cluster") if "dup_giant_cluster" in self.columns else F.lit(False)
            clusters = members.groupBy("dup_cluster_id").agg(
                F.count(F.lit(1)).alias("size"),
                F.sum(F.when(is_dup, 1).otherwise(0)).alias("removed"),
                F.max(F.coalesce(giant, F.lit(False)).cast("int")).alias("giant"),
            )
            hist = clusters.groupBy("size").agg(
                F.count(F.lit(1)).alias("clusters"), F.sum("giant").alias("giant")).collect()
            evaluated = sum(int(r["size"]) * int(r["clusters"]) for r in hist)
            multi = sorted((int(r["size"]), int(r["clusters"])) for r in hist if r["size"] > 1)
            top = clusters.where(F.col("size") > 1).orderBy(F.desc("size"), "dup_cluster_id").limit(TOP_CLUSTERS).collect()
            mix: dict[str, dict[str, int]] = {}
            if top:
                ids = [r["dup_cluster_id"] for r in top]
                for r in members.where(F.col("dup_cluster_id").isin(ids)).groupBy("dup_cluster_id", "source").count().collect():
                    mix.setdefault(r["dup_cluster_id"], {})[r["source"]] = int(r["count"])
            largest = max((s for s, _ in multi), default=1 if evaluated else 0)
            params = (self.m.stage_info.get("near_dedup") or {}).get("params") or {}
            near = NearDupSummary(
                evaluated_docs=evaluated, clusters=sum(c for _, c in multi),
                documents_in_clusters=sum(s * c for s, c in multi),
                duplicates_removed=self.rejected_by_reason.get("near_dedup:duplicate", 0),
                largest_cluster=largest, largest_cluster_share=rate(largest, evaluated),
                giant_clusters=sum(int(r["giant"] or 0) for r in hist),
                clusters_by_size=[ClusterSizeBin(size=s, clusters=c, documents=s * c) for s, c in multi],
                largest_clusters=[LargestCluster(cluster_id=r["dup_cluster_id"], size=int(r["size"]),
                                                 removed=int(r["removed"]), giant=bool(r["giant"]),
                                                 sources=dict(sorted(mix.get(r["dup_cluster_id"], {}).items())))
                                  for r in top],
                params=params if isinstance(params, dict) else {},
            )
        return DuplicateSummary(exact=exact, near=near)

    # ------------------------------------------------------------------ PII
    def pii(self) -> Optional[PiiSummary]:
        if "pii_counts" not in self.columns:
            return None
        F = self.F
        scanned = self.docs.where(F.col("pii_counts").isNotNull())
        has_res = "pii_residual_counts" in self.columns
        aggs = [F.count(F.lit(1)).alias("n"),
                F.sum(F.when(F.size("pii_counts") > 0, 1).otherwise(0)).alias("with_pii"),
                F.sum(F.when(F.col("_kept"), 1).otherwise(0)).alias("cur")]
        if has_res:
            residual_any = F.exists(F.map_values("pii_residual_counts"), lambda v: v > 0)
            aggs.append(F.sum(F.when(F.col("_kept") & F.coalesce(residual_any, F.lit(False)), 1).otherwise(0)).alias("res"))
        if "pii_density" in self.columns:
            aggs.append(F.avg("pii_density").alias("dens"))
        row = scanned.agg(*aggs).collect()[0]
        spans, docs = {}, {}
        for r in (scanned.select(F.explode("pii_counts").alias("k", "v")).groupBy("k")
                  .agg(F.sum("v").alias("s"), F.sum(F.when(F.col("v") > 0, 1).otherwise(0)).alias("d")).collect()):
            spans[r["k"]], docs[r["k"]] = int(r["s"] or 0), int(r["d"] or 0)
        residual = {}
        if has_res:
            for r in (scanned.where("_kept").select(F.explode("pii_residual_counts").alias("k", "v"))
                      .groupBy("k").agg(F.sum("v").alias("s")).collect()):
                if r["s"]:
                    residual[r["k"]] = int(r["s"])
        info = self.m.stage_info.get("pii") or {}
        cfg = self.m.config.get("pii") or {}
        n, cur = int(row["n"]), int(row["cur"] or 0)
        res_docs = int(row["res"] or 0) if has_res else 0
        return PiiSummary(
            operator=info.get("operator") or cfg.get("operator"),
            entities_configured=list(info.get("active_entities") or cfg.get("entities") or []),
            docs_scanned=n, docs_with_pii=int(row["with_pii"] or 0), pii_doc_rate=rate(int(row["with_pii"] or 0), n),
            spans_by_entity=dict(sorted(spans.items())), docs_by_entity=dict(sorted(docs.items())),
            curated_docs_scanned=cur, residual_docs=res_docs,
            residual_rate=rate(res_docs, cur) if has_res else None,
            residual_spans_by_entity=dict(sorted(residual.items())),
            removed_by_reason={r: c for r, c in sorted(self.rejected_by_reason.items()) if _stage_of(r) == "pii"},
            mean_density=sig_round(row["dens"]) if "pii_density" in self.columns else None,
        )

    # ------------------------------------------------------------------ bias
    def bias(self) -> Optional[BiasSummary]:
        if "bias_identity_counts" not in self.columns or "bias_flags" not in self.columns:
            return None
        F = self.F
        info = self.m.stage_info.get("bias") or {}
        axes = list(info.get("axes") or (self.m.config.get("bias") or {}).get("axes") or [])
        scored = self.docs.where(F.col("_kept") & F.col("bias_n_words").isNotNull()) if "bias_n_words" in self.columns \
            else self.docs.where(F.col("_kept") & F.col("bias_flags").isNotNull())
        try:
            from pipelines.stages.bias import bias_aggregates
        except ImportError:  # pragma: no cover - the bias stage ships with corpusforge
            bias_aggregates = None
        aggregates = bias_aggregates(scored, axes or None) if bias_aggregates is not None else {}
        flags = {r["f"]: int(r["count"]) for r in
                 scored.select(F.explode("bias_flags").alias("f")).groupBy("f").count().collect()}
        return BiasSummary(
            lexicon_version=info.get("lexicon_version"), axes=sorted(axes), docs=scored.count(),
            flags=dict(sorted(flags.items())), aggregates=_round_tree(aggregates),
        )


def _round_tree(obj: Any) -> Any:
    if isinstance(obj, float):
        return sig_round(obj)
    if isinstance(obj, dict):
        return {str(k): _round_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round_tree(v) for v in obj]
    return obj


def _drift_basis(c: _Collector, languages: Optional[LanguageSummary], pii: Optional[PiiSummary],
                 signals: SignalSummary, sources: dict[str, SourceSummary]) -> DriftBasis:
    removal = {r: rate(n, c.records) or 0.0 for r, n in c.rejected_by_reason.items()}
    removal.update({r: rate(n, c.records) or 0.0 for r, n in c.quarantined_by_reason.items()})
    cur_total = sum(s.curated for s in sources.values())
    return DriftBasis(
        records=c.records, keep_rate=rate(c.kept, c.records), quarantine_rate=rate(c.quarantined, c.records),
        removal_rates=dict(sorted(removal.items())),
        language_mix=dict(sorted(languages.mix.items())) if languages else None,
        source_mix={k: rate(s.curated, cur_total) or 0.0 for k, s in sorted(sources.items()) if s.curated},
        residual_pii_rate=pii.residual_rate if pii else None, pii_doc_rate=pii.pii_doc_rate if pii else None,
        signal_means={s.signal: s.mean for s in signals.stats if s.scope == "curated" and s.mean is not None},
    )


def compute_metrics(run_dir: Path, spark, manifest: Optional[RunManifest] = None,
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
    c = _Collector(run_dir, spark, manifest, gate_signals, examples_per_reason, example_chars)
    try:
        c.counts()
        c.shards()
        inputs, sources, accounting = c.inputs_and_sources()
        funnel, stages_run, not_run = c.funnel()
        removals, quarantine = c.reason_lists()
        examples, q_examples = c.examples()
        languages = c.languages()
        signals = c.signals()
        duplicates = c.duplicates()
        pii = c.pii()
        bias = c.bias()
        outputs = c.outputs()
    finally:
        c.close()
    return RunMetrics(
        stages_run=stages_run, stages_not_run=not_run, inputs=inputs, sources=sources, outputs=outputs,
        accounting=accounting, funnel=funnel, removals=removals, quarantine=quarantine, examples=examples,
        quarantine_examples=q_examples, languages=languages, signals=signals, duplicates=duplicates, pii=pii,
        bias=bias, drift_basis=_drift_basis(c, languages, pii, signals, sources), gate_signal_stats=c.gate_stats,
    )


__all__ = ["MAIN_SIGNALS", "RunMetrics", "compute_metrics", "rate", "read_manifest", "sig_round"]
