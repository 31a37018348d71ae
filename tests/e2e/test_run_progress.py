"""``corpusforge run`` as a user runs it, not on a terminal: readable progress lines, no control characters;
an object-store ``--output`` is refused before anything starts."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = [a for s in ("language", "quality", "classify", "decontaminate", "near_dedup", "pii", "bias", "tokenize")
        for a in ("--set", f"{s}.enabled=false")]


def _cli(*args, timeout=300):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # stdout and stderr are pipes: exactly what a log file, CI or `| tee` sees
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_progress_lines_without_control_characters_off_a_terminal(tmp_path):
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps({"id": f"d{i}", "text": f"Document {i} says something."}) + "\n"
                           for i in range(30)))
    r = _cli("run", "--config", "demo", "--input", str(raw), "--output", str(tmp_path / "out"), "--master",
             "local[2]", *CORE)
    assert r.returncode == 0, r.stderr[-3000:]
    err = r.stderr
    assert "\r" not in err and "\x1b" not in err  # no progress bar redraws, no colours
    assert re.search(r"run \S+: 1 input files \(0\.0 MB\), Spark \S+, master local\[2\], Spark UI http://\S+:\d+",
                     err), err[-3000:]
    steps = re.findall(r"\[(\d+)/(\d+)\] (\S+)(?: \(\w+\))? (started|done in [\d.]+s)", err)
    names = [(name, what.split(" ")[0]) for _, _, name, what in steps]
    assert names == [(n, w) for n in ("ingest", "exact_dedup", "outputs", "accounting", "report")
                     for w in ("started", "done")], err[-3000:]
    assert {total for _, total, _, _ in steps} == {"5"}
    assert re.search(r"\[1/5\] ingest done in [\d.]+s: 30 records \(30 documents, 0 quarantined\) from 0\.0 MB, "
                     r"read at ", err), err[-3000:]
    assert "30 records = 30 curated + 0 rejected + 0 quarantined" in err


def test_an_object_store_output_is_a_usage_error(tmp_path):
    raw = tmp_path / "raw.jsonl"
    raw.write_text(json.dumps({"text": "hello"}) + "\n")
    r = _cli("run", "--config", "demo", "--input", str(raw), "--output", "s3://bucket/runs/web", timeout=60)
    assert r.returncode == 2
    assert "s3:// is not supported as an output" in r.stderr and "docs/cluster.md" in r.stderr
    assert "Spark" not in r.stderr  # refused before a JVM starts
