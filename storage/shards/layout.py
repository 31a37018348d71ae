"""Where shard folders keep their files, and how a folder or a dataset store resolves to an index."""
from __future__ import annotations

import os
from pathlib import Path

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
