"""The removal ledger of a run: one row for every document the run removed, and why. Never any text.

Layout (inside the run directory, written before the run is committed)::

    OUT/ledger/removals/part-00000.parquet ...   doc_id, run_id, source, stage, rule, signal, value
    OUT/ledger/summary.json                      counts by stage and rule, files, row total

``stage`` and ``rule`` split the ``drop_reason`` (``"quality:gopher_short_doc"`` -> ``quality`` /
``gopher_short_doc``); ``signal`` names the column that decided the removal and ``value`` is its value
as a string (Spark's canonical cast, so the same number always prints the same way):

============================ =============================== =====================================
reason                       signal                          value
============================ =============================== =====================================
quality:<rule>               the rule's signal (``q_*``)     the signal value
language:not_kept            ``lang``                        the language found
language:low_score           ``lang_score``                  the model's score
exact_dedup:duplicate        ``exact_dup_of``                the surviving document's id
near_dedup:duplicate         ``dup_cluster_id``              the duplicate cluster's id
pii:too_much_pii             ``pii_density``                 share of characters inside PII spans
takedown:<kind>              ``takedown_request_id``         the erasure request that matched
optout:<rule>                ``optout_evidence``             the deciding signal (``tdm-reservation header``)
<stage>:error                (null)                          (null)
============================ =============================== =====================================

The rows are hash-partitioned by ``doc_id`` and sorted, and the files get stable names, so a rerun of
the same inputs and config with the same run id writes byte-identical files (a different run id changes
only the ``run_id`` column). Quarantined records are not documents (they have no ``doc_id``); they stay
in ``quarantine/`` with their reason codes, and the summary counts them.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from pipelines.tables import write_table
from schemas.columns import DROP_REASON
from schemas.config.quality import QUALITY_RULES
from storage.files import atomic_write_json

log = logging.getLogger(__name__)

LEDGER_DIR = "ledger"
REMOVALS_DIR = "removals"
SUMMARY_FILE = "summary.json"
LEDGER_VERSION = 1
LEDGER_COLUMNS = ("doc_id", "run_id", "source", "stage", "rule", "signal", "value")

#: (stage, rule) -> signal column; rule None = every rule of the stage.
_SIGNALS: dict[tuple[str, Any], str] = {
    ("exact_dedup", "duplicate"): "exact_dup_of",
    ("near_dedup", "duplicate"): "dup_cluster_id",
    ("language", "not_kept"): "lang",
    ("language", "low_score"): "lang_score",
    ("pii", "too_much_pii"): "pii_density",
    ("takedown", None): "takedown_request_id",
    ("optout", None): "optout_evidence",
}


def signal_map() -> dict[str, str]:
    """``drop_reason`` -> signal column for every known reason (``"takedown:*"`` covers all kinds)."""
    out = {f"quality:{spec.name}": spec.signal for spec in QUALITY_RULES}
    for (stage, rule), column in _SIGNALS.items():
        out[f"{stage}:{rule if rule is not None else '*'}"] = column
    return out


def write_removal_ledger(spark, run_dir: Path, run_id: str) -> dict[str, Any]:
    """Write ``run_dir/ledger/`` from the run's written ``rejected/`` table (call before the commit).

    Args:
        spark: the run's SparkSession.
        run_dir: the run's (staging) output directory; ``rejected/`` and ``quarantine/`` must be written.
        run_id: the run id recorded in every row.

    Returns:
        The summary written to ``ledger/summary.json``.

    Raises:
        FileNotFoundError: ``rejected/`` is missing (call it after the outputs are written).
    """
    run_dir = Path(run_dir)
    rejected_dir = run_dir / "rejected"
    if not rejected_dir.is_dir():
        raise FileNotFoundError(f"{rejected_dir} not found: write the run's outputs before the removal ledger")
    out_dir = run_dir / LEDGER_DIR
    removals_dir = out_dir / REMOVALS_DIR
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)

    rows = _ledger_rows(spark.read.parquet(str(rejected_dir)), run_id)
    n_in = len([p for p in rejected_dir.glob("part-*.parquet")])
    files = write_table(rows, removals_dir, max(1, n_in), ["doc_id"], "zstd")
    summary = _summary(spark, run_dir, removals_dir, run_id)
    if files != len(summary["files"]):  # pragma: no cover - write_table renames every part file
        raise RuntimeError("removal ledger files were not all renamed; this is a bug, please report it")
    atomic_write_json(out_dir / SUMMARY_FILE, summary)
    log.info("removal ledger: %d documents removed (%s)", summary["documents_removed"], summary["by_stage"])
    return summary


def _ledger_rows(rej, run_id: str):
    """The ledger's rows (:data:`LEDGER_COLUMNS`) of the rejected documents ``rej``."""
    # deferred: pyspark loads only when a run starts (the CLI imports the runner for every command)
    from pyspark.sql import functions as F

    cols = set(rej.columns)
    reason_col = F.col(DROP_REASON)
    stage = F.split(reason_col, ":", 2).getItem(0)
    rule = F.split(reason_col, ":", 2).getItem(1)
    signal_expr = None
    value_expr = None
    for reason, column in sorted(signal_map().items()):
        if column not in cols:
            continue
        cond = stage == reason[:-2] if reason.endswith(":*") else reason_col == reason
        signal_expr = (F.when(cond, F.lit(column)) if signal_expr is None else signal_expr.when(cond, F.lit(column)))
        value_expr = (F.when(cond, F.col(column).cast("string")) if value_expr is None
                      else value_expr.when(cond, F.col(column).cast("string")))
    null = F.lit(None).cast("string")
    errors = rule == "error"
    signal_expr = F.when(errors, null) if signal_expr is None else F.when(errors, null).otherwise(signal_expr)
    value_expr = F.when(errors, null) if value_expr is None else F.when(errors, null).otherwise(value_expr)
    source = F.col("source") if "source" in cols else null
    return rej.select(
        F.col("doc_id").cast("string").alias("doc_id"),
        F.lit(run_id).alias("run_id"),
        source.cast("string").alias("source"),
        stage.alias("stage"),
        rule.alias("rule"),
        signal_expr.alias("signal"),
        value_expr.alias("value"),
    )


def _summary(spark, run_dir: Path, removals_dir: Path, run_id: str) -> dict[str, Any]:
    """Counts by stage and reason of the written ledger, quarantined records and the ledger's files."""
    written = spark.read.parquet(str(removals_dir))
    counted = written.groupBy("stage", "rule").count().collect()
    by_reason = {f"{r['stage']}:{r['rule']}": int(r["count"]) for r in counted}
    by_stage: dict[str, int] = {}
    for reason, n in by_reason.items():
        by_stage[reason.split(":", 1)[0]] = by_stage.get(reason.split(":", 1)[0], 0) + n
    quarantined = 0
    qdir = run_dir / "quarantine"
    if qdir.is_dir():
        quarantined = spark.read.parquet(str(qdir)).count()
    return {
        "ledger_version": LEDGER_VERSION,
        "run_id": run_id,
        "columns": list(LEDGER_COLUMNS),
        "documents_removed": sum(by_reason.values()),
        "by_stage": dict(sorted(by_stage.items())),
        "by_reason": dict(sorted(by_reason.items())),
        "quarantined_records": quarantined,
        "files": sorted(p.name for p in removals_dir.glob("part-*.parquet")),
    }


__all__ = ["LEDGER_COLUMNS", "LEDGER_DIR", "signal_map", "write_removal_ledger"]
