"""Shared test configuration."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

import pytest  # noqa: E402


def shared_path(*parts: str) -> Path:
    """A path under the shared real-data folder (``../shared/data``); skips the test when it is absent.

    That folder is real text nobody on the team wrote (see its README): a clone of the project does not
    have it, so tests that read it skip with the reason; CI has it, so they run there.
    """
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real-data folder absent: {path} (see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder ``../shared/data``; the test is skipped, with the reason, when it is absent."""
    return shared_path()


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local[2] SparkSession for the whole test session (UI off, few shuffle partitions)."""
    from pipelines.runtime import build_spark_session

    session = build_spark_session(
        app_name="corpusforge-tests",
        master="local[2]",
        driver_memory="2g",
        shuffle_partitions=4,
        ui=False,
        extra_conf={"spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("warehouse"))},
        jit="quick",  # small data: C1-only JIT, as `corpusforge run` uses for small inputs
    )
    yield session
    session.stop()
