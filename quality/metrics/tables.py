"""The tables of one run that the metrics aggregate: ``curated/``, ``rejected/``, ``quarantine/`` and ``run.json``.

:func:`load_tables` reads them once; the documents of ``curated/`` and ``rejected/`` are unioned (with a
``_kept`` flag) and a narrow projection without texts and free-form fields is persisted, which every
metric aggregates over.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from schemas.columns import DROP_REASON
from schemas.manifest import RunManifest

#: Columns never read into the cached narrow projection (texts and free-form fields).
WIDE_COLUMNS = ("text", "metadata", "url", "source_id")
_NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")


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


def read_table(spark: SparkSession, d: Path) -> Optional[DataFrame]:
    """The Parquet table in ``d``, or None when the folder is absent or holds no Parquet file."""
    if not d.is_dir() or not any(d.glob("*.parquet")):
        return None
    return spark.read.parquet(str(d))


def is_numeric(df: DataFrame, col: str) -> bool:
    """Whether ``col`` is a column of ``df`` with a numeric type."""
    t = dict(df.dtypes).get(col)
    return t is not None and t.split("(")[0] in _NUMERIC_TYPES


def stage_of(reason: str) -> str:
    """The stage of a ``"<stage>:<rule>"`` reason."""
    return reason.split(":", 1)[0] if ":" in reason else reason


@dataclass
class RunTables:
    """The run's tables, read once per :func:`quality.metrics.compute_metrics` call."""

    run_dir: Path
    spark: SparkSession
    manifest: RunManifest
    rejected: Optional[DataFrame]
    quarantine: Optional[DataFrame]
    #: curated/ and rejected/ unioned (``_kept``, ``drop_reason``), narrow projection, persisted.
    docs: DataFrame
    #: Column names of the unioned documents (wide columns included).
    columns: set[str]
    #: Input path -> its path relative to the input root, from run.json.
    file_names: dict[str, str]

    def close(self) -> None:
        """Release the persisted projection."""
        self.docs.unpersist()


def load_tables(run_dir: Path, spark: SparkSession, manifest: RunManifest) -> RunTables:
    """Read the run's tables and persist the narrow document projection.

    Raises:
        FileNotFoundError: the run has neither curated/ nor rejected/ Parquet files.
    """
    run_dir = Path(run_dir)
    curated = read_table(spark, run_dir / "curated")
    rejected = read_table(spark, run_dir / "rejected")
    quarantine = read_table(spark, run_dir / "quarantine")
    if curated is None and rejected is None:
        raise FileNotFoundError(
            "the run has neither curated/ nor rejected/ Parquet files: the run directory is incomplete; "
            "re-run the pipeline"
        )
    parts = []
    if curated is not None:
        parts.append(curated.withColumn("_kept", F.lit(True)).withColumn(DROP_REASON, F.lit(None).cast("string")))
    if rejected is not None:
        parts.append(rejected.withColumn("_kept", F.lit(False)))
    docs = parts[0]
    for p in parts[1:]:
        docs = docs.unionByName(p, allowMissingColumns=True)
    narrow = [c for c in docs.columns if c not in WIDE_COLUMNS]
    return RunTables(
        run_dir=run_dir, spark=spark, manifest=manifest, rejected=rejected, quarantine=quarantine,
        docs=docs.select(*narrow).persist(StorageLevel.MEMORY_AND_DISK), columns=set(docs.columns),
        file_names={i.path: i.rel_path for i in manifest.inputs},
    )


__all__ = ["RunTables", "is_numeric", "load_tables", "read_manifest", "read_table", "stage_of"]
