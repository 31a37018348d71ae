"""The incremental near-dedup index: band keys of every document kept by earlier committed runs.

Layout (a directory on a local or mounted filesystem)::

    INDEX/
      index.json                       manifest: format, signature parameters, committed versions
      versions/<run_id>/keys/band=<j>/part-*.parquet   doc_id (string), key (int64)
      versions/<run_id>/docs/part-*.parquet            doc_id, signature (binary, num_perm x uint32 LE)

Only the versions listed in ``index.json`` exist as far as readers are concerned; ``index.json`` is
replaced atomically (:func:`storage.files.atomic_write_json`), so the index grows by whole runs. Writers
hold the commit lock (:func:`commit_lock`, a ``flock`` on ``INDEX/.commit.lock``).

How a run adds to it, so that the index only grows when the run's output is committed:

1. The stage's ``finalize(kept)`` writes the band keys and signatures of the documents the run keeps
   (and that the index does not hold yet) into the run's staging output, under
   ``stages/near_dedup/index_delta/`` with a ``delta.json`` written last. It moves with the output.
2. After the output is committed (and, for nightly runs, published), the runner calls
   :func:`commit_index` ``(index_path, committed_output_dir)``: it copies the delta into
   ``versions/<run_id>`` and then lists it in ``index.json``. It is idempotent: calling it again for a
   run already listed does nothing, so a crash between the output commit and the index commit is
   repaired by calling it again. The order (output first, index second) errs on the safe side: a
   crash in between can only let a later run keep a near copy, never remove a document wrongly.

Nothing here imports pyspark: :func:`commit_index` is plain file operations.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from pipelines.text.minhash import PERMUTATION_SCHEME, SHINGLE_HASH_VERSION
from storage.files import FileLock, LockHeldError, atomic_write_json, utc_now

from .base import StageConfigError

log = logging.getLogger(__name__)

INDEX_FORMAT = "corpusforge-near-dedup-index"
INDEX_FORMAT_VERSION = 1
MANIFEST = "index.json"
DELTA_DIRNAME = "index_delta"
DELTA_MANIFEST = "delta.json"
LOCK = ".commit.lock"

#: Parameters that must match between an index and a run that uses it.
PARAM_KEYS = (
    "shingle",
    "ngram",
    "num_perm",
    "seed",
    "bands",
    "rows",
    "shingle_hash_version",
    "permutation_scheme",
)


class DedupIndexError(StageConfigError):
    """The index cannot be used as configured; the message says how to fix it."""


def signature_params(section: Any) -> dict[str, Any]:
    """The parameters that make band keys comparable, from a ``NearDedupSection``."""
    bands, rows = section.lsh_params()
    return {
        "shingle": section.shingle,
        "ngram": section.ngram,
        "num_perm": section.num_perm,
        "seed": section.seed,
        "bands": bands,
        "rows": rows,
        "shingle_hash_version": SHINGLE_HASH_VERSION,
        "permutation_scheme": PERMUTATION_SCHEME,
    }


def read_manifest(index_path: Union[str, Path]) -> Optional[dict[str, Any]]:
    """The index manifest, or None when the index does not exist yet."""
    path = Path(index_path) / MANIFEST
    if not path.is_file():
        root = Path(index_path)
        # An index being created holds only its lock and versions/ until index.json is written.
        if root.exists() and any(p.name not in ("versions", LOCK) for p in root.iterdir()):
            raise DedupIndexError(
                f"near_dedup.index_path {str(index_path)!r} exists but holds no {MANIFEST}: it is not a "
                "corpusforge near-dedup index; point index_path to an index or to a new empty directory"
            )
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != INDEX_FORMAT or manifest.get("format_version") != INDEX_FORMAT_VERSION:
        raise DedupIndexError(
            f"{path} is not a near-dedup index of format {INDEX_FORMAT} v{INDEX_FORMAT_VERSION}; "
            "use an index written by this version of corpusforge or a new index_path"
        )
    return manifest


def check_compatible(manifest: dict[str, Any], params: dict[str, Any], index_path: Union[str, Path]) -> None:
    """Fail when the run's signature parameters differ from the index's."""
    theirs = manifest.get("params", {})
    diff = {k: (theirs.get(k), params.get(k)) for k in PARAM_KEYS if theirs.get(k) != params.get(k)}
    if diff:
        detail = ", ".join(f"{k}: index={a!r} run={b!r}" for k, (a, b) in sorted(diff.items()))
        raise DedupIndexError(
            f"the near-dedup index at {str(index_path)!r} was built with other parameters ({detail}); "
            "run with the index's parameters (near_dedup.shingle/ngram/num_perm/seed/bands/rows) or start "
            "a new index with another near_dedup.index_path"
        )


def committed_versions(index_path: Union[str, Path]) -> list[Path]:
    """Directories of the committed versions, in commit order (empty when there is no index)."""
    manifest = read_manifest(index_path)
    if not manifest:
        return []
    root = Path(index_path) / "versions"
    return [root / v["run_id"] for v in manifest.get("versions", [])]


@contextmanager
def commit_lock(index_path: Union[str, Path], purpose: str = "commit") -> Iterator[None]:
    """Hold the index's commit lock (:class:`storage.files.FileLock` on ``INDEX/.commit.lock``).

    Two processes never change one index at the same moment (``purpose``, e.g. ``takedown``, goes into
    the holder line that a process finding the lock taken reports). The kernel releases the lock when its
    holder exits, also when it is killed, so a crashed commit never blocks the next one; the lock file
    itself stays on disk and means nothing while no process holds it.

    Raises:
        DedupIndexError: another process (a commit, or a takedown forgetting documents) holds the lock.
    """
    path = Path(index_path) / LOCK
    try:
        lock = FileLock(path, purpose=f"near-dedup index {purpose}").__enter__()
    except LockHeldError as exc:
        raise DedupIndexError(
            f"another commit to the near-dedup index {str(index_path)!r} is running "
            f"({exc.holder or 'unknown holder'}); wait for it to finish, then run the commit again"
        ) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def delta_dir(run_output_dir: Union[str, Path]) -> Path:
    """Where a run's output (staging or committed) holds its index delta."""
    return Path(run_output_dir) / "stages" / "near_dedup" / DELTA_DIRNAME


def commit_index(index_path: Union[str, Path], run_output_dir: Union[str, Path]) -> dict[str, Any]:
    """Add a committed run's index delta to the index (idempotent).

    Call it after the run's output directory is committed (and published, when publishing is gated).

    Args:
        index_path: the index directory (created on first commit).
        run_output_dir: the run's committed output directory (``OUT``), holding
            ``stages/near_dedup/index_delta/``.

    Returns:
        A summary: ``{"committed": bool, "run_id", "documents", "keys", "versions"}``;
        ``committed`` is False when the run was already in the index or had no delta.

    Raises:
        DedupIndexError: another commit to the index is running, or the index was built with other
            signature parameters.
    """
    index = Path(index_path)
    delta = delta_dir(run_output_dir)
    info_path = delta / DELTA_MANIFEST
    if not info_path.is_file():
        log.info("no near-dedup index delta in %s; nothing to commit", run_output_dir)
        versions = len(committed_versions(index))
        return {"committed": False, "run_id": None, "documents": 0, "keys": 0, "versions": versions}
    info = json.loads(info_path.read_text(encoding="utf-8"))
    run_id = info["run_id"]
    index.mkdir(parents=True, exist_ok=True)
    (index / "versions").mkdir(exist_ok=True)
    with commit_lock(index):
        manifest = read_manifest(index) or {
            "format": INDEX_FORMAT,
            "format_version": INDEX_FORMAT_VERSION,
            "params": info["params"],
            "created_at": utc_now(),
            "versions": [],
        }
        check_compatible(manifest, info["params"], index)
        if any(v["run_id"] == run_id for v in manifest["versions"]):
            log.info("run %s is already in the near-dedup index; nothing to do", run_id)
            versions = len(manifest["versions"])
            return {"committed": False, "run_id": run_id, "documents": 0, "keys": 0, "versions": versions}
        target = index / "versions" / run_id
        if target.exists():  # left by a commit that crashed before listing it
            shutil.rmtree(target)
        tmp = index / "versions" / f".{run_id}.{uuid.uuid4().hex}.tmp"
        shutil.copytree(delta, tmp, ignore=shutil.ignore_patterns(DELTA_MANIFEST, "_SUCCESS", ".*.crc"))
        os.replace(tmp, target)
        manifest["versions"].append(
            {"run_id": run_id, "documents": info["documents"], "keys": info["keys"], "committed_at": utc_now()}
        )
        manifest["updated_at"] = utc_now()
        manifest["documents"] = sum(v["documents"] for v in manifest["versions"])
        atomic_write_json(index / MANIFEST, manifest)
    log.info("near-dedup index %s: added run %s (%d documents)", index, run_id, info["documents"])
    return {
        "committed": True,
        "run_id": run_id,
        "documents": info["documents"],
        "keys": info["keys"],
        "versions": len(manifest["versions"]),
    }


def write_delta_manifest(delta: Path, run_id: str, params: dict[str, Any], documents: int, keys: int) -> None:
    """Write ``delta.json`` (last, atomically): what :func:`commit_index` needs to publish the delta."""
    atomic_write_json(
        delta / DELTA_MANIFEST,
        {"run_id": run_id, "params": params, "documents": documents, "keys": keys, "written_at": utc_now()},
    )


__all__ = [
    "DELTA_DIRNAME",
    "INDEX_FORMAT",
    "DedupIndexError",
    "check_compatible",
    "commit_index",
    "commit_lock",
    "committed_versions",
    "delta_dir",
    "read_manifest",
    "signature_params",
    "write_delta_manifest",
]
