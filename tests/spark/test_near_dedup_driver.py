"""The near-dedup stage's two plans give the same result: clustering on the driver (numpy, runs of up to
``driver_clustering_max_documents`` documents) and as Spark jobs (``driver_clustering_max_documents: 0``):
the same rows, stage figures and ``cluster_stats.json``, under every survivor rule, huge-bucket policy,
giant-cluster policy and verification mode."""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from benchmarks.dedup import make_near_dup_corpus
from pipelines.stages.near_dedup import GiantClusterError
from pipelines.text.components import (
    bucket_star_edges,
    component_labels,
    connected_components,
    lsh_star_edges,
)
from tests.spark.test_near_dedup import _write_docs, run_stage

# Figures that describe how the plan ran, not what it found.
_PLAN_FIELDS = {"timings_s", "clustering", "cc_iterations"}


def _both(spark, tmp: Path, path: str, **section):
    """Run the stage with each plan; returns ((rows, info, stats) on the driver, the same on Spark)."""
    out = []
    for plan, limit in (("driver", 1_000_000), ("spark", 0)):
        rows, ctx, _ = run_stage(spark, tmp / plan, path, run_id=plan, driver_clustering_max_documents=limit,
                                 **section)
        info = ctx.stage_info["near_dedup"]
        assert info["clustering"] == plan
        stats = json.loads((ctx.side_output_dir("near_dedup") / "cluster_stats.json").read_text())
        out.append((_comparable(rows), {k: v for k, v in info.items() if k not in _PLAN_FIELDS}, stats))
    return out


def _comparable(rows: dict) -> dict:
    """Rows with NaN replaced by a marker (NaN != NaN would make equal rows differ)."""
    return {d: {k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for d, r in rows.items()}


@pytest.fixture(scope="module")
def corpus_path(tmp_path_factory):
    corpus = make_near_dup_corpus(1500, seed=21, short_docs=6)
    return _write_docs(tmp_path_factory.mktemp("ndd-corpus") / "docs.parquet", corpus.docs)


@pytest.fixture(scope="module")
def signal_path(tmp_path_factory):
    """Boilerplate clusters (huge buckets) plus near copies, with a quality signal that has ties, a null
    and a NaN."""
    rng = random.Random(9)
    vocab = [f"w{i}" for i in range(2000)]
    docs = []
    big = "Accept all cookies to continue reading this page and agree to the terms of service"
    mid = " ".join(rng.choice(vocab) for _ in range(40))
    for i in range(120):
        docs.append({"doc_id": f"a{i:04d}", "source": f"s{i % 3}", "text": big, "quality": float(i % 4)})
    for i in range(40):
        quality = {3: None, 4: math.nan}.get(i, float(i % 5))
        docs.append({"doc_id": f"b{i:04d}", "source": "s2", "text": mid + " x" * (i % 3), "quality": quality})
    for i in range(80):
        base = [rng.choice(vocab) for _ in range(60)]
        docs.append({"doc_id": f"c{i:04d}", "source": "s3", "text": " ".join(base), "quality": 1.0})
        if i % 4 == 0:
            edited = list(base)
            edited[rng.randrange(60)] = "edit"
            docs.append({"doc_id": f"d{i:04d}", "source": "s4", "text": " ".join(edited), "quality": float(i % 3)})
    rng.shuffle(docs)
    return _write_docs(tmp_path_factory.mktemp("ndd-signal") / "docs.parquet", docs)


def test_default_plans_agree(spark, corpus_path, tmp_path):
    (rows_d, info_d, stats_d), (rows_s, info_s, stats_s) = _both(spark, tmp_path, corpus_path)
    assert rows_d == rows_s
    assert info_d == info_s
    assert stats_d == stats_s
    assert info_d["duplicates"] > 50


@pytest.mark.parametrize(
    "section",
    [
        {"survivor": "quality", "max_bucket_size": 30, "giant_cluster_share": 0.3, "giant_cluster_min_size": 10,
         "on_giant_cluster": "flag"},
        {"survivor": "quality", "survivor_order": "asc", "max_bucket_size": 30, "on_huge_bucket": "skip"},
        {"survivor": "longest", "stats_top_clusters": 2},
        {"survivor": "quality", "bands": 32, "rows": 3, "verification": "exact"},
        {"survivor": "longest", "bands": 32, "rows": 3, "verification": "estimated", "stats_top_clusters": 0},
    ],
    ids=["giant-flag", "asc-skip-huge", "longest", "verify-exact", "verify-estimated"],
)
def test_plans_agree_on_every_rule(spark, signal_path, tmp_path, section):
    (rows_d, info_d, stats_d), (rows_s, info_s, stats_s) = _both(spark, tmp_path, signal_path, **section)
    assert rows_d == rows_s
    assert info_d == info_s
    assert stats_d == stats_s
    assert info_d["duplicates"] > 0


def test_giant_cluster_fails_on_the_driver_too(spark, signal_path, tmp_path):
    with pytest.raises(GiantClusterError, match="on_giant_cluster: flag"):
        run_stage(spark, tmp_path, signal_path, giant_cluster_share=0.3, giant_cluster_min_size=10)


def test_plans_agree_without_candidates_and_repeated_ids_use_spark(spark, tmp_path):
    docs = [{"doc_id": f"e{i}", "source": "s", "text": t, "quality": 1.0}
            for i, t in enumerate(["", "one", "two words", "", "five words of plain text here"])]
    path = _write_docs(tmp_path / "tiny.parquet", docs)
    (rows_d, info_d, stats_d), (rows_s, info_s, stats_s) = _both(spark, tmp_path, path)
    assert (rows_d, info_d, stats_d) == (rows_s, info_s, stats_s)
    assert info_d["clusters"] == 0 and all(r["dup_cluster_size"] == 1 for r in rows_d.values())
    repeated = _write_docs(tmp_path / "repeated.parquet", docs + [dict(docs[-1], source="t")])
    _, ctx, _ = run_stage(spark, tmp_path / "rep", repeated)
    assert ctx.stage_info["near_dedup"]["clustering"] == "spark"


# --------------------------------------------------------------------------------------------- numpy helpers
def test_bucket_star_edges_and_component_labels_match_the_reference():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n, bands = int(rng.integers(0, 50)), int(rng.integers(1, 5))
        keys = rng.integers(0, int(rng.integers(1, 25)), size=(n, bands)).astype(np.int64)
        ids = [f"d{i:03d}" for i in range(n)]
        limit = int(rng.integers(2, 8))
        for skip in (False, True):
            src, dst, stats = bucket_star_edges(keys, limit, skip)
            reference = lsh_star_edges(ids, keys if not skip else _without_huge(keys, limit), [True] * n)
            assert sorted((ids[a], ids[b]) for a, b in zip(src.tolist(), dst.tolist())) == reference
            sizes = [np.unique(keys[:, b], return_counts=True)[1] for b in range(bands)] if n else []
            assert stats["candidate_buckets"] == sum(int((s > 1).sum()) for s in sizes)
            assert stats["huge_buckets"] == sum(int((s > limit).sum()) for s in sizes)
            labels, _ = component_labels(n, src, dst)
            assert {ids[i]: ids[labels[i]] for i in range(n)} == connected_components(reference, ids)


def _without_huge(keys: np.ndarray, limit: int) -> np.ndarray:
    """Keys with the members of huge buckets moved to unique keys (so they form no bucket there)."""
    out = keys.copy()
    fresh = int(keys.max(initial=0)) + 1
    for b in range(keys.shape[1]):
        values, counts = np.unique(keys[:, b], return_counts=True)
        for v in values[counts > limit]:
            for i in np.flatnonzero(keys[:, b] == v):
                out[i, b] = fresh
                fresh += 1
    return out


def test_component_labels_on_a_long_chain():
    n = 2000
    order = np.random.default_rng(1).permutation(n)
    src, dst = order[1:], order[:-1]  # one path through every node, in random node order
    labels, rounds = component_labels(n, src.astype(np.int64), dst.astype(np.int64))
    assert (labels == 0).all()
    assert rounds < 40  # pointer jumping: far fewer rounds than the path's length
