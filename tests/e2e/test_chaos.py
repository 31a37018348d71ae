"""Chaos: kill the nightly driver's process group at random moments, rerun, and check that the published
version equals a clean run's (byte-identical shards, no document lost or duplicated) and that CURRENT
never names an incomplete version.

CORPUSFORGE_CHAOS_KILLS sets the number of kills (default 5); CORPUSFORGE_CHAOS_SEED the random seed.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.store import DatasetStore
from storage.shards import verify_shards

REPO = Path(__file__).resolve().parents[2]
#: Cheap stages only (ingest, exact dedup, tokenize, as tests/spark/nightly_support.FAST): what is tested is the
#: orchestration (kill, resume, publish), and every other stage only makes each of the seven runs longer.
FAST = ["language.enabled=false", "quality.enabled=false", "classify.enabled=false", "decontaminate.enabled=false",
        "pii.enabled=false", "bias.enabled=false", "near_dedup.enabled=false", "spark.shuffle_partitions=2",
        "spark.master=local[2]", "tokenize.target_shard_bytes=4096", "tokenize.row_group_bytes=1024"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
               PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("PYSPARK_GATEWAY_PORT", None)
    return env


def _cmd(raw: Path, store: Path, date: str) -> list[str]:
    cmd = [sys.executable, str(REPO / "jobs" / "nightly.py"), "--log-level", "WARNING", "--config", "demo",
           "--raw", str(raw), "--date", date, "--store", str(store)]
    for s in FAST:
        cmd += ["--set", s]
    return cmd


def _start(raw, store, date, log) -> subprocess.Popen:
    # a new session: the driver, its JVM and the Python workers form one process group
    return subprocess.Popen(_cmd(raw, store, date), cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(60)
    deadline = time.time() + 30
    while time.time() < deadline:  # wait until every member of the group is gone
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise AssertionError("processes of the killed nightly run survived SIGKILL")


def _check_current(store: Path) -> None:
    """CURRENT is absent or names a complete, verifiable version."""
    s = DatasetStore(store)
    name = s.current_version()
    if name is None:
        return
    vdir = s.version_dir(name)
    assert (vdir / "index.json").is_file() and (vdir / "version.json").is_file(), f"CURRENT names incomplete {name}"
    report = verify_shards(store, level="hash")
    assert report.ok, [str(p) for p in report.problems]


def _published(store: Path) -> tuple[str, dict, dict[str, bytes], list[str]]:
    s = DatasetStore(store)
    name = s.current_version()
    index = json.loads((s.version_dir(name) / "index.json").read_text())
    files = {e["path"]: (s.version_dir(name) / e["path"]).read_bytes() for e in index["shards"]}
    ids = []
    for e in index["shards"]:
        ids += pq.read_table(s.version_dir(name) / e["path"], columns=["doc_id"]).column("doc_id").to_pylist()
    index.pop("config_sha256")  # holds the store's own paths (the near-dedup index location)
    return name, index, files, ids


def _raw(tmp_path: Path) -> Path:
    src = (REPO / "pipelines" / "assets" / "demo" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    raw = tmp_path / "raw"
    for date, lines in (("2024-03-01", src[:10]), ("2024-03-02", src[10:20])):
        (raw / f"date={date}").mkdir(parents=True)
        (raw / f"date={date}" / "part-0.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return raw


@pytest.mark.slow
def test_killed_nightly_runs_publish_exactly_the_clean_result(tmp_path):
    kills = int(os.environ.get("CORPUSFORGE_CHAOS_KILLS", "5"))
    rng = random.Random(int(os.environ.get("CORPUSFORGE_CHAOS_SEED", "20240302")))
    raw = _raw(tmp_path)
    log = open(tmp_path / "nightly.log", "ab")

    clean_store = tmp_path / "clean"
    t0 = time.time()
    clean = subprocess.run(_cmd(raw, clean_store, "2024-03-02"), cwd=REPO, env=_env(), capture_output=True,
                           text=True, timeout=600)
    duration = time.time() - t0
    assert clean.returncode == 0, clean.stdout[-2000:] + clean.stderr[-2000:]
    assert json.loads(clean.stdout)["status"] == "published"
    clean_name, clean_index, clean_files, clean_ids = _published(clean_store)

    store = tmp_path / "chaos"
    outcomes = []
    for i in range(kills):
        # spread the kills over the whole run: start-up, ingest, stages, tokenize, publish
        delay = rng.uniform(0.15, 0.9) * duration
        proc = _start(raw, store, "2024-03-02", log)
        time.sleep(delay)
        finished = proc.poll() is not None
        _kill_group(proc)
        outcomes.append("finished" if finished else f"killed@{delay:.1f}s")
        _check_current(store)
    final = subprocess.run(_cmd(raw, store, "2024-03-02"), cwd=REPO, env=_env(), capture_output=True, text=True,
                           timeout=600)
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]
    assert json.loads(final.stdout)["status"] in ("published", "up_to_date")
    _check_current(store)
    assert sum(o.startswith("killed") for o in outcomes) >= 1, outcomes

    name, index, files, ids = _published(store)
    assert name == clean_name == "v000001"  # no second version, whatever was killed
    assert index == clean_index
    assert files == clean_files  # byte-identical shards
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(clean_ids)  # nothing lost or duplicated
    leftovers = [p.name for p in (store / "versions").iterdir() if p.name != name]
    assert leftovers == [], leftovers
