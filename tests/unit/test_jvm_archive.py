"""The JVM class-data-sharing archive: fingerprint, setting, option wiring, and (with a real JVM) that the
archive ``corpusforge jvm-archive`` builds is one the JVM really maps (``-Xshare:on`` fails otherwise)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import jvm_archive


def _fake_install(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    java_home, spark_home = tmp_path / "jdk", tmp_path / "spark"
    (java_home / "bin").mkdir(parents=True)
    (spark_home / "jars").mkdir(parents=True)
    (java_home / "bin" / "java").write_text("#!/bin/sh\n")
    for name in ("spark-core.jar", "hadoop.jar"):
        (spark_home / "jars" / name).write_bytes(b"jar")
    monkeypatch.setenv("JAVA_HOME", str(java_home))
    monkeypatch.setenv("SPARK_HOME", str(spark_home))
    monkeypatch.setenv(jvm_archive.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(jvm_archive.ENV_SETTING, raising=False)
    return java_home, spark_home


def test_fingerprint_follows_the_jdk_and_the_jars(tmp_path, monkeypatch):
    java_home, spark_home = _fake_install(tmp_path, monkeypatch)
    first = jvm_archive.fingerprint()
    assert first and jvm_archive.fingerprint() == first
    jar = spark_home / "jars" / "hadoop.jar"
    os.utime(jar, ns=(time.time_ns(), time.time_ns() + 10**9))
    second = jvm_archive.fingerprint()
    assert second != first
    (spark_home / "jars" / "extra.jar").write_bytes(b"x")
    assert jvm_archive.fingerprint() != second
    os.utime(java_home / "bin" / "java", ns=(0, 10**9))
    assert jvm_archive.fingerprint() not in (first, second)
    assert jvm_archive.archive_path().parent == tmp_path / "cache" / "jvm"


def test_option_only_for_a_built_archive_and_not_when_off(tmp_path, monkeypatch):
    _fake_install(tmp_path, monkeypatch)
    assert jvm_archive.archive_option() is None  # not built
    path = jvm_archive.archive_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert jvm_archive.archive_option() is None  # empty: a failed write
    path.write_bytes(b"archive")
    assert jvm_archive.archive_option() == f"-XX:SharedArchiveFile={path}"
    monkeypatch.setenv(jvm_archive.ENV_SETTING, "off")
    assert jvm_archive.archive_option() is None


def test_no_java_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(jvm_archive.ArchiveError, match="no java executable"):
        jvm_archive.build_archive()


def test_cli_path_and_failure_exit_codes(tmp_path, monkeypatch, capsys):
    from jobs.cli import main

    _fake_install(tmp_path, monkeypatch)
    assert main(["jvm-archive", "--path"]) == 0
    assert "not built" in capsys.readouterr().out
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    assert main(["jvm-archive"]) == 1
    assert "not built: no java executable" in capsys.readouterr().err


def test_built_archive_is_mapped_by_the_jvm_and_added_to_embedded_sessions():
    """The machine's archive (built here if `make` has not built it): a JVM started with ``-Xshare:on`` and
    it runs a job (HotSpot refuses to start with -Xshare:on when it cannot map the archive), and
    build_spark_session gives an embedded driver the option."""
    assert jvm_archive.java_executable() is not None, (
        "Java 17+ is required (apt-get install -y openjdk-17-jre-headless); scripts/check_java.sh says so too")
    path = jvm_archive.build_archive()
    assert path.stat().st_size > 10_000_000  # thousands of Spark classes, not an empty shell
    code = (
        "from pipelines.runtime import build_spark_session, QUICK_JIT_OPTION\n"
        "import sys\n"
        f"opts = QUICK_JIT_OPTION + ' -Xshare:on -XX:SharedArchiveFile={path}'\n"
        "s = build_spark_session(master='local[1]', ui=False, driver_memory='1g',"
        " extra_conf={'spark.driver.extraJavaOptions': opts})\n"
        "assert s.range(100).selectExpr('id % 3 AS k').groupBy('k').count().count() == 3\n"
        "s.stop()\n"
        "s = build_spark_session(master='local[1]', ui=False, driver_memory='1g', jit='quick')\n"
        "print('OPTIONS', s.sparkContext.getConf().get('spark.driver.extraJavaOptions'))\n"
    )
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    env.pop(jvm_archive.ENV_SETTING, None)
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("OPTIONS")][0]
    assert f"-XX:SharedArchiveFile={path}" in line and "-XX:TieredStopAtLevel=1" in line
