"""ShardWriter layout and determinism; verify_shards and the dataset reject every kind of damage."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import storage.shards.writer as shards_module
from storage.shards import (
    ShardError,
    ShardIndex,
    ShardWriter,
    resolve_index_path,
    shard_schema,
    token_dtype_for_vocab,
    unsafe_path_reason,
    verify_shards,
)
from tests.unit.test_shards_support import FAKE_TOKENIZER_SHA, write_consecutive_shards
from train.dataset import ShardDataset, ShardLoader


def test_module_is_this_repository():
    assert shards_module.__file__.replace("\\", "/").endswith("storage/shards/writer.py")


def test_token_dtype_is_the_smallest_that_fits():
    assert token_dtype_for_vocab(256) == "uint16" and token_dtype_for_vocab(65536) == "uint16"
    assert token_dtype_for_vocab(65537) == "uint32" and token_dtype_for_vocab(200_000) == "uint32"
    assert shard_schema("uint16").field("input_ids").type.value_type == pa.uint16()


@pytest.mark.parametrize("vocab,expected", [(1000, pa.uint16()), (100_000, pa.uint32())])
def test_written_shards_have_the_contract_schema(tmp_path, vocab, expected):
    index = write_consecutive_shards(tmp_path, 10, 5, docs_per_group=5, groups_per_shard=1, vocab_size=vocab, lang="en")
    t = pq.read_table(tmp_path / index.shards[0].path)
    assert t.column_names == ["doc_id", "input_ids", "n_tokens", "source", "lang", "dup_cluster_size"]
    assert t.schema.field("input_ids").type.value_type == expected
    assert t.column("n_tokens").to_pylist() == [5] * 5 and t.column("lang").to_pylist() == ["en"] * 5
    assert t.column("input_ids").to_pylist()[1] == [5, 6, 7, 8, 9]
    assert index.token_dtype == ("uint16" if vocab <= 65536 else "uint32")


def test_rolls_shards_and_row_groups_at_the_size_limits(tmp_path):
    index = write_consecutive_shards(tmp_path, 60, 10, docs_per_group=4, groups_per_shard=3)
    assert [len(s.row_groups) for s in index.shards] == [3, 3, 3, 3, 3]
    assert all(g.rows == 4 and g.tokens == 40 for s in index.shards for g in s.row_groups)
    for s in index.shards:
        md = pq.ParquetFile(tmp_path / s.path).metadata
        assert md.num_row_groups == 3 and s.bytes == (tmp_path / s.path).stat().st_size
    assert index.total_tokens == 600 and index.total_rows == 60
    assert json.loads((tmp_path / "index.json").read_text())["shards"][0]["path"] == "shard-00000.parquet"


def _write(folder: Path, tables: list[pa.Table]):
    with ShardWriter(folder, vocab_size=500, tokenizer_sha256=FAKE_TOKENIZER_SHA, eos_id=0, eos_appended=True,
                     dataset_version="v", target_shard_bytes=3000, row_group_bytes=700) as w:
        for t in tables:
            w.write_table(t)
    return w.index


def test_same_rows_in_any_batching_give_byte_identical_shards(tmp_path):
    rng = np.random.default_rng(0)
    ids = [rng.integers(0, 500, size=int(rng.integers(1, 80))).tolist() for _ in range(120)]
    table = pa.table({"doc_id": [f"{i:04d}" for i in range(120)], "input_ids": ids, "source": ["a"] * 120,
                      "lang": [None] * 120})
    a = _write(tmp_path / "a", [table])
    b = _write(tmp_path / "b", [table.slice(i, 7) for i in range(0, 120, 7)])
    assert len(a.shards) > 2 and a == b
    assert (tmp_path / "a" / "index.json").read_bytes() == (tmp_path / "b" / "index.json").read_bytes()
    for s in a.shards:
        assert (tmp_path / "a" / s.path).read_bytes() == (tmp_path / "b" / s.path).read_bytes()


def test_no_index_when_writing_fails_and_no_silent_overwrite(tmp_path):
    with pytest.raises(RuntimeError):
        with ShardWriter(tmp_path, vocab_size=500, tokenizer_sha256=FAKE_TOKENIZER_SHA, eos_id=0, eos_appended=True,
                         dataset_version="v", target_shard_bytes=4096, row_group_bytes=1024) as w:
            w.write_document("a", list(range(400)), "s")
            w.write_table(pa.table({"doc_id": ["b"], "input_ids": [[1, 2]], "source": ["s"]}))
            raise RuntimeError("crash in the middle")
    assert not (tmp_path / "index.json").exists() and not list(tmp_path.glob("*.tmp"))
    assert verify_shards(tmp_path).problems[0].code == "missing_index"
    write_consecutive_shards(tmp_path / "ok", 4, 3, docs_per_group=2, groups_per_shard=1)
    with pytest.raises(ShardError, match="already holds shards"):
        write_consecutive_shards(tmp_path / "ok", 4, 3, docs_per_group=2, groups_per_shard=1)


def test_rejects_ids_outside_the_vocabulary(tmp_path):
    with pytest.raises(ShardError, match="outside the vocabulary"):
        with ShardWriter(tmp_path, vocab_size=100, tokenizer_sha256=FAKE_TOKENIZER_SHA, eos_id=0, eos_appended=True,
                         dataset_version="v") as w:
            w.write_document("a", [1, 2, 100], "s")


def test_unsafe_paths():
    assert unsafe_path_reason("shard-00000.parquet") is None and unsafe_path_reason("sub/x.parquet") is None
    for bad in ("/etc/passwd", "../x.parquet", "a/../../x", "C:x", "a\\b", "", "./x", "a//b"):
        assert unsafe_path_reason(bad), bad


# ----------------------------------------------------------------------------------------- damage


@pytest.fixture()
def folder(tmp_path):
    write_consecutive_shards(tmp_path / "s", 48, 8, docs_per_group=4, groups_per_shard=3)
    return tmp_path / "s"


def _edit_index(folder: Path, fn) -> None:
    raw = json.loads((folder / "index.json").read_text())
    fn(raw)
    (folder / "index.json").write_text(json.dumps(raw))


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _dataset_error(folder: Path) -> str:
    with pytest.raises(ShardError) as info:
        ds = ShardDataset(folder, 7, 2, shuffle=False, verify="hash")
        list(ShardLoader(ds, epochs=1))
    return str(info.value)


def test_clean_folder_verifies(folder):
    report = verify_shards(folder)
    assert report.ok and report.shards_checked == 4 and report.to_dict()["ok"] is True


def test_flipped_byte(folder):
    _flip_byte(folder / "shard-00001.parquet")
    report = verify_shards(folder)
    assert [(p.path, p.code) for p in report.problems] == [("shard-00001.parquet", "sha256_mismatch")]
    assert "shard-00001.parquet" in _dataset_error(folder) and "sha256" in _dataset_error(folder)


def test_truncated_shard(folder):
    p = folder / "shard-00002.parquet"
    p.write_bytes(p.read_bytes()[:-100])
    assert [(q.path, q.code) for q in verify_shards(folder).problems] == [("shard-00002.parquet", "truncated")]
    assert "truncated" in _dataset_error(folder)


def test_missing_shard(folder):
    (folder / "shard-00000.parquet").unlink()
    assert [(q.path, q.code) for q in verify_shards(folder).problems] == [("shard-00000.parquet", "missing_shard")]
    assert "missing" in _dataset_error(folder)


def test_extra_unlisted_shard(folder):
    shutil.copy(folder / "shard-00000.parquet", folder / "shard-00099.parquet")
    assert [(q.path, q.code) for q in verify_shards(folder).problems] == [("shard-00099.parquet", "extra_shard")]
    assert "not listed in index.json" in _dataset_error(folder)


@pytest.mark.parametrize("bad", ["../outside.parquet", "/tmp/abs.parquet", "sub/../../x.parquet"])
def test_traversal_and_absolute_paths(folder, bad):
    _edit_index(folder, lambda raw: raw["shards"][1].update(path=bad))
    report = verify_shards(folder)
    codes = {(q.path, q.code) for q in report.problems}
    assert (bad, "unsafe_path") in codes
    # the other shards are still checked, and the real shard-00001 is now unlisted
    assert ("shard-00001.parquet", "extra_shard") in codes and report.shards_checked == 3
    msg = _dataset_error(folder)
    assert "unsafe shard path" in msg and "verify" in msg


def test_every_problem_is_reported_at_once(folder):
    _flip_byte(folder / "shard-00001.parquet")
    (folder / "shard-00003.parquet").unlink()
    (folder / "junk.parquet").write_bytes(b"PAR1")
    codes = sorted(q.code for q in verify_shards(folder).problems)
    assert codes == ["extra_shard", "missing_shard", "sha256_mismatch"]


def test_schema_and_tokenizer_mismatch(folder, tmp_path):
    # a shard rewritten with other columns but listed with a matching size and hash
    t = pq.read_table(folder / "shard-00000.parquet").drop_columns(["lang"])
    pq.write_table(t, folder / "shard-00000.parquet")
    # a shard whose file says another tokenizer
    t2 = pq.read_table(folder / "shard-00001.parquet")
    pq.write_table(t2.replace_schema_metadata({**t2.schema.metadata, b"corpusforge.tokenizer_sha256": b"cd" * 32}),
                   folder / "shard-00001.parquet", row_group_size=4)
    import hashlib

    def fix(raw):
        for s in raw["shards"][:2]:
            p = folder / s["path"]
            s["bytes"] = p.stat().st_size
            s["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()

    _edit_index(folder, fix)
    codes = {(q.path, q.code) for q in verify_shards(folder).problems}
    assert ("shard-00000.parquet", "schema_mismatch") in codes
    assert ("shard-00001.parquet", "tokenizer_mismatch") in codes
    msg = _dataset_error(folder)
    assert "schema" in msg or "tokenizer" in msg


def test_expected_tokenizer_is_enforced(folder):
    report = verify_shards(folder, expected_tokenizer_sha256="ef" * 32)
    assert [q.code for q in report.problems] == ["tokenizer_mismatch"]
    with pytest.raises(ShardError, match="tokenizer"):
        ShardDataset(folder, 7, 2, expected_tokenizer_sha256="ef" * 32)


def test_unsupported_schema_version_is_refused(folder):
    _edit_index(folder, lambda raw: raw.update(schema_version=99))
    assert any("schema_version" in q.message for q in verify_shards(folder).problems)
    with pytest.raises(ShardError, match="schema_version"):
        ShardDataset(folder, 7, 2)


def test_store_with_current_resolves_to_the_version(folder, tmp_path):
    store = tmp_path / "store"
    (store / "versions").mkdir(parents=True)
    shutil.copytree(folder, store / "versions" / "2024-06-01")
    (store / "CURRENT").write_text("2024-06-01\n")
    assert resolve_index_path(store) == store / "versions" / "2024-06-01" / "index.json"
    assert verify_shards(store).ok
    ds = ShardDataset(store, 7, 2, shuffle=False)
    assert ds.folder == store / "versions" / "2024-06-01" and len(list(ShardLoader(ds, epochs=1))) > 0
    (store / "CURRENT").write_text("../elsewhere\n")
    with pytest.raises(ShardError, match="CURRENT"):
        resolve_index_path(store)


def test_index_model_round_trips(folder):
    index = ShardIndex.from_file(folder / "index.json")
    assert ShardIndex.model_validate_json(index.to_json()) == index


def test_saved_tokenizer_is_readable_by_others(tmp_path):
    import os
    import stat

    from pipelines.text.tokenize import save_tokenizer, train_bpe_tokenizer

    tok = train_bpe_tokenizer(["some text to learn a few merges from"] * 20, vocab_size=300)
    old = os.umask(0o022)
    try:
        save_tokenizer(tok, tmp_path / "tok.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "tok.json").stat().st_mode) == 0o644
