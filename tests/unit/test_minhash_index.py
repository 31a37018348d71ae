"""The incremental near-dedup index: commit protocol (plain files, no Spark)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.stages import near_dedup_index as idx
from schemas.config import validate_config

PARAMS = idx.signature_params(validate_config({"near_dedup": {"enabled": True}}).near_dedup)


def _fake_run(out, run_id, params=PARAMS, documents=3):
    delta = idx.delta_dir(out)
    (delta / "keys" / "band=0").mkdir(parents=True)
    (delta / "keys" / "band=0" / "part-0.parquet").write_bytes(b"keys")
    (delta / "docs").mkdir()
    (delta / "docs" / "part-0.parquet").write_bytes(b"docs")
    idx.write_delta_manifest(delta, run_id, params, documents, documents * params["bands"])
    return out


def test_signature_params_name_everything_band_keys_depend_on():
    assert PARAMS == {
        "shingle": "word", "ngram": 5, "num_perm": 128, "seed": 1, "bands": 9, "rows": 13,
        "shingle_hash_version": 1, "permutation_scheme": "affine32",
    }


def test_commit_creates_then_grows_the_index_idempotently(tmp_path):
    index = tmp_path / "index"
    assert idx.read_manifest(index) is None and idx.committed_versions(index) == []
    first = idx.commit_index(index, _fake_run(tmp_path / "out1", "r1"))
    assert first == {"committed": True, "run_id": "r1", "documents": 3, "keys": 27, "versions": 1}
    assert (index / "versions" / "r1" / "keys" / "band=0" / "part-0.parquet").read_bytes() == b"keys"
    assert not (index / "versions" / "r1" / "delta.json").exists()
    again = idx.commit_index(index, tmp_path / "out1")
    assert again["committed"] is False and again["versions"] == 1
    idx.commit_index(index, _fake_run(tmp_path / "out2", "r2", documents=5))
    manifest = idx.read_manifest(index)
    assert [v["run_id"] for v in manifest["versions"]] == ["r1", "r2"] and manifest["documents"] == 8
    assert idx.committed_versions(index) == [index / "versions" / "r1", index / "versions" / "r2"]
    with idx.commit_lock(index):  # released after each commit (the lock file itself may stay)
        pass


def test_uncommitted_version_directories_are_invisible_and_replaced(tmp_path):
    index = tmp_path / "index"
    idx.commit_index(index, _fake_run(tmp_path / "out1", "r1"))
    # a commit that crashed after copying but before listing its version
    (index / "versions" / "r2" / "junk").mkdir(parents=True)
    assert idx.committed_versions(index) == [index / "versions" / "r1"]
    idx.commit_index(index, _fake_run(tmp_path / "out2", "r2"))
    assert not (index / "versions" / "r2" / "junk").exists()
    assert (index / "versions" / "r2" / "docs" / "part-0.parquet").exists()


def test_run_without_delta_commits_nothing(tmp_path):
    (tmp_path / "out").mkdir()
    assert idx.commit_index(tmp_path / "index", tmp_path / "out")["committed"] is False
    assert idx.read_manifest(tmp_path / "index") is None


def test_mismatched_parameters_lock_and_foreign_directories_fail_with_a_fix(tmp_path):
    index = tmp_path / "index"
    idx.commit_index(index, _fake_run(tmp_path / "out1", "r1"))
    other = dict(PARAMS, num_perm=256)
    with pytest.raises(idx.DedupIndexError, match="num_perm: index=128 run=256"):
        idx.commit_index(index, _fake_run(tmp_path / "out2", "r2", params=other))
    assert [v["run_id"] for v in idx.read_manifest(index)["versions"]] == ["r1"]
    # A lock file nobody holds (left by a finished or killed commit) blocks nothing.
    (index / idx.LOCK).write_text("pid=1 purpose=commit since=2024-01-01T00:00:00Z\n")
    assert idx.commit_index(index, _fake_run(tmp_path / "out3", "r3"))["committed"] is True
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "something.txt").write_text("x")
    with pytest.raises(idx.DedupIndexError, match="not a corpusforge near-dedup index"):
        idx.read_manifest(foreign)
    (index / "index.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(idx.DedupIndexError, match="format"):
        idx.read_manifest(index)


# --------------------------------------------------------------------------------- the commit lock
REPO = Path(__file__).resolve().parents[2]
HOLD_LOCK = (
    "import sys, time\n"
    "from storage.files import FileLock\n"
    "lock = FileLock(sys.argv[1], purpose='test-holder').__enter__()\n"
    "print('locked', flush=True)\n"
    "time.sleep(600)\n"
)


@pytest.fixture
def lock_holder(tmp_path):
    """A separate process holding the commit lock of ``tmp_path / "index"`` (killed at teardown)."""
    index = tmp_path / "index"
    index.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(index / idx.LOCK)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield index, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()


def test_a_live_lock_holder_makes_commit_fail(tmp_path, lock_holder):
    index, proc = lock_holder
    with pytest.raises(idx.DedupIndexError, match="another commit .* is running") as err:
        idx.commit_index(index, _fake_run(tmp_path / "out1", "r1"))
    assert f"pid={proc.pid}" in str(err.value) and "delete" not in str(err.value)
    assert idx.read_manifest(index) is None  # nothing was committed


def test_a_killed_lock_holder_does_not_block_the_next_commit(tmp_path, lock_holder):
    index, proc = lock_holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert (index / idx.LOCK).exists()  # the file stays; the kernel released the lock with the process
    start = time.monotonic()
    assert idx.commit_index(index, _fake_run(tmp_path / "out1", "r1"))["committed"] is True
    assert time.monotonic() - start < 5
    assert [v["run_id"] for v in idx.read_manifest(index)["versions"]] == ["r1"]
