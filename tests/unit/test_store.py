"""The dataset store: versions built from run shards (hard links, relative paths), CURRENT by rename,
recovery of interrupted publications, the lock, the ledgers. No Spark: runs are fake shard folders."""
from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

import pipelines.store as store_module
from pipelines.store import (
    DatasetStore,
    StoreError,
    StoreLockedError,
    append_jsonl,
    check_compatible_index,
    entries_of,
    read_jsonl,
    run_entries,
)
from storage.files import FileLock, LockHeldError
from storage.shards import ShardIndex, ShardWriter, verify_shards
from train.dataset import load_index

TOK = "cd" * 32


def fake_run(store: DatasetStore, run_id: str, first: int, n: int, vocab: int = 1000, tok: str = TOK) -> Path:
    """A committed run folder with a shards/ folder of ``n`` docs (ids d<first>..), small shards."""
    rdir = store.run_dir(run_id)
    with ShardWriter(rdir / "shards", vocab_size=vocab, tokenizer_sha256=tok, eos_id=0, eos_appended=True,
                     dataset_version=run_id, target_shard_bytes=4096, row_group_bytes=1024) as w:
        for i in range(first, first + n):
            w.write_document(f"d{i:05d}", np.arange(1, 40) + i % 7, "src")
    (rdir / "run.json").write_text("{}\n")
    return rdir


def publish(store: DatasetStore, run_id: str, name=None) -> str:
    cur = store.current_version()
    idx, new = run_entries(store.run_dir(run_id), run_id)
    parent = entries_of(store, cur) if cur else []
    name = name or store.next_version_name()
    store.build_version(name, parent + new, idx, {"parent": cur, "runs": [run_id], "added_runs": []},
                        verify_paths={e.entry.path for e in new}, config_sha256=None)
    store.switch_current(name)
    return name


def test_module_is_this_repository():
    assert store_module.__file__.replace("\\", "/").endswith("pipelines/store.py")


def test_versions_are_self_contained_with_relative_paths_and_hard_links(tmp_path):
    store = DatasetStore(tmp_path / "store")
    fake_run(store, "r1", 0, 60)
    assert publish(store, "r1") == "v000001"
    fake_run(store, "r2", 100, 40)
    assert publish(store, "r2") == "v000002"
    assert (store.root / "CURRENT").read_text() == "v000002\n"
    raw = json.loads((store.root / "versions/v000002/index.json").read_text())
    paths = [s["path"] for s in raw["shards"]]
    assert all(not p.startswith("/") and ".." not in p for p in paths)
    assert {p.split("/")[0] for p in paths} == {"r1", "r2"}
    assert raw["dataset_version"] == "v000002" and raw["total_rows"] == 100
    # hard links: the version's shard is the run's file (same inode), no copy
    v = store.root / "versions/v000002" / paths[0]
    r = store.run_dir("r1") / "shards" / paths[0].split("/", 1)[1]
    assert os.stat(v).st_ino == os.stat(r).st_ino
    # the trainer reads the store's CURRENT version and the shards verify
    index, folder = load_index(store.root)
    assert folder == store.root / "versions/v000002" and index.total_rows == 100
    assert verify_shards(store.root).ok
    # the previous version is untouched
    assert ShardIndex.from_file(store.root / "versions/v000001/index.json").total_rows == 60
    assert store.chain() == ["v000002", "v000001"]


def test_a_corrupt_shard_is_never_published(tmp_path):
    store = DatasetStore(tmp_path / "store")
    fake_run(store, "r1", 0, 30)
    publish(store, "r1")
    rdir = fake_run(store, "r2", 100, 30)
    shard = sorted((rdir / "shards").glob("shard-*.parquet"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="not published"):
        publish(store, "r2")
    assert store.current_version() == "v000001"
    assert not (store.root / "versions/v000002").exists()
    assert not [p for p in store.versions_dir.iterdir() if p.name.startswith(".")]


def test_recover_removes_unpublished_versions_and_staging(tmp_path):
    store = DatasetStore(tmp_path / "store")
    fake_run(store, "r1", 0, 20)
    publish(store, "r1")
    fake_run(store, "r2", 50, 20)
    idx, new = run_entries(store.run_dir("r2"), "r2")
    # a run that died after building v000002 but before switching CURRENT
    store.build_version("v000002", entries_of(store, "v000001") + new, idx, {"parent": "v000001"})
    (store.versions_dir / ".v000003.tmp-dead").mkdir()
    (store.runs_dir / ".r3.tmp-abc" / "_work").mkdir(parents=True)
    removed = store.recover()
    assert removed["versions"] == ["v000002"] and ".r3.tmp-abc" in removed["staging"]
    assert sorted(p.name for p in store.versions_dir.iterdir()) == ["v000001"]
    assert store.next_version_name() == "v000002"  # the retry gets the same name
    assert store.current_version() == "v000001"


def test_switch_refuses_incomplete_version(tmp_path):
    store = DatasetStore(tmp_path / "store")
    (store.versions_dir / "v000001").mkdir(parents=True)
    with pytest.raises(StoreError, match="incomplete"):
        store.switch_current("v000001")
    assert store.current_version() is None


def test_tokenizer_change_is_refused(tmp_path):
    store = DatasetStore(tmp_path / "store")
    a = ShardIndex.from_file(fake_run(store, "r1", 0, 5) / "shards/index.json")
    b = ShardIndex.from_file(fake_run(store, "r2", 10, 5, tok="ef" * 32) / "shards/index.json")
    with pytest.raises(StoreError, match="tokenized differently"):
        check_compatible_index(a, b, "run r2")


def test_withdrawn_version_keeps_only_its_record(tmp_path):
    store = DatasetStore(tmp_path / "store")
    fake_run(store, "r1", 0, 20)
    publish(store, "r1")
    fake_run(store, "r2", 50, 20)
    publish(store, "r2")
    with pytest.raises(StoreError, match="CURRENT"):
        store.withdraw_version("v000002", {"by": "test"})
    store.withdraw_version("v000001", {"by": "test"})
    left = [p.name for p in (store.versions_dir / "v000001").rglob("*")]
    assert left == ["version.json"]
    assert store.version_info("v000001")["status"] == "withdrawn"
    assert store.chain() == ["v000002", "v000001"]  # history is kept
    assert load_index(store.root)[0].total_rows == 40  # the current version is unaffected


def _hold_lock(root, ready, release):
    with DatasetStore(root).lock("holder"):
        ready.set()
        release.wait(30)


def test_lock_is_exclusive_and_released_when_the_holder_dies(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_lock, args=(str(tmp_path / "s"), ready, release))
    p.start()
    assert ready.wait(30)
    with pytest.raises(StoreLockedError, match=rf"locked by another process \(pid={p.pid} purpose=holder "):
        with DatasetStore(tmp_path / "s").lock():
            pass
    p.kill()  # SIGKILL, no clean exit: the kernel releases the flock
    p.join(30)
    with DatasetStore(tmp_path / "s").lock():
        pass


def test_a_lock_error_inside_the_held_store_lock_is_not_reported_as_the_store_lock(tmp_path):
    store = DatasetStore(tmp_path / "s")
    with FileLock(tmp_path / "other.lock", purpose="other"):
        with pytest.raises(LockHeldError):
            with store.lock("outer"):
                with FileLock(tmp_path / "other.lock"):
                    pass
    with store.lock("again"):  # released on the way out
        pass


def test_ledgers_append_only_and_dedupe(tmp_path):
    store = DatasetStore(tmp_path / "s")
    path = store.inputs_ledger
    assert store.record_inputs([{"path": "date=2024-01-01/a.jsonl", "sha256": "1" * 64, "bytes": 3}]) == 1
    before = path.read_bytes()
    assert store.record_inputs([{"path": "date=2024-01-01/a.jsonl", "sha256": "1" * 64, "bytes": 3}]) == 0
    assert store.record_inputs([{"path": "date=2024-01-02/a.jsonl", "sha256": "2" * 64, "bytes": 4}]) == 1
    assert path.read_bytes().startswith(before)  # existing lines kept byte for byte
    assert set(store.processed_inputs()) == {"date=2024-01-01/a.jsonl", "date=2024-01-02/a.jsonl"}
    assert append_jsonl(tmp_path / "x.jsonl", []) == 0 and read_jsonl(tmp_path / "x.jsonl") == []
