"""Building the SparkSession: one function for the CLI, spark-submit and tests.

* Launched by ``spark-submit`` (``PYSPARK_GATEWAY_PORT`` is set, or a master is already configured): the
  submitter's master and settings are used as they are; only missing defaults are filled in.
* Launched as ``corpusforge run`` (or from Python): Spark runs embedded in local mode (``local[*]`` by
  default) with settings that suit one machine.

``PYSPARK_PYTHON`` is set to the running interpreter unless the user set it, so that Python workers have
this environment's packages.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Optional

log = logging.getLogger(__name__)

_MIB = 1024 * 1024


def launched_by_spark_submit() -> bool:
    """True when this Python process was started by spark-submit (which owns the JVM and the master)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def shuffle_partitions_for(input_bytes: int, cores: int, target_bytes: int = 128 * _MIB) -> int:
    """Shuffle partitions scaled to the input: about ``target_bytes`` each, at least 2 per core, at most 2000."""
    by_size = -(-max(input_bytes, 1) // target_bytes)
    return int(min(2000, max(2 * max(cores, 1), by_size)))


#: Below this much input, embedded local runs use the quick JIT (``spark.jit: auto``). Measured with
#: benchmarks/ingest.py on 2 cores: at 200 MB quick was faster cold and warm (15.9 s / 7.9 s against
#: 18-23 s / 8.4-12 s); at 1 GB both took 46 s cold, and warm full was faster (30 s against 43 s).
QUICK_JIT_MAX_BYTES = 1 << 30
QUICK_JIT_OPTION = "-XX:TieredStopAtLevel=1"


def resolve_jit(setting: str, master: Optional[str], input_bytes: Optional[int]) -> str:
    """``"quick"`` or ``"full"`` for a ``spark.jit`` setting, the master and the input size.

    Only an embedded local-mode JVM is ever given the quick JIT: under spark-submit, or with a cluster
    master, the executors are other JVMs and their options are the cluster's business.
    """
    if launched_by_spark_submit() or not (master or "local[*]").startswith("local"):
        return "full"
    if setting in ("quick", "full"):
        return setting
    return "quick" if input_bytes is not None and input_bytes < QUICK_JIT_MAX_BYTES else "full"


def ensure_pyspark_python() -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def build_spark_session(
    app_name: str = "corpusforge",
    master: Optional[str] = None,
    driver_memory: str = "4g",
    shuffle_partitions: Optional[int] = None,
    ui: bool = True,
    extra_conf: Optional[dict[str, str]] = None,
    jit: str = "full",
):
    """Return a SparkSession configured for corpusforge.

    Args:
        app_name: Spark application name.
        master: Spark master for embedded mode (``local[*]`` when None). Ignored under spark-submit,
            where ``--master`` decides.
        driver_memory: driver heap for embedded mode (it cannot change once a JVM runs).
        shuffle_partitions: ``spark.sql.shuffle.partitions``; the runner scales it to the input.
        ui: whether to start the Spark UI (tests turn it off).
        extra_conf: further ``spark.*`` settings.
        jit: ``"quick"`` starts an embedded local-mode JVM with C1-only JIT compilation (see
            :func:`resolve_jit`) unless ``extra_conf`` sets ``spark.driver.extraJavaOptions``; ``"full"``
            leaves the JVM's default. It has no effect on a JVM that is already running.

    An embedded driver JVM (not under spark-submit, and unless ``extra_conf`` sets
    ``spark.driver.extraJavaOptions``) also maps the class-data-sharing archive of Spark's classes when
    ``corpusforge jvm-archive`` has built one for this JVM and these jars (:mod:`pipelines.jvm_archive`;
    ``CORPUSFORGE_JVM_ARCHIVE=off`` turns it off): about half the start-up time, same behaviour.
    """
    ensure_pyspark_python()
    # deferred: pyspark starts a JVM-facing import chain; only callers that build a session pay for it
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if not launched_by_spark_submit():
        builder = builder.master(master or "local[*]").config("spark.driver.memory", driver_memory)
    conf = {
        "spark.ui.enabled": "true" if ui else "false",
        # Spark's console progress bar redraws one line with carriage returns: only on a terminal, so that
        # logs that are not (files, CI, pipes) carry no control characters.
        "spark.ui.showConsoleProgress": "true" if _stderr_is_terminal() else "false",
        "spark.sql.session.timeZone": "UTC",
        # Arrow batches between the JVM and Python workers; 2048 rows keep memory per batch small for
        # documents of up to a few hundred KB.
        "spark.sql.execution.arrow.maxRecordsPerBatch": "2048",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        # Outputs are laid out explicitly (hash by doc_id, sorted); coalescing must not change that.
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
        "spark.sql.parquet.compression.codec": "zstd",
        "spark.python.worker.reuse": "true",
        "spark.sql.sources.partitionOverwriteMode": "static",
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.hadoop.parquet.summary.metadata.level": "NONE",
    }
    if shuffle_partitions:
        conf["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    if not launched_by_spark_submit() and "spark.driver.extraJavaOptions" not in (extra_conf or {}):
        from pipelines.jvm_archive import archive_option  # deferred: reads the JVM and jars, embedded drivers only

        options = [QUICK_JIT_OPTION] if jit == "quick" else []
        archive = archive_option()  # the class-data-sharing archive, when built (pipelines/jvm_archive.py)
        if archive:
            options.append(archive)
        if options:
            conf["spark.driver.extraJavaOptions"] = " ".join(options)
    conf.update(extra_conf or {})
    for k, v in conf.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if shuffle_partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
    return spark


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def default_parallelism(spark) -> int:
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:  # pragma: no cover - defensive
        return os.cpu_count() or 2
