"""Nightly orchestration on a real (tiny) pipeline: publish, idempotent rerun, backfill, gates, failures,
and the removal ledger of a real run."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

import pipelines.nightly as nightly_module
from pipelines.ledger import write_removal_ledger
from pipelines.nightly import NightlyError, run_nightly
from pipelines.runner import run_pipeline
from pipelines.store import DatasetStore
from quality.report import write_report
from tests.spark.nightly_support import demo_records, fast_config, tree_bytes, write_partition
from train.dataset import load_index


def test_module_is_this_repository():
    assert nightly_module.__file__.replace("\\", "/").endswith("pipelines/nightly.py")


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    day1 = demo_records(0, 12)
    day1.append(dict(day1[0], id="dup-of-first"))  # an exact duplicate: removed, and in the ledger
    write_partition(root, "2024-01-01", day1)
    write_partition(root, "2024-01-02", demo_records(20, 8))
    write_partition(root, "2024-01-03", demo_records(40, 8))
    return root


def _shard_doc_ids(store: DatasetStore) -> list[str]:
    index, folder = load_index(store.root)
    ids = []
    for s in index.shards:
        ids += pq.read_table(folder / s.path, columns=["doc_id"]).column("doc_id").to_pylist()
    return ids


def test_nightly_publishes_reruns_idempotently_gates_and_backfills(spark, raw, tmp_path):
    store = DatasetStore(tmp_path / "store")
    cfg = fast_config()

    first = run_nightly(cfg, raw, "2024-01-01", store.root, spark=spark, report_writer=write_report)
    assert first.status == "published" and first.version == "v000001"
    assert first.partitions == ["date=2024-01-01"] and first.counts["rejected"] == 1
    assert store.current_version() == "v000001"
    ids1 = _shard_doc_ids(store)
    assert len(ids1) == len(set(ids1)) == first.counts["curated"] == 12
    snapshot = tree_bytes(store.versions_dir)

    # Rerun of the same night: nothing to do, no second version, nothing changed.
    again = run_nightly(cfg, raw, "2024-01-01", store.root, spark=spark, report_writer=write_report)
    assert again.status == "up_to_date" and again.version == "v000001"
    assert tree_bytes(store.versions_dir) == snapshot
    assert len(store.processed_inputs()) == 1

    # A run whose gates fail is kept for inspection but never published.
    def gated(*a, **kw):
        result = run_pipeline(*a, **kw)
        result.gates_passed = False
        return result

    g = run_nightly(cfg, raw, "2024-01-02", store.root, spark=spark, report_writer=write_report, runner=gated)
    assert g.status == "gated" and g.version == "v000001"
    assert (store.runs_dir / g.run_id / "run.json").is_file()
    assert store.current_version() == "v000001" and tree_bytes(store.versions_dir) == snapshot
    assert "date=2024-01-02/part-0.jsonl" not in store.processed_inputs()

    # A run that fails changes nothing either.
    def broken(*a, **kw):
        raise RuntimeError("executor lost")

    with pytest.raises(RuntimeError, match="executor lost"):
        run_nightly(cfg, raw, "2024-01-03", store.root, spark=spark, report_writer=write_report, runner=broken)
    assert store.current_version() == "v000001" and tree_bytes(store.versions_dir) == snapshot

    # The next night picks up the still pending 2024-01-02 as well.
    third = run_nightly(cfg, raw, "2024-01-03", store.root, spark=spark, report_writer=write_report)
    assert third.status == "published" and third.version == "v000002"
    assert third.partitions == ["date=2024-01-02", "date=2024-01-03"]
    ids2 = _shard_doc_ids(store)
    assert len(ids2) == len(set(ids2)) == 12 + 16 and set(ids1) <= set(ids2)
    info = store.version_info("v000002")
    assert info["parent"] == "v000001" and info["runs"] == [first.run_id, third.run_id]
    assert set(store.processed_inputs()) == {f"date=2024-01-0{d}/part-0.jsonl" for d in (1, 2, 3)}
    assert tree_bytes(store.versions_dir / "v000001") == {k[len("v000001/"):]: v for k, v in snapshot.items()}
    rerun = run_nightly(cfg, raw, "2024-01-03", store.root, spark=spark, report_writer=write_report)
    assert rerun.status == "up_to_date"

    # Errors that say what to do.
    with pytest.raises(NightlyError, match="has the day's data landed"):
        run_nightly(cfg, raw, "2024-02-01", store.root, spark=spark, report_writer=write_report, backfill=False)
    with pytest.raises(NightlyError, match="YYYY-MM-DD"):
        run_nightly(cfg, raw, "01/02/2024", store.root, spark=spark, report_writer=write_report)

    # A processed partition that changes afterwards is skipped, not silently re-published.
    write_partition(raw, "2024-01-03", demo_records(60, 2), name="late.jsonl")
    late = run_nightly(cfg, raw, "2024-01-03", store.root, spark=spark, report_writer=write_report)
    assert late.status == "up_to_date" and late.skipped_changed == ["date=2024-01-03"]
    (raw / "date=2024-01-03" / "late.jsonl").unlink()

    # The removal ledger of the first run: no text, one row per removed document, byte-identical rerun.
    run_dir = store.runs_dir / first.run_id
    summary = write_removal_ledger(spark, run_dir, first.run_id)
    files = {p.name: p.read_bytes() for p in (run_dir / "ledger").rglob("*") if p.is_file()}
    assert summary["documents_removed"] == 1 and summary["by_reason"] == {"exact_dedup:duplicate": 1}
    rows = pq.read_table(run_dir / "ledger" / "removals").to_pylist()
    assert len(rows) == 1 and set(rows[0]) == {"doc_id", "run_id", "source", "stage", "rule", "signal", "value"}
    assert rows[0]["signal"] == "exact_dup_of" and rows[0]["value"] in ids1 and rows[0]["run_id"] == first.run_id
    write_removal_ledger(spark, run_dir, first.run_id)
    assert {p.name: p.read_bytes() for p in (run_dir / "ledger").rglob("*") if p.is_file()} == files


def test_removal_ledger_signals(spark, tmp_path):
    """Signals by reason on a planted rejected table; errors have none; no text column ever."""
    run_dir = tmp_path / "run"
    rows = [
        ("d1", "s", "quality:gopher_short_doc", 12, None, None, "secret text one"),
        ("d2", "s", "language:low_score", None, 0.31, None, "secret text two"),
        ("d3", "s", "takedown:url", None, None, "req-7", "secret text three"),
        ("d4", "s", "pii:error", None, None, None, "secret text four"),
    ]
    df = spark.createDataFrame(rows, "doc_id string, source string, drop_reason string, q_words long, "
                                     "lang_score double, takedown_request_id string, text string")
    df.write.parquet(str(run_dir / "rejected"))
    summary = write_removal_ledger(spark, run_dir, "run-x")
    got = {r["doc_id"]: r for r in pq.read_table(run_dir / "ledger" / "removals").to_pylist()}
    assert (got["d1"]["stage"], got["d1"]["rule"], got["d1"]["signal"], got["d1"]["value"]) == \
        ("quality", "gopher_short_doc", "q_words", "12")
    assert (got["d2"]["signal"], got["d2"]["value"]) == ("lang_score", "0.31")
    assert (got["d3"]["stage"], got["d3"]["signal"], got["d3"]["value"]) == ("takedown", "takedown_request_id", "req-7")
    assert got["d4"]["signal"] is None and got["d4"]["value"] is None
    blob = b"".join(p.read_bytes() for p in (run_dir / "ledger").rglob("*") if p.is_file())
    assert b"secret text" not in blob
    assert summary["by_stage"] == {"language": 1, "pii": 1, "quality": 1, "takedown": 1}
    assert json.loads((run_dir / "ledger" / "summary.json").read_text())["documents_removed"] == 4
