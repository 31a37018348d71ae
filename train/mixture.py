"""Mixtures: several shard streams interleaved by token share, with row filters and rehydration.

A mixture is a list of *streams* (see ``docs/train.md`` and ``docs/examples/mix.yaml``)::

    on_exhausted: renormalize          # or: stop
    streams:
      - name: web
        path: /data/store              # shard folder, index.json, run folder (its shards/) or dataset store
        version: v000003               # store only; default: the version in CURRENT
        weight: 0.7                    # share of training TOKENS (weights are relative, normalized to 1)
        filter: {lang: [en, de]}       # optional: keep rows whose column value is listed (lang, source)
        rehydrate:                     # optional: copies of a document by its near-duplicate cluster size
          - {min: 2, max: 10, repeat: 2}
          - {min: 11, max: 100, repeat: 1.5}
      - name: code
        path: runs/2024-06-01/shards
        weight: 0.3
        max_epochs: 2                  # optional: the stream repeats at most this many times

How the stream is built (a pure function of the spec, the seed, the index files and, for filtered or
rehydrated streams, the small columns of the shards, so every rank and worker agrees without talking):

* **Per stream**: each stream is read like the single-folder loader (:class:`~train.dataset.ShardDataset`):
  its row groups are shuffled from ``(seed, stream name, epoch)``, cut into ``world_size * num_workers``
  slots, cut into windows of ``seq_len + 1`` tokens and shuffled through a bounded buffer. Every slot
  takes the same number of windows per stream epoch (the minimum over slots), then the stream's next
  epoch starts (a new shuffle). A filtered or rehydrated stream's token counts per row group are computed
  once at start-up from the shard columns (``n_tokens``, ``lang``, ``source``, ``dup_cluster_size``).
* **Interleaving**: the mixture is a merge of per-stream event clocks. Stream ``k``'s ``j``-th window is
  due at virtual time ``(j - phase_k) / weight_k``, with ``phase_k`` drawn from ``(seed, name)``; windows
  are served in order of due time (ties by stream order). After ``n`` windows each stream has served
  within one window of ``weight_k * n``, so the realized token shares match the weights from the first
  batches on (every window has the same ``seq_len + 1`` tokens: shares of windows are shares of tokens).
  The order depends on nothing but the spec, the seed and the position, and every (rank, worker) slot
  follows the same per-stream counts, so all ranks take the same number of steps.
* **Exhaustion** (``max_epochs``): ``on_exhausted: renormalize`` (default) drops a stream whose epochs are
  spent: the others keep their relative weights, so their shares are renormalized; the mixture ends when
  every stream is spent (never, when one has no ``max_epochs``). ``on_exhausted: stop`` ends the mixture
  at the first window that a spent stream would have to serve. The trainer refuses to start when the
  mixture ends before ``--steps`` (the message says after how many steps).
* **Rehydration** (FineWeb-2's recipe): a stream's ``rehydrate`` table maps ranges of the near-dedup
  stage's ``dup_cluster_size`` (stored in the shard rows) to a repeat factor. A document whose cluster
  size falls in a range appears ``repeat`` times per stream epoch (fractional factors: the extra copy is
  drawn per document from ``(seed, stream, shard sha256, row group)``); sizes outside every range keep
  factor 1; a factor of 0 drops the document. Copies of a row group's document are placed one row group
  pass apart (all documents once, then the repeated ones again), before the window shuffle. Nothing is
  copied on disk. A null ``dup_cluster_size`` (near-dedup off for that row) counts as size 1.
* **Resume**: the position is the number of batches this rank consumed; each worker replays the
  schedule (integers only) to its own position, opens each stream at the window it had reached (through
  the single-stream loader's buffer replay and row-group seek) and continues. The checkpoint records the
  mixture (streams, weights, filters, rehydration, shard hashes); resuming with another mixture is
  refused unless ``allow_mixture_change`` is set, in which case the new mixture continues at the same
  batch position of its own order.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import logging
import multiprocessing as mp
import os
from pathlib import Path
from typing import Any, Iterator, Literal, Optional, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from storage.shards import ShardError, resolve_source_index
from train.dataset import BufferOrder, ShardDataset, SlotWindows, Unit, VerifyMode, _rng, list_tokens

log = logging.getLogger(__name__)

MIX_STATE_VERSION = 1
FILTER_COLUMNS = ("lang", "source")


class MixtureError(ValueError):
    """A mixture that cannot be used; the message names the stream and what is wrong."""


# ---------------------------------------------------------------------------------------------- the spec
class RepeatRange(BaseModel):
    """Documents whose ``dup_cluster_size`` is in ``[min, max]`` appear ``repeat`` times per stream epoch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = Field(ge=1, description="Smallest cluster size of the range (1: unique documents)")
    max: Optional[int] = Field(None, ge=1, description="Largest cluster size of the range (inclusive); none: no limit")
    repeat: float = Field(ge=0, description="Copies per epoch; fractions are drawn per document, 0 drops")

    @model_validator(mode="after")
    def _ordered(self) -> "RepeatRange":
        if self.max is not None and self.max < self.min:
            raise ValueError(f"range min {self.min} is above max {self.max}")
        return self


class StreamFilter(BaseModel):
    """Keep rows whose ``lang`` / ``source`` is one of the listed values (a single string is a list of one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Optional[list[str]] = None
    source: Optional[list[str]] = None

    @field_validator("lang", "source", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [v]
        if isinstance(v, list) and not v:
            raise ValueError("an empty list matches no row; leave the key out to keep every row")
        return v

    def active(self) -> dict[str, list[str]]:
        return {k: v for k, v in (("lang", self.lang), ("source", self.source)) if v is not None}


class StreamSpec(BaseModel):
    """One stream of a mixture."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Optional[str] = Field(None, description="Name in metrics and checkpoints; default: the folder name")
    path: str = Field(description="Shard folder, index.json, pipeline run folder or dataset store")
    version: Optional[str] = Field(None, description="Published version of a store (default: CURRENT)")
    weight: float = Field(description="Share of training tokens (relative; normalized over the streams)")
    filter: StreamFilter = Field(default_factory=StreamFilter)
    max_epochs: Optional[int] = Field(None, ge=1, description="Passes over the stream at most; none: unlimited")
    rehydrate: list[RepeatRange] = Field(default_factory=list)

    @field_validator("weight")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not v > 0 or v != v or v == float("inf"):
            raise ValueError(f"weight must be a positive finite number, got {v}")
        return v

    @field_validator("rehydrate")
    @classmethod
    def _disjoint(cls, v: list[RepeatRange]) -> list[RepeatRange]:
        spans = sorted((r.min, r.max if r.max is not None else float("inf")) for r in v)
        for (a_lo, a_hi), (b_lo, _) in zip(spans, spans[1:]):
            if b_lo <= a_hi:
                raise ValueError(f"rehydrate ranges overlap ({a_lo}-{a_hi} and from {b_lo}); make them disjoint")
        return v

    def reads_rows(self) -> bool:
        """Whether the stream needs the shard columns (a filter or rehydration), not just index.json."""
        return bool(self.filter.active() or self.rehydrate)


class MixtureSpec(BaseModel):
    """A mixture of streams (``mix.yaml``); build it with :func:`load_mixture`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    streams: list[StreamSpec] = Field(min_length=1)
    on_exhausted: Literal["renormalize", "stop"] = Field(
        "renormalize", description="When a stream's max_epochs are spent: drop it and renormalize, or stop")
    eval: Optional[str] = Field(None, description="Shard source used for evaluation (default: none)")

    @model_validator(mode="after")
    def _names(self) -> "MixtureSpec":
        names = [s.name for s in self.streams]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"stream name(s) {', '.join(map(str, dup))} used twice; give each stream a unique name")
        return self

    def weights(self) -> list[float]:
        """The normalized weights (sum 1), in stream order."""
        total = sum(s.weight for s in self.streams)
        return [s.weight / total for s in self.streams]


def _default_name(path: str, version: Optional[str]) -> str:
    p = Path(path)
    base = p.parent.name if p.name in ("shards", "index.json") and p.parent.name else p.name
    return f"{base}@{version}" if version else (base or path)


def load_mixture(source: Union[MixtureSpec, dict, list, os.PathLike, str], base_dir: Optional[Path] = None
                 ) -> MixtureSpec:
    """A validated :class:`MixtureSpec` from a YAML file, a dict (``{"streams": [...]}``) or a list of streams.

    Relative stream paths are taken from the YAML file's folder (``base_dir``, else the current folder, for
    dicts and lists). Streams without a name are named after their folder.

    Raises:
        MixtureError: unreadable file, unknown keys, non-positive weights, duplicate names (one line per problem).
    """
    if isinstance(source, MixtureSpec):
        return source
    where = "mixture"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise MixtureError(f"mixture file {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise MixtureError(f"{path} is not valid YAML ({exc})") from None
        base_dir = path.resolve().parent
        where = str(path)
    else:
        raw = source
    if isinstance(raw, list):
        raw = {"streams": raw}
    if not isinstance(raw, dict):
        raise MixtureError(f"{where}: expected a list of streams or a mapping with 'streams', got {type(raw).__name__}")
    raw = dict(raw)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    streams = raw.get("streams")
    if isinstance(streams, list):
        fixed = []
        for s in streams:
            if isinstance(s, dict) and isinstance(s.get("path"), str):
                s = dict(s)
                if not Path(s["path"]).is_absolute():
                    s["path"] = str(base / s["path"])
                if s.get("name") is None:
                    s["name"] = _default_name(s["path"], s.get("version"))
            fixed.append(s)
        raw["streams"] = fixed
    if isinstance(raw.get("eval"), str) and not Path(raw["eval"]).is_absolute():
        raw["eval"] = str(base / raw["eval"])
    try:
        return MixtureSpec.model_validate(raw)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            loc = list(e["loc"])
            label = ".".join(str(p) for p in loc)
            if len(loc) >= 2 and loc[0] == "streams" and isinstance(loc[1], int) and isinstance(streams, list):
                s = streams[loc[1]] if loc[1] < len(streams) else {}
                name = s.get("name") or s.get("path") if isinstance(s, dict) else None
                label = f"stream {loc[1]} ({name})" + ("." + ".".join(str(p) for p in loc[2:]) if loc[2:] else "")
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(f"{label}: {msg}")
        raise MixtureError(f"{where} is invalid: " + "; ".join(lines)) from None


# ---------------------------------------------------------------------------------------------- row weights
def _key_int(*key: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:8], "little")


def row_repeats(table: pa.Table, spec: StreamSpec, key: tuple) -> np.ndarray:
    """Copies of each row of ``table`` in one stream epoch: 0 (filtered out), 1, or the rehydration factor.

    Deterministic: fractional factors draw from ``key`` (seed, stream, shard sha256, row group).
    """
    n = table.num_rows
    keep = np.ones(n, dtype=bool)
    for col, allowed in spec.filter.active().items():
        match = pc.is_in(table.column(col), value_set=pa.array(allowed, pa.string())).fill_null(False)
        keep &= match.to_numpy(zero_copy_only=False)
    reps = keep.astype(np.int64)
    if spec.rehydrate and n:
        sizes = table.column("dup_cluster_size").fill_null(1).to_numpy(zero_copy_only=False).astype(np.int64)
        factor = np.ones(n, dtype=np.float64)
        for r in spec.rehydrate:
            hi = r.max if r.max is not None else np.iinfo(np.int64).max
            factor[(sizes >= r.min) & (sizes <= hi)] = r.repeat
        whole = np.floor(factor)
        extra = np.random.default_rng(_key_int(*key)).random(n) < (factor - whole)
        reps = reps * (whole.astype(np.int64) + extra.astype(np.int64))
    return reps


def repeat_order(reps: np.ndarray) -> np.ndarray:
    """Row indices of a row group's stream: every kept row once, then the rows with a second copy, etc."""
    if reps.size == 0 or reps.max(initial=0) <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.flatnonzero(reps > k) for k in range(int(reps.max()))]).astype(np.int64)


class StreamDataset(ShardDataset):
    """One stream of a mixture: a :class:`ShardDataset` whose rows are filtered and rehydrated at load time.

    Its seed is derived from the mixture seed and the stream name, so streams shuffle independently.
    """

    def __init__(self, spec: StreamSpec, index_path: Path, seq_len: int, batch_size: int, *, rank: int,
                 world_size: int, seed: int, shuffle_buffer: int, verify: VerifyMode) -> None:
        super().__init__(index_path, seq_len, batch_size, rank=rank, world_size=world_size,
                         seed=_key_int(seed, "stream", spec.name) % (2**62), shuffle=True,
                         shuffle_buffer=shuffle_buffer, verify=verify, split="all")
        self.spec = spec
        self.name = str(spec.name)
        self.mix_seed = int(seed)
        self._effective: Optional[dict[int, list[int]]] = None
        self.kept_rows = self.index.total_rows
        self.stream_tokens = self.index.total_tokens + (0 if self.index.eos_appended else self.index.total_rows)
        self._cap_cache: dict[int, int] = {}
        if spec.reads_rows():
            self._scan()

    def _columns(self) -> list[str]:
        cols = list(self.spec.filter.active())
        if self.spec.rehydrate:
            cols.append("dup_cluster_size")
        return cols

    def _scan(self) -> None:
        """Token counts per row group after filtering and rehydration (reads only the small columns)."""
        extra = 0 if self.index.eos_appended else 1
        cols = self._columns()
        effective: dict[int, list[int]] = {}
        kept = tokens = 0
        seen: dict[str, set] = {c: set() for c in self.spec.filter.active()}
        has_cluster = False
        for s in self.shard_ids:
            pf = self._open(s)
            names = set(pf.schema_arrow.names)
            if "dup_cluster_size" in cols and "dup_cluster_size" not in names:
                raise MixtureError(
                    f"stream '{self.name}' asks for rehydration, but {self.index.shards[s].path} has no "
                    f"dup_cluster_size column (shards written before corpusforge carried it); re-run the "
                    f"tokenize step with near_dedup enabled, or drop 'rehydrate'")
            per_group = []
            for g in range(len(self.index.shards[s].row_groups)):
                t = pf.read_row_group(g, columns=["n_tokens"] + cols)
                for c in seen:
                    if len(seen[c]) < 20:
                        seen[c].update(v for v in pc.unique(t.column(c)).to_pylist() if v is not None)
                if "dup_cluster_size" in cols and t.column("dup_cluster_size").null_count < t.num_rows:
                    has_cluster = True
                reps = row_repeats(t, self.spec, self._repeat_key(s, g))
                n_tok = t.column("n_tokens").to_numpy(zero_copy_only=False).astype(np.int64) + extra
                per_group.append(int((reps * n_tok).sum()))
                kept += int((reps > 0).sum())
            effective[s] = per_group
            tokens += sum(per_group)
        if kept == 0:
            what = ", ".join(f"{c} in {v}" for c, v in self.spec.filter.active().items()) or "the rehydrate table"
            present = "; ".join(f"{c} values present: {', '.join(sorted(map(str, v))[:20]) or 'none'}"
                                for c, v in seen.items())
            raise MixtureError(f"stream '{self.name}': the filter ({what}) matches no row of {self.folder}"
                               + (f" ({present})" if present else ""))
        if self.spec.rehydrate and not has_cluster:
            raise MixtureError(
                f"stream '{self.name}' asks for rehydration, but dup_cluster_size is null in every row of "
                f"{self.folder} (near_dedup was off); enable near_dedup or drop 'rehydrate'")
        self._effective, self.kept_rows, self.stream_tokens = effective, kept, tokens

    def _repeat_key(self, shard: int, group: int) -> tuple:
        return (self.mix_seed, "rehydrate", self.name, self.index.shards[shard].sha256, group)

    def _units(self, epoch: int) -> list[Unit]:
        if self._effective is None:
            return super()._units(epoch)
        return [Unit(u.shard, u.group, u.rows, self._effective[u.shard][u.group])
                for u in super()._units(epoch) if self._effective[u.shard][u.group] > 0]

    def _unit_tokens(self, unit: Unit) -> np.ndarray:
        if self._effective is None:
            return super()._unit_tokens(unit)
        table = self._open(unit.shard).read_row_group(unit.group, columns=["input_ids"] + self._columns())
        order = repeat_order(row_repeats(table, self.spec, self._repeat_key(unit.shard, unit.group)))
        ids = table.column("input_ids").combine_chunks().take(pa.array(order))
        values, offs = list_tokens(ids)
        if not self.index.eos_appended:
            values = np.insert(values, offs[1:], np.asarray(self.index.eos_id, dtype=values.dtype))
        if values.size != unit.tokens:
            raise ShardError(
                f"{self.index.shards[unit.shard].path} row group {unit.group}: {values.size} tokens after "
                f"filtering, {unit.tokens} at start-up; the shard changed while training (re-copy it)")
        return values

    def windows_per_epoch(self, epoch: int) -> int:
        """Windows every slot takes from this stream in ``epoch`` (the minimum over the slots)."""
        if epoch not in self._cap_cache:
            w = self.seq_len + 1
            self._cap_cache[epoch] = min(sum(u.tokens for u in slot) // w for slot in self._slots(epoch))
        return self._cap_cache[epoch]

    def capacity(self) -> Optional[int]:
        """Windows per slot over all allowed epochs (None: unlimited)."""
        if self.spec.max_epochs is None:
            return None
        return sum(self.windows_per_epoch(e) for e in range(self.spec.max_epochs))

    def record(self, weight: float) -> dict[str, Any]:
        """What the checkpoint keeps of this stream (plain data)."""
        return {
            "name": self.name, "path": self.spec.path, "version": self.spec.version, "folder": str(self.folder),
            "weight": self.spec.weight, "share": weight, "filter": self.spec.filter.active(),
            "max_epochs": self.spec.max_epochs,
            "rehydrate": [r.model_dump() for r in self.spec.rehydrate],
            "dataset_version": self.index.dataset_version, "tokenizer_sha256": self.index.tokenizer_sha256,
            "shards": [e.sha256 for e in self.index.shards],
        }


class _StreamCursor:
    """Windows of one stream in one slot, from a given count on, across the stream's epochs."""

    def __init__(self, stream: StreamDataset, slot: int, start: int) -> None:
        self.stream, self.slot = stream, slot
        epoch = 0
        while start >= stream.windows_per_epoch(epoch) and (stream.spec.max_epochs is None
                                                             or epoch + 1 < stream.spec.max_epochs):
            start -= stream.windows_per_epoch(epoch)
            epoch += 1
        self._open_epoch(epoch, start)

    def _open_epoch(self, epoch: int, skip: int) -> None:
        st = self.stream
        self.epoch = epoch
        units = st._slots(epoch)[self.slot]
        n_windows = sum(u.tokens for u in units) // (st.seq_len + 1)
        self.order = BufferOrder(n_windows, st.shuffle_buffer, _rng(st.seed, epoch, "windows", self.slot))
        self.order.skip(skip)
        self.left = st.windows_per_epoch(epoch) - skip
        self.windows = SlotWindows(st, units, self.order)

    def next(self) -> np.ndarray:
        while self.left <= 0:
            self.windows.close()
            self._open_epoch(self.epoch + 1, 0)
        win = self.windows.take(self.order.next())
        self.left -= 1
        return win


class MixSchedule:
    """Which stream serves each window of a slot: a merge of per-stream virtual clocks (see module doc).

    Stream ``k``'s ``j``-th window (``j >= 1``) is due at ``(j - phase_k) / weight_k``; events are served in
    ``(due, k)`` order. ``caps`` (windows per slot, None: unlimited) and ``policy`` decide the end.
    """

    def __init__(self, weights: list[float], phases: list[float], caps: list[Optional[int]],
                 policy: str) -> None:
        self.weights, self.phases, self.caps, self.policy = weights, phases, caps, policy

    def due(self, k: int, j: int) -> float:
        return (j - self.phases[k]) / self.weights[k]

    def _count_before(self, k: int, t: float, kk: int) -> int:
        """Windows of stream ``k`` due before event ``(t, kk)`` (capped at its capacity)."""
        hi = max(1, int(t * self.weights[k] + self.phases[k]) + 2)
        if self.caps[k] is not None:
            hi = min(hi, self.caps[k])
        lo = 0  # largest j in [0, hi] with (due(k, j), k) < (t, kk); j = 0 always qualifies
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if (self.due(k, mid), k) < (t, kk):
                lo = mid
            else:
                hi = mid - 1
        return lo

    def length(self) -> Optional[int]:
        """Windows per slot before the mixture ends (None: never)."""
        finite = [k for k, c in enumerate(self.caps) if c is not None]
        if self.policy == "renormalize":
            return sum(self.caps) if len(finite) == len(self.caps) else None
        if not finite:
            return None
        t, kk = min((self.due(k, self.caps[k] + 1), k) for k in finite)
        return sum(self._count_before(k, t, kk) for k in range(len(self.caps)))

    def iterate(self, start: int = 0) -> Iterator[tuple[int, int]]:
        """``(stream, windows of that stream served before)`` for windows ``start, start + 1, ...``."""
        end = self.length()
        served = [0] * len(self.weights)
        heap = [(self.due(k, 1), k) for k in range(len(self.weights)) if self.caps[k] != 0]
        heapq.heapify(heap)
        n = 0
        while heap and (end is None or n < end):
            _, k = heapq.heappop(heap)
            j = served[k]
            served[k] += 1
            if self.caps[k] is None or served[k] < self.caps[k]:
                heapq.heappush(heap, (self.due(k, served[k] + 1), k))
            if n >= start:
                yield k, j
            n += 1


def _content_record(rec: dict[str, Any]) -> dict[str, Any]:
    """The part of a stream record that decides the data (normalized share, not the raw weight: 7/3 = 0.7/0.3)."""
    keep = ("name", "share", "filter", "max_epochs", "rehydrate", "shards", "tokenizer_sha256")
    out = {k: rec.get(k) for k in keep}
    if isinstance(out["share"], float):
        out["share"] = round(out["share"], 9)
    return out


def describe_mixture_change(old: Optional[dict[str, Any]], new: Optional[dict[str, Any]]) -> list[str]:
    """What differs between two mixture records (empty: the same data); paths may move, content may not."""
    if old is None and new is None:
        return []
    if old is None:
        return ["the checkpoint was trained on a single shard source, not a mixture"]
    if new is None:
        return ["the checkpoint was trained on a mixture, not a single shard source"]
    out = []
    if old.get("on_exhausted") != new.get("on_exhausted"):
        out.append(f"on_exhausted {old.get('on_exhausted')} -> {new.get('on_exhausted')}")
    a = {s["name"]: _content_record(s) for s in old.get("streams", [])}
    b = {s["name"]: _content_record(s) for s in new.get("streams", [])}
    for name in sorted(set(a) - set(b)):
        out.append(f"stream '{name}' removed")
    for name in sorted(set(b) - set(a)):
        out.append(f"stream '{name}' added")
    for name in sorted(set(a) & set(b)):
        for key in a[name]:
            if a[name][key] != b[name][key]:
                what = "shard content (hashes)" if key == "shards" else key
                detail = "" if key == "shards" else f" {a[name][key]} -> {b[name][key]}"
                out.append(f"stream '{name}': {what} changed{detail}")
    if not out and [s["name"] for s in old.get("streams", [])] != [s["name"] for s in new.get("streams", [])]:
        out.append("stream order changed")
    return out


class MixtureDataset(IterableDataset):
    """Batches ``(x, y, stream_ids)`` of a mixture: ``x``, ``y`` int64 ``[batch_size, seq_len]``, ``stream_ids``
    int64 ``[batch_size]`` (which stream each row came from). Iterate with :class:`MixtureLoader`.

    Args:
        mixture: a :class:`MixtureSpec`, a ``mix.yaml`` path or a dict/list (see :func:`load_mixture`).
        seq_len, batch_size, rank, world_size, seed, shuffle_buffer, verify: as :class:`ShardDataset`.
        expected_tokenizer_sha256: when given, every stream must have been tokenized with it.

    Raises:
        MixtureError: streams tokenized with different tokenizers (both hashes named), a missing stream
            or store version, a filter that matches no row, a stream with less than one window per slot.
    """

    def __init__(self, mixture: Union[MixtureSpec, dict, list, os.PathLike, str], seq_len: int, batch_size: int, *,
                 rank: int = 0, world_size: int = 1, seed: int = 0, shuffle_buffer: int = 1024,
                 verify: VerifyMode = "hash", expected_tokenizer_sha256: Optional[str] = None) -> None:
        super().__init__()
        self.spec = load_mixture(mixture)
        self.seq_len, self.batch_size = int(seq_len), int(batch_size)
        self.rank, self.world_size, self.seed = int(rank), int(world_size), int(seed)
        self.shuffle_buffer, self.verify = int(shuffle_buffer), verify
        self.streams: list[StreamDataset] = []
        for s in self.spec.streams:
            try:
                path = resolve_source_index(s.path, s.version)
            except ShardError as exc:
                raise MixtureError(f"stream '{s.name}': {exc}") from None
            try:
                ds = StreamDataset(s, path, seq_len, batch_size, rank=rank, world_size=world_size, seed=seed,
                                   shuffle_buffer=shuffle_buffer, verify=verify)
            except (ShardError, FileNotFoundError) as exc:
                raise MixtureError(f"stream '{s.name}': {exc}") from None
            self.streams.append(ds)
        first = self.streams[0]
        for ds in self.streams[1:]:
            if ds.index.tokenizer_sha256 != first.index.tokenizer_sha256:
                raise MixtureError(
                    f"streams '{first.name}' and '{ds.name}' were tokenized with different tokenizers "
                    f"({first.index.tokenizer_sha256} vs {ds.index.tokenizer_sha256}); re-tokenize one of them")
            for key in ("vocab_size", "eos_id", "eos_appended", "token_dtype"):
                if getattr(ds.index, key) != getattr(first.index, key):
                    raise MixtureError(f"streams '{first.name}' and '{ds.name}' differ in {key} "
                                       f"({getattr(first.index, key)} vs {getattr(ds.index, key)})")
        if expected_tokenizer_sha256 and first.index.tokenizer_sha256 != expected_tokenizer_sha256:
            raise MixtureError(f"the mixture's streams were tokenized with {first.index.tokenizer_sha256}, expected "
                               f"{expected_tokenizer_sha256}")
        self.index, self.folder = first.index, first.folder
        self.weights = self.spec.weights()
        self.phases = [1.0 - (_key_int(seed, "phase", ds.name) % 10**9) / 10**9 for ds in self.streams]  # (0, 1]
        self.num_workers = 0
        self._start = mp.get_context().Array("q", [0], lock=False)
        self._live = 0
        self._schedule: Optional[MixSchedule] = None
        self.check_streams()

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.streams]

    def set_num_workers(self, num_workers: int) -> None:
        """How many DataLoader workers will read the mixture (decides the slots of every stream)."""
        self.num_workers = int(num_workers)
        for s in self.streams:
            s.set_num_workers(num_workers)
            s._cap_cache.clear()
        self._schedule = None
        self.check_streams()

    def check_streams(self) -> None:
        """Refuse a stream with less than one window per (rank, worker) slot in an epoch."""
        for s in self.streams:
            if s.windows_per_epoch(0) == 0:
                raise MixtureError(
                    f"stream '{s.name}' has {s.stream_tokens} tokens: less than one window of {self.seq_len + 1} "
                    f"tokens per (rank, worker) slot ({s.n_slots} slots); lower seq_len/num_workers or add data")

    @property
    def schedule(self) -> MixSchedule:
        if self._schedule is None:
            self._schedule = MixSchedule(self.weights, self.phases, [s.capacity() for s in self.streams],
                                         self.spec.on_exhausted)
        return self._schedule

    def batches_per_slot(self) -> Optional[int]:
        """Batches every (rank, worker) slot yields before the mixture ends (None: never ends)."""
        n = self.schedule.length()
        return None if n is None else n // self.batch_size

    def total_batches(self) -> Optional[int]:
        """Batches this rank yields in all (the same on every rank; None: unlimited)."""
        b = self.batches_per_slot()
        return None if b is None else b * max(1, self.num_workers)

    def record(self) -> dict[str, Any]:
        """The mixture as the checkpoint records it (streams, weights, filters, rehydration, shard hashes)."""
        return {"on_exhausted": self.spec.on_exhausted,
                "streams": [s.record(w) for s, w in zip(self.streams, self.weights)]}

    def fingerprint(self) -> str:
        canon = {"on_exhausted": self.spec.on_exhausted,
                 "streams": [_content_record(s) for s in self.record()["streams"]]}
        return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()

    def set_position(self, batches: int) -> None:
        self._start[0] = int(batches)
        self._live = int(batches)

    def _worker(self) -> tuple[int, int]:
        info = get_worker_info()
        if info is None:
            if self.num_workers > 0:
                raise RuntimeError("set_num_workers() does not match how the dataset is iterated; use MixtureLoader")
            return 0, 1
        if max(1, self.num_workers) != info.num_workers:
            raise RuntimeError(f"the mixture expects {self.num_workers} DataLoader workers but runs in "
                               f"{info.num_workers}; use MixtureLoader")
        return info.id, info.num_workers

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        consumed = int(self._start[0])
        loader_worker, nw = self._worker()
        per_slot = self.batches_per_slot()
        if per_slot is not None and consumed >= per_slot * nw:
            return
        logical = (loader_worker + consumed) % nw
        done = max(0, -(-(consumed - logical) // nw))
        slot = self.rank * nw + logical
        width, bs = self.seq_len + 1, self.batch_size
        plan = self.schedule.iterate(done * bs)
        cursors: dict[int, _StreamCursor] = {}
        main_process = get_worker_info() is None
        b = done
        while per_slot is None or b < per_slot:
            out = np.empty((bs, width), dtype=np.int64)
            sid = np.empty(bs, dtype=np.int64)
            for r in range(bs):
                k, j = next(plan)
                cur = cursors.get(k)
                if cur is None:
                    cur = cursors[k] = _StreamCursor(self.streams[k], slot, j)
                out[r] = cur.next()
                sid[r] = k
            batch = torch.from_numpy(out)
            if main_process:
                self._live = b * nw + logical + 1
            yield batch[:, :-1], batch[:, 1:], torch.from_numpy(sid)
            b += 1


class MixtureLoader:
    """Iterates a :class:`MixtureDataset` through a DataLoader, yields ``(x, y)`` and counts the tokens served
    per stream (:meth:`shares`). Same interface as :class:`~train.dataset.ShardLoader` for the trainer.
    """

    def __init__(self, dataset: MixtureDataset, num_workers: int = 0, pin_memory: bool = False,
                 prefetch_factor: int = 2) -> None:
        self.dataset = dataset
        self.num_workers = int(num_workers)
        dataset.set_num_workers(self.num_workers)
        self._loader = DataLoader(
            dataset, batch_size=None, num_workers=self.num_workers, pin_memory=pin_memory,
            persistent_workers=self.num_workers > 0,
            prefetch_factor=prefetch_factor if self.num_workers > 0 else None,
        )
        self.epoch = 0  # a mixture has no epochs of its own; kept for the trainer's interface
        self.batches = 0
        self.served = [0] * len(dataset.streams)  # windows per stream consumed by this rank

    def steps_per_epoch(self) -> Optional[int]:
        """Batches this rank yields before the mixture ends (None: unlimited)."""
        return self.dataset.total_batches()

    def shares(self) -> dict[str, dict[str, Any]]:
        """Per stream: tokens served (this rank x world size), realized share and target weight."""
        total = sum(self.served)
        per_window = self.dataset.seq_len * self.dataset.world_size
        return {name: {"tokens": n * per_window, "share": round(n / total, 6) if total else 0.0,
                       "weight": round(w, 6)}
                for name, n, w in zip(self.dataset.names, self.served, self.dataset.weights)}

    def state_dict(self) -> dict[str, Any]:
        d = self.dataset
        return {"version": MIX_STATE_VERSION, "kind": "mixture", "epoch": 0, "batches": self.batches,
                "served": dict(zip(d.names, self.served)), "seed": d.seed, "seq_len": d.seq_len,
                "batch_size": d.batch_size, "world_size": d.world_size, "num_workers": d.num_workers,
                "shuffle_buffer": d.shuffle_buffer, "fingerprint": d.fingerprint()}

    def load_state_dict(self, state: dict[str, Any], allow_mixture_change: bool = False) -> None:
        """Resume at ``state``; a different mixture is refused unless ``allow_mixture_change``."""
        d = self.dataset
        if state.get("kind") != "mixture" or state.get("version") != MIX_STATE_VERSION:
            raise ValueError("cannot resume: the checkpoint's data position is not a mixture's (trained with "
                             "--shards); resume with --shards, or start a fresh run")
        for key in ("seed", "seq_len", "batch_size", "world_size", "num_workers", "shuffle_buffer"):
            if state[key] != getattr(d, key):
                raise ValueError(f"cannot resume exactly: {key} was {state[key]} and is now {getattr(d, key)}; "
                                 f"resume with the same {key} (or start a fresh run)")
        if state["fingerprint"] != d.fingerprint() and not allow_mixture_change:
            raise ValueError("cannot resume: the mixture differs from the checkpoint's; pass "
                             "--allow-mixture-change to continue with the new one")
        self.batches = int(state["batches"])
        old = state.get("served", {})
        self.served = [int(old.get(n, 0)) for n in d.names]
        d.set_position(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.dataset.set_position(self.batches)
        for x, y, sid in self._loader:
            self.batches += 1
            self.dataset._live = self.batches
            for k in sid.tolist():
                self.served[k] += 1
            yield x, y
