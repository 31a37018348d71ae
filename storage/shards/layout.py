"""Where shard folders keep their files, and how a folder or a dataset store resolves to an index."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .index import INDEX_FILE, unsafe_path_reason

MiB = 1024 * 1024
DEFAULT_TARGET_SHARD_BYTES = 64 * MiB
DEFAULT_ROW_GROUP_BYTES = 1 * MiB
SHARD_NAME = "shard-{:05d}.parquet"
TOKENIZER_FILE = "tokenizer.json"
CURRENT_FILE = "CURRENT"


class ShardError(ValueError):
    """A shard folder or shard that cannot be used; the message says what is wrong and how to fix it."""


def resolve_index_path(dir_or_store: os.PathLike | str) -> Path:
    """The index.json of a shard folder, or of a dataset store's current version.

    A store (see the publish step) has a ``CURRENT`` file naming a version: ``DIR/versions/NAME/index.json``.
    Otherwise ``DIR/index.json`` (or DIR itself when it is an index file).
    """
    p = Path(dir_or_store)
    if p.is_file() and p.name.endswith(".json"):
        return p
    current = p / CURRENT_FILE
    if current.is_file():
        name = current.read_text(encoding="utf-8").strip()
        if not name or unsafe_path_reason(name) or "/" in name:
            raise ShardError(
                f"{current} must contain one version name (no slashes, no '..'); republish the dataset"
            )
        return p / "versions" / name / INDEX_FILE
    return p / INDEX_FILE


def resolve_source_index(path: os.PathLike | str, version: Optional[str] = None) -> Path:
    """The index.json of any shard source, checked to exist (read-only; used by the trainer's mixtures).

    ``path`` may be a shard folder, an ``index.json``, a pipeline run folder (its ``shards/``) or a dataset
    store; for a store, ``version`` names a published version (default: the one in ``CURRENT``).

    Raises:
        ShardError: the path or the version does not exist, or the folder holds no shards (the message
            lists the store's versions when a version is missing).
    """
    p = Path(path)
    if not p.exists():
        raise ShardError(f"{p} does not exist; give a shard folder, a run folder or a dataset store")
    versions = p / "versions"
    if version is not None:
        if unsafe_path_reason(version) or "/" in version:
            raise ShardError(f"{version!r} is not a version name (no slashes, no '..')")
        if not versions.is_dir():
            raise ShardError(f"{p} is not a dataset store (no versions/ folder), so it has no version {version!r}")
        candidate = versions / version / INDEX_FILE
        if not candidate.is_file():
            known = sorted(v.name for v in versions.iterdir() if (v / INDEX_FILE).is_file())
            raise ShardError(
                f"{p} has no published version {version!r} (versions with an index: "
                f"{', '.join(known) if known else 'none'})"
            )
        return candidate
    if p.is_file():
        if not p.name.endswith(".json"):
            raise ShardError(f"{p} is a file but not an index.json; give the shard folder")
        return p
    if (p / CURRENT_FILE).is_file():
        candidate = resolve_index_path(p)
        if not candidate.is_file():
            raise ShardError(f"{p / CURRENT_FILE} names a version without {INDEX_FILE} ({candidate}); republish it")
        return candidate
    for candidate in (p / INDEX_FILE, p / "shards" / INDEX_FILE):
        if candidate.is_file():
            return candidate
    if versions.is_dir():
        raise ShardError(f"{p} is a dataset store without {CURRENT_FILE} (nothing published); name a version")
    raise ShardError(
        f"{p} holds no {INDEX_FILE} (nor shards/{INDEX_FILE}, nor a store's {CURRENT_FILE}); the shards are "
        f"incomplete (index.json is written last) or the path is wrong"
    )
