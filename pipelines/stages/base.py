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

:class:`DocumentStage` owns that Arrow loop once for every per-document stage: the worker-side cache of
loaded models (keyed by a hash of what the model is built from), the columns the stage reads, the output
columns declared once (Arrow types, from which the Spark schema is derived), per-document errors turned
into ``"<name>:error"``, and the ``mapInArrow`` call. A stage built on it declares its columns and
writes three small methods; ``docs/architecture.md`` shows one end to end.
"""
from __future__ import annotations

import abc
import hashlib
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Optional, Sequence

import pyarrow as pa

from schemas.columns import reason_column

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from schemas.config import PipelineConfig

log = logging.getLogger(__name__)


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
        from pyspark.sql import functions as F  # deferred: pyspark; Python workers import this module too

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
        self._prepared = False

    @property
    def reason_column(self) -> str:
        return reason_column(self.name)

    def prepare(self) -> None:
        """Driver-side checks before any data moves (model files exist, keys present, ...).

        Runs once per stage object (through :meth:`ensure_prepared`). Records asset hashes in
        ``ctx.assets`` and run facts in ``ctx.stage_info``. Raise ``StageConfigError`` with a message
        that says how to fix the problem.
        """

    def ensure_prepared(self) -> None:
        """Run :meth:`prepare` unless it already ran for this stage object."""
        if not self._prepared:
            self.prepare()
            self._prepared = True

    @abc.abstractmethod
    def apply(self, df: "DataFrame") -> "DataFrame":
        """Return ``df`` with this stage's columns and ``<name>_reason`` added; same rows."""

    def finalize(self, kept: "DataFrame") -> None:
        """Called after the run's kept documents are known (e.g. to persist an index); optional."""


class StageConfigError(ValueError):
    """A stage cannot run with the configuration it was given; the message says how to fix it."""


# ------------------------------------------------------------------------------------ document stages

#: Models loaded in this Python worker, by (stage class, worker key). Spark reuses Python workers across
#: tasks, so a model is loaded once per worker and per configuration, however many batches it sees.
_WORKER_MODELS: dict[tuple[str, str], Any] = {}


def worker_model(stage_cls: "type[DocumentStage]", key: str, payload: Any) -> Any:
    """The model ``stage_cls.load(payload)`` of this worker, loaded on first use and cached by ``key``."""
    cache_key = (f"{stage_cls.__module__}.{stage_cls.__qualname__}", key)
    model = _WORKER_MODELS.get(cache_key)
    if model is None:
        model = _WORKER_MODELS[cache_key] = stage_cls.load(payload)
    return model


class Batch:
    """The columns a :class:`DocumentStage` reads from one Arrow batch, as Python lists on demand."""

    def __init__(self, record_batch: pa.RecordBatch) -> None:
        self.record_batch = record_batch
        self._lists: dict[str, list] = {}

    def __len__(self) -> int:
        return self.record_batch.num_rows

    def has(self, name: str) -> bool:
        return name in self.record_batch.schema.names

    def arrow(self, name: str) -> pa.Array:
        return self.record_batch.column(self.record_batch.schema.get_field_index(name))

    def column(self, name: str) -> Optional[list]:
        """The column as a Python list, or None when the batch has no such column (an optional read)."""
        if name not in self._lists:
            if not self.has(name):
                return None
            self._lists[name] = self.arrow(name).to_pylist()
        return self._lists[name]

    def row(self, i: int) -> "Batch":
        """A one-row batch (what the per-document error fallback processes)."""
        return Batch(self.record_batch.slice(i, 1))


def _follow_string_type(t: pa.DataType, str_type: pa.DataType) -> pa.DataType:
    """``t`` with ``string`` (top level or list items) replaced by ``str_type``.

    Spark hands Python workers ``large_string`` text when it runs with large Arrow variable-width types;
    string outputs follow the input's string type so that both settings work.
    """
    if t == pa.string():
        return str_type
    if pa.types.is_list(t) and t.value_type == pa.string():
        return pa.list_(str_type)
    return t


class DocumentStage(Stage):
    """A stage that adds columns computed per document, in Python workers, over Arrow batches.

    Subclasses declare:

    * ``columns``: the output columns as ``(name, Arrow type)``, ``<name>_reason`` last. The Spark
      schema is derived from these types; string outputs follow the input's string type.
    * ``reads`` (required input columns; a missing one fails on the driver), ``optional_reads`` (used
      when present) and ``rewrites`` (input columns the stage replaces in place, such as ``text``).

    and implement:

    * :meth:`worker_payload` (driver side): the plain, picklable values a worker needs to build its
      model: paths, hashes, the section. Never a loaded model: models are not sent through the driver.
    * :meth:`load` (worker side, classmethod): build the model from the payload. It runs once per Python
      worker and configuration, cached under a hash of the payload (which carries the asset hashes).
    * :meth:`process` (worker side, classmethod): map a :class:`Batch` to ``{column: list of values}``
      for every declared column and every rewritten one.

    When :meth:`process` raises, the batch is processed again one document at a time, and each document
    that still fails gets the outputs of :meth:`error_values` (default: null outputs, its rewritten
    columns unchanged and ``"<name>:error"``; a stage that rewrites sensitive text, like ``pii``,
    overrides it): one bad document never fails the task, and the other documents keep their results.
    """

    columns: ClassVar[tuple[tuple[str, pa.DataType], ...]]
    reads: ClassVar[tuple[str, ...]] = ("text",)
    optional_reads: ClassVar[tuple[str, ...]] = ()
    rewrites: ClassVar[tuple[str, ...]] = ()

    # ---------------------------------------------------------------- to implement
    def worker_payload(self) -> Any:
        """What :meth:`load` needs, as plain picklable values (default: the stage's config section)."""
        return self.section

    @classmethod
    @abc.abstractmethod
    def load(cls, payload: Any) -> Any:
        """Build the worker-side model (or evaluator, scorer, ...) from :meth:`worker_payload`."""

    @classmethod
    @abc.abstractmethod
    def process(cls, model: Any, batch: Batch) -> dict[str, Sequence[Any]]:
        """Output values for every document of ``batch``: ``{column: values}`` (declared + rewritten)."""

    @classmethod
    def error_values(cls, model: Any, batch: Batch, exc: Exception) -> dict[str, Sequence[Any]]:
        """Outputs of a one-document ``batch`` whose processing raised ``exc`` (default: nulls and the
        ``"<name>:error"`` reason).

        Rewritten columns missing from the result keep their input value; a stage whose rewrite must never
        pass the input through on error (``pii`` withholds or fallback-scrubs the text) returns them.
        """
        reason_name = cls.columns[-1][0]
        return {name: [f"{cls.name}:error" if name == reason_name else None] for name, _ in cls.columns}

    # ---------------------------------------------------------------- the loop
    @property
    def output_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def check_input(self, df: "DataFrame") -> None:
        """Fail on the driver when a required input column is missing."""
        missing = [c for c in self.reads if c not in df.columns]
        if missing:
            raise StageConfigError(
                f"the {self.name} stage needs the column(s) {', '.join(missing)}; run it after the stage "
                "that produces them (ingest produces 'text')"
            )

    def spark_schema(self, base_schema: Any) -> Any:
        """The output Spark schema: the input's fields, then the declared columns (all nullable)."""
        from pyspark.sql.pandas.types import from_arrow_type  # deferred: pyspark, driver side only
        from pyspark.sql.types import StructField, StructType

        extra = [StructField(name, from_arrow_type(t), True) for name, t in self.columns]
        return StructType(list(base_schema.fields) + extra)

    def apply(self, df: "DataFrame") -> "DataFrame":
        """Return ``df`` with this stage's columns (replaced when present) and rewrites; same rows."""
        self.check_input(df)
        self.ensure_prepared()
        ours = set(self.output_names)
        base = df.drop(*[c for c in df.columns if c in ours])
        schema = self.spark_schema(base.schema)
        payload = self.worker_payload()
        key = hashlib.sha256(pickle.dumps(payload)).hexdigest()
        stage_cls = type(self)

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            model = worker_model(stage_cls, key, payload)
            for record_batch in batches:
                yield stage_cls.process_arrow(model, record_batch)

        return base.mapInArrow(run, schema)

    @classmethod
    def process_arrow(cls, model: Any, record_batch: pa.RecordBatch) -> pa.RecordBatch:
        """``record_batch`` with the declared columns appended and rewritten columns replaced.

        Pure Arrow (what each Spark task runs per batch), so it is unit-testable without Spark.
        """
        batch = Batch(record_batch)
        try:
            values = cls.process(model, batch)
        except Exception:  # one bad document must not fail the batch: redo it document by document
            log.warning("%s: a batch of %d documents failed; processing them one by one", cls.name, len(batch))
            values = cls._process_one_by_one(model, batch)
        names = list(record_batch.schema.names)
        text_type = batch.arrow("text").type if batch.has("text") else pa.string()
        str_type = pa.large_string() if pa.types.is_large_string(text_type) else pa.string()
        arrays = list(record_batch.columns)
        for name in cls.rewrites:
            i = names.index(name)
            arrays[i] = pa.array(values[name], type=arrays[i].type)
        for name, t in cls.columns:
            arrays.append(pa.array(values[name], type=_follow_string_type(t, str_type)))
        return pa.RecordBatch.from_arrays(arrays, names=names + [name for name, _ in cls.columns])

    @classmethod
    def _process_one_by_one(cls, model: Any, batch: Batch) -> dict[str, list]:
        wanted = [name for name, _ in cls.columns] + list(cls.rewrites)
        out: dict[str, list] = {name: [] for name in wanted}
        for i in range(len(batch)):
            one = batch.row(i)
            try:
                values = cls.process(model, one)
            except Exception as exc:  # the type only: a message could quote the document
                log.warning("%s: document failed (%s); marked %s:error", cls.name, type(exc).__name__, cls.name)
                values = dict(cls.error_values(model, one, exc))
                for name in cls.rewrites:
                    values.setdefault(name, one.column(name))
            for name in wanted:
                out[name].extend(values[name])
        return out
