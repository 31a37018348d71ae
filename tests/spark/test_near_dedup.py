"""Near-dedup stage on Spark: equality with a single-process datasketch reference, recall and false
pairs on planted near-duplicates, invariance, graph shapes, huge buckets, the giant-cluster guard,
verification and survivor rules. Inputs are small (a few thousand documents at most)."""
from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.dedup import make_near_dup_corpus
from pipelines.stages.base import RunContext, StageConfigError
from pipelines.stages.near_dedup import (
    DUPLICATE_REASON,
    GiantClusterError,
    NearDedupStage,
    connected_components,
)
from pipelines.text import minhash as mh
from pipelines.text.components import UnionFind, partition
from pipelines.text.components import connected_components as uf_components
from schemas.columns import reason_column
from schemas.config import validate_config

REASON = reason_column("near_dedup")


def _write_docs(path: Path, docs: list[dict]) -> str:
    table = pa.Table.from_pylist(
        [dict(d, n_chars=len(d["text"])) for d in docs],
    )
    pq.write_table(table, path)
    return str(path)


def run_stage(spark, tmp: Path, docs_path: str, partitions: int = 4, run_id: str = "run", **section):
    """Run the stage on a Parquet file of documents; returns ({doc_id: row dict}, ctx, stage)."""
    cfg = validate_config({"near_dedup": {"enabled": True, **section}})
    ctx = RunContext(
        spark=spark,
        config=cfg,
        run_id=run_id,
        staging_dir=tmp / f"{run_id}-staging",
        work_dir=tmp / f"{run_id}-work",
        num_partitions=partitions,
    )
    stage = NearDedupStage(cfg.near_dedup, ctx)
    stage.prepare()
    df = spark.read.parquet(docs_path).repartition(partitions)
    out = stage.apply(df)
    assert out.columns[-4:] == ["dup_cluster_id", "dup_cluster_size", "dup_giant_cluster", REASON]
    rows = {r["doc_id"]: r.asDict() for r in out.collect()}
    return rows, ctx, stage


def _clusters(rows: dict) -> set[frozenset]:
    return partition({d: r["dup_cluster_id"] for d, r in rows.items()})


# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus():
    return make_near_dup_corpus(2000, seed=7, short_docs=8)


@pytest.fixture(scope="module")
def corpus_path(corpus, tmp_path_factory):
    return _write_docs(tmp_path_factory.mktemp("nd-corpus") / "docs.parquet", corpus.docs)


@pytest.fixture(scope="module")
def main_run(spark, corpus_path, tmp_path_factory):
    return run_stage(spark, tmp_path_factory.mktemp("nd-main"), corpus_path)


def test_partition_equals_datasketch_lsh_with_union_find(main_run, corpus):
    from datasketch import MinHash, MinHashLSH

    rows, ctx, stage = main_run
    assert (stage.bands, stage.rows) == (9, 13)  # datasketch's optimum for 0.8 / 128
    lsh = MinHashLSH(num_perm=128, params=(stage.bands, stage.rows))
    minhashes = {}
    texts = [d["text"] for d in corpus.docs]
    hashes, owner = mh.shingle_hashes(texts, "word", 5)
    bounds = np.searchsorted(owner, np.arange(len(texts) + 1))
    for i, d in enumerate(corpus.docs):
        hs = hashes[bounds[i] : bounds[i + 1]].tolist()
        if not hs:
            continue
        m = MinHash(num_perm=128, seed=1, hashfunc=lambda h: h)
        m.update_batch(hs)
        lsh.insert(d["doc_id"], m)
        minhashes[d["doc_id"]] = m
    uf = UnionFind(d["doc_id"] for d in corpus.docs)
    for doc_id, m in minhashes.items():
        for other in lsh.query(m):
            uf.union(doc_id, other)
    reference = partition(uf.components())
    got = _clusters(rows)
    assert got == reference
    assert sum(1 for c in got if len(c) > 1) > 50  # the planted duplicates were found at all


def test_recall_and_false_pairs_on_planted_near_duplicates(main_run, corpus):
    rows, _, _ = main_run
    t = 0.8
    high = [(a, b) for a, b, j in corpus.planted if j >= t + 0.1]
    assert len(high) > 50
    recall = sum(rows[a]["dup_cluster_id"] == rows[b]["dup_cluster_id"] for a, b in high) / len(high)
    assert recall >= 0.95
    text = {d["doc_id"]: d["text"] for d in corpus.docs}
    reported = [
        pair
        for c in _clusters(rows)
        if len(c) > 1
        for pair in itertools.combinations(sorted(c), 2)
    ]
    low = sum(mh.true_jaccard(text[a], text[b]) < t - 0.2 for a, b in reported)
    assert reported and low / len(reported) <= 0.02


def test_columns_survivors_statistics(main_run, corpus):
    rows, ctx, _ = main_run
    assert len(rows) == len(corpus.docs)
    by_cluster = defaultdict(list)
    for d, r in rows.items():
        by_cluster[r["dup_cluster_id"]].append(d)
    dups = 0
    for cid, members in by_cluster.items():
        assert cid == min(members)  # the cluster id is the smallest doc_id
        for d in members:
            r = rows[d]
            assert r["dup_cluster_size"] == len(members)
            assert r["dup_giant_cluster"] is False
            # default survivor rule: the lowest doc_id is kept
            assert r[REASON] == (None if d == cid else DUPLICATE_REASON)
            dups += d != cid
    short = [d["doc_id"] for d in corpus.docs if d["source"] == "short"]
    assert short and all(rows[d]["dup_cluster_size"] == 1 and rows[d][REASON] is None for d in short)
    info = ctx.stage_info["near_dedup"]
    assert info["duplicates"] == dups
    assert info["documents"] == len(corpus.docs)
    assert info["documents_without_shingles"] == len(short)
    stats = json.loads((ctx.side_output_dir("near_dedup") / "cluster_stats.json").read_text())
    assert stats["duplicates"] == dups
    sizes = defaultdict(int)
    for members in by_cluster.values():
        if len(members) > 1:
            sizes[len(members)] += 1
    assert {b["size"]: b["clusters"] for b in stats["clusters_by_size"]} == dict(sizes)
    top = stats["largest_clusters"][0]
    assert top["size"] == max(sizes)
    source_of = {d["doc_id"]: d["source"] for d in corpus.docs}
    expected_mix = defaultdict(int)
    for d in by_cluster[top["cluster_id"]]:
        expected_mix[source_of[d]] += 1
    assert top["sources"] == dict(expected_mix)


def test_order_and_partition_count_invariance(spark, main_run, corpus, tmp_path):
    rows, _, _ = main_run
    shuffled = list(reversed(corpus.docs))
    path = _write_docs(tmp_path / "reversed.parquet", shuffled)
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    try:
        rows2, _, _ = run_stage(spark, tmp_path, path, partitions=3, run_id="again")
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous)
    assert rows2 == rows


# ---------------------------------------------------------------------------------------------
def test_connected_components_on_chain_star_cycle_islands(spark, tmp_path):
    rng = random.Random(3)
    names = [f"n{rng.getrandbits(40):011x}" for _ in range(400)]
    it = iter(names)
    chain = [next(it) for _ in range(40)]
    star = [next(it) for _ in range(20)]
    cycle = [next(it) for _ in range(25)]
    edges = [(a, b) for a, b in zip(chain, chain[1:])]
    edges += [(star[0], x) for x in star[1:]]
    edges += [(a, b) for a, b in zip(cycle, cycle[1:] + cycle[:1])]
    islands = [(next(it), next(it)) for _ in range(10)]
    edges += islands
    tri = [next(it) for _ in range(3)]
    edges += [(tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]), (tri[0], tri[0])]  # incl. a self loop
    rng.shuffle(edges)
    df = spark.createDataFrame(edges, "src string, dst string").repartition(3)
    labels, iterations = connected_components(
        df, checkpoint_interval=2, max_iterations=50, checkpoint_dir=str(tmp_path / "ckpt")
    )
    got = {r["node"]: r["root"] for r in labels.collect()}
    expected = uf_components(edges)
    assert got == expected
    assert len(partition(got)) == 3 + 10 + 1  # chain, star, cycle, 10 islands, triangle
    assert iterations >= 2  # a 40-node chain is not a star after one round
    with pytest.raises(RuntimeError, match="max_iterations"):
        connected_components(df, max_iterations=1)


@pytest.fixture(scope="module")
def boilerplate_path(tmp_path_factory):
    """150 copies of one boilerplate text, 40 copies of another, 60 unrelated documents."""
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(3000)]
    docs = []
    big = "Accept all cookies to continue reading this page and agree to the terms of service"
    mid = " ".join(rng.choice(vocab) for _ in range(40))
    for i in range(150):
        docs.append({"doc_id": f"a{i:04d}", "source": f"s{i % 2}", "text": big, "quality": float(i % 7)})
    for i in range(40):
        docs.append({"doc_id": f"b{i:04d}", "source": "s2", "text": mid, "quality": float(i % 5) if i != 3 else None})
    for i in range(60):
        text = " ".join(rng.choice(vocab) for _ in range(50))
        docs.append({"doc_id": f"c{i:04d}", "source": "s3", "text": text, "quality": 1.0})
    return _write_docs(tmp_path_factory.mktemp("nd-boiler") / "docs.parquet", docs)


def test_huge_buckets_kept_giant_cluster_flagged_column_survivor(spark, boilerplate_path, tmp_path):
    rows, ctx, _ = run_stage(
        spark, tmp_path, boilerplate_path, max_bucket_size=30, giant_cluster_share=0.4,
        giant_cluster_min_size=10, on_giant_cluster="flag", survivor="quality",
    )
    info = ctx.stage_info["near_dedup"]
    assert info["huge_buckets"] == 2 * 9 and info["largest_bucket"] == 150
    a = [r for d, r in rows.items() if d.startswith("a")]
    b = {d: r for d, r in rows.items() if d.startswith("b")}
    # 150 > 0.4 * 250: giant, flagged and kept whole
    assert all(r["dup_giant_cluster"] and r[REASON] is None and r["dup_cluster_size"] == 150 for r in a)
    # 40 docs in huge buckets, linked by star edges; highest quality wins, ties by doc_id
    assert {r["dup_cluster_size"] for r in b.values()} == {40}
    kept = [d for d, r in b.items() if r[REASON] is None]
    assert kept == ["b0004"]  # quality 4.0 first occurs at i=4
    assert all(not r["dup_giant_cluster"] for r in b.values())
    assert info["giant_clusters"] == 1 and info["duplicates"] == 39
    stats = json.loads((ctx.side_output_dir("near_dedup") / "cluster_stats.json").read_text())
    assert stats["largest_clusters"][0]["sources"] == {"s0": 75, "s1": 75}
    assert stats["largest_clusters"][0]["giant"] is True


def test_huge_buckets_skipped(spark, boilerplate_path, tmp_path):
    rows, ctx, _ = run_stage(spark, tmp_path, boilerplate_path, max_bucket_size=30, on_huge_bucket="skip")
    assert ctx.stage_info["near_dedup"]["huge_buckets"] == 18
    assert all(r["dup_cluster_size"] == 1 and r[REASON] is None for r in rows.values())


def test_giant_cluster_fails_the_run(spark, boilerplate_path, tmp_path):
    with pytest.raises(GiantClusterError, match="on_giant_cluster: flag"):
        run_stage(spark, tmp_path, boilerplate_path, giant_cluster_share=0.5, giant_cluster_min_size=10)


def test_unknown_survivor_column_fails_fast(spark, boilerplate_path, tmp_path):
    with pytest.raises(StageConfigError, match="numeric columns: .*quality"):
        run_stage(spark, tmp_path, boilerplate_path, survivor="no_such_signal")
    with pytest.raises(StageConfigError, match="not numeric"):
        run_stage(spark, tmp_path, boilerplate_path, survivor="source")


# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_corpus():
    return make_near_dup_corpus(500, seed=11, dup_share=0.4)


@pytest.fixture(scope="module")
def small_path(small_corpus, tmp_path_factory):
    return _write_docs(tmp_path_factory.mktemp("nd-small") / "docs.parquet", small_corpus.docs)


@pytest.mark.parametrize("verification", ["exact", "estimated"])
def test_verification_removes_low_similarity_candidates(spark, small_corpus, small_path, tmp_path, verification):
    # 32 bands of 3 rows: candidates from a Jaccard of about 0.3 on, far below the 0.8 threshold.
    rows, ctx, _ = run_stage(
        spark, tmp_path, small_path, bands=32, rows=3, verification=verification, survivor="longest"
    )
    info = ctx.stage_info["near_dedup"]
    assert info["verified_edges"] < info["candidate_edges"]
    text = {d["doc_id"]: d["text"] for d in small_corpus.docs}
    low_candidates = [(a, b) for a, b, j in small_corpus.planted if j < 0.6]
    assert len(low_candidates) > 20
    together = sum(rows[a]["dup_cluster_id"] == rows[b]["dup_cluster_id"] for a, b in low_candidates)
    assert together / len(low_candidates) <= 0.05
    high = [(a, b) for a, b, j in small_corpus.planted if j >= 0.9]
    assert sum(rows[a]["dup_cluster_id"] == rows[b]["dup_cluster_id"] for a, b in high) / len(high) >= 0.95
    # survivor rule "longest": the kept member of each cluster has the most characters (ties: doc_id)
    by_cluster = defaultdict(list)
    for d, r in rows.items():
        by_cluster[r["dup_cluster_id"]].append(d)
    for members in by_cluster.values():
        kept = [d for d in members if rows[d][REASON] is None]
        assert kept == [min(members, key=lambda d: (-len(text[d]), d))]
