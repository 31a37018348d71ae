"""The streaming dataset over shards of consecutive integers: order, shift, splits, shuffling, resume."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import train.dataset as dataset_module
from storage.shards import ShardError
from tests.unit.test_shards_support import write_consecutive_shards
from train.dataset import BufferOrder, ShardDataset, ShardLoader

SEQ = 15  # windows of 16 tokens
# The machine has 2 cores; 3 workers still prove the round-robin arithmetic.
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


def test_module_is_this_repository():
    assert dataset_module.__file__.replace("\\", "/").endswith("train/dataset.py")
    assert hasattr(dataset_module, "ShardLoader")


@pytest.fixture(scope="module")
def even(tmp_path_factory):
    """64 docs x 8 tokens = 512 tokens; row groups of 4 docs (2 windows); 8 shards of 2 groups."""
    folder = tmp_path_factory.mktemp("even")
    index = write_consecutive_shards(folder, 64, 8, docs_per_group=4, groups_per_shard=2)
    assert len(index.shards) == 8 and all(len(s.row_groups) == 2 for s in index.shards)
    return folder


def _windows(batches):
    return [tuple(torch.cat([x[i], y[i, -1:]]).tolist()) for x, y in batches for i in range(x.shape[0])]


def _run(folder, world, workers, shuffle, seed=0, batch=2, epochs=1, buffer=8):
    out = {}
    for rank in range(world):
        ds = ShardDataset(folder, SEQ, batch, rank=rank, world_size=world, seed=seed, shuffle=shuffle,
                          shuffle_buffer=buffer)
        loader = ShardLoader(ds, num_workers=workers, epochs=epochs)
        steps = loader.steps_per_epoch()
        out[rank] = (list(loader), steps)
    return out


@pytest.mark.parametrize("world,workers", [(1, 0), (2, 0), (2, 2), (4, 0), (1, 2)])
def test_consecutive_order_shift_no_overlap_full_coverage(even, world, workers):
    out = _run(even, world, workers, shuffle=False)
    all_windows = []
    for rank, (batches, steps) in out.items():
        assert len(batches) == steps > 0
        for x, y in batches:
            assert x.dtype == torch.int64 and x.shape == (2, SEQ)
            assert torch.equal(y, x + 1)  # the shift by one
            assert torch.equal(x[:, 1:], x[:, :-1] + 1)  # order inside a window
        all_windows += _windows(batches)
    firsts = sorted(w[0] for w in all_windows)
    assert firsts == list(range(0, 512, 16))  # no overlap, full coverage
    assert all(w == tuple(range(w[0], w[0] + 16)) for w in all_windows)


def test_no_shuffle_single_stream_is_the_corpus_in_order(even):
    (batches, _), = _run(even, 1, 0, shuffle=False).values()
    flat = [t for w in _windows(batches) for t in w]
    assert flat == list(range(512))


@pytest.mark.parametrize("workers", [0, 2])
def test_shuffle_is_a_permutation_and_deterministic(even, workers):
    a = _run(even, 2, workers, shuffle=True, seed=3)
    b = _run(even, 2, workers, shuffle=True, seed=3)
    c = _run(even, 2, workers, shuffle=True, seed=4)
    wa = [w for r in a for w in _windows(a[r][0])]
    assert sorted(w[0] for w in wa) == list(range(0, 512, 16))
    assert wa == [w for r in b for w in _windows(b[r][0])]
    assert wa != [w for r in c for w in _windows(c[r][0])]
    assert [w[0] for w in wa] != sorted(w[0] for w in wa)


def test_epochs_reshuffle(even):
    (batches, steps), = _run(even, 1, 0, shuffle=True, epochs=2).values()
    w = _windows(batches)
    assert len(w) == 2 * steps * 2
    e0, e1 = w[: len(w) // 2], w[len(w) // 2 :]
    assert sorted(e0) == sorted(e1) and e0 != e1


def test_eos_inserted_between_documents_when_not_stored(tmp_path):
    write_consecutive_shards(tmp_path, 12, 3, docs_per_group=4, groups_per_shard=1, eos_appended=False, eos_id=59999)
    ds = ShardDataset(tmp_path, 7, 1, shuffle=False)
    flat = [t for w in _windows(list(ShardLoader(ds, epochs=1))) for t in w]
    expected = []
    for d in range(12):
        expected += [3 * d, 3 * d + 1, 3 * d + 2, 59999]
    assert flat == expected[: len(flat)] and len(flat) == 48 // 8 * 8


def test_uneven_shards_give_every_rank_the_same_number_of_batches(tmp_path):
    rng = np.random.default_rng(0)
    lengths = [int(v) for v in rng.integers(1, 60, size=150)]
    index = write_consecutive_shards(tmp_path, 150, lengths, docs_per_group=5, groups_per_shard=3)
    sizes = {s.tokens for s in index.shards}
    assert len(sizes) > 3  # really uneven
    for world, workers in [(3, 0), (2, 2)]:
        counts = []
        seen = []
        for rank in range(world):
            ds = ShardDataset(tmp_path, 9, 3, rank=rank, world_size=world, shuffle=True, seed=1)
            loader = ShardLoader(ds, num_workers=workers, epochs=1)
            steps = loader.steps_per_epoch()  # epoch 0's plan (the cut can differ per epoch)
            batches = list(loader)
            counts.append((len(batches), steps))
            seen += [w[0] for w in _windows(batches)]
        assert len({c for c, _ in counts}) == 1 and counts[0][0] == counts[0][1] > 0
        assert len(seen) == len(set(seen))  # no window twice across ranks


@pytest.mark.parametrize("seed,workers", [(0, 0), (1, 0), (2, 2), (5, 3)])
def test_resume_mid_epoch_is_exact(even, seed, workers):
    def make():
        ds = ShardDataset(even, SEQ, 2, rank=1, world_size=2, seed=seed, shuffle=True, shuffle_buffer=5)
        return ShardLoader(ds, num_workers=workers, epochs=3)

    full = list(make())
    total = len(full)
    rnd = random.Random(seed)
    for k in sorted({rnd.randrange(1, total) for _ in range(3)}):
        first = make()
        it = iter(first)
        got = [next(it) for _ in range(k)]
        state = first.state_dict()
        assert state["batches"] + sum(first.dataset.steps_per_epoch(e) for e in range(state["epoch"])) == k
        del it
        second = make()
        second.load_state_dict(state)
        got += list(second)
        assert len(got) == total
        for (xa, ya), (xb, yb) in zip(full, got):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_dataset_state_without_loader_resumes(even):
    ds = ShardDataset(even, SEQ, 2, seed=9, shuffle=True)
    full = list(ds)
    ds2 = ShardDataset(even, SEQ, 2, seed=9, shuffle=True)
    it = iter(ds2)
    part = [next(it) for _ in range(5)]
    state = ds2.state_dict()
    assert state["batches"] == 5
    ds3 = ShardDataset(even, SEQ, 2, seed=9, shuffle=True)
    ds3.load_state_dict(state)
    part += list(ds3)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(full, part)) and len(part) == len(full)


def test_resume_with_different_settings_is_refused(even):
    ds = ShardDataset(even, SEQ, 2, seed=1)
    state = ds.state_dict()
    with pytest.raises(ValueError, match="batch_size"):
        ShardDataset(even, SEQ, 4, seed=1).load_state_dict(state)
    other = dict(state, fingerprint="0" * 64)
    with pytest.raises(ValueError, match="shards differ"):
        ShardDataset(even, SEQ, 2, seed=1).load_state_dict(other)


def test_holdout_split_is_disjoint(even):
    train = ShardDataset(even, SEQ, 1, split="train", holdout_shards=2, shuffle=False)
    ev = ShardDataset(even, SEQ, 1, split="eval", holdout_shards=2, shuffle=False)
    tw = {w[0] for w in _windows(list(train))}
    ew = {w[0] for w in _windows(list(ev))}
    assert tw and ew and not (tw & ew) and len(tw) + len(ew) == 32


def test_too_many_slots_fails_with_a_fix(even):
    ds = ShardDataset(even, SEQ, 64, shuffle=False)
    with pytest.raises(ShardError, match="lower batch_size"):
        list(ds)


def test_buffer_order_is_a_permutation_and_skippable():
    order = BufferOrder(100, 7, random.Random(1))
    seq = [order.next() for _ in range(100)]
    assert sorted(seq) == list(range(100)) and seq != list(range(100))
    o2 = BufferOrder(100, 7, random.Random(1))
    o2.skip(40)
    assert [o2.next() for _ in range(60)] == seq[40:]
    # bounded: no position is emitted more than k-1 places before it enters the buffer
    assert all(p <= i + 7 for i, p in enumerate(seq))
