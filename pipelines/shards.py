"""Writing and verifying tokenized Parquet shards (the folder layout is defined in ``schemas.shards``).

:class:`ShardWriter` is a context manager: rows go in sorted by ``doc_id``, row groups are cut when
their uncompressed payload reaches ``row_group_bytes``, a shard is closed (renamed from ``.tmp``, hashed)
when it reaches ``target_shard_bytes``, and ``index.json`` is written last, atomically (temp file +
``os.replace``). Boundaries depend only on the sequence of rows, never on how they were batched, so the
same rows give byte-identical shards.

:func:`verify_shards` checks a folder against its index and reports *every* problem it finds (a flipped
byte, a truncated or missing shard, an unlisted extra shard, unsafe paths, schema or tokenizer
mismatches), each with a message that says what to do. :func:`check_shard_file` is the per-shard check
the trainer runs before it first reads a shard.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from schemas.shards import (
    INDEX_FILE,
    META_SCHEMA_VERSION,
    META_TOKEN_DTYPE,
    META_TOKENIZER_SHA256,
    SHARD_SCHEMA_VERSION,
    RowGroupInfo,
    ShardEntry,
    ShardIndex,
    numpy_dtype,
    shard_schema,
    token_dtype_for_vocab,
    unsafe_path_reason,
)

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_TARGET_SHARD_BYTES = 64 * MiB
DEFAULT_ROW_GROUP_BYTES = 1 * MiB
SHARD_NAME = "shard-{:05d}.parquet"
TOKENIZER_FILE = "tokenizer.json"
CURRENT_FILE = "CURRENT"


class ShardError(ValueError):
    """A shard folder or shard that cannot be used; the message says what is wrong and how to fix it."""


def fsync_dir(path: Path) -> None:
    """fsync a directory so that renames in it survive a power loss (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _sha256(path: Path) -> str:
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


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


# --------------------------------------------------------------------------------------------- writer


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
            w.write_table(table)          # doc_id, input_ids, source, lang (n_tokens optional)
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
        self._rows_buffer: list[tuple[str, Any, str, Optional[str]]] = []
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
    def write_document(self, doc_id: str, input_ids: Iterable[int], source: str, lang: Optional[str] = None) -> None:
        """Add one document (convenience for small writers; tables are faster)."""
        self._check_open()
        self._rows_buffer.append((doc_id, np.asarray(input_ids), source, lang))
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
                "input_ids": pa.array([np.asarray(r[1], dtype=np.int64) for r in rows], pa.list_(pa.int64())).cast(id_type),
                "source": pa.array([r[2] for r in rows], pa.string()),
                "lang": pa.array([r[3] for r in rows], pa.string()),
            }
        )
        self._add_table(table)

    def write_table(self, table: pa.Table | pa.RecordBatch) -> None:
        """Add documents: columns ``doc_id``, ``input_ids`` (any integer list), ``source``, optional ``lang``
        and ``n_tokens`` (computed and checked when present)."""
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
        if "n_tokens" in table.column_names and not pc.all(pc.equal(table.column("n_tokens").cast(pa.int32()), lengths)).as_py():
            raise ShardError("n_tokens does not match the length of input_ids")
        flat = pc.list_flatten(ids)
        if len(flat):
            lo, hi = pc.min_max(flat).values()
            if lo.as_py() < 0 or hi.as_py() >= self.vocab_size:
                raise ShardError(
                    f"token id outside the vocabulary [0, {self.vocab_size}); was the shard written with another tokenizer?"
                )
        id_type = self.schema.field("input_ids").type
        if ids.type != id_type:
            ids = ids.cast(id_type)
        lang = table.column("lang") if "lang" in table.column_names else pa.nulls(n, pa.string())
        out = pa.Table.from_arrays(
            [table.column("doc_id").cast(pa.string()), ids, lengths, table.column("source").cast(pa.string()), lang.cast(pa.string())],
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
            sha256=_sha256(final),
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
            if _sha256(dst) != self.tokenizer_sha256:
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
        log.info("wrote %s: %d shards, %d rows, %d tokens", self.out_dir / INDEX_FILE, len(self._entries), index.total_rows, index.total_tokens)
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


# ------------------------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class ShardProblem:
    """One problem found in a shard folder."""

    path: str  # relative to the folder ("index.json" for index-level problems)
    code: str  # missing_index, invalid_index, unsafe_path, missing_shard, truncated, size_mismatch,
    # sha256_mismatch, unreadable, schema_mismatch, tokenizer_mismatch, count_mismatch,
    # token_out_of_range, outside_folder, extra_shard
    message: str

    def __str__(self) -> str:
        return f"{self.path}: [{self.code}] {self.message}"


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_shards`."""

    folder: str
    index: Optional[ShardIndex] = None
    problems: list[ShardProblem] = field(default_factory=list)
    shards_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "ok": self.ok,
            "shards_listed": len(self.index.shards) if self.index else None,
            "shards_checked": self.shards_checked,
            "problems": [{"path": p.path, "code": p.code, "message": p.message} for p in self.problems],
        }


CheckLevel = Literal["size", "hash", "deep"]


def check_shard_file(
    folder: Path,
    entry: ShardEntry,
    token_dtype: str,
    tokenizer_sha256: str,
    vocab_size: int,
    level: CheckLevel = "hash",
) -> list[ShardProblem]:
    """Check one listed shard: inside the folder, present, size, footer schema/metadata, row groups;
    ``hash`` adds the sha256; ``deep`` also re-counts tokens and checks every id is inside the vocabulary.
    """
    problems: list[ShardProblem] = []
    P = lambda code, msg: problems.append(ShardProblem(entry.path, code, msg))  # noqa: E731
    path = folder / entry.path
    try:
        inside = path.resolve().is_relative_to(folder.resolve())
    except OSError:
        inside = False
    if not inside:
        P("outside_folder", "resolves outside the shard folder (symlink?); shards must live inside it")
        return problems
    if not path.is_file():
        P("missing_shard", "listed in index.json but not found; restore it or re-run the tokenize stage")
        return problems
    size = path.stat().st_size
    if size < entry.bytes:
        P("truncated", f"{size} bytes on disk, index says {entry.bytes}: the file is truncated; re-copy or re-write it")
        return problems
    if size != entry.bytes:
        P("size_mismatch", f"{size} bytes on disk, index says {entry.bytes}; the file was replaced or appended to")
        return problems
    if level in ("hash", "deep") and _sha256(path) != entry.sha256:
        P("sha256_mismatch", "content does not match the sha256 in index.json (corrupted or modified); re-copy it")
        return problems
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        P("unreadable", f"not a readable Parquet file ({type(exc).__name__}); re-copy or re-write it")
        return problems
    expected = shard_schema(token_dtype)
    actual = pf.schema_arrow
    if not actual.remove_metadata().equals(expected.remove_metadata()):
        P("schema_mismatch", f"columns {actual.remove_metadata()} differ from the shard schema (token dtype {token_dtype})")
        return problems
    meta = actual.metadata or {}
    if meta.get(META_SCHEMA_VERSION) != str(SHARD_SCHEMA_VERSION).encode() or meta.get(META_TOKEN_DTYPE) != token_dtype.encode():
        P("schema_mismatch", "shard schema version or token dtype metadata differs from index.json")
    if meta.get(META_TOKENIZER_SHA256) != tokenizer_sha256.encode():
        P("tokenizer_mismatch", "written with a different tokenizer than index.json names; re-tokenize this shard")
    md = pf.metadata
    if md.num_rows != entry.rows:
        P("count_mismatch", f"{md.num_rows} rows, index says {entry.rows}")
    if entry.row_groups and [md.row_group(i).num_rows for i in range(md.num_row_groups)] != [g.rows for g in entry.row_groups]:
        P("count_mismatch", "row groups differ from index.json")
    if level == "deep" and not problems:
        try:
            tokens = 0
            for i in range(md.num_row_groups):
                t = pf.read_row_group(i, columns=["input_ids", "n_tokens"])
                ids = t.column("input_ids").combine_chunks()
                n = int(pc.sum(t.column("n_tokens")).as_py() or 0)
                if not pc.all(pc.equal(pc.list_value_length(ids).cast(pa.int32()), t.column("n_tokens"))).as_py():
                    P("count_mismatch", f"row group {i}: n_tokens differs from len(input_ids)")
                if entry.row_groups and n != entry.row_groups[i].tokens:
                    P("count_mismatch", f"row group {i}: {n} tokens, index says {entry.row_groups[i].tokens}")
                flat = pc.list_flatten(ids)
                if len(flat) and pc.max(flat).as_py() >= vocab_size:
                    P("token_out_of_range", f"row group {i} has ids >= vocab_size {vocab_size}")
                tokens += n
            if tokens != entry.tokens:
                P("count_mismatch", f"{tokens} tokens, index says {entry.tokens}")
        except Exception as exc:
            P("unreadable", f"reading the data failed ({type(exc).__name__}); re-copy or re-write it")
    return problems


def _describe_validation(err: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        out.append((f"{prefix}{loc}" if loc else prefix.rstrip("."), e["msg"]))
    return out


def verify_shards(
    folder: os.PathLike | str,
    expected_tokenizer_sha256: Optional[str] = None,
    level: CheckLevel = "deep",
) -> VerifyReport:
    """Check a shard folder (or dataset store) against its index and report every problem found.

    Args:
        folder: the shard folder, or a store with ``CURRENT``.
        expected_tokenizer_sha256: when given, the index must name this tokenizer.
        level: ``size`` (sizes, footers), ``hash`` (+ sha256 of every shard) or ``deep`` (+ token counts and
            id ranges).

    Returns:
        A :class:`VerifyReport`; ``report.ok`` is True when nothing is wrong.
    """
    index_path = resolve_index_path(folder)
    folder = index_path.parent
    report = VerifyReport(folder=str(folder))
    Pi = lambda path, code, msg: report.problems.append(ShardProblem(path, code, msg))  # noqa: E731
    if not index_path.is_file():
        Pi(INDEX_FILE, "missing_index", "no index.json: the folder is incomplete (it is written last); re-run the tokenize stage")
        return report
    try:
        raw = json.loads(index_path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        Pi(INDEX_FILE, "invalid_index", f"not valid JSON ({exc.__class__.__name__}); re-run the tokenize stage")
        return report

    # Shard entries one by one, so that one bad entry does not hide the others.
    entries: list[ShardEntry] = []
    raw_shards = raw.get("shards") if isinstance(raw.get("shards"), list) else []
    for i, item in enumerate(raw_shards):
        try:
            entries.append(ShardEntry.model_validate(item))
        except ValidationError as err:
            p = item.get("path") if isinstance(item, dict) and isinstance(item.get("path"), str) else f"shards[{i}]"
            for loc, msg in _describe_validation(err):
                code = "unsafe_path" if loc == "path" else "invalid_index"
                Pi(p, code, f"index entry invalid: {loc}: {msg}")
    try:
        report.index = ShardIndex.model_validate(raw)
    except ValidationError as err:
        for loc, msg in _describe_validation(err):
            if not loc.startswith("shards."):  # already reported per entry
                Pi(INDEX_FILE, "invalid_index", f"{loc}: {msg}")

    token_dtype = raw.get("token_dtype") if raw.get("token_dtype") in ("uint16", "uint32") else None
    tok_sha = raw.get("tokenizer_sha256") if isinstance(raw.get("tokenizer_sha256"), str) else ""
    vocab = raw.get("vocab_size") if isinstance(raw.get("vocab_size"), int) else None
    if expected_tokenizer_sha256 and tok_sha != expected_tokenizer_sha256:
        Pi(INDEX_FILE, "tokenizer_mismatch", "the shards were made with a different tokenizer than expected; "
           "re-tokenize with the expected tokenizer or use its tokenizer.json")
    if token_dtype is None or vocab is None:
        Pi(INDEX_FILE, "invalid_index", "token_dtype/vocab_size missing or invalid: shard files cannot be checked")
    else:
        for entry in entries:
            report.problems.extend(check_shard_file(folder, entry, token_dtype, tok_sha, vocab, level))
            report.shards_checked += 1

    tok_file = raw.get("tokenizer_file")
    if isinstance(tok_file, str) and not unsafe_path_reason(tok_file):
        tp = folder / tok_file
        if not tp.is_file():
            Pi(tok_file, "missing_shard", "tokenizer copy listed in index.json is missing; copy it back")
        elif _sha256(tp) != tok_sha:
            Pi(tok_file, "tokenizer_mismatch", "tokenizer copy does not match tokenizer_sha256; copy the right tokenizer.json")

    listed = {e.path for e in entries} | {
        item.get("path") for item in raw_shards if isinstance(item, dict) and isinstance(item.get("path"), str)
    }
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and (rel.endswith(".parquet") or rel.endswith(".parquet.tmp")) and rel not in listed:
            Pi(rel, "extra_shard", "a shard file not listed in index.json (left over or added by hand); "
               "remove it or re-run the tokenize stage")
    if report.problems:
        log.warning("%s: %d problem(s) found", folder, len(report.problems))
    return report
