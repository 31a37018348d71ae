"""Writing tokenized Parquet shards.

:class:`ShardWriter` is a context manager: rows go in sorted by ``doc_id``, row groups are cut when
their uncompressed payload reaches ``row_group_bytes``, a shard is closed (renamed from ``.tmp``, hashed)
when it reaches ``target_shard_bytes``, and ``index.json`` is written last, atomically (temp file +
``os.replace``). Boundaries depend only on the sequence of rows, never on how they were batched, so the
same rows give byte-identical shards.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from storage.files import atomic_write_text, file_sha256, fsync_dir

from .index import (
    INDEX_FILE,
    SHARD_SCHEMA_VERSION,
    RowGroupInfo,
    ShardEntry,
    ShardIndex,
    numpy_dtype,
    shard_schema,
    token_dtype_for_vocab,
)
from .layout import (
    DEFAULT_ROW_GROUP_BYTES,
    DEFAULT_TARGET_SHARD_BYTES,
    SHARD_NAME,
    TOKENIZER_FILE,
    ShardError,
)

log = logging.getLogger(__name__)


class ShardWriter:
    """Write token shards and their index (context manager; ``index.json`` only on a clean exit).

    Args:
        out_dir: the shard folder (created). It must not contain shards or an index unless ``overwrite``.
        vocab_size: vocabulary size; decides the id type (uint16 up to 65536, else uint32).
        tokenizer_sha256: sha256 of the tokenizer file, recorded in the index and in every shard.
        eos_id: the EOS id.
        eos_appended: whether documents already end with ``eos_id`` (else the trainer inserts it).
        dataset_version: recorded in the index.
        config_sha256: sha256 of the resolved pipeline config, recorded in the index.
        target_shard_bytes: close a shard once its uncompressed payload reaches this.
        row_group_bytes: close a row group once its uncompressed payload reaches this.
        compression: Parquet codec.
        tokenizer_file: a tokenizer.json to copy into the folder (its sha256 must match).
        overwrite: remove an existing index and shards first (the index goes first, so a crash in between
            leaves an incomplete folder, never a wrong one).

    Example::

        with ShardWriter(out, vocab_size=v, tokenizer_sha256=h, eos_id=0, eos_appended=True,
                         dataset_version="2024-06-01") as w:
            w.write_table(table)  # doc_id, input_ids, source, lang (n_tokens, dup_cluster_size optional)
        index = w.index
    """

    def __init__(
        self,
        out_dir: os.PathLike | str,
        *,
        vocab_size: int,
        tokenizer_sha256: str,
        eos_id: int,
        eos_appended: bool,
        dataset_version: str,
        config_sha256: Optional[str] = None,
        target_shard_bytes: int = DEFAULT_TARGET_SHARD_BYTES,
        row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES,
        compression: str = "zstd",
        tokenizer_file: Optional[os.PathLike | str] = None,
        overwrite: bool = False,
    ) -> None:
        if row_group_bytes <= 0 or target_shard_bytes < row_group_bytes:
            raise ValueError("need 0 < row_group_bytes <= target_shard_bytes")
        self.out_dir = Path(out_dir)
        self.vocab_size = int(vocab_size)
        self.token_dtype = token_dtype_for_vocab(self.vocab_size)
        self.itemsize = numpy_dtype(self.token_dtype).itemsize
        self.tokenizer_sha256 = tokenizer_sha256
        self.eos_id = int(eos_id)
        self.eos_appended = bool(eos_appended)
        self.dataset_version = dataset_version
        self.config_sha256 = config_sha256
        self.target_shard_bytes = int(target_shard_bytes)
        self.row_group_bytes = int(row_group_bytes)
        self.compression = None if compression == "none" else compression
        self.tokenizer_file = Path(tokenizer_file) if tokenizer_file else None
        self.overwrite = overwrite
        self.schema = shard_schema(self.token_dtype, tokenizer_sha256)
        self.index: Optional[ShardIndex] = None
        self._entries: list[ShardEntry] = []
        self._pending: list[pa.Table] = []
        self._pending_sizes: list[np.ndarray] = []
        self._pending_bytes = 0
        self._writer: Optional[pq.ParquetWriter] = None
        self._shard_tmp: Optional[Path] = None
        self._shard_bytes = 0
        self._shard_groups: list[RowGroupInfo] = []
        self._rows_buffer: list[tuple[str, Any, str, Optional[str], Optional[int]]] = []
        self._open = False

    # -- context management
    def __enter__(self) -> "ShardWriter":
        self._prepare_dir()
        self._open = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _prepare_dir(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        index = self.out_dir / INDEX_FILE
        existing = sorted(self.out_dir.glob("shard-*.parquet*"))
        if index.exists() or existing:
            if not self.overwrite:
                raise ShardError(
                    f"{self.out_dir} already holds shards; write to an empty folder or pass overwrite=True"
                )
            if index.exists():
                index.unlink()  # first: the folder is now incomplete, never inconsistent
                fsync_dir(self.out_dir)
            for p in existing:
                p.unlink()
            tok = self.out_dir / TOKENIZER_FILE
            if tok.exists():
                tok.unlink()

    # -- writing
    def write_document(
        self, doc_id: str, input_ids: Iterable[int], source: str, lang: Optional[str] = None,
        dup_cluster_size: Optional[int] = None,
    ) -> None:
        """Add one document (convenience for small writers; tables are faster)."""
        self._check_open()
        self._rows_buffer.append((doc_id, np.asarray(input_ids), source, lang, dup_cluster_size))
        if len(self._rows_buffer) >= 1024:
            self._flush_rows_buffer()

    def _flush_rows_buffer(self) -> None:
        if not self._rows_buffer:
            return
        rows, self._rows_buffer = self._rows_buffer, []
        id_type = self.schema.field("input_ids").type
        table = pa.table(
            {
                "doc_id": pa.array([r[0] for r in rows], pa.string()),
                "input_ids": pa.array(
                    [np.asarray(r[1], dtype=np.int64) for r in rows], pa.list_(pa.int64())
                ).cast(id_type),
                "source": pa.array([r[2] for r in rows], pa.string()),
                "lang": pa.array([r[3] for r in rows], pa.string()),
                "dup_cluster_size": pa.array([r[4] for r in rows], pa.int32()),
            }
        )
        self._add_table(table)

    def write_table(self, table: pa.Table | pa.RecordBatch) -> None:
        """Add documents: columns ``doc_id``, ``input_ids`` (any integer list), ``source``, optional ``lang``,
        ``dup_cluster_size`` (null when absent) and ``n_tokens`` (computed and checked when present)."""
        self._check_open()
        self._flush_rows_buffer()
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        self._add_table(table)

    def _check_open(self) -> None:
        if not self._open:
            raise ShardError("ShardWriter is not open; use it as a context manager ('with ShardWriter(...) as w')")

    def _normalize(self, table: pa.Table) -> pa.Table:
        missing = {"doc_id", "input_ids", "source"} - set(table.column_names)
        if missing:
            raise ShardError(f"shard rows need columns {sorted(missing)}")
        n = table.num_rows
        ids = table.column("input_ids").combine_chunks()
        if ids.null_count:
            raise ShardError("input_ids has null rows; drop documents that failed to tokenize first")
        lengths = pc.list_value_length(ids).cast(pa.int32())
        if (
            "n_tokens" in table.column_names
            and not pc.all(pc.equal(table.column("n_tokens").cast(pa.int32()), lengths)).as_py()
        ):
            raise ShardError("n_tokens does not match the length of input_ids")
        flat = pc.list_flatten(ids)
        if len(flat):
            lo, hi = pc.min_max(flat).values()
            if lo.as_py() < 0 or hi.as_py() >= self.vocab_size:
                raise ShardError(
                    f"token id outside the vocabulary [0, {self.vocab_size}); "
                    "was the shard written with another tokenizer?"
                )
        id_type = self.schema.field("input_ids").type
        if ids.type != id_type:
            ids = ids.cast(id_type)
        lang = table.column("lang") if "lang" in table.column_names else pa.nulls(n, pa.string())
        if "dup_cluster_size" in table.column_names:
            cluster = table.column("dup_cluster_size").cast(pa.int32())
            low = pc.min(cluster).as_py()
            if low is not None and low < 1:
                raise ShardError(f"dup_cluster_size must be >= 1 (a document is in its own cluster), got {low}")
        else:
            cluster = pa.nulls(n, pa.int32())
        out = pa.Table.from_arrays(
            [
                table.column("doc_id").cast(pa.string()), ids, lengths,
                table.column("source").cast(pa.string()), lang.cast(pa.string()), cluster,
            ],
            schema=self.schema,
        )
        return out

    def _row_sizes(self, table: pa.Table) -> np.ndarray:
        """Uncompressed payload of each row: ids, the 4-byte length, strings (deterministic per row)."""
        sizes = table.column("n_tokens").to_numpy().astype(np.int64) * self.itemsize + 4
        for name in ("doc_id", "source", "lang"):
            lengths = pc.binary_length(table.column(name)).fill_null(0)
            sizes += lengths.to_numpy().astype(np.int64)
        return sizes

    def _add_table(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = self._normalize(table)
        sizes = self._row_sizes(table)
        self._pending.append(table)
        self._pending_sizes.append(sizes)
        self._pending_bytes += int(sizes.sum())
        while self._pending_bytes >= self.row_group_bytes:
            self._cut_row_group()

    def _cut_row_group(self, final: bool = False) -> None:
        table = pa.concat_tables(self._pending)
        sizes = np.concatenate(self._pending_sizes)
        if final:
            cut = table.num_rows
        else:
            # the first row whose cumulative size reaches the target closes the group
            cut = int(np.searchsorted(np.cumsum(sizes), self.row_group_bytes, side="left")) + 1
        group, rest = table.slice(0, cut), table.slice(cut)
        rest_sizes = sizes[cut:]
        self._pending = [rest] if rest.num_rows else []
        self._pending_sizes = [rest_sizes] if rest.num_rows else []
        self._pending_bytes = int(rest_sizes.sum())
        self._write_group(group.combine_chunks(), int(sizes[:cut].sum()))

    def _write_group(self, group: pa.Table, nbytes: int) -> None:
        if self._writer is None:
            name = SHARD_NAME.format(len(self._entries))
            self._shard_tmp = self.out_dir / (name + ".tmp")
            self._writer = pq.ParquetWriter(
                self._shard_tmp,
                self.schema,
                compression=self.compression,
                use_dictionary=["source", "lang"],
                write_statistics=["doc_id", "n_tokens"],
                store_schema=True,
            )
            self._shard_bytes = 0
            self._shard_groups = []
        self._writer.write_table(group, row_group_size=group.num_rows + 1)
        tokens = int(pc.sum(group.column("n_tokens")).as_py() or 0)
        self._shard_groups.append(RowGroupInfo(rows=group.num_rows, tokens=tokens))
        self._shard_bytes += nbytes
        if self._shard_bytes >= self.target_shard_bytes:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        tmp = self._shard_tmp
        assert tmp is not None
        final = tmp.with_name(tmp.name[: -len(".tmp")])
        os.replace(tmp, final)
        self._shard_tmp = None
        entry = ShardEntry(
            path=final.name,
            rows=sum(g.rows for g in self._shard_groups),
            tokens=sum(g.tokens for g in self._shard_groups),
            bytes=final.stat().st_size,
            sha256=file_sha256(final),
            row_groups=list(self._shard_groups),
        )
        self._entries.append(entry)
        log.info("shard %s: %d rows, %d tokens, %d bytes", entry.path, entry.rows, entry.tokens, entry.bytes)

    def close(self) -> ShardIndex:
        """Flush, close the last shard, copy the tokenizer and write index.json (the commit point)."""
        if self.index is not None:
            return self.index
        self._check_open()
        self._flush_rows_buffer()
        if self._pending:
            self._cut_row_group(final=True)
        self._close_shard()
        tok_name = None
        if self.tokenizer_file is not None:
            dst = self.out_dir / TOKENIZER_FILE
            shutil.copyfile(self.tokenizer_file, dst)
            if file_sha256(dst) != self.tokenizer_sha256:
                dst.unlink()
                raise ShardError(
                    f"{self.tokenizer_file} does not have the tokenizer sha256 the shards were written with; "
                    f"pass the tokenizer that encoded them"
                )
            tok_name = TOKENIZER_FILE
        index = ShardIndex(
            schema_version=SHARD_SCHEMA_VERSION,
            dataset_version=self.dataset_version,
            tokenizer_sha256=self.tokenizer_sha256,
            config_sha256=self.config_sha256,
            vocab_size=self.vocab_size,
            token_dtype=self.token_dtype,
            eos_id=self.eos_id,
            eos_appended=self.eos_appended,
            tokenizer_file=tok_name,
            total_rows=sum(e.rows for e in self._entries),
            total_tokens=sum(e.tokens for e in self._entries),
            shards=self._entries,
        )
        atomic_write_text(self.out_dir / INDEX_FILE, index.to_json())
        self.index = index
        self._open = False
        log.info(
            "wrote %s: %d shards, %d rows, %d tokens",
            self.out_dir / INDEX_FILE, len(self._entries), index.total_rows, index.total_tokens,
        )
        return index

    def abort(self) -> None:
        """Stop without an index (the folder stays incomplete); removes the unfinished shard."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # pragma: no cover - closing a broken writer
                pass
            self._writer = None
        if self._shard_tmp is not None and self._shard_tmp.exists():
            self._shard_tmp.unlink()
        self._open = False
        log.warning("shard writing to %s aborted: no index.json written, the folder is incomplete", self.out_dir)
