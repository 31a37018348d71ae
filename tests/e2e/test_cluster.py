"""A real Spark standalone cluster: master and one worker started from the pyspark package, the pipeline
submitted with spark-submit, the result compared with local mode's. Both daemons are stopped by pid."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
FAST = ["language.enabled=false", "quality.enabled=false", "pii.enabled=false", "bias.enabled=false",
        "near_dedup.enabled=false", "spark.shuffle_partitions=2", "spark.master=local[2]", "output.num_files=2",
        "tokenize.target_shard_bytes=8192", "tokenize.row_group_bytes=2048"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    import pyspark

    env = dict(os.environ)
    env.update(SPARK_HOME=os.path.dirname(pyspark.__file__), SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
               PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("PYSPARK_GATEWAY_PORT", None)
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # by pid: spark-class execs the JVM, so this is the daemon itself
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(20)


def _wait_for_worker(ui_port: int, procs, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"a Spark daemon exited early with code {p.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as r:
                state = json.loads(r.read())
            if state.get("aliveworkers", 0) >= 1:
                return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError("the Spark worker did not register with the master in time")


def _corpus(tmp_path: Path) -> Path:
    src = REPO / "pipelines" / "assets" / "demo" / "part-00000.jsonl"
    out = tmp_path / "raw" / "part.jsonl"
    out.parent.mkdir()
    lines = src.read_text(encoding="utf-8").splitlines()[:16]
    dup = json.dumps(dict(json.loads(lines[2]), id="exact-copy"))  # same text, new id: exact dedup removes it
    out.write_text("\n".join(lines + [dup]) + "\n{broken\n", encoding="utf-8")
    return out.parent


def _table(folder: Path) -> list[dict]:
    rows = pq.read_table(folder).to_pylist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


@pytest.mark.slow
def test_standalone_cluster_matches_local_mode(tmp_path):
    import pyspark

    bin_dir = Path(pyspark.__file__).parent / "bin"
    env = _env()
    raw = _corpus(tmp_path)
    args = ["--config", "demo", "--input", str(raw), "--run-id", "cluster-test"]
    for s in FAST:
        args += ["--set", s]
    local = subprocess.run([sys.executable, str(REPO / "jobs" / "run_pipeline.py"), *args, "--output",
                            str(tmp_path / "local")], cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert local.returncode == 0, local.stderr[-3000:]

    port, ui, worker_ui = _free_port(), _free_port(), _free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(
            [str(bin_dir / "spark-class"), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui)],
            env=env, stdout=open(logs / "master.log", "wb"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [str(bin_dir / "spark-class"), "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
             "--host", "127.0.0.1", "--cores", "2", "--memory", "2g", "--webui-port", str(worker_ui),
             "--work-dir", str(tmp_path / "worker")],
            env=env, stdout=open(logs / "worker.log", "wb"), stderr=subprocess.STDOUT))
        _wait_for_worker(ui, procs)
        submit = subprocess.run(
            [str(bin_dir / "spark-submit"), "--master", f"spark://127.0.0.1:{port}", "--driver-memory", "1g",
             "--executor-memory", "1g", "--conf", f"spark.pyspark.python={sys.executable}",
             "--conf", f"spark.executorEnv.PYTHONPATH={REPO}", "--conf", "spark.ui.enabled=false",
             str(REPO / "jobs" / "run_pipeline.py"), *args, "--output", str(tmp_path / "cluster")],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
        assert submit.returncode == 0, submit.stderr[-3000:]
    finally:
        for p in reversed(procs):
            _stop(p)
    assert all(p.poll() is not None for p in procs)

    local_run = json.loads((tmp_path / "local" / "run.json").read_text())
    cluster_run = json.loads((tmp_path / "cluster" / "run.json").read_text())
    assert cluster_run["spark"]["master"] == f"spark://127.0.0.1:{port}"
    assert local_run["spark"]["master"].startswith("local")
    assert cluster_run["counts"] == local_run["counts"] and local_run["counts"]["quarantined"] == 1
    assert local_run["counts"]["rejected_by_reason"].get("exact_dedup:duplicate", 0) >= 1
    for table in ("curated", "rejected", "quarantine"):
        assert _table(tmp_path / "cluster" / table) == _table(tmp_path / "local" / table), table
    # the shards are written by the driver from globally sorted rows: byte-identical
    local_shards = {p.name: p.read_bytes() for p in (tmp_path / "local" / "shards").iterdir()}
    cluster_shards = {p.name: p.read_bytes() for p in (tmp_path / "cluster" / "shards").iterdir()}
    assert local_shards == cluster_shards and "index.json" in local_shards
