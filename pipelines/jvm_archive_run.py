"""The child process of :func:`pipelines.jvm_archive.build_archive`: ``python -m pipelines.jvm_archive_run
ARCHIVE WORKDIR`` starts an embedded Spark whose JVM dumps the classes it loaded into ARCHIVE at exit."""
from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

from pipelines.runtime import QUICK_JIT_OPTION, build_spark_session


def archive_run(archive: str, workdir: str) -> None:
    """The child of :func:`build_archive`: an embedded Spark that dumps its classes at exit, after a job
    through Parquet, Arrow batches to a Python worker and a shuffle."""
    spark = build_spark_session(
        app_name="corpusforge-jvm-archive", master="local[2]", driver_memory="1g", shuffle_partitions=2,
        ui=False,
        extra_conf={"spark.driver.extraJavaOptions": f"{QUICK_JIT_OPTION} -XX:ArchiveClassesAtExit={archive}"},
    )
    df = spark.createDataFrame([(f"d{i}", f"text {i}", i % 3) for i in range(200)], "doc_id string, text string, k int")
    out = str(Path(workdir) / "docs")
    df.write.mode("overwrite").parquet(out)

    def identity(batches):
        for batch in batches:
            yield pa.RecordBatch.from_arrays(list(batch.columns), schema=batch.schema)

    back = spark.read.parquet(out).mapInArrow(identity, "doc_id string, text string, k int")
    back.groupBy("k").count().collect()
    back.write.mode("overwrite").json(str(Path(workdir) / "json"))
    spark.stop()


if __name__ == "__main__":
    archive_run(sys.argv[1], sys.argv[2])
