"""Tokenized shard contracts: the Parquet schema of a shard and the ``index.json`` model.

A shard folder holds ``shard-00000.parquet`` ... and ``index.json``. The index is written last and
atomically: a folder without it is incomplete by definition. Every shard row is one document:

=========== ======================= ==========================================================
column      type                    meaning
=========== ======================= ==========================================================
doc_id      string, not null        the document's stable id (shards are sorted by it)
input_ids   list<uint16|uint32>     token ids; uint16 when the vocabulary has <= 65536 entries
n_tokens    int32, not null         len(input_ids)
source      string, not null        the document's source (for mixing)
lang        string, nullable        language code; null when the language stage is off
dup_cluster_size int32, nullable    documents in the document's near-duplicate cluster (1: unique);
                                    null when near-dedup was off. Used for rehydration at load time.
=========== ======================= ==========================================================

``dup_cluster_size`` was added after the first release of the format: shards without the column (five
columns) stay valid and readable, they just cannot be rehydrated (see :data:`OPTIONAL_SHARD_COLUMNS`).
"""
from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Version of the shard layout and of index.json; readers refuse other versions.
SHARD_SCHEMA_VERSION = 1
INDEX_FILE = "index.json"
SHARD_COLUMNS = ("doc_id", "input_ids", "n_tokens", "source", "lang", "dup_cluster_size")
#: Columns a shard may lack (written by an older corpusforge); readers treat them as all null.
OPTIONAL_SHARD_COLUMNS = ("dup_cluster_size",)
#: Keys of the Parquet key-value metadata every shard carries (checked against the index).
META_SCHEMA_VERSION = b"corpusforge.shard_schema_version"
META_TOKENIZER_SHA256 = b"corpusforge.tokenizer_sha256"
META_TOKEN_DTYPE = b"corpusforge.token_dtype"

TokenDtype = Literal["uint16", "uint32"]


def token_dtype_for_vocab(vocab_size: int) -> TokenDtype:
    """The smallest unsigned integer type that holds every id of a vocabulary of ``vocab_size``."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    if vocab_size <= 2**16:
        return "uint16"
    if vocab_size <= 2**32:
        return "uint32"
    raise ValueError(f"vocab_size {vocab_size} does not fit in uint32 token ids")


def numpy_dtype(token_dtype: str) -> np.dtype:
    """numpy dtype of a :data:`TokenDtype` name."""
    if token_dtype not in ("uint16", "uint32"):
        raise ValueError(f"unknown token dtype {token_dtype!r}; expected uint16 or uint32")
    return np.dtype(token_dtype)


def shard_schema(
    token_dtype: str, tokenizer_sha256: Optional[str] = None, *, legacy: bool = False
) -> pa.Schema:
    """The Arrow schema of a shard whose ids have ``token_dtype``.

    Args:
        token_dtype: ``"uint16"`` or ``"uint32"``.
        tokenizer_sha256: when given, recorded in the schema's key-value metadata.
        legacy: the schema without :data:`OPTIONAL_SHARD_COLUMNS` (shards of an older corpusforge).
    """
    id_type = pa.uint16() if numpy_dtype(token_dtype) == np.uint16 else pa.uint32()
    schema = pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("input_ids", pa.list_(pa.field("item", id_type, nullable=False)), nullable=False),
            pa.field("n_tokens", pa.int32(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("lang", pa.string(), nullable=True),
        ]
        + ([] if legacy else [pa.field("dup_cluster_size", pa.int32(), nullable=True)])
    )
    meta = {META_SCHEMA_VERSION: str(SHARD_SCHEMA_VERSION).encode(), META_TOKEN_DTYPE: token_dtype.encode()}
    if tokenizer_sha256:
        meta[META_TOKENIZER_SHA256] = tokenizer_sha256.encode()
    return schema.with_metadata(meta)


def unsafe_path_reason(path: str) -> Optional[str]:
    """Why ``path`` may not appear in an index (absolute, ``..``, backslashes, empty), or None if safe."""
    if not isinstance(path, str) or not path:
        return "empty path"
    if "\\" in path or "\x00" in path:
        return "backslash or NUL in path"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "absolute path"
    parts = path.split("/")
    if any(p == ".." for p in parts):
        return "'..' in path"
    if any(p in ("", ".") for p in parts):
        return "empty or '.' path component"
    if posixpath.normpath(path) != path:
        return "path is not normalized"
    return None


class RowGroupInfo(BaseModel):
    """Rows and tokens of one Parquet row group (what the loader needs to split and resume)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rows: int = Field(ge=0)
    tokens: int = Field(ge=0)


class ShardEntry(BaseModel):
    """One shard as listed in index.json."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Relative POSIX path inside the shard folder.")
    rows: int = Field(ge=0)
    tokens: int = Field(ge=0, description="Sum of n_tokens of its rows (stored ids, EOS included when eos_appended).")
    bytes: int = Field(ge=0, description="File size in bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    row_groups: list[RowGroupInfo] = Field(default_factory=list)

    @field_validator("path")
    @classmethod
    def _safe_path(cls, v: str) -> str:
        reason = unsafe_path_reason(v)
        if reason:
            raise ValueError(f"unsafe shard path ({reason}); index paths must be relative, inside the folder")
        return v

    @model_validator(mode="after")
    def _row_groups_add_up(self) -> "ShardEntry":
        if self.row_groups:
            if (
                sum(g.rows for g in self.row_groups) != self.rows
                or sum(g.tokens for g in self.row_groups) != self.tokens
            ):
                raise ValueError(f"{self.path}: row_groups do not add up to the shard's rows/tokens")
        return self


class ShardIndex(BaseModel):
    """``index.json``: what a shard folder contains, and with which tokenizer and config it was made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SHARD_SCHEMA_VERSION
    dataset_version: str
    tokenizer_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    config_sha256: Optional[str] = Field(None, pattern=r"^[0-9a-f]{64}$")
    vocab_size: int = Field(gt=0)
    token_dtype: TokenDtype
    eos_id: int = Field(ge=0)
    eos_appended: bool = Field(description="True: every document already ends with eos_id.")
    tokenizer_file: Optional[str] = Field(None, description="Copy of tokenizer.json inside the folder, if any.")
    total_rows: int = Field(ge=0)
    total_tokens: int = Field(ge=0)
    shards: list[ShardEntry]

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SHARD_SCHEMA_VERSION:
            raise ValueError(
                f"shard schema_version {v} is not supported by this corpusforge (supports "
                f"{SHARD_SCHEMA_VERSION}); re-tokenize the corpus or use a matching corpusforge version"
            )
        return v

    @field_validator("tokenizer_file")
    @classmethod
    def _safe_tok(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and unsafe_path_reason(v):
            raise ValueError(f"unsafe tokenizer_file path ({unsafe_path_reason(v)})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "ShardIndex":
        if token_dtype_for_vocab(self.vocab_size) != self.token_dtype:
            raise ValueError(
                f"token_dtype {self.token_dtype} is not the smallest type for vocab_size {self.vocab_size} "
                f"(expected {token_dtype_for_vocab(self.vocab_size)})"
            )
        if self.eos_id >= self.vocab_size:
            raise ValueError(f"eos_id {self.eos_id} is outside the vocabulary ({self.vocab_size})")
        paths = [s.path for s in self.shards]
        if len(set(paths)) != len(paths):
            raise ValueError("a shard path is listed twice")
        if (
            sum(s.rows for s in self.shards) != self.total_rows
            or sum(s.tokens for s in self.shards) != self.total_tokens
        ):
            raise ValueError("total_rows/total_tokens do not match the sum over shards")
        return self

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, two-space indent, trailing newline): byte-identical for equal indexes."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> "ShardIndex":
        """Read and validate an index.json; raises ValueError saying what is wrong."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path} not found: the shard folder is incomplete (index.json is written last) or the path "
                f"is wrong; re-run the tokenize stage"
            ) from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.model_validate(raw)
