"""The stage contract.

A stage is named after its config section, configured by that section's pydantic model, and maps a
DataFrame to a DataFrame without ever losing a row:

* it adds its own columns (signals) and a ``<name>_reason`` string column that is null when the document
  passes and ``"<name>:<rule>"`` when the stage would drop it (``"<name>:error"`` when the stage failed on
  that document);
* it does not filter: the runner reads ``<name>_reason`` and, in ``mode: drop``, moves those rows to
  ``rejected/`` with ``drop_reason`` set; in ``mode: tag`` it keeps them;
* per-document logic lives in ``pipelines/text`` and is called from Arrow batches (``mapInArrow``),
  with models loaded once per Python worker.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from schemas.config import PipelineConfig


@dataclass
class RunContext:
    """What a stage may use besides its own section."""

    spark: "SparkSession"
    config: "PipelineConfig"
    run_id: str
    staging_dir: Path  # the run's staging output directory; becomes OUT on commit
    work_dir: Path  # scratch space (checkpoints, intermediate tables); deleted after the run
    num_partitions: int  # partitions to use for shuffles of document tables
    #: Hashes of models, lexicons, tokenizers used by stages: name -> {"path":..., "sha256":...}
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Small JSON-able facts stages want in run.json (e.g. cluster statistics), by stage name.
    stage_info: dict[str, Any] = field(default_factory=dict)
    #: Wall seconds of the runner's phases (not written to run.json: they differ between reruns).
    timings: dict[str, float] = field(default_factory=dict)

    def lookup_table(self, df: "DataFrame", name: str) -> "tuple[DataFrame, int]":
        """Write a narrow table derived from the documents and return it ready to be joined back to them.

        Used for tables such as exact-duplicate groups: usually small, computed from a narrow projection
        of the documents. Joined lazily, Adaptive Query Execution would start shuffling the *texts* for a
        sort-merge join before learning that the other side is tiny. Written once, the table's row count
        is known (from the Parquet footers): with at most ``spark.broadcast_lookup_rows`` rows it is
        returned with a broadcast hint, so the join is a map-side lookup and the texts stay where they
        are; a larger table is joined by shuffle, as it must be.

        Returns ``(table, rows)``; callers skip the join altogether when ``rows`` is 0 (the usual case
        for repeated source ids).
        """
        from pyspark.sql import functions as F

        path = self.work_dir / f"lookup-{name}"
        df.write.option("compression", "lz4").parquet(str(path))
        table = self.spark.read.parquet(str(path))
        rows = table.count()  # from the Parquet footers
        return (F.broadcast(table) if rows <= self.config.spark.broadcast_lookup_rows else table), rows

    def side_output_dir(self, stage: str) -> Path:
        """A directory under the staging output for a stage's side tables (e.g. cluster statistics)."""
        d = self.staging_dir / "stages" / stage
        d.mkdir(parents=True, exist_ok=True)
        return d


class Stage(abc.ABC):
    """Base class of every document stage."""

    #: The config section name, which is also the prefix of the stage's drop reasons.
    name: ClassVar[str]
    #: Whether the runner writes the stage's output once before splitting it into kept and rejected
    #: rows. True for anything expensive (models, shuffles); a cheap stage may set False and be
    #: recomputed for each branch instead.
    materialize: ClassVar[bool] = True

    def __init__(self, section: Any, ctx: RunContext) -> None:
        self.section = section
        self.ctx = ctx

    @property
    def reason_column(self) -> str:
        return f"{self.name}_reason"

    def prepare(self) -> None:
        """Driver-side checks before any data moves (model files exist, keys present, ...).

        Raise ``StageConfigError`` with a message that says how to fix the problem.
        """

    @abc.abstractmethod
    def apply(self, df: "DataFrame") -> "DataFrame":
        """Return ``df`` with this stage's columns and ``<name>_reason`` added; same rows."""

    def finalize(self, kept: "DataFrame") -> None:
        """Called after the run's kept documents are known (e.g. to persist an index); optional."""


class StageConfigError(ValueError):
    """A stage cannot run with the configuration it was given; the message says how to fix it."""
