"""Choosing the JIT mode and shuffle partitions of the SparkSession (pipelines.runtime)."""
from __future__ import annotations

import pytest

from pipelines.runtime import QUICK_JIT_MAX_BYTES, resolve_jit, shuffle_partitions_for


@pytest.fixture(autouse=True)
def not_under_spark_submit(monkeypatch):
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)


def test_auto_is_quick_for_small_local_runs_and_full_for_large_ones():
    assert resolve_jit("auto", "local[*]", 200 * 10**6) == "quick"
    assert resolve_jit("auto", "local[2]", QUICK_JIT_MAX_BYTES) == "full"
    assert resolve_jit("auto", None, 10) == "quick"  # no master = embedded local[*]
    assert resolve_jit("auto", "local[*]", None) == "full"  # size unknown (nightly)


def test_explicit_setting_wins_in_local_mode():
    assert resolve_jit("full", "local[*]", 10) == "full"
    assert resolve_jit("quick", "local[*]", 10 * QUICK_JIT_MAX_BYTES) == "quick"


def test_never_quick_on_a_cluster_or_under_spark_submit(monkeypatch):
    assert resolve_jit("quick", "spark://master:7077", 10) == "full"
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "12345")
    assert resolve_jit("quick", "local[*]", 10) == "full"


def test_shuffle_partitions_scale_with_input():
    assert shuffle_partitions_for(1, 2) == 4  # at least two per core
    assert shuffle_partitions_for(10 * 128 * 2**20, 2) == 10
    assert shuffle_partitions_for(10**15, 2) == 2000
