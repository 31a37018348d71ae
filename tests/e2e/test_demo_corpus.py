"""The demo job on the bundled sample corpus, checked against the corpus generator's ground truth."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.runner import run_pipeline
from schemas.config import load_config

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "assets" / "demo"


@pytest.fixture(scope="module")
def demo_run(spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    manifest = run_pipeline(load_config("demo"), [str(DEMO / "*.jsonl*")], str(out), spark=spark).manifest
    return out, manifest, json.loads((DEMO / "manifest.json").read_text())


def test_every_malformed_line_lands_where_the_ground_truth_says(demo_run):
    out, m, truth = demo_run
    quarantine = [q for q in pq.read_table(out / "quarantine").to_pylist() if q["source_file"].endswith("malformed.jsonl")]
    got = {q["source_offset"]: q["reason"] for q in quarantine}
    expected_bad = {ln["byte_offset"]: ln["expected"] for ln in truth["malformed"]["lines"] if ln["expected"] != "kept"}
    assert got == expected_bad
    per = {Path(i.path).name: i for i in m.inputs}["malformed.jsonl"]
    kept = truth["malformed"]["expected_counts"]["kept"]
    assert per.curated + per.rejected == kept and per.quarantined == len(expected_bad)


def test_exact_duplicates_removed_to_one_per_group(demo_run):
    out, m, truth = demo_run
    curated = pq.read_table(out / "curated", columns=["source_id", "content_sha256"]).to_pylist()
    rejected = pq.read_table(out / "rejected", columns=["source_id", "drop_reason", "exact_dup_of"]).to_pylist()
    sha = Counter(r["content_sha256"] for r in curated)
    assert max(sha.values()) == 1, "no exact duplicate survives"
    assert all(r["drop_reason"] == "exact_dedup:duplicate" for r in rejected)
    assert len(rejected) == truth["counts"]["exact_duplicate_redundant_docs"]


def test_accounting_adds_up_for_every_file(demo_run):
    out, m, truth = demo_run
    assert m.counts.records == truth["counts"]["documents"] + truth["counts"]["malformed_lines"]
    for i in m.inputs:
        assert i.records == i.curated + i.rejected + i.quarantined
    assert m.counts.curated + m.counts.rejected + m.counts.quarantined == m.counts.records
