"""The loader's fast batch construction against a plain reference of the documented stream.

The reference below reads every row group with ``to_pylist``, joins the slot's documents into one list,
cuts it into windows, runs the bounded-buffer shuffle written out step by step, and merges the workers
round-robin. The loader (memory-mapped shards, zero-copy token buffers, windows handed out by position
with a pool for the ones still in the shuffle buffer) must give exactly the same batches.
"""
from __future__ import annotations

import hashlib
import itertools
import random
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import storage.shards.verify as verify_module
from storage.shards import ShardError
from tests.unit.test_shards_support import write_consecutive_shards
from train.dataset import BufferOrder, ShardDataset, ShardLoader, SlotWindows, list_tokens

pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


def _seeded(*key) -> random.Random:
    """The documented seeding: sha256 of the key's repr, first 8 bytes little-endian."""
    return random.Random(int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:8], "little"))


def _slot_windows(ds: ShardDataset, units) -> list[list[int]]:
    """The slot's stream read plainly and cut into windows of seq_len + 1 tokens."""
    stream: list[int] = []
    for u in units:
        table = pq.ParquetFile(ds.folder / ds.index.shards[u.shard].path).read_row_group(u.group)
        for doc in table.column("input_ids").to_pylist():
            stream += doc if ds.index.eos_appended else doc + [ds.index.eos_id]
    w = ds.seq_len + 1
    return [stream[i : i + w] for i in range(0, len(stream) - w + 1, w)]


def _shuffled(n: int, k: int, rng) -> list[int]:
    """Bounded-buffer shuffle, step by step: fill the buffer to k, pick a random slot, swap-remove it."""
    if rng is None:
        return list(range(n))
    buf, nxt, out = [], 0, []
    while len(out) < n:
        while len(buf) < k and nxt < n:
            buf.append(nxt)
            nxt += 1
        i = rng.randrange(len(buf))
        out.append(buf[i])
        buf[i] = buf[-1]
        buf.pop()
    return out


def reference(ds: ShardDataset, workers: int, epochs: int) -> list[list[list[int]]]:
    """Every batch of ``ds``'s rank over ``epochs``, as lists of windows."""
    nw = max(1, workers)
    ds.set_num_workers(workers)
    batches = []
    for epoch in range(epochs):
        slots = ds._slots(epoch)  # the plan (units and their cut into slots) is index arithmetic
        windows = [_slot_windows(ds, units) for units in slots]
        per_slot = min(len(w) // ds.batch_size for w in windows)
        per_worker = []
        for worker in range(nw):
            slot = ds.rank * nw + worker
            rng = _seeded(ds.seed, epoch, "windows", slot) if ds.shuffle else None
            order = _shuffled(len(windows[slot]), max(1, ds.shuffle_buffer), rng)
            picks = [windows[slot][p] for p in order[: per_slot * ds.batch_size]]
            per_worker.append([picks[i : i + ds.batch_size] for i in range(0, len(picks), ds.batch_size)])
        for b in range(per_slot):  # the DataLoader's round-robin over workers
            batches += [per_worker[worker][b] for worker in range(nw)]
    return batches


def _as_lists(batches) -> list[list[list[int]]]:
    return [torch.cat([x, y[:, -1:]], dim=1).tolist() for x, y in batches]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    rng = np.random.default_rng(7)
    lengths = [int(v) for v in rng.integers(1, 90, size=160)]
    out = {}
    out["uneven"] = tmp_path_factory.mktemp("uneven")
    write_consecutive_shards(out["uneven"], 160, lengths, docs_per_group=6, groups_per_shard=3)
    out["no_eos"] = tmp_path_factory.mktemp("no_eos")
    write_consecutive_shards(out["no_eos"], 160, lengths, docs_per_group=6, groups_per_shard=3,
                             eos_appended=False, eos_id=59999)
    out["uint32"] = tmp_path_factory.mktemp("uint32")  # vocabulary above 65536: 4-byte ids
    write_consecutive_shards(out["uint32"], 80, [v * 3 for v in lengths[:80]], docs_per_group=5,
                             groups_per_shard=2, vocab_size=70000)
    return out


CASES = [
    # folder, seq_len, batch, world, rank, workers, shuffle, buffer, seed
    ("uneven", 15, 2, 1, 0, 0, True, 8, 0),
    ("uneven", 15, 2, 1, 0, 0, False, 8, 0),
    ("uneven", 40, 3, 2, 1, 0, True, 1, 3),
    ("uneven", 7, 4, 3, 2, 0, True, 200, 5),
    ("no_eos", 23, 2, 2, 0, 0, True, 5, 1),
    ("no_eos", 9, 1, 1, 0, 0, False, 8, 2),
    ("uint32", 100, 2, 1, 0, 0, True, 16, 4),
    ("uneven", 15, 2, 2, 1, 2, True, 6, 9),
]


@pytest.mark.parametrize("name,seq,batch,world,rank,workers,shuffle,buffer,seed", CASES)
def test_batches_equal_the_plain_reference(folders, name, seq, batch, world, rank, workers, shuffle, buffer, seed):
    def make():
        ds = ShardDataset(folders[name], seq, batch, rank=rank, world_size=world, seed=seed, shuffle=shuffle,
                          shuffle_buffer=buffer)
        return ShardLoader(ds, num_workers=workers, epochs=2)

    got = _as_lists(make())
    ref_ds = ShardDataset(folders[name], seq, batch, rank=rank, world_size=world, seed=seed, shuffle=shuffle,
                          shuffle_buffer=buffer)
    assert got == reference(ref_ds, workers, epochs=2) and len(got) > 4
    # and from a mid-epoch resume, the rest is the same too
    k = len(got) // 2 + 1
    first = make()
    head = _as_lists(itertools.islice(iter(first), k))
    second = make()
    second.load_state_dict(first.state_dict())
    assert head + _as_lists(second) == got


def test_slot_windows_pool_stays_within_the_shuffle_buffer(folders):
    ds = ShardDataset(folders["uneven"], 11, 1, seed=2, shuffle_buffer=9)
    units = ds._slots(0)[0]
    expected = _slot_windows(ds, units)
    order = BufferOrder(len(expected), 9, random.Random(5))
    windows = SlotWindows(ds, units, order)
    sizes = []
    got = []
    for _ in range(len(expected)):
        p = order.next()
        got.append((p, windows.take(p).tolist()))
        sizes.append(0 if windows._pool is None else len(windows._pool))
    windows.close()
    assert all(w == expected[p] for p, w in got) and sorted(p for p, _ in got) == list(range(len(expected)))
    assert max(sizes) <= 9 and max(sizes) > 0  # some windows waited in the pool, never more than the buffer


def test_list_tokens_reads_slices_chunks_and_large_lists():
    arr = pa.array([[1, 2], [3], [], [4, 5, 6]], pa.list_(pa.uint16()))
    values, offsets = list_tokens(arr.slice(1, 3))
    assert values.tolist() == [3, 4, 5, 6] and offsets.tolist() == [0, 1, 1, 4] and values.dtype == np.uint16
    chunked = pa.chunked_array([arr.slice(0, 2), arr.slice(2, 2)])
    values, offsets = list_tokens(chunked)
    assert values.tolist() == [1, 2, 3, 4, 5, 6] and offsets.tolist() == [0, 2, 3, 3, 6]
    values, offsets = list_tokens(pa.array([[7, 8], [9]], pa.large_list(pa.uint32())))
    assert values.tolist() == [7, 8, 9] and values.dtype == np.uint32 and offsets.tolist() == [0, 2, 3]
    values, offsets = list_tokens(pa.array([[], []], pa.list_(pa.uint16())))
    assert values.size == 0 and offsets.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="list of integers"):
        list_tokens(pa.array([1, 2]))
    with pytest.raises(ValueError, match="non-null integers"):
        list_tokens(pa.array([[1, None]], pa.list_(pa.uint16())))


def test_hash_is_computed_over_the_mapping_that_is_decoded(folders, tmp_path, monkeypatch):
    """verify="hash" hashes each shard once, from the memory map its row groups are decoded from (no
    second read of the file through file_sha256), and still refuses a shard whose bytes changed."""
    def no_second_read(path):
        raise AssertionError("the loader read a shard a second time to hash it")

    monkeypatch.setattr(verify_module, "file_sha256", no_second_read)
    hashed = []
    real = hashlib.sha256

    def counting_sha256(data=b"", **kw):
        if len(memoryview(data)) > 1000:  # a shard, not a seed or fingerprint
            hashed.append(len(memoryview(data)))
        return real(data, **kw)

    monkeypatch.setattr("train.dataset.hashlib.sha256", counting_sha256)
    ds = ShardDataset(folders["uneven"], 15, 2, verify="hash", shuffle=False)
    assert len(list(ShardLoader(ds, epochs=1))) > 0
    opened = [e.bytes for e in ds.index.shards if e.path in ds._verified]
    assert len(opened) >= len(ds.index.shards) - 1 and sorted(hashed) == sorted(opened)  # once each, in full

    bad = tmp_path / "bad"
    shutil.copytree(folders["uneven"], bad)
    victim = bad / ds.index.shards[0].path
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="sha256"):
        list(ShardLoader(ShardDataset(bad, 15, 2, verify="hash", shuffle=False), epochs=1))


def test_row_groups_of_one_shard_decode_concurrently(folders):
    """The read-ahead threads decode row groups of the same shard at once: each gets its own reader over
    the shared mapped bytes (a shared Parquet reader failed under load: 'ReadRangeCache did not find ...')."""
    ds = ShardDataset(folders["uneven"], 15, 2, verify="hash", shuffle=False)
    units = [u for u in ds._units(0) if u.shard == 0]
    assert len(units) > 1 and ds._open(0) is not ds._open(0)
    expected = [ds._unit_tokens(u).tolist() for u in units]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(20):
            got = list(pool.map(lambda u: ds._unit_tokens(u).tolist(), units * 4))
            assert got == expected * 4
