"""storage.files: the exclusive lock (released by the kernel when its holder is killed), atomic JSON
writes, file hashes and UTC timestamps."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from storage.files import FileLock, LockHeldError, atomic_write_json, canonical_json, file_sha256, utc_now

REPO = Path(__file__).resolve().parents[2]

_HOLDER = """\
import sys, time
from storage.files import FileLock
with FileLock(sys.argv[1], purpose="holder"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_lock_names_its_holder_and_is_free_as_soon_as_the_holder_is_killed(tmp_path):
    path = tmp_path / "locks" / "index.lock"  # parent folders are created
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError) as err:
            with FileLock(path, purpose="second"):
                pass
        assert f"pid={proc.pid} purpose=holder" in str(err.value)
        assert err.value.holder.startswith(f"pid={proc.pid} ") and err.value.path == path
    finally:
        proc.send_signal(signal.SIGKILL)  # no clean exit, no unlock, the lock file stays on disk
        proc.wait(30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL and path.exists()
    with FileLock(path, purpose="next"):  # at once: no stale lock to clear, no pid to check
        assert path.read_text().startswith(f"pid={os.getpid()} purpose=next since=")


def test_two_holders_in_one_process_exclude_each_other_and_release_on_exit(tmp_path):
    path = tmp_path / "x.lock"
    with FileLock(path, purpose="first"):
        with pytest.raises(LockHeldError, match=f"pid={os.getpid()} purpose=first"):
            with FileLock(path):
                pass
    with FileLock(path):
        pass


def test_atomic_write_json_is_canonical_creates_parents_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "a" / "b" / "state.json"
    data = {"b": [1, 2], "a": "é", "c": {"z": None, "y": 1.5}}
    atomic_write_json(path, data)
    text = path.read_text(encoding="utf-8")
    assert text == canonical_json(data) == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_json(path, {"replaced": True})
    assert json.loads(path.read_text(encoding="utf-8")) == {"replaced": True}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_atomic_write_json_keeps_the_old_file_when_the_write_fails(tmp_path):
    path = tmp_path / "state.json"
    atomic_write_json(path, {"v": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"v": object()})
    assert json.loads(path.read_text(encoding="utf-8")) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_file_sha256_matches_hashlib_across_chunks(tmp_path):
    data = os.urandom((1 << 20) * 2 + 123)  # more than two 1 MiB read chunks
    (tmp_path / "blob").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    assert file_sha256(tmp_path / "blob") == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(tmp_path / "empty")) == hashlib.sha256(b"").hexdigest()


def test_utc_now_is_iso_8601_to_the_second_with_z():
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    stamp = utc_now()
    after = dt.datetime.now(dt.timezone.utc)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", stamp)
    assert before <= dt.datetime.fromisoformat(stamp) <= after
