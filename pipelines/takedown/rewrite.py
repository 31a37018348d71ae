"""Removing documents from Parquet files in place: published shards, run tables and the dedup index.

Every rewrite goes to a temporary file renamed over the old one, so a reader sees the old file or the
new one; rerunning completes an interrupted pass. A shard keeps its other rows, their order and its row
group layout (a group that loses every row disappears).
"""
from __future__ import annotations

import bisect
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.stages import near_dedup_index as dedup_index
from storage.files import atomic_write_json, atomic_write_text, file_sha256
from storage.shards import RowGroupInfo, ShardEntry, ShardIndex

log = logging.getLogger(__name__)


def _pa_strings(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


def shard_doc_ids(path: Path, candidates: set[str]) -> set[str]:
    """The ids among ``candidates`` that a shard holds (row-group doc_id statistics skip most groups)."""
    if not candidates:
        return set()
    pf = pq.ParquetFile(path)
    ordered = sorted(candidates)
    found: set[str] = set()
    col = pf.schema_arrow.get_field_index("doc_id")
    for i in range(pf.metadata.num_row_groups):
        st = pf.metadata.row_group(i).column(col).statistics
        if st is not None and st.has_min_max:
            lo = bisect.bisect_left(ordered, st.min)
            if lo == len(ordered) or ordered[lo] > st.max:
                continue
        ids = pf.read_row_group(i, columns=["doc_id"]).column("doc_id")
        hit = pc.is_in(ids, value_set=_pa_strings(ordered))
        found.update(ids.filter(hit).to_pylist())
    return found


def rewrite_shard(src: Path, dst: Path, drop: set[str]):
    """Write ``src`` without the rows whose doc_id is in ``drop``, keeping every other row group as is.

    Row groups keep their rows in order (a group that loses all rows disappears); compression,
    dictionary and statistics settings are those the shard writer uses. Returns the new
    ``(rows, tokens, row_groups)``; ``rows == 0`` means nothing was written.
    """
    pf = pq.ParquetFile(src)
    md = pf.metadata
    codec = md.row_group(0).column(0).compression if md.num_row_groups else "ZSTD"
    codec = None if codec in ("UNCOMPRESSED", None) else codec.lower()
    value_set = _pa_strings(sorted(drop))
    groups: list[RowGroupInfo] = []
    writer = None
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        for i in range(md.num_row_groups):
            t = pf.read_row_group(i)
            t = t.filter(pc.invert(pc.is_in(t.column("doc_id"), value_set=value_set)))
            if t.num_rows == 0:
                continue
            if writer is None:
                writer = pq.ParquetWriter(tmp, pf.schema_arrow, compression=codec, use_dictionary=["source", "lang"],
                                          write_statistics=["doc_id", "n_tokens"], store_schema=True)
            writer.write_table(t, row_group_size=t.num_rows + 1)
            groups.append(RowGroupInfo(rows=t.num_rows, tokens=int(pc.sum(t.column("n_tokens")).as_py() or 0)))
        if writer is not None:
            writer.close()
            writer = None
            os.replace(tmp, dst)
    finally:
        if writer is not None:
            writer.close()
        if tmp.exists():
            tmp.unlink()
    return sum(g.rows for g in groups), sum(g.tokens for g in groups), groups


def rewritten_entry(src: Path, dst: Path, entry: ShardEntry, drop: set[str]) -> Optional[ShardEntry]:
    """Rewrite a shard without ``drop`` (see :func:`rewrite_shard`); its new entry, None when no row is left."""
    rows, tokens, groups = rewrite_shard(src, dst, drop)
    if rows == 0:
        return None
    return entry.model_copy(update={"rows": rows, "tokens": tokens, "bytes": dst.stat().st_size,
                                    "sha256": file_sha256(dst), "row_groups": groups})


def rewrite_run_shards(run_dir: Path, drop: set[str]) -> int:
    """Remove documents from a run's ``shards/`` folder in place and update its index.json.

    Shards that lose every row are deleted. Returns the number of shards rewritten or deleted (the index
    is rewritten only when that is not 0).
    """
    idx_path = Path(run_dir) / "shards" / "index.json"
    if not idx_path.is_file():
        return 0
    index = ShardIndex.from_file(idx_path)
    entries = []
    changed = 0
    for e in index.shards:
        p = idx_path.parent / e.path
        hit = shard_doc_ids(p, drop) if p.is_file() else set()
        if not hit:
            entries.append(e)
            continue
        changed += 1
        new = rewritten_entry(p, p, e, hit)
        if new is None:
            p.unlink()
        else:
            entries.append(new)
    if changed:
        new_index = index.model_copy(update={"shards": entries, "total_rows": sum(e.rows for e in entries),
                                             "total_tokens": sum(e.tokens for e in entries)})
        atomic_write_text(idx_path, ShardIndex.model_validate(new_index.model_dump()).to_json())
    return changed


def rewrite_table_files(folder: Path, drop: set[str]) -> int:
    """Rewrite every Parquet part file of a run table without the given doc_ids. Returns rows removed."""
    removed = 0
    if not folder.is_dir() or not drop:
        return 0
    value_set = _pa_strings(sorted(drop))
    for f in sorted(folder.glob("*.parquet")):
        table = pq.read_table(f)
        mask = pc.is_in(table.column("doc_id"), value_set=value_set)
        n = int(pc.sum(mask).as_py() or 0)
        if not n:
            continue
        kept = table.filter(pc.invert(mask))
        codec = pq.ParquetFile(f).metadata
        codec = codec.row_group(0).column(0).compression if codec.num_row_groups else "ZSTD"
        tmp = f.with_name(f".{f.name}.tmp")
        pq.write_table(kept, tmp, compression=None if codec == "UNCOMPRESSED" else codec.lower())
        os.replace(tmp, f)
        removed += n
    return removed


def rewrite_table_files_recursive(folder: Path, drop: set[str]) -> int:
    """:func:`rewrite_table_files` over a folder and its partition subfolders (``band=<j>``)."""
    if not folder.is_dir():
        return 0
    total = rewrite_table_files(folder, drop)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        total += rewrite_table_files_recursive(sub, drop)
    return total


def forget_in_dedup_index(index_path: Path, doc_ids: set[str]) -> int:
    """Remove documents from every version of the incremental near-dedup index. Returns rows removed.

    Every Parquet file of ``versions/*/docs`` and ``versions/*/keys`` holding one of the ids is rewritten
    to a temporary file and renamed over the old one (each file atomically; rerunning completes an
    interrupted pass). The index manifest's document counts are updated. Holds the index's commit lock
    (:func:`pipelines.stages.near_dedup_index.commit_lock`: ``DedupIndexError`` while a commit runs).
    """
    index_path = Path(index_path)
    if not doc_ids or not (index_path / dedup_index.MANIFEST).is_file():
        return 0
    removed_docs = 0
    with dedup_index.commit_lock(index_path):
        manifest = json.loads((index_path / dedup_index.MANIFEST).read_text(encoding="utf-8"))
        for v in manifest.get("versions", []):
            vdir = index_path / "versions" / v["run_id"]
            n_docs = rewrite_table_files_recursive(vdir / "docs", doc_ids)
            rewrite_table_files_recursive(vdir / "keys", doc_ids)
            if n_docs:
                v["documents"] = int(v.get("documents", 0)) - n_docs
                v["forgotten"] = int(v.get("forgotten", 0)) + n_docs
                removed_docs += n_docs
        if removed_docs:
            manifest["documents"] = sum(int(v.get("documents", 0)) for v in manifest.get("versions", []))
            atomic_write_json(index_path / dedup_index.MANIFEST, manifest)
    log.info("near-dedup index: %d document(s) forgotten", removed_docs)
    return removed_docs


__all__ = [
    "forget_in_dedup_index",
    "rewrite_run_shards",
    "rewrite_shard",
    "rewrite_table_files",
    "rewrite_table_files_recursive",
    "rewritten_entry",
    "shard_doc_ids",
]
