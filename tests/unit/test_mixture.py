"""Mixtures of shard streams: token shares, equal steps per rank, exact resume with workers, exhaustion
policies, row filters, rehydration by duplicate-cluster size, store versions, and refused bad input."""
from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from storage.files import file_sha256
from storage.shards import ShardError, ShardWriter, resolve_source_index, shard_schema
from train.dataset import ShardDataset
from train.mixture import (
    MixSchedule,
    MixtureDataset,
    MixtureError,
    MixtureLoader,
    describe_mixture_change,
    load_mixture,
    repeat_order,
)

SEQ = 15  # windows of 16 tokens
TOK_A, TOK_B = "ab" * 32, "cd" * 32
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


def write_stream(folder: Path, n_docs: int, per_doc: int, base: int, *, langs=("en",), sources=("src",),
                 clusters=None, tokenizer=TOK_A, eos_appended=True) -> Path:
    """Documents of ``per_doc`` ids; document ``i`` holds ``base + i*per_doc ...`` so every id names its doc."""
    with ShardWriter(folder, vocab_size=60000, tokenizer_sha256=tokenizer, eos_id=59999, eos_appended=eos_appended,
                     dataset_version=folder.name, target_shard_bytes=1600, row_group_bytes=400) as w:
        for i in range(n_docs):
            w.write_document(f"d{i:05d}", np.arange(per_doc) + base + i * per_doc, sources[i % len(sources)],
                             langs[i % len(langs)], None if clusters is None else clusters[i % len(clusters)])
    return folder


def stream_of(token: int) -> int:
    """Which test stream a token id belongs to (streams use disjoint id ranges 0-9999, 10000-19999, ...)."""
    return token // 10000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    return {
        "a": write_stream(root / "a", 240, 10, 0),
        "b": write_stream(root / "b", 120, 10, 10000, langs=("en", "de"), sources=("web", "books")),
        "c": write_stream(root / "c", 60, 10, 20000),
        "root": root,
    }


def _mix(data, **over):
    streams = [{"name": "a", "path": str(data["a"]), "weight": 5},
               {"name": "b", "path": str(data["b"]), "weight": 3},
               {"name": "c", "path": str(data["c"]), "weight": 2}]
    for s in streams:
        s.update(over.get(s["name"], {}))
    return {"streams": streams, "on_exhausted": over.get("on_exhausted", "renormalize")}


def _loader(mix, *, rank=0, world=1, workers=0, seed=0, batch=4, buffer=8):
    ds = MixtureDataset(mix, SEQ, batch, rank=rank, world_size=world, seed=seed, shuffle_buffer=buffer)
    return MixtureLoader(ds, num_workers=workers)


def _windows(batches):
    return [tuple(torch.cat([x[i], y[i, -1:]]).tolist()) for x, y in batches for i in range(x.shape[0])]


def test_token_shares_match_the_weights_within_one_percent(data):
    loader = _loader(_mix(data), batch=4)
    it = iter(loader)
    batches = [next(it) for _ in range(1000)]  # 4000 windows
    del it
    windows = _windows(batches)
    # realized shares counted from the tokens themselves, not from the loader's bookkeeping
    counts = Counter(stream_of(w[0]) for w in windows)
    assert all(len({stream_of(t) for t in w if t != 59999}) == 1 for w in windows)  # a window is one stream's
    for k, weight in enumerate([0.5, 0.3, 0.2]):
        assert abs(counts[k] / len(windows) - weight) < 0.01
        # the schedule is exact: within one window of the target after every batch
    shares = loader.shares()
    assert {n: v["tokens"] for n, v in shares.items()} == {n: counts[k] * SEQ for k, n in enumerate("abc")}
    assert all(abs(v["share"] - v["weight"]) < 0.001 for v in shares.values())


def test_schedule_is_within_one_window_of_the_target_at_every_prefix():
    sched = MixSchedule([0.5, 0.3, 0.2], [0.25, 0.5, 1.0], [None, None, None], "renormalize")
    served = [0, 0, 0]
    for n, (k, j) in enumerate(sched.iterate(), start=1):
        assert j == served[k]
        served[k] += 1
        assert all(abs(served[i] - w * n) < 1.0 + 1e-9 for i, w in enumerate([0.5, 0.3, 0.2]))
        if n == 5000:
            break
    again = sched.iterate(start=1234)
    full = sched.iterate()
    ref = [next(full) for _ in range(1300)][1234:]
    assert [next(again) for _ in range(66)] == ref


@pytest.mark.parametrize("world", [2, 3])
def test_every_rank_takes_the_same_steps_and_streams_do_not_overlap(data, world):
    mix = _mix(data, a={"max_epochs": 1}, b={"max_epochs": 1}, c={"max_epochs": 1})
    runs = [list(_loader(mix, rank=r, world=world)) for r in range(world)]
    assert len({len(r) for r in runs}) == 1 and len(runs[0]) > 0
    firsts = [w[0] for r in runs for w in _windows(r)]
    assert len(firsts) == len(set(firsts))  # one epoch each: no window twice across ranks


@pytest.mark.parametrize("seed,workers,world,rank", [(0, 0, 1, 0), (1, 2, 1, 0), (2, 2, 2, 1), (3, 3, 1, 0)])
def test_resume_of_a_mixed_stream_mid_epoch_is_exact(data, seed, workers, world, rank):
    # finite: every stream has max_epochs, so the stream ends; it crosses stream epochs and an exhaustion
    mix = _mix(data, a={"max_epochs": 2}, b={"max_epochs": 3, "filter": {"lang": "de"}}, c={"max_epochs": 2})

    def make():
        return _loader(mix, rank=rank, world=world, workers=workers, seed=seed, batch=3, buffer=5)

    ref = make()
    full = list(ref)
    total = len(full)
    assert total == ref.steps_per_epoch() > 20
    rnd = random.Random(seed)
    for k in sorted({rnd.randrange(1, total) for _ in range(2)}):
        first = make()
        it = iter(first)
        got = [next(it) for _ in range(k)]
        state = first.state_dict()
        assert state["batches"] == k
        del it
        second = make()
        second.load_state_dict(json.loads(json.dumps(state)))  # plain data, as in a checkpoint
        got += list(second)
        assert len(got) == total
        for (xa, ya), (xb, yb) in zip(full, got):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert second.served == ref.served


def test_renormalize_drops_a_spent_stream_and_keeps_the_others_ratio(data):
    mix = _mix(data, c={"max_epochs": 1})
    loader = _loader(mix, batch=4)
    c_cap = loader.dataset.streams[2].capacity()
    it = iter(loader)
    windows = _windows([next(it) for _ in range(600)])
    del it
    counts = Counter(stream_of(w[0]) for w in windows)
    assert counts[2] == c_cap  # the small stream served exactly its one epoch, then stopped
    late = Counter(stream_of(w[0]) for w in windows[-1000:])
    assert late[2] == 0 and abs(late[0] / (late[0] + late[1]) - 5 / 8) < 0.01


def test_stop_ends_the_mixture_when_a_stream_is_spent(data):
    mix = _mix(data, c={"max_epochs": 1}, on_exhausted="stop")
    loader = _loader(mix, batch=4)
    batches = list(loader)
    assert len(batches) == loader.steps_per_epoch()
    counts = Counter(stream_of(w[0]) for w in _windows(batches))
    cap = loader.dataset.streams[2].capacity()
    assert cap - 4 <= counts[2] <= cap  # ends within a batch of the small stream running out
    assert abs(counts[2] / sum(counts.values()) - 0.2) < 0.01


def test_row_filter_keeps_only_matching_rows(data):
    mix = {"streams": [{"name": "de-books", "path": str(data["b"]), "weight": 1,
                        "filter": {"lang": ["de"], "source": "books"}, "max_epochs": 1}]}
    batches = list(_loader(mix, batch=1))
    docs = {(t - 10000) // 10 for w in _windows(batches) for t in w if t != 59999}
    # doc i has lang en/de by i % 2 and source web/books by i % 2: de and books are the odd documents
    assert docs and all(d % 2 == 1 for d in docs)
    with pytest.raises(MixtureError, match=r"stream 'b'.*matches no row.*lang values present: de, en"):
        MixtureDataset(_mix(data, b={"filter": {"lang": "fr"}}), SEQ, 2)


def test_rehydration_repeats_documents_by_cluster_size(tmp_path):
    # cluster sizes cycle 1, 3, 10, 40: the table repeats sizes 2-5 three times, 6-20 1.5 times, drops 21+
    folder = write_stream(tmp_path / "r", 200, 9, 0, clusters=[1, 3, 10, 40], eos_appended=False)
    table = [{"min": 2, "max": 5, "repeat": 3}, {"min": 6, "max": 20, "repeat": 1.5}, {"min": 21, "repeat": 0}]
    mix = {"streams": [{"name": "r", "path": str(folder), "weight": 1, "rehydrate": table, "max_epochs": 1}]}

    def doc_tokens(seed):
        loader = _loader(mix, batch=1, seed=seed, buffer=1)
        stream = loader.dataset.streams[0]
        units = stream._slots(0)[0]
        toks = np.concatenate([stream._unit_tokens(u) for u in units])  # the whole epoch, uncut
        return Counter(int(t) // 9 for t in toks if t != 59999), stream

    seen, stream = doc_tokens(0)
    for doc in range(200):
        copies = seen[doc] / 9
        size = [1, 3, 10, 40][doc % 4]
        assert copies == {1: 1, 3: 3, 40: 0}[size] if size != 10 else copies in (1, 2)
    tens = [d for d in range(200) if d % 4 == 2]
    assert 0.3 < sum(seen[d] / 9 - 1 for d in tens) / len(tens) < 0.7  # half of them get the extra copy
    assert seen == doc_tokens(0)[0]  # deterministic
    assert stream.stream_tokens == sum(seen.values()) + sum(seen.values()) // 9  # EOS inserted per copy
    assert (tmp_path / "r" / "index.json").is_file() and len(list((tmp_path / "r").glob("*.parquet"))) == len(
        json.loads((tmp_path / "r" / "index.json").read_text())["shards"])  # nothing written on disk


def test_repeat_order_spreads_copies_one_pass_apart():
    assert repeat_order(np.array([1, 0, 3, 2])).tolist() == [0, 2, 3, 2, 3, 2]
    assert repeat_order(np.array([0, 0])).tolist() == []


def _strip_cluster_column(folder: Path) -> None:
    """Rewrite a shard folder as an older corpusforge wrote it: five columns, no dup_cluster_size."""
    index = json.loads((folder / "index.json").read_text())
    for entry in index["shards"]:
        path = folder / entry["path"]
        pf = pq.ParquetFile(path)
        schema = shard_schema("uint16", index["tokenizer_sha256"], legacy=True)
        tables = [pf.read_row_group(g).drop_columns(["dup_cluster_size"]).cast(schema)
                  for g in range(pf.num_row_groups)]
        with pq.ParquetWriter(path, schema, compression="zstd") as w:
            for t in tables:
                w.write_table(t, row_group_size=t.num_rows + 1)
        entry["bytes"], entry["sha256"] = path.stat().st_size, file_sha256(path)
    (folder / "index.json").write_text(json.dumps(index))


def test_old_shards_without_the_cluster_column_stay_readable(tmp_path):
    folder = write_stream(tmp_path / "old", 40, 8, 0)
    _strip_cluster_column(folder)
    assert "dup_cluster_size" not in pq.ParquetFile(next(folder.glob("*.parquet"))).schema_arrow.names
    batches = list(ShardDataset(folder, SEQ, 2, shuffle=False))  # verify=hash accepts the old schema
    assert batches
    assert list(_loader({"streams": [{"path": str(folder), "weight": 1, "max_epochs": 1}]}, batch=2))
    with pytest.raises(MixtureError, match="no dup_cluster_size column"):
        MixtureDataset([{"path": str(folder), "weight": 1, "rehydrate": [{"min": 2, "repeat": 2}]}], SEQ, 2)


def test_rehydration_needs_cluster_sizes(tmp_path):
    folder = write_stream(tmp_path / "nodedup", 40, 8, 0)  # dup_cluster_size null: near-dedup off
    with pytest.raises(MixtureError, match="null in every row"):
        MixtureDataset([{"path": str(folder), "weight": 1, "rehydrate": [{"min": 2, "repeat": 2}]}], SEQ, 2)


def test_stream_sources_run_folder_store_current_and_named_version(data, tmp_path):
    run = tmp_path / "run"
    write_stream(run / "shards", 40, 8, 0)
    store = tmp_path / "store"
    write_stream(store / "versions" / "v000001", 40, 8, 0)
    write_stream(store / "versions" / "v000002", 80, 8, 0)
    (store / "CURRENT").write_text("v000002\n")
    assert resolve_source_index(run) == run / "shards" / "index.json"
    assert resolve_source_index(store) == store / "versions" / "v000002" / "index.json"
    assert resolve_source_index(store, "v000001") == store / "versions" / "v000001" / "index.json"
    ds = MixtureDataset([{"name": "run", "path": str(run), "weight": 1},
                         {"name": "cur", "path": str(store), "weight": 1},
                         {"name": "old", "path": str(store), "version": "v000001", "weight": 1}], SEQ, 2)
    assert [s.index.total_rows for s in ds.streams] == [40, 80, 40]
    with pytest.raises(MixtureError, match=r"stream 'gone'.*no published version 'v000009'.*v000001, v000002"):
        MixtureDataset([{"name": "gone", "path": str(store), "version": "v000009", "weight": 1}], SEQ, 2)
    with pytest.raises(MixtureError, match=r"stream 'nope'.*does not exist"):
        MixtureDataset([{"name": "nope", "path": str(tmp_path / "missing"), "weight": 1}], SEQ, 2)


def test_bad_mixtures_are_refused_with_what_is_wrong(data, tmp_path):
    other = write_stream(tmp_path / "other", 40, 8, 30000, tokenizer=TOK_B)
    with pytest.raises(MixtureError, match=rf"'a' and 'other'.*different tokenizers \({TOK_A} vs {TOK_B}\)"):
        MixtureDataset([{"name": "a", "path": str(data["a"]), "weight": 1},
                        {"name": "other", "path": str(other), "weight": 1}], SEQ, 2)
    for weight in (0, -1):
        with pytest.raises(MixtureError, match=r"stream 1 \(b\)\.weight: weight must be a positive"):
            load_mixture(_mix(data, b={"weight": weight}))
    with pytest.raises(MixtureError, match="used twice"):
        load_mixture([{"name": "x", "path": "p", "weight": 1}, {"name": "x", "path": "q", "weight": 1}])
    with pytest.raises(MixtureError, match="overlap"):
        load_mixture([{"path": "p", "weight": 1, "rehydrate": [{"min": 2, "max": 5, "repeat": 2},
                                                                 {"min": 5, "repeat": 1}]}])
    with pytest.raises(MixtureError, match="does not exist"):
        load_mixture(tmp_path / "no.yaml")
    with pytest.raises(MixtureError, match="less than one window"):
        MixtureDataset([{"path": str(data["c"]), "weight": 1}], 700, 1)


def test_yaml_paths_are_relative_to_the_file(data, tmp_path, monkeypatch):
    mix_file = data["root"] / "mix.yaml"
    mix_file.write_text(yaml.safe_dump({"streams": [{"path": "a", "weight": 2}, {"path": "b", "weight": 1}]}))
    monkeypatch.chdir(tmp_path)  # not where the file is
    spec = load_mixture(mix_file)
    assert [s.name for s in spec.streams] == ["a", "b"] and spec.weights() == pytest.approx([2 / 3, 1 / 3])
    assert Path(spec.streams[0].path) == data["a"].resolve()
    assert load_mixture([{"path": "a", "weight": 1}]).streams[0].path == str(tmp_path / "a")  # dicts: cwd


def test_mixture_change_is_described():
    rec = {"on_exhausted": "stop", "streams": [{"name": "a", "share": 1.0, "filter": {}, "max_epochs": None,
                                                 "rehydrate": [], "shards": ["0" * 64], "tokenizer_sha256": "x"}]}
    assert describe_mixture_change(rec, rec) == []
    changed = json.loads(json.dumps(rec))
    changed["streams"][0]["share"] = 0.5
    changed["streams"][0]["shards"] = ["1" * 64]
    assert describe_mixture_change(rec, changed) == ["stream 'a': share changed 1.0 -> 0.5",
                                                     "stream 'a': shard content (hashes) changed"]
    assert "single shard source" in describe_mixture_change(None, rec)[0]


def test_scaled_weights_are_the_same_mixture(data):
    a = MixtureDataset(_mix(data), SEQ, 2)
    b = MixtureDataset(_mix(data, a={"weight": 50}, b={"weight": 30}, c={"weight": 20}), SEQ, 2)
    assert a.fingerprint() == b.fingerprint() and describe_mixture_change(a.record(), b.record()) == []
    c = MixtureDataset(_mix(data, c={"filter": {"lang": "en"}}), SEQ, 2)
    assert describe_mixture_change(a.record(), c.record()) == ["stream 'c': filter changed {} -> {'lang': ['en']}"]


def test_shard_error_is_a_value_error():
    assert issubclass(MixtureError, ValueError) and issubclass(ShardError, ValueError)


def test_the_documented_example_mixture_validates():
    spec = load_mixture(Path(__file__).resolve().parents[2] / "docs" / "examples" / "mix.yaml")
    assert [s.name for s in spec.streams] == ["web", "web-2024", "wiki"] and sum(spec.weights()) == pytest.approx(1)
    assert spec.streams[0].rehydrate and spec.streams[1].version == "v000003" and spec.streams[2].max_epochs == 4


def test_writer_keeps_cluster_sizes_and_refuses_impossible_ones(tmp_path):
    write_stream(tmp_path / "ok", 8, 4, 0, clusters=[1, 7])
    table = pq.read_table(next((tmp_path / "ok").glob("*.parquet")))
    assert table.column("dup_cluster_size").to_pylist()[:2] == [1, 7]
    with pytest.raises(ShardError, match="dup_cluster_size must be >= 1"):
        write_stream(tmp_path / "bad", 8, 4, 0, clusters=[0])
