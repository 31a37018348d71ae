"""Erasure requests on Spark: marking at ingest, and the published-data path on a real store."""
from __future__ import annotations

import json

import pyarrow.parquet as pq

from pipelines.nightly import run_nightly
from pipelines.store import DatasetStore, read_jsonl
from pipelines.takedown import apply_takedowns, mark_takedowns
from pipelines.text.ids import content_sha256
from pipelines.text.normalize import normalize_text
from tests.spark.nightly_support import demo_records, fast_config, write_partition
from train.dataset import load_index


def test_mark_takedowns_adds_reason_and_keeps_rows(spark):
    rows = [
        ("d1", "https://www.example.com/a", "1" * 64, "t1"),
        ("d2", "https://other.org/x", "2" * 64, "t2"),
        ("d3", None, "3" * 64, "t3"),
        ("d4", "https://keep.net/", "4" * 64, "t4"),
    ]
    df = spark.createDataFrame(rows, "doc_id string, url string, content_sha256 string, text string")
    reqs = [{"request_id": "b-dom", "domain": "example.com"}, {"request_id": "a-sha", "content_sha256": "3" * 64},
            {"request_id": "c-doc", "doc_id": "d2"}, {"request_id": "d-doc", "doc_id": "d1"}]
    out = {r["doc_id"]: r for r in mark_takedowns(spark, df, reqs).collect()}
    assert len(out) == 4 and out["d4"]["takedown_reason"] is None and out["d4"]["text"] == "t4"
    assert (out["d1"]["takedown_reason"], out["d1"]["takedown_request_id"]) == ("takedown:domain", "b-dom")
    assert (out["d2"]["takedown_reason"], out["d3"]["takedown_reason"]) == (
        "takedown:doc_id", "takedown:content_sha256"
    )
    none = mark_takedowns(spark, df, [])
    assert none.filter("takedown_reason is not null").count() == 0 and none.count() == 4


def _tokens(folder, index):
    out = {}
    for s in index.shards:
        t = pq.read_table(folder / s.path, columns=["doc_id", "input_ids"])
        for d, ids in zip(t.column("doc_id").to_pylist(), t.column("input_ids").to_pylist()):
            out[d] = ids
    return out


def test_takedown_rewrites_only_affected_shards_and_is_idempotent(spark, tmp_path):
    raw = tmp_path / "raw"
    recs = demo_records(0, 24)
    write_partition(raw, "2024-01-01", recs)
    store = DatasetStore(tmp_path / "store")
    cfg = fast_config("tokenize.target_shard_bytes=4096", "tokenize.row_group_bytes=1024")
    r1 = run_nightly(cfg, raw, "2024-01-01", store.root, spark=spark)
    assert r1.version == "v000001"
    index1, folder1 = load_index(store.root)
    before = _tokens(folder1, index1)
    assert len(index1.shards) >= 3  # small shards: most are not touched
    curated = pq.read_table(store.runs_dir / r1.run_id / "curated").to_pylist()
    by_url = {r["url"]: r["doc_id"] for r in curated}
    victim_url = curated[3]["url"]
    victim_text = next(r["text"] for r in recs if r["url"] == curated[7]["url"])
    requests = tmp_path / "requests.jsonl"
    requests.write_text("\n".join(json.dumps(r) for r in [
        {"request_id": "gdpr-1", "url": victim_url.replace("https://www.", "HTTPS://WWW.", 1)},
        {"request_id": "gdpr-2", "content_sha256": content_sha256(normalize_text(victim_text))},
        {"request_id": "gdpr-3", "doc_id": "no-such-document"},
    ]) + "\n")
    gone = {by_url[victim_url], curated[7]["doc_id"]}
    holding = {s.path for s in index1.shards
               if gone & set(pq.read_table(folder1 / s.path, columns=["doc_id"]).column(0).to_pylist())}

    proof = apply_takedowns(spark, store, requests)
    assert proof["documents_removed"] == 2 and proof["new_version"] == "v000002" and proof["verified"]["ok"]
    assert store.current_version() == "v000002"
    index2, folder2 = load_index(store.root)
    after = _tokens(folder2, index2)
    assert set(after) == set(before) - gone
    assert all(after[d] == before[d] for d in after)  # every other token identical
    # exactly the shards that held a removed document are rewritten; every other shard is unchanged
    assert proof["shards_rewritten"] == len(holding) >= 1
    old_sha = {x.sha256 for x in index1.shards}
    new_shards = [s for s in index2.shards if s.sha256 not in old_sha]
    assert len(new_shards) <= len(holding)
    assert len([s for s in index2.shards if s.sha256 in old_sha]) == len(index1.shards) - len(holding)
    # the old version is withdrawn, the run folder no longer holds the documents
    assert store.version_info("v000001")["status"] == "withdrawn"
    assert not (store.versions_dir / "v000001" / "index.json").exists()
    left = {r["doc_id"] for r in pq.read_table(store.runs_dir / r1.run_id / "curated").to_pylist()}
    assert not (left & gone) and len(left) == len(curated) - 2
    # the ledger: request id, matched ids, affected versions, time; no content
    ledger = {r["request_id"]: r for r in read_jsonl(store.ledger_dir / "takedowns.jsonl")}
    assert ledger["gdpr-1"]["matched_doc_ids"] == [by_url[victim_url]]
    assert ledger["gdpr-1"]["affected_versions"] == ["v000001"] and ledger["gdpr-1"]["applied_at"]
    assert ledger["gdpr-3"]["documents"] == 0
    summary = json.loads((store.takedown_dir / "summary.json").read_text())
    assert summary["documents_removed"] == 2 and summary["requests_without_matches"] == 1
    ledger_text = (store.ledger_dir / "takedowns.jsonl").read_text() + json.dumps(summary)
    assert victim_url not in ledger_text and victim_text[:30] not in ledger_text

    # Idempotent: the same file again changes nothing and adds no ledger rows.
    n_rows = len(read_jsonl(store.ledger_dir / "takedowns.jsonl"))
    again = apply_takedowns(spark, store, requests)
    assert again["documents_removed"] == 0 and again["new_version"] is None
    assert store.current_version() == "v000002"
    assert len(read_jsonl(store.ledger_dir / "takedowns.jsonl")) == n_rows

    # Standing requests apply to future runs: a re-crawl of the erased text is not published.
    write_partition(
        raw, "2024-01-02", [dict(demo_records(30, 1)[0], id="recrawl", text=victim_text)] + demo_records(40, 3)
    )
    r2 = run_nightly(cfg, raw, "2024-01-02", store.root, spark=spark)
    assert r2.status == "published" and r2.takedowns_enforced == 1
    index3, folder3 = load_index(store.root)
    assert not (set(_tokens(folder3, index3)) & gone) and len(_tokens(folder3, index3)) == len(after) + 3
