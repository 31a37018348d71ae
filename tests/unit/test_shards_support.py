"""Builders of small shard folders shared by the shard, dataset and trainer tests (no tests here)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from storage.shards import ShardWriter

FAKE_TOKENIZER_SHA = "ab" * 32


def row_bytes(n_tokens: int, doc_id_len: int = 6, source: str = "src", itemsize: int = 2) -> int:
    """The writer's size estimate of one row (ids, 4-byte length, strings), to lay out row groups exactly."""
    return n_tokens * itemsize + 4 + doc_id_len + len(source)


def write_consecutive_shards(
    folder: Path,
    n_docs: int,
    tokens_per_doc: int | Sequence[int],
    docs_per_group: int,
    groups_per_shard: int,
    vocab_size: int = 60000,
    eos_appended: bool = True,
    eos_id: Optional[int] = None,
    dataset_version: str = "test-v1",
    lang: Optional[str] = None,
):
    """Shards whose ids are consecutive integers 0, 1, 2, ... across documents (in doc_id order).

    With ``eos_appended=True`` the concatenated stream is exactly ``0 .. total-1``, which proves order,
    the shift by one and coverage directly. Row groups hold ``docs_per_group`` documents when every
    document has the same length.
    """
    lengths = [tokens_per_doc] * n_docs if isinstance(tokens_per_doc, int) else list(tokens_per_doc)
    assert len(lengths) == n_docs
    itemsize = 2 if vocab_size <= 65536 else 4
    rb = row_bytes(lengths[0], itemsize=itemsize) + (len(lang) if lang else 0)
    group_bytes = docs_per_group * rb
    eos = vocab_size - 1 if eos_id is None else eos_id
    start = 0
    with ShardWriter(
        folder,
        vocab_size=vocab_size,
        tokenizer_sha256=FAKE_TOKENIZER_SHA,
        eos_id=eos,
        eos_appended=eos_appended,
        dataset_version=dataset_version,
        target_shard_bytes=group_bytes * groups_per_shard,
        row_group_bytes=group_bytes,
        compression="zstd",
    ) as w:
        for i, n in enumerate(lengths):
            w.write_document(f"d{i:05d}", np.arange(start, start + n) % (vocab_size - 1), "src", lang)
            start += n
    return w.index
