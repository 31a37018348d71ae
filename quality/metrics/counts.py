"""Row counts of a run and the accounting built on them: per input file, per source, per reason.

One grouped aggregation over the documents (by source, file, kept flag and reason) and one over the
quarantine table give every count; everything else here is arithmetic on those small results.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import functions as F

from schemas.columns import DROP_REASON
from schemas.report import Accounting, InputSummary, ReasonCount, SourceSummary

from ..rounding import rate
from .tables import RunTables, stage_of


@dataclass
class Counts:
    """Exact row counts of the run's tables (``count``/``sum`` aggregations, never accumulators)."""

    #: One dict per (source, source_file, _kept, drop_reason) group: ``n`` rows, ``b`` bytes, ``c`` chars.
    doc_rows: list[dict[str, Any]]
    #: One dict per (source, source_file, reason) group of quarantine/: ``count`` rows.
    q_rows: list[dict[str, Any]]
    records: int
    kept: int = 0
    removed: int = 0
    quarantined: int = 0
    curated_bytes: int = 0
    curated_chars: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)


def count_rows(t: RunTables) -> Counts:
    """The :class:`Counts` of the run (two small Spark jobs)."""
    rows = (
        t.docs.groupBy("source", "source_file", "_kept", DROP_REASON)
        .agg(F.count(F.lit(1)).alias("n"), F.sum("n_bytes").alias("b"), F.sum("n_chars").alias("c"))
        .collect()
    )
    doc_rows = [r.asDict() for r in rows]
    q_rows = []
    if t.quarantine is not None:
        q_rows = [r.asDict() for r in t.quarantine.groupBy("source", "source_file", "reason").count().collect()]
    c = Counts(doc_rows=doc_rows, q_rows=q_rows, records=sum(i.records for i in t.manifest.inputs))
    c.kept = sum(r["n"] for r in doc_rows if r["_kept"])
    c.removed = sum(r["n"] for r in doc_rows if not r["_kept"])
    c.quarantined = sum(r["count"] for r in q_rows)
    c.curated_bytes = sum(int(r["b"] or 0) for r in doc_rows if r["_kept"])
    c.curated_chars = sum(int(r["c"] or 0) for r in doc_rows if r["_kept"])
    for r in doc_rows:
        if not r["_kept"]:
            key = r[DROP_REASON] or "(none)"
            c.rejected_by_reason[key] = c.rejected_by_reason.get(key, 0) + r["n"]
    for r in q_rows:
        c.quarantined_by_reason[r["reason"]] = c.quarantined_by_reason.get(r["reason"], 0) + r["count"]
    return c


def _empty_file() -> dict[str, int]:
    return {"curated": 0, "rejected": 0, "quarantined": 0}


def _empty_source() -> dict[str, Any]:
    return {"records": 0, "curated": 0, "rejected": 0, "quarantined": 0,
            "rejected_by_reason": {}, "quarantined_by_reason": {}}


def _tally(c: Counts) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, Any]]]:
    """Written rows per input file and per source (with their reasons), from the grouped counts."""
    per_file: dict[str, dict[str, int]] = {}
    per_source: dict[str, dict[str, Any]] = {}
    for r in c.doc_rows:
        key = "curated" if r["_kept"] else "rejected"
        per_file.setdefault(r["source_file"], _empty_file())[key] += r["n"]
        s = per_source.setdefault(r["source"], _empty_source())
        s[key] += r["n"]
        if not r["_kept"]:
            reason = r[DROP_REASON] or "(none)"
            s["rejected_by_reason"][reason] = s["rejected_by_reason"].get(reason, 0) + r["n"]
    for r in c.q_rows:
        per_file.setdefault(r["source_file"], _empty_file())["quarantined"] += r["count"]
        s = per_source.setdefault(r["source"], _empty_source())
        s["quarantined"] += r["count"]
        s["quarantined_by_reason"][r["reason"]] = s["quarantined_by_reason"].get(r["reason"], 0) + r["count"]
    return per_file, per_source


def _input_summaries(t: RunTables, c: Counts, per_file: dict[str, dict[str, int]],
                     per_source: dict[str, dict[str, Any]]) -> tuple[list[InputSummary], list[str], bool]:
    """One summary per input of run.json, the files that do not add up, and whether run.json's counts match.

    Adds each input's records to its source in ``per_source``.
    """
    m = t.manifest
    inputs = []
    unbalanced_files = []
    matches = (c.kept, c.removed, c.quarantined) == (m.counts.curated, m.counts.rejected, m.counts.quarantined)
    for i in m.inputs:
        pf = per_file.get(i.path, _empty_file())
        per_source.setdefault(i.source, _empty_source())["records"] += i.records
        inputs.append(InputSummary(
            rel_path=i.rel_path, source=i.source, format=i.format, compression=i.compression, bytes=i.bytes,
            sha256=i.sha256, records=i.records, curated=pf["curated"], rejected=pf["rejected"],
            quarantined=pf["quarantined"], skipped=dict(sorted(i.skipped.items())),
        ))
        if i.records != pf["curated"] + pf["rejected"] + pf["quarantined"]:
            unbalanced_files.append(i.rel_path)
        if (i.curated, i.rejected, i.quarantined) != (pf["curated"], pf["rejected"], pf["quarantined"]):
            matches = False
    unknown = sorted(set(per_file) - set(t.file_names))
    if unknown:
        # Rows whose file is not an input of run.json: the run directory was altered.
        unbalanced_files.append(f"({len(unknown)} file(s) not listed in run.json)")
    return inputs, unbalanced_files, matches


def _source_summaries(per_source: dict[str, dict[str, Any]]) -> dict[str, SourceSummary]:
    return {
        name: SourceSummary(
            records=s["records"], curated=s["curated"], rejected=s["rejected"], quarantined=s["quarantined"],
            keep_rate=rate(s["curated"], s["records"]),
            rejected_by_reason=dict(sorted(s["rejected_by_reason"].items())),
            quarantined_by_reason=dict(sorted(s["quarantined_by_reason"].items())),
        )
        for name, s in sorted(per_source.items())
    }


def inputs_and_sources(t: RunTables, c: Counts) -> tuple[list[InputSummary], dict[str, SourceSummary], Accounting]:
    """Per-input and per-source summaries and the run's accounting (records in = written rows)."""
    per_file, per_source = _tally(c)
    inputs, unbalanced_files, matches = _input_summaries(t, c, per_file, per_source)
    sources = _source_summaries(per_source)
    unbalanced_sources = [n for n, s in sources.items() if s.records != s.curated + s.rejected + s.quarantined]
    accounting = Accounting(
        records_in=c.records, kept=c.kept, removed=c.removed, quarantined=c.quarantined,
        balanced=c.records == c.kept + c.removed + c.quarantined and not unbalanced_sources
        and not unbalanced_files,
        unbalanced_sources=unbalanced_sources, unbalanced_files=unbalanced_files, matches_manifest=matches,
    )
    return inputs, sources, accounting


def reason_lists(c: Counts) -> tuple[list[ReasonCount], list[ReasonCount]]:
    """Removal and quarantine reasons, most frequent first, with their rates per input record."""
    def lst(d: dict[str, int]) -> list[ReasonCount]:
        return [ReasonCount(reason=r, stage=stage_of(r), count=n, rate=rate(n, c.records) or 0.0)
                for r, n in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))]

    return lst(c.rejected_by_reason), lst(c.quarantined_by_reason)


__all__ = ["Counts", "count_rows", "inputs_and_sources", "reason_lists"]
