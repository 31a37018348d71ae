"""Checking shard folders: the per-shard check the trainer runs, and the verifier of a whole folder.

:func:`verify_shards` checks a folder against its index and reports *every* problem it finds (a flipped
byte, a truncated or missing shard, an unlisted extra shard, unsafe paths, schema or tokenizer
mismatches), each with a message that says what to do. :func:`check_shard_file` is the per-shard check
the trainer runs before it first reads a shard.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from storage.files import file_sha256

from .index import (
    INDEX_FILE,
    META_SCHEMA_VERSION,
    META_TOKEN_DTYPE,
    META_TOKENIZER_SHA256,
    SHARD_SCHEMA_VERSION,
    ShardEntry,
    ShardIndex,
    shard_schema,
    unsafe_path_reason,
)
from .layout import resolve_index_path

log = logging.getLogger(__name__)


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
    hasher: Callable[[Path], str] = file_sha256,
) -> list[ShardProblem]:
    """Check one listed shard: inside the folder, present, size, footer schema/metadata, row groups;
    ``hash`` adds the sha256; ``deep`` also re-counts tokens and checks every id is inside the vocabulary.
    ``hasher`` computes the file's sha256 (hex); the trainer passes one that hashes the memory map it
    then decodes, so the bytes are read once.
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
    if level in ("hash", "deep") and hasher(path) != entry.sha256:
        P("sha256_mismatch", "content does not match the sha256 in index.json (corrupted or modified); re-copy it")
        return problems
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        P("unreadable", f"not a readable Parquet file ({type(exc).__name__}); re-copy or re-write it")
        return problems
    expected = shard_schema(token_dtype)
    actual = pf.schema_arrow
    legacy = shard_schema(token_dtype, legacy=True)  # written before dup_cluster_size: still valid
    if not any(actual.remove_metadata().equals(e.remove_metadata()) for e in (expected, legacy)):
        P("schema_mismatch",
          f"columns {actual.remove_metadata()} differ from the shard schema (token dtype {token_dtype})")
        return problems
    meta = actual.metadata or {}
    if (meta.get(META_SCHEMA_VERSION) != str(SHARD_SCHEMA_VERSION).encode()
            or meta.get(META_TOKEN_DTYPE) != token_dtype.encode()):
        P("schema_mismatch", "shard schema version or token dtype metadata differs from index.json")
    if meta.get(META_TOKENIZER_SHA256) != tokenizer_sha256.encode():
        P("tokenizer_mismatch", "written with a different tokenizer than index.json names; re-tokenize this shard")
    md = pf.metadata
    if md.num_rows != entry.rows:
        P("count_mismatch", f"{md.num_rows} rows, index says {entry.rows}")
    group_rows = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    if entry.row_groups and group_rows != [g.rows for g in entry.row_groups]:
        P("count_mismatch", "row groups differ from index.json")
    if level == "deep" and not problems:
        _check_tokens(pf, entry, vocab_size, P)
    return problems


def _check_tokens(pf: pq.ParquetFile, entry: ShardEntry, vocab_size: int, P) -> None:
    """The deep check of one shard: token counts per row and row group, and every id below ``vocab_size``."""
    try:
        tokens = 0
        for i in range(pf.metadata.num_row_groups):
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


def _describe_validation(err: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        out.append((f"{prefix}{loc}" if loc else prefix.rstrip("."), e["msg"]))
    return out


def _add(report: VerifyReport, path: str, code: str, message: str) -> None:
    report.problems.append(ShardProblem(path, code, message))


def _read_raw_index(index_path: Path, report: VerifyReport) -> Optional[dict]:
    """index.json as a JSON object, or None (with the problem reported) when it is missing or not JSON."""
    if not index_path.is_file():
        _add(report, INDEX_FILE, "missing_index",
             "no index.json: the folder is incomplete (it is written last); re-run the tokenize stage")
        return None
    try:
        raw = json.loads(index_path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        _add(report, INDEX_FILE, "invalid_index",
             f"not valid JSON ({exc.__class__.__name__}); re-run the tokenize stage")
        return None
    return raw


def _validate_index(raw: dict, report: VerifyReport) -> tuple[list[ShardEntry], list]:
    """The valid shard entries and the raw ``shards`` list; sets ``report.index`` when the whole index is valid.

    Entries are validated one by one, so that one bad entry does not hide the others.
    """
    entries: list[ShardEntry] = []
    raw_shards = raw.get("shards") if isinstance(raw.get("shards"), list) else []
    for i, item in enumerate(raw_shards):
        try:
            entries.append(ShardEntry.model_validate(item))
        except ValidationError as err:
            p = item.get("path") if isinstance(item, dict) and isinstance(item.get("path"), str) else f"shards[{i}]"
            for loc, msg in _describe_validation(err):
                code = "unsafe_path" if loc == "path" else "invalid_index"
                _add(report, p, code, f"index entry invalid: {loc}: {msg}")
    try:
        report.index = ShardIndex.model_validate(raw)
    except ValidationError as err:
        for loc, msg in _describe_validation(err):
            if not loc.startswith("shards."):  # already reported per entry
                _add(report, INDEX_FILE, "invalid_index", f"{loc}: {msg}")
    return entries, raw_shards


def _check_shards(folder: Path, raw: dict, entries: list[ShardEntry], expected_tokenizer_sha256: Optional[str],
                  level: CheckLevel, report: VerifyReport) -> None:
    """The index's tokenizer against the expected one, every listed shard, and the tokenizer copy."""
    token_dtype = raw.get("token_dtype") if raw.get("token_dtype") in ("uint16", "uint32") else None
    tok_sha = raw.get("tokenizer_sha256") if isinstance(raw.get("tokenizer_sha256"), str) else ""
    vocab = raw.get("vocab_size") if isinstance(raw.get("vocab_size"), int) else None
    if expected_tokenizer_sha256 and tok_sha != expected_tokenizer_sha256:
        _add(report, INDEX_FILE, "tokenizer_mismatch", "the shards were made with a different tokenizer than "
             "expected; re-tokenize with the expected tokenizer or use its tokenizer.json")
    if token_dtype is None or vocab is None:
        _add(report, INDEX_FILE, "invalid_index",
             "token_dtype/vocab_size missing or invalid: shard files cannot be checked")
    else:
        for entry in entries:
            report.problems.extend(check_shard_file(folder, entry, token_dtype, tok_sha, vocab, level))
            report.shards_checked += 1
    tok_file = raw.get("tokenizer_file")
    if isinstance(tok_file, str) and not unsafe_path_reason(tok_file):
        tp = folder / tok_file
        if not tp.is_file():
            _add(report, tok_file, "missing_shard", "tokenizer copy listed in index.json is missing; copy it back")
        elif file_sha256(tp) != tok_sha:
            _add(report, tok_file, "tokenizer_mismatch",
                 "tokenizer copy does not match tokenizer_sha256; copy the right tokenizer.json")


def _check_extra_shards(folder: Path, entries: list[ShardEntry], raw_shards: list, report: VerifyReport) -> None:
    """Shard files in the folder that index.json does not list."""
    listed = {e.path for e in entries} | {
        item.get("path") for item in raw_shards if isinstance(item, dict) and isinstance(item.get("path"), str)
    }
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and (rel.endswith(".parquet") or rel.endswith(".parquet.tmp")) and rel not in listed:
            _add(report, rel, "extra_shard", "a shard file not listed in index.json (left over or added by hand); "
                 "remove it or re-run the tokenize stage")


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
    raw = _read_raw_index(index_path, report)
    if raw is None:
        return report
    entries, raw_shards = _validate_index(raw, report)
    _check_shards(folder, raw, entries, expected_tokenizer_sha256, level, report)
    _check_extra_shards(folder, entries, raw_shards, report)
    if report.problems:
        log.warning("%s: %d problem(s) found", folder, len(report.problems))
    return report
