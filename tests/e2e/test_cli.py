"""The command line and spark-submit entry points, as a user runs them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]


def _env():
    env = dict(os.environ)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


def _corpus(tmp_path: Path) -> Path:
    d = tmp_path / "raw"
    d.mkdir()
    lines = [json.dumps({"id": f"d{i}", "text": f"Document number {i} says something."}) for i in range(20)]
    lines.insert(5, "{not json")
    lines.append(json.dumps({"id": "dup", "text": "Document number 3 says something."}))
    (d / "part.jsonl").write_text("\n".join(lines) + "\n")
    return d


def test_help_texts():
    r = _cli("--help")
    assert r.returncode == 0 and "run" in r.stdout
    r = _cli("run", "--help")
    assert r.returncode == 0
    for flag in ("--config", "--input", "--output", "--set"):
        assert flag in r.stdout


def test_config_error_exit_code_and_message(tmp_path):
    r = _cli("run", "--config", "demo", "--input", str(_corpus(tmp_path)), "--output", str(tmp_path / "o"),
             "--set", "ingest.txt_field=x")
    assert r.returncode == 2
    assert "unknown key 'ingest.txt_field'" in r.stderr and "text_field" in r.stderr
    assert not (tmp_path / "o").exists()


def test_run_via_cli_and_via_spark_submit_give_the_same_rows(tmp_path):
    raw = _corpus(tmp_path)
    core = [
        a
        for s in ("language", "quality", "classify", "decontaminate", "near_dedup", "pii", "bias", "tokenize")
        for a in ("--set", f"{s}.enabled=false")
    ]
    import pyspark

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    submit_log = tmp_path / "spark-submit.log"
    # The two runs are independent (own output, own JVM): spark-submit goes in the background while the CLI
    # runs, since a tiny local run leaves cores idle much of the time (JVM start-up, driver-side steps).
    with open(submit_log, "w") as log:
        r2 = subprocess.Popen(
            [str(submit), "--master", "local[2]", "--conf", f"spark.pyspark.python={sys.executable}",
             str(REPO / "jobs" / "run_pipeline.py"), "--config", "demo", "--input", str(raw),
             "--output", str(tmp_path / "submit"), *core],
            cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        r = _cli(
            "run", "--config", "demo", "--input", str(raw), "--output", str(tmp_path / "cli"), "--master", "local[2]",
            *core
        )
        rc2 = r2.wait(300)
    finally:
        if r2.poll() is None:
            r2.kill()
            r2.wait(60)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout[r.stdout.index("{"):])
    assert (summary["records"], summary["curated"], summary["rejected"], summary["quarantined"]) == (22, 20, 1, 1)

    assert rc2 == 0, submit_log.read_text(errors="replace")[-3000:]
    run = json.loads((tmp_path / "submit" / "run.json").read_text())
    assert run["spark"]["master"] == "local[2]"
    for table in ("curated", "rejected", "quarantine"):
        assert (
            pq.read_table(tmp_path / "cli" / table).to_pylist()
            == pq.read_table(tmp_path / "submit" / table).to_pylist()
        )
