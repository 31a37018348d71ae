"""The funnel: documents in, removed and out per stage, in the order the stages ran."""
from __future__ import annotations

from typing import Any

from pyspark.sql import functions as F

from schemas.columns import DROP_REASON, reason_column
from schemas.config import STAGE_SECTIONS
from schemas.report import FunnelStep

from .counts import Counts
from .outputs import ShardFigures
from .tables import RunTables, stage_of


def _flagged(t: RunTables, tag_stages: list[str]) -> dict[str, int]:
    """Per stage in ``tag`` mode: documents it flagged but did not remove (one Spark job)."""
    if not tag_stages:
        return {}
    aggs = []
    for name in tag_stages:
        col = F.col(reason_column(name))
        own = F.coalesce(F.col(DROP_REASON).startswith(f"{name}:"), F.lit(False))
        aggs.append(F.sum(F.when(col.isNotNull() & ~own, 1).otherwise(0)).alias(name))
    row = t.docs.agg(*aggs).collect()[0]
    return {n: int(row[n] or 0) for n in tag_stages}


def _stage_steps(stages: list[dict[str, Any]], c: Counts, flagged: dict[str, int]) -> list[FunnelStep]:
    """One step per stage (and per stage that only a removal reason names), after ingest."""
    remaining = dict(c.rejected_by_reason)
    current = c.records - c.quarantined
    order = [s["name"] for s in stages]
    for name in sorted({stage_of(r) for r in remaining} - set(order)):
        order.append(name)  # reasons of a stage run.json does not list (should not happen)
    modes = {s["name"]: s.get("mode", "drop") for s in stages}
    steps = []
    for name in order:
        mine = {r: n for r, n in remaining.items() if stage_of(r) == name}
        removed = sum(mine.values())
        steps.append(FunnelStep(step=name, mode=modes.get(name, "drop"), docs_in=current, removed=removed,
                                docs_out=current - removed, flagged=flagged.get(name, 0),
                                removed_by_reason=dict(sorted(mine.items()))))
        current -= removed
    return steps


def funnel(t: RunTables, c: Counts,
           shards: ShardFigures) -> tuple[list[FunnelStep], list[dict[str, Any]], list[str]]:
    """The funnel steps, the stages that ran (name, mode, seconds) and the stages that did not run."""
    m = t.manifest
    stages = [s for s in m.stages if s.get("name") != "tokenize"]
    tag_stages = [s["name"] for s in stages if s.get("mode") == "tag" and reason_column(s["name"]) in t.columns]
    steps = [FunnelStep(step="ingest", mode="read", docs_in=c.records, removed=c.quarantined,
                        docs_out=c.records - c.quarantined,
                        removed_by_reason=dict(sorted(c.quarantined_by_reason.items())))]
    steps += _stage_steps(stages, c, _flagged(t, tag_stages))
    if m.config.get("tokenize", {}).get("enabled") and shards.rows is not None:
        steps.append(FunnelStep(step="tokenize", mode="write", docs_in=c.kept,
                                removed=c.kept - shards.rows, docs_out=shards.rows))
    stages_run = [{"name": s["name"], "mode": s.get("mode"), "seconds": s.get("seconds")} for s in m.stages]
    ran = {s["name"] for s in m.stages} | {"ingest"}
    not_run = [n for n in STAGE_SECTIONS if n not in ran]
    return steps, stages_run, not_run


__all__ = ["funnel"]
