"""The store and the incremental near-dedup index: commit after publish (repair), forget on takedown,
stale locks of killed processes. No Spark: the index files are written with pyarrow."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.nightly import _config_for_store, repair_published
from pipelines.stages import near_dedup_index as dedup_index
from pipelines.store import DatasetStore, run_entries
from pipelines.takedown import forget_in_dedup_index
from schemas.config import load_config
from tests.unit.test_store import fake_run

PARAMS = {"shingle": "word", "ngram": 5, "num_perm": 8, "seed": 1, "bands": 2, "rows": 4,
          "shingle_hash_version": 1, "permutation_scheme": "x"}


def _delta(run_dir, run_id, ids):
    d = dedup_index.delta_dir(run_dir)
    (d / "docs").mkdir(parents=True)
    pq.write_table(pa.table({"doc_id": ids, "signature": [b"\0" * 32] * len(ids)}), d / "docs" / "part-00000.parquet")
    for band in range(2):
        (d / "keys" / f"band={band}").mkdir(parents=True)
        pq.write_table(pa.table({"doc_id": ids, "key": pa.array(range(len(ids)), pa.int64())}),
                       d / "keys" / f"band={band}" / "part-00000.parquet")
    dedup_index.write_delta_manifest(d, run_id, PARAMS, len(ids), 2 * len(ids))


def test_published_runs_enter_the_index_and_takedowns_leave_it(tmp_path):
    store = DatasetStore(tmp_path / "store")
    rdir = fake_run(store, "r1", 0, 10)
    _delta(rdir, "r1", [f"d{i:05d}" for i in range(10)])
    idx, new = run_entries(rdir, "r1")
    store.build_version("v000001", new, idx, {"parent": None, "runs": ["r1"], "added_runs": [
        {"run_id": "r1", "inputs": [{"path": "date=2024-01-01/a", "sha256": "a" * 64, "bytes": 1}]}]})
    # killed right after switching CURRENT: nothing in the index nor the ledger yet
    store.switch_current("v000001")
    assert not (store.dedup_index_dir / "index.json").exists()
    assert repair_published(store) == {"inputs_recorded": 1, "index_commits": 1}
    assert repair_published(store) == {"inputs_recorded": 0, "index_commits": 0}  # idempotent
    manifest = dedup_index.read_manifest(store.dedup_index_dir)
    assert [v["run_id"] for v in manifest["versions"]] == ["r1"] and manifest["documents"] == 10

    assert forget_in_dedup_index(store.dedup_index_dir, {"d00003", "d00007", "nope"}) == 2
    vdir = store.dedup_index_dir / "versions" / "r1"
    docs = pq.read_table(vdir / "docs").column("doc_id").to_pylist()
    keys = pq.read_table(vdir / "keys" / "band=1").column("doc_id").to_pylist()
    assert "d00003" not in docs and "d00007" not in keys and len(docs) == 8 and len(keys) == 8
    assert dedup_index.read_manifest(store.dedup_index_dir)["documents"] == 8
    assert forget_in_dedup_index(store.dedup_index_dir, {"d00003"}) == 0


def test_lock_file_left_by_a_dead_process_does_not_block_a_takedown(tmp_path):
    """flock dies with its holder: a lock file on disk (a crashed commit's) is no lock at all."""
    store = DatasetStore(tmp_path / "store")
    run = store.root / "runs" / "r1"
    _delta(run, "r1", [f"d{i:05d}" for i in range(4)])
    dedup_index.commit_index(store.dedup_index_dir, run)
    (store.dedup_index_dir / dedup_index.LOCK).write_text("pid=999999999 purpose=commit since=2024-01-01T00:00:00Z\n")
    assert forget_in_dedup_index(store.dedup_index_dir, {"d00001"}) == 1


def test_nightly_points_near_dedup_at_the_store_index(tmp_path):
    store = DatasetStore(tmp_path / "store")
    cfg = load_config("demo", ["near_dedup.enabled=true", "near_dedup.index_path=/elsewhere"])
    assert _config_for_store(cfg, store).near_dedup.index_path == str(store.dedup_index_dir)
    off = load_config("demo", ["near_dedup.enabled=false"])
    assert _config_for_store(off, store) is off
