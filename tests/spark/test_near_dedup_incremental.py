"""Incremental near-dedup: run A, commit its index delta, then run B against the index."""
from __future__ import annotations

import json
import random

import pytest

from pipelines.stages import near_dedup_index as dedup_index
from pipelines.stages.near_dedup import DUPLICATE_REASON
from tests.spark.test_near_dedup import REASON, _write_docs, run_stage


def _words(rng: random.Random, n: int) -> list[str]:
    return [f"t{rng.randrange(4000)}" for _ in range(n)]


def test_run_a_then_run_b_against_the_index(spark, tmp_path):
    rng = random.Random(21)
    a_docs = []
    for i in range(60):
        a_docs.append({"doc_id": f"a{i:03d}", "source": "A", "text": " ".join(_words(rng, 80))})
    # A also holds one internal near-duplicate pair: a000 kept, a060 removed.
    a_docs.append({"doc_id": "a060", "source": "A", "text": a_docs[0]["text"] + " extra"})
    index_path = tmp_path / "index"
    path_a = _write_docs(tmp_path / "a.parquet", a_docs)
    rows_a, ctx_a, stage_a = run_stage(spark, tmp_path, path_a, run_id="runA", index_path=str(index_path))
    assert rows_a["a060"][REASON] == DUPLICATE_REASON
    kept_a = spark.createDataFrame(
        [(d,) for d, r in rows_a.items() if r[REASON] is None], "doc_id string"
    )
    stage_a.finalize(kept_a)
    # The index does not grow before the run's output is committed.
    assert not (index_path / "index.json").exists()
    delta_info = json.loads((dedup_index.delta_dir(ctx_a.staging_dir) / "delta.json").read_text())
    assert delta_info["documents"] == 60 and delta_info["keys"] == 60 * stage_a.bands
    summary = dedup_index.commit_index(index_path, ctx_a.staging_dir)
    assert summary["committed"] and summary["documents"] == 60
    assert dedup_index.commit_index(index_path, ctx_a.staging_dir)["committed"] is False  # idempotent

    # Run B: near copies of 20 of A's kept documents, 30 new documents, two of which are near copies
    # of each other.
    b_docs = []
    for i in range(20):
        words = a_docs[i + 1]["text"].split()
        words[-1] = "changed"  # Jaccard 75/77 with the original
        b_docs.append({"doc_id": f"b{i:03d}", "source": "B", "text": " ".join(words)})
    for i in range(30):
        b_docs.append({"doc_id": f"n{i:03d}", "source": "B", "text": " ".join(_words(rng, 80))})
    b_docs.append({"doc_id": "n100", "source": "B", "text": b_docs[20]["text"] + " more"})
    # An A document id sorts after the copies: the index member must still win.
    b_docs.append({"doc_id": "0copy", "source": "B", "text": a_docs[30]["text"] + " tail"})
    path_b = _write_docs(tmp_path / "b.parquet", b_docs)
    rows_b, ctx_b, stage_b = run_stage(spark, tmp_path, path_b, run_id="runB", index_path=str(index_path))
    info = ctx_b.stage_info["near_dedup"]
    for i in range(20):
        r = rows_b[f"b{i:03d}"]
        assert r[REASON] == DUPLICATE_REASON
        assert r["dup_cluster_id"] == min(f"b{i:03d}", f"a{i + 1:03d}")
        assert r["dup_cluster_size"] == 1  # this run's documents in the cluster
    assert rows_b["0copy"][REASON] == DUPLICATE_REASON
    assert rows_b["n000"][REASON] is None and rows_b["n100"][REASON] == DUPLICATE_REASON
    assert all(rows_b[f"n{i:03d}"][REASON] is None for i in range(30))
    assert info["clusters_with_index_documents"] == 21 and info["duplicates"] == 22

    kept_b = spark.createDataFrame(
        [(d,) for d, r in rows_b.items() if r[REASON] is None], "doc_id string"
    )
    stage_b.finalize(kept_b)
    summary = dedup_index.commit_index(index_path, ctx_b.staging_dir)
    assert summary["committed"] and summary["documents"] == 30 and summary["versions"] == 2
    manifest = dedup_index.read_manifest(index_path)
    assert [v["run_id"] for v in manifest["versions"]] == ["runA", "runB"]
    assert manifest["documents"] == 90
    keys = spark.read.parquet(str(index_path / "versions" / "runB" / "keys"))
    assert set(keys.columns) == {"doc_id", "key", "band"}
    assert keys.select("band").distinct().count() == stage_b.bands
    # A's documents are never touched by B: the index still lists all of them.
    a_ids = {r["doc_id"] for r in spark.read.parquet(str(index_path / "versions" / "runA" / "docs")).collect()}
    assert a_ids == {f"a{i:03d}" for i in range(60)}

    # Another configuration cannot use this index.
    with pytest.raises(dedup_index.DedupIndexError, match="other parameters"):
        run_stage(spark, tmp_path, path_b, run_id="runC", index_path=str(index_path), num_perm=64)
