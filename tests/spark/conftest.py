"""One session-scoped local SparkSession for every Spark test."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from pipelines.runtime import build_spark_session

    session = build_spark_session(
        app_name="corpusforge-tests",
        master="local[2]",
        driver_memory="2g",
        shuffle_partitions=4,
        ui=False,
        extra_conf={"spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("warehouse"))},
    )
    yield session
    session.stop()
