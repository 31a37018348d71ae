"""Configuration section `tokenize`: curated documents -> tokenized Parquet shards.

Sizing (why these defaults):

* ``target_shard_bytes`` (64 MiB of token payload): a shard is the unit that is hashed before first use,
  listed in ``index.json`` and fetched from object storage. At 64 MiB a full sha256 check costs well
  under a second, a billion-token corpus (uint16 ids) gives ~30 shards, enough to spread over the ranks
  and workers of one node, while the index stays small even for a trillion tokens.
* ``row_group_bytes`` (1 MiB of token payload, ~512k uint16 ids): a row group is the unit the trainer
  reads and shuffles. One MiB keeps the memory of each DataLoader worker at a few MiB, makes the
  shard/row-group shuffle fine-grained (64 groups per shard) and lets the loader split shards between
  (rank, worker) slots evenly, while still being large enough that Parquet's per-group overhead
  (footer entries, page headers, one zstd frame per page) stays negligible.

Sizes are measured on the uncompressed payload (ids x item size + strings), which is deterministic for
the same rows, so shard boundaries never depend on Spark's partitioning or on compression.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from .base import StageSection

MiB = 1024 * 1024


class TokenizeSection(StageSection):
    """The ``tokenize`` section: which tokenizer, how documents are encoded, how shards are laid out."""

    tokenizer_path: Optional[str] = Field(
        None,
        description="A Hugging Face tokenizer.json (train one with 'corpusforge tokenizer train'). "
        "Required when the stage is enabled.",
    )
    eos: Literal["append", "none"] = Field(
        "append",
        description="'append': every document's input_ids end with the EOS token (documents are then "
        "packed as-is); 'none': ids are stored bare and the trainer inserts EOS between documents.",
    )
    eos_token: str = Field("<|endoftext|>", description="The EOS token's string in the tokenizer's vocabulary.")
    add_bos: bool = Field(False, description="Prepend the BOS token to every document.")
    bos_token: str = "<|bos|>"
    max_doc_tokens: Optional[int] = Field(
        None, gt=0, description="Truncate a document's ids to this many (EOS/BOS included); default: no cap."
    )
    target_shard_bytes: int = Field(
        64 * MiB, ge=4096, description="A shard is closed once its uncompressed payload reaches this size."
    )
    row_group_bytes: int = Field(
        1 * MiB, ge=1024, description="A row group is closed once its uncompressed payload reaches this size."
    )
    compression: Literal["zstd", "snappy", "none"] = "zstd"
    dataset_version: Optional[str] = Field(
        None, description="Recorded in index.json; default: the run id."
    )
    encode_batch_size: int = Field(256, gt=0, description="Documents per tokenizer.encode_batch call.")
    copy_tokenizer: bool = Field(
        True, description="Copy tokenizer.json next to the shards so that the folder is self-contained."
    )

    @model_validator(mode="after")
    def _check(self) -> "TokenizeSection":
        if self.enabled and not self.tokenizer_path:
            raise ValueError(
                "tokenize.tokenizer_path is required when tokenize is enabled; train one with "
                "'corpusforge tokenizer train --input OUT/curated --vocab-size N --output tok.json'"
            )
        if self.row_group_bytes > self.target_shard_bytes:
            raise ValueError("tokenize.row_group_bytes must not exceed tokenize.target_shard_bytes")
        return self
