"""Streaming the tokenized Parquet shards into fixed training windows, resumable mid-epoch.

How one epoch is laid out (computed from ``index.json`` alone, so every rank and worker agrees without
talking to the others):

1. *Units* are Parquet row groups. With ``shuffle`` the shards are permuted from ``(seed, epoch)`` and
   the row groups inside each shard too; without it they keep index order.
2. The ordered units are cut into ``world_size * num_workers`` contiguous *slots* of about equal tokens
   (slot = ``rank * num_workers + worker``). Contiguity keeps a worker on few shards, so hashing a shard
   before its first use costs about one extra read of the slot's data.
3. A slot's units form one token stream (documents separated by EOS: stored in the ids when the index
   says ``eos_appended``, inserted here otherwise), cut into non-overlapping windows of ``seq_len + 1``
   tokens; a batch is ``x = w[:, :-1]``, ``y = w[:, 1:]``.
4. With ``shuffle`` the windows pass through a bounded buffer of ``shuffle_buffer`` windows. The random
   picks depend only on the RNG and the window count, never on the data, so the output order is a
   function of ``(seed, epoch, slot)`` that can be replayed without reading tokens.
5. Every slot yields exactly ``batches_per_slot = min over slots`` batches, so every rank gets the same
   number of steps (uneven shards cannot hang DDP) and the DataLoader's round-robin over workers is
   exact: global batch ``i`` of a rank comes from worker ``i % num_workers``.

Resume: the state is ``(epoch, batches consumed)``. Each worker computes how many of its own batches
were consumed, replays the buffer's RNG to that point (integers only), seeks to the oldest window still in
the buffer through the row-group token counts of the index, and continues; workers are renumbered so
that the DataLoader's first worker plays the one whose batch comes next. The sequence after a resume
is identical to the uninterrupted one, for any ``num_workers`` (which must be the same as before).

Reading cost (see docs/train.md, "Loader performance"): a shard is memory-mapped once; with
``verify="hash"`` its sha256 is computed over that mapping before any of its tokens are used, and the row
groups are then decoded from the same mapped bytes (one pass over the file from disk, no second read).
Only the ``input_ids`` column is read, and its flat values buffer becomes a numpy array without a copy.
Windows are handed out by position (:class:`SlotWindows`): a window still in the shuffle buffer when its
row group is left behind is copied into a fixed pool of at most ``shuffle_buffer`` windows, and each
batch is filled straight into one int64 array. DataLoader workers send their batches in groups, put back
in order by :class:`ShardLoader` (the order is the same as one batch at a time).
"""
from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
import os
import random
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from pydantic import ValidationError
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from storage.shards import ShardError, ShardIndex, check_shard_file, numpy_dtype, resolve_index_path

log = logging.getLogger(__name__)

VerifyMode = Literal["hash", "size", "none"]
STATE_VERSION = 1
READ_AHEAD = 2  # row groups decoded ahead of the one being cut into windows, each in its own thread
GROUP_BYTES = 4 << 20  # DataLoader workers send batches in groups of up to this size (and 16 batches)


def load_index(dir_or_store: os.PathLike | str) -> tuple[ShardIndex, Path]:
    """Read and validate the index of a shard folder or store; returns ``(index, folder)``.

    Raises:
        ShardError: no index, invalid JSON, unsafe paths, unknown schema version (message says how to fix).
    """
    path = resolve_index_path(dir_or_store)
    try:
        index = ShardIndex.from_file(path)
    except FileNotFoundError as exc:
        raise ShardError(str(exc)) from None
    except ValidationError as err:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()[:5])
        raise ShardError(f"{path} is invalid ({details}); run 'corpusforge shards verify {path.parent}'") from None
    return index, path.parent


@dataclass(frozen=True)
class Unit:
    """One row group in the epoch's order."""

    shard: int  # position in index.shards
    group: int  # row group inside the shard
    rows: int
    tokens: int  # stream tokens (ids + inserted EOS)


def _rng(*key: Any) -> random.Random:
    """A Random seeded from a tuple of ints/strings, independent of PYTHONHASHSEED."""
    digest = hashlib.sha256(repr(key).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


class BufferOrder:
    """The window order of a slot: a bounded-buffer shuffle over positions ``0 .. n_windows-1``.

    Content independent, so :meth:`skip` replays it with integers only.
    """

    def __init__(self, n_windows: int, buffer_size: int, rng: Optional[random.Random]) -> None:
        self.n = n_windows
        self.k = max(1, buffer_size)
        self.rng = rng
        self.buf: list[int] = []
        self.in_buf: set[int] = set()
        self.next_pos = 0

    def next(self) -> int:
        """The next window position to yield."""
        if self.rng is None:  # no shuffle: stream order
            p = self.next_pos
            self.next_pos += 1
            return p
        buf = self.buf
        if len(buf) < self.k and self.next_pos < self.n:  # top up to k positions (or to the end)
            if len(buf) == self.k - 1:  # the usual case: one was taken last time
                buf.append(self.next_pos)
                self.in_buf.add(self.next_pos)
                self.next_pos += 1
            else:
                new = range(self.next_pos, min(self.n, self.next_pos + self.k - len(buf)))
                buf.extend(new)
                self.in_buf.update(new)
                self.next_pos = new.stop
        i = self.rng.randrange(len(buf))
        p = buf[i]
        last = buf.pop()  # swap-remove: the last position takes the picked one's place
        if i < len(buf):
            buf[i] = last
        self.in_buf.discard(p)
        return p

    def skip(self, count: int) -> None:
        """Advance past ``count`` positions without producing windows."""
        for _ in range(count):
            self.next()

    def first_needed(self) -> int:
        """The lowest window position not yet yielded."""
        return min(self.buf) if self.buf else self.next_pos


_NUMPY_OF_ARROW = {pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64,
                   pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64}


def list_tokens(ids: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """``(values, offsets)`` of a list-of-integers column without copying: the rows' ids back to back (a
    read-only view of Arrow's values buffer) and ``offsets`` (``len + 1``, from 0) where each row starts.

    Reads the buffers directly: ``Array.to_numpy`` would import pandas on first use (half a second) and
    ``list_flatten`` makes a new array.
    """
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.chunk(0) if ids.num_chunks == 1 else ids.combine_chunks()
    if pa.types.is_large_list(ids.type):
        off_type = np.int64
    elif pa.types.is_list(ids.type):
        off_type = np.int32
    else:
        raise ShardError(f"token column has type {ids.type}, expected a list of integers")
    values = ids.values  # the whole child array (not sliced by ids.offset)
    dtype = _NUMPY_OF_ARROW.get(values.type)
    if dtype is None or values.null_count:
        raise ShardError(f"token column holds {values.type} values{' with nulls' if values.null_count else ''}, "
                         f"expected non-null integers")
    off_size = np.dtype(off_type).itemsize
    offsets = np.frombuffer(ids.buffers()[1], dtype=off_type, count=len(ids) + 1, offset=ids.offset * off_size)
    start, end = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
    itemsize = np.dtype(dtype).itemsize
    data = values.buffers()[1]
    flat = (np.frombuffer(data, dtype=dtype, count=end - start, offset=(values.offset + start) * itemsize)
            if end > start else np.zeros(0, dtype=dtype))
    return flat, offsets - start if start else offsets


class SlotWindows:
    """The windows of one slot, handed out by position in the order a :class:`BufferOrder` picks them.

    Row groups are read in stream order (one ahead, in a thread) and cut into windows without copying. A
    window that the order has not picked yet when its row group is left behind is copied into a pool;
    only windows still in the shuffle buffer are kept, so the pool holds at most ``shuffle_buffer``
    windows. Without shuffling nothing is ever kept.

    Args:
        dataset: the dataset whose row groups are read.
        units: the slot's units, in stream order.
        order: the slot's order (already advanced to the resume point); read, never advanced here.
    """

    def __init__(self, dataset: ShardDataset, units: list[Unit], order: BufferOrder) -> None:
        self.order = order
        self.width = dataset.seq_len + 1
        self._blocks = dataset._blocks(units, order.first_needed())
        self._first = order.first_needed()  # position of the current block's first window
        self._block = np.zeros((0, self.width), dtype=dataset.dtype)
        self._dtype = dataset.dtype
        self._pool: Optional[np.ndarray] = None  # kept windows, one per row
        self._row_of: dict[int, int] = {}  # window position -> pool row
        self._free: list[int] = []

    def take(self, p: int) -> np.ndarray:
        """Window ``p`` (a view: copy it before the next call)."""
        row = self._row_of.pop(p, None)
        if row is not None:
            self._free.append(row)
            return self._pool[row]
        while p >= self._first + len(self._block):
            self._keep_pending()
            try:
                self._first, self._block = next(self._blocks)
            except StopIteration:
                raise RuntimeError(f"window {p} is past the end of the slot's stream") from None
        if p < self._first:
            raise RuntimeError(f"window {p} was already handed out or never kept")
        return self._block[p - self._first]

    def _keep_pending(self) -> None:
        """Copy the current block's windows that are still due into the pool before leaving the block."""
        a, b = self._first, self._first + len(self._block)
        order = self.order
        keep = [q for q in order.in_buf if a <= q < b] + list(range(max(a, order.next_pos), b))
        if not keep:
            return
        if len(keep) > len(self._free):
            self._grow(len(keep) - len(self._free))
        rows = [self._free.pop() for _ in keep]
        self._pool[rows] = self._block[np.asarray(keep) - a]
        self._row_of.update(zip(keep, rows))

    def _grow(self, need: int) -> None:
        old = 0 if self._pool is None else len(self._pool)
        size = max(old + need, min(max(2 * old, 64), self.order.k))  # about shuffle_buffer at most
        pool = np.empty((size, self.width), dtype=self._dtype)
        if old:
            pool[:old] = self._pool
        self._pool = pool
        self._free.extend(range(size - 1, old - 1, -1))

    def close(self) -> None:
        self._blocks.close()


class ShardDataset(IterableDataset):
    """Batches of ``(x, y)`` int64 tensors of shape ``[batch_size, seq_len]`` streamed from shards.

    Args:
        source: shard folder, store (with ``CURRENT``) or index.json path.
        seq_len: tokens per training window (windows hold ``seq_len + 1`` tokens).
        batch_size: windows per batch (per rank).
        rank: this process's rank.
        world_size: number of ranks.
        seed: shuffling seed.
        shuffle: shuffle shards, row groups and windows (``False``: index order, e.g. for evaluation).
        shuffle_buffer: windows held by the in-memory shuffle buffer (memory: this x (seq_len+1) x 2-4 B).
        verify: ``hash`` checks a shard's sha256 before its first use in a process, ``size`` only its size
            and footer, ``none`` trusts the folder.
        split: ``train`` or ``eval``: the last ``holdout_shards`` shards of the index are the eval split.
        holdout_shards: how many shards are held out for evaluation.
        expected_tokenizer_sha256: when given, the index must name this tokenizer.
        max_batches: cap on batches per slot per epoch (evaluation).

    Use :class:`ShardLoader` to iterate with DataLoader workers; its ``state_dict`` tracks progress.
    """

    def __init__(
        self,
        source: os.PathLike | str,
        seq_len: int,
        batch_size: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        shuffle_buffer: int = 1024,
        verify: VerifyMode = "hash",
        split: Literal["train", "eval", "all"] = "all",
        holdout_shards: int = 0,
        expected_tokenizer_sha256: Optional[str] = None,
        max_batches: Optional[int] = None,
    ) -> None:
        super().__init__()
        if seq_len < 1 or batch_size < 1:
            raise ValueError("seq_len and batch_size must be >= 1")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        if verify not in ("hash", "size", "none"):
            raise ValueError(f"verify must be hash, size or none, got {verify!r}")
        self.index, self.folder = load_index(source)
        self.seq_len, self.batch_size = int(seq_len), int(batch_size)
        self.rank, self.world_size = int(rank), int(world_size)
        self.seed, self.shuffle, self.shuffle_buffer = int(seed), bool(shuffle), int(shuffle_buffer)
        self.verify = verify
        self.max_batches = max_batches
        self.dtype = numpy_dtype(self.index.token_dtype)
        idx = self.index
        if expected_tokenizer_sha256 and idx.tokenizer_sha256 != expected_tokenizer_sha256:
            raise ShardError(
                f"{self.folder}: shards were tokenized with tokenizer {idx.tokenizer_sha256[:12]}..., expected "
                f"{expected_tokenizer_sha256[:12]}...; use the matching tokenizer or re-tokenize"
            )
        n = len(idx.shards)
        if not 0 <= holdout_shards < max(n, 1) and holdout_shards:
            raise ShardError(f"holdout_shards={holdout_shards} leaves no training shard out of {n}; lower it")
        if split == "train":
            self.shard_ids = list(range(n - holdout_shards))
        elif split == "eval":
            self.shard_ids = list(range(n - holdout_shards, n))
        else:
            self.shard_ids = list(range(n))
        if not self.shard_ids:
            raise ShardError(f"{self.folder}: the {split} split has no shards; write more or smaller shards")
        for i in self.shard_ids:
            if not idx.shards[i].row_groups:
                raise ShardError(
                    f"{idx.shards[i].path}: index.json lacks row_groups; rewrite the index with this corpusforge")
        if verify != "none":
            self._check_folder()
        self.num_workers = 0
        # Where iteration starts, shared with DataLoader workers: persistent workers read it whenever an
        # epoch starts. The live position (what was consumed) is kept apart: it changes while workers
        # may still be starting, and they must all see the same start.
        self._start = mp.get_context().Array("q", [0, 0], lock=False)
        self._live = [0, 0]
        self._verified: set[str] = set()
        self._open_files: dict[int, tuple[pa.Buffer, pq.FileMetaData]] = {}  # mapped bytes, footer
        self._open_lock = threading.Lock()  # reader threads open (and hash) a shard once

    # ------------------------------------------------------------------ setup and checks
    def _check_folder(self) -> None:
        listed = {s.path for s in self.index.shards}
        extra = sorted(
            p.relative_to(self.folder).as_posix()
            for p in self.folder.rglob("*.parquet")
            if p.relative_to(self.folder).as_posix() not in listed
        )
        if extra:
            raise ShardError(
                f"{self.folder}: shard file(s) not listed in index.json: {', '.join(extra[:5])}; the folder was "
                f"modified after it was written. Remove them or re-run the tokenize stage "
                f"('corpusforge shards verify {self.folder}' lists every problem)"
            )
        for i in self.shard_ids:
            e = self.index.shards[i]
            path = self.folder / e.path
            if not path.is_file():
                raise ShardError(f"{path}: listed in index.json but missing; restore it or re-run the tokenize stage")
            if path.stat().st_size != e.bytes:
                raise ShardError(
                    f"{path}: {path.stat().st_size} bytes, index.json says {e.bytes} (truncated or replaced); "
                    f"re-copy the shard folder"
                )

    def set_num_workers(self, num_workers: int) -> None:
        """How many DataLoader workers will read this dataset (decides the epoch's slots)."""
        self.num_workers = int(num_workers)

    @property
    def n_slots(self) -> int:
        return self.world_size * max(1, self.num_workers)

    def fingerprint(self) -> str:
        """Identifies the data a state refers to (dataset version, tokenizer, shard hashes, split)."""
        h = hashlib.sha256()
        h.update(self.index.dataset_version.encode())
        h.update(self.index.tokenizer_sha256.encode())
        for i in self.shard_ids:
            h.update(self.index.shards[i].sha256.encode())
        return h.hexdigest()

    # ------------------------------------------------------------------ the epoch plan
    def _units(self, epoch: int) -> list[Unit]:
        extra = 0 if self.index.eos_appended else 1
        shard_order = list(self.shard_ids)
        if self.shuffle:
            _rng(self.seed, epoch, "shards").shuffle(shard_order)
        units = []
        for s in shard_order:
            groups = list(range(len(self.index.shards[s].row_groups)))
            if self.shuffle:
                _rng(self.seed, epoch, "groups", s).shuffle(groups)
            for g in groups:
                info = self.index.shards[s].row_groups[g]
                units.append(Unit(s, g, info.rows, info.tokens + extra * info.rows))
        return units

    def _slots(self, epoch: int) -> list[list[Unit]]:
        units = self._units(epoch)
        n = self.n_slots
        cum = np.cumsum([u.tokens for u in units]) if units else np.zeros(0)
        total = int(cum[-1]) if len(cum) else 0
        bounds = [0]
        for k in range(1, n):
            target = total * k / n
            j = int(np.searchsorted(cum, target))  # units[:j+1] reach the target
            cands = [c for c in (j, j + 1) if bounds[-1] <= c <= len(units)]
            best = min(cands, key=lambda c: abs((cum[c - 1] if c else 0) - target)) if cands else bounds[-1]
            bounds.append(best)
        bounds.append(len(units))
        return [units[bounds[i] : bounds[i + 1]] for i in range(n)]

    def batches_per_slot(self, epoch: int = 0) -> int:
        """Batches each (rank, worker) slot yields in ``epoch``: the minimum over all slots."""
        window = self.seq_len + 1
        per_slot = [sum(u.tokens for u in slot) // window // self.batch_size for slot in self._slots(epoch)]
        b = min(per_slot)
        if self.max_batches is not None:
            b = min(b, int(self.max_batches))
        return b

    def steps_per_epoch(self, epoch: int = 0) -> int:
        """Batches this rank yields per epoch (the same on every rank)."""
        return self.batches_per_slot(epoch) * max(1, self.num_workers)

    # ------------------------------------------------------------------ position / state
    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` from its first batch."""
        self.set_position(epoch, 0)

    def set_position(self, epoch: int, batches: int) -> None:
        """Make the next iteration start at batch ``batches`` of ``epoch``."""
        self._start[0], self._start[1] = int(epoch), int(batches)
        self._live[:] = [int(epoch), int(batches)]

    def _set_live(self, epoch: int, batches: int) -> None:
        self._live[:] = [int(epoch), int(batches)]

    def state_dict(self) -> dict[str, Any]:
        """Where the stream is: epoch and batches of it consumed by this rank, plus what it applies to."""
        return {
            "version": STATE_VERSION,
            "epoch": self._live[0],
            "batches": self._live[1],
            "seed": self.seed,
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
            "num_workers": self.num_workers,
            "shuffle_buffer": self.shuffle_buffer,
            "fingerprint": self.fingerprint(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume at ``state``; the settings that decide the order must be the same as when it was saved."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"dataset state version {state.get('version')} is not supported")
        for key in ("seed", "seq_len", "batch_size", "world_size", "num_workers", "shuffle_buffer"):
            if state[key] != getattr(self, key):
                raise ValueError(
                    f"cannot resume exactly: {key} was {state[key]} and is now {getattr(self, key)}; "
                    f"resume with the same {key} (or start a fresh run)"
                )
        if state["fingerprint"] != self.fingerprint():
            raise ValueError(
                "cannot resume: the shards differ from the ones the state was saved with (dataset version, "
                "tokenizer or shard content changed); point --shards at the same dataset version"
            )
        self.set_position(state["epoch"], state["batches"])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_open_files"] = {}  # open files stay in the process that opened them
        state["_open_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open_lock = threading.Lock()

    # ------------------------------------------------------------------ reading
    def _open(self, shard: int) -> pq.ParquetFile:
        """A reader of the shard over its memory map, checked (and hashed) before its first use here.

        Each call returns its own reader (over the shared mapped bytes and parsed footer): a Parquet
        reader is not safe to share between the threads that decode row groups ahead (a shared one failed
        with 'ReadRangeCache did not find matching cache entry' under load).
        """
        with self._open_lock:
            data, meta = self._open_files.get(shard) or self._map(shard)
        return pq.ParquetFile(pa.BufferReader(data), metadata=meta, pre_buffer=False)  # in memory: no I/O to batch

    def _map(self, shard: int) -> tuple[pa.Buffer, pq.FileMetaData]:
        entry = self.index.shards[shard]
        path = self.folder / entry.path
        mapped: list[pa.Buffer] = []

        def sha256_of_mapping(p: Path) -> str:
            # The hash runs over the mapping the row groups are decoded from: the file's bytes are read
            # from disk once, and the decoded bytes are the hashed ones.
            data = pa.memory_map(str(p), "r").read_buffer()  # a zero-copy view of the whole map
            mapped.append(data)
            return hashlib.sha256(data).hexdigest()  # releases the GIL while it hashes

        if self.verify != "none" and entry.path not in self._verified:
            problems = check_shard_file(
                self.folder, entry, self.index.token_dtype, self.index.tokenizer_sha256, self.index.vocab_size,
                level="hash" if self.verify == "hash" else "size", hasher=sha256_of_mapping,
            )
            if problems:
                raise ShardError(
                    f"{self.folder}: {'; '.join(str(p) for p in problems)} "
                    f"(run 'corpusforge shards verify {self.folder}' for a full report)"
                )
            self._verified.add(entry.path)
        if len(self._open_files) >= 4:  # few open files per worker: contiguous slots touch shards in order
            self._open_files.pop(next(iter(self._open_files)))
        data = mapped[0] if mapped else pa.memory_map(str(path), "r").read_buffer()
        opened = (data, pq.ParquetFile(pa.BufferReader(data)).metadata)
        self._open_files[shard] = opened
        return opened

    def _unit_tokens(self, unit: Unit) -> np.ndarray:
        table = self._open(unit.shard).read_row_group(unit.group, columns=["input_ids"], use_threads=False)
        values, offsets = list_tokens(table.column("input_ids"))
        if not self.index.eos_appended:
            values = np.insert(values, offsets[1:], np.asarray(self.index.eos_id, dtype=values.dtype))
        if values.size != unit.tokens:
            raise ShardError(
                f"{self.index.shards[unit.shard].path} row group {unit.group}: {values.size} tokens, index.json "
                f"says {unit.tokens}; the shard does not match its index (re-run the tokenize stage)"
            )
        return values

    def _blocks(self, units: list[Unit], start_window: int) -> Iterator[tuple[int, np.ndarray]]:
        """The slot stream from window ``start_window`` on, as ``(first position, windows)`` blocks: each
        block is a ``[n, seq_len + 1]`` view of one row group's tokens, or one window copied together where
        it spans two row groups."""
        w = self.seq_len + 1
        start_tok = start_window * w
        pos = start_window
        carry = np.zeros(0, dtype=self.dtype)
        seen = 0
        todo = []
        for unit in units:
            if seen + unit.tokens <= start_tok:  # entirely before the resume point: not read
                seen += unit.tokens
                continue
            todo.append((unit, seen))
            seen += unit.tokens
        # Read up to READ_AHEAD row groups ahead in threads: hashing and Parquet decoding release the GIL,
        # so they overlap with each other and with filling batches here. The first one is read alone, so
        # the first batch does not share the CPU with the read-ahead.
        with ThreadPoolExecutor(max_workers=READ_AHEAD, thread_name_prefix="shard-read") as pool:
            ahead = deque(pool.submit(self._unit_tokens, u) for u, _ in todo[:1])
            submitted = len(ahead)
            for unit, before in todo:
                toks = ahead.popleft().result()
                while len(ahead) < READ_AHEAD and submitted < len(todo):
                    ahead.append(pool.submit(self._unit_tokens, todo[submitted][0]))
                    submitted += 1
                if before < start_tok:
                    toks = toks[start_tok - before :]
                if carry.size:
                    need = w - carry.size
                    if toks.size < need:  # a row group shorter than what the open window lacks
                        carry = np.concatenate([carry, toks])
                        continue
                    yield pos, np.concatenate([carry, toks[:need]])[None, :]
                    pos += 1
                    toks = toks[need:]
                n = toks.size // w
                if n:
                    yield pos, toks[: n * w].reshape(n, w)
                    pos += n
                carry = toks[n * w :].copy()

    def _worker(self) -> tuple[int, int]:
        info = get_worker_info()
        if info is None:
            if self.num_workers > 0:
                # Iterated in the main process although workers were announced: treat as one worker.
                raise RuntimeError("set_num_workers() does not match how the dataset is iterated; use ShardLoader")
            return 0, 1
        if max(1, self.num_workers) != info.num_workers:
            raise RuntimeError(
                f"the dataset expects {self.num_workers} DataLoader workers but runs in {info.num_workers}; "
                f"call set_num_workers() with the DataLoader's num_workers (ShardLoader does this)"
            )
        return info.id, info.num_workers

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batch in self.iter_windows():
            yield batch[:, :-1], batch[:, 1:]

    def iter_windows(self) -> Iterator[torch.Tensor]:
        """Like iterating the dataset, but each batch as one ``[batch_size, seq_len + 1]`` int64 tensor of
        windows (``x`` and ``y`` are its views ``[:, :-1]`` and ``[:, 1:]``)."""
        for _, batch in self.numbered_batches():
            yield batch

    def numbered_batches(self) -> Iterator[tuple[int, torch.Tensor]]:
        """``(i, windows)``: this process's batches, each with its index ``i`` in the rank's epoch (the
        rank's ``i``-th batch comes from worker ``i % num_workers``)."""
        epoch, consumed = int(self._start[0]), int(self._start[1])
        loader_worker, nw = self._worker()
        per_slot = self.batches_per_slot(epoch)
        if per_slot == 0:
            raise ShardError(
                f"{self.folder}: not enough tokens for one batch of {self.batch_size} x {self.seq_len + 1} per "
                f"(rank, worker) slot ({self.n_slots} slots, "
                f"{sum(self.index.shards[i].tokens for i in self.shard_ids)} "
                f"tokens); lower batch_size/seq_len/num_workers or add data"
            )
        total = per_slot * nw
        main_process = get_worker_info() is None
        if consumed >= total:
            if main_process:
                self.set_position(epoch + 1, 0)
            return
        # After a resume the DataLoader starts its round-robin at worker 0; that worker plays the logical
        # worker whose batch comes next, so the merged order equals the uninterrupted one.
        logical = (loader_worker + consumed) % nw
        done = max(0, -(-(consumed - logical) // nw))  # batches of this logical worker already consumed
        slot = self.rank * nw + logical
        units = self._slots(epoch)[slot]
        n_windows = sum(u.tokens for u in units) // (self.seq_len + 1)
        rng = _rng(self.seed, epoch, "windows", slot) if self.shuffle else None
        order = BufferOrder(n_windows, self.shuffle_buffer, rng)
        order.skip(done * self.batch_size)
        windows = SlotWindows(self, units, order)
        shape = (self.batch_size, self.seq_len + 1)
        try:
            for b in range(done, per_slot):
                # filled in place: one pass converts the ids to int64 (no stack + astype copies)
                out = np.empty(shape, dtype=np.int64)
                for r in range(shape[0]):
                    out[r] = windows.take(order.next())
                if main_process:
                    self._set_live(epoch, b * nw + logical + 1)
                yield b * nw + logical, torch.from_numpy(out)
        finally:
            windows.close()
        if main_process:
            self.set_position(epoch + 1, 0)


def _as_is(batch: torch.Tensor) -> torch.Tensor:
    """The DataLoader's collate step: batches come ready-made."""
    return batch


class _BatchGroups(IterableDataset):
    """What DataLoader workers iterate: ``(i, group)`` where ``group`` stacks a worker's consecutive
    batches ``[n, batch_size, seq_len + 1]`` and ``i`` is the rank-epoch index of its first one (the next
    ones are ``i + num_workers``, ``i + 2 * num_workers``...).

    Passing a batch between processes has a fixed cost (shared memory, a queue message, pinning) of
    about a millisecond on a busy machine, more than reading it; groups pay it once per ``n`` batches.
    Group sizes double from 1 up to ``max_group``, so the first batch is not delayed.
    """

    def __init__(self, dataset: ShardDataset, max_group: int) -> None:
        super().__init__()
        self.dataset = dataset
        self.max_group = max(1, int(max_group))

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        group: list[torch.Tensor] = []
        first, size = 0, 1
        for i, batch in self.dataset.numbered_batches():
            if not group:
                first = i
            group.append(batch)
            if len(group) == size:
                yield first, torch.stack(group)
                group, size = [], min(2 * size, self.max_group)
        if group:
            yield first, torch.stack(group)


class ShardLoader:
    """Iterates a :class:`ShardDataset` over epochs and tracks the exact position.

    With ``num_workers > 0`` batches come through a DataLoader with persistent workers, in groups of a
    worker's consecutive batches (:class:`_BatchGroups`) that are put back in the rank's order here; with
    0 the dataset is iterated in this process directly (what a DataLoader without workers would do, minus
    its per-batch overhead), and ``pin_memory`` pins each batch once.

    Args:
        dataset: the dataset.
        num_workers: DataLoader workers (persistent: shards verified once stay verified across epochs).
        pin_memory: pin batches (CUDA).
        epochs: stop after this many epochs (None: forever, for step-based training).
        prefetch_factor: batches prefetched per worker.
    """

    def __init__(
        self,
        dataset: ShardDataset,
        num_workers: int = 0,
        pin_memory: bool = False,
        epochs: Optional[int] = None,
        prefetch_factor: int = 2,
    ) -> None:
        self.dataset = dataset
        self.num_workers = int(num_workers)
        dataset.set_num_workers(self.num_workers)
        self.epochs = epochs
        self.pin_memory = bool(pin_memory) and torch.cuda.is_available()
        self._loader = None
        if self.num_workers > 0:
            batch_bytes = dataset.batch_size * (dataset.seq_len + 1) * 8
            self._loader = DataLoader(
                _BatchGroups(dataset, max_group=min(16, max(1, GROUP_BYTES // batch_bytes))),
                batch_size=None,
                collate_fn=_as_is,
                num_workers=self.num_workers,
                pin_memory=pin_memory,
                persistent_workers=True,
                prefetch_factor=prefetch_factor,
            )
        self.epoch, self.batches = 0, 0

    def steps_per_epoch(self) -> int:
        return self.dataset.steps_per_epoch(self.epoch)

    def state_dict(self) -> dict[str, Any]:
        state = self.dataset.state_dict()
        state.update(epoch=self.epoch, batches=self.batches)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.dataset.load_state_dict(state)
        self.epoch, self.batches = int(state["epoch"]), int(state["batches"])

    def _epoch_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self._loader is None:
            for batch in self.dataset.iter_windows():
                if self.pin_memory:
                    batch = batch.pin_memory()  # once per batch; x and y stay views of it
                yield batch[:, :-1], batch[:, 1:]
            return
        # Groups arrive round-robin over the workers (pinned by the DataLoader when asked); put their
        # batches back in the rank's order. At most about one group per worker waits here.
        waiting: dict[int, torch.Tensor] = {}
        due = self.batches
        for first, group in self._loader:
            for t in range(group.shape[0]):
                waiting[first + t * self.num_workers] = group[t]
            while due in waiting:
                batch = waiting.pop(due)
                due += 1
                yield batch[:, :-1], batch[:, 1:]
        if waiting:
            raise RuntimeError(f"DataLoader workers skipped batch {due} of epoch {self.epoch}; please report this")

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while self.epochs is None or self.epoch < self.epochs:
            self.dataset.set_position(self.epoch, self.batches)
            for batch in self._epoch_batches():
                self.batches += 1
                # absolute, so the dataset's own counting (num_workers=0) agrees
                self.dataset._set_live(self.epoch, self.batches)
                yield batch
            self.epoch, self.batches = self.epoch + 1, 0
