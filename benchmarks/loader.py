"""Loader and training throughput: Parquet shards vs a flat numpy memmap, and tokens/s of a small model.

Targets (issue 6): the shard loader reaches at least 0.5x the memmap rate and at least 5M tokens/s per
worker. The figures are printed as JSON (and written to ``--out`` when given).

    python -m benchmarks.loader --tokens 2000000          # small, a few seconds
    python -m benchmarks.loader --tokens 200000000        # full size

Both loaders produce the same thing the trainer consumes: int64 ``[batch, seq_len + 1]`` tensors of
windows. The memmap baseline is nanoGPT's: random window offsets into one flat uint16 file. The shard
loader additionally verifies each shard's sha256 before first use, shuffles shards, row groups and
windows, and keeps its resumable position.

Timing rules, the same on both sides: the clock starts before the loader is created (``np.memmap`` opened;
``ShardDataset`` built and its iterator started, DataLoader workers forked) and stops after the same
number of batches; the first batch is inside the timed region on both sides (its time is also printed
alone). The data is written as ``--shards`` shards (default 8), so each shard's sha256 check happens
inside the timed region, when the loader first opens that shard. The memmap side checks nothing.

The shard loader's steady state is printed apart and labelled (``steady_tokens_per_s`` and per worker):
the batches after every DataLoader worker delivered its first one, over the time since then. It leaves
out worker start-up, which dominates the start-up-included figure with workers at small sizes; the
headline figures and the ratio stay the start-up-included ones.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pyarrow as pa
import torch

from storage.shards import ShardWriter
from train.dataset import ShardDataset, ShardLoader

log = logging.getLogger(__name__)
VOCAB = 50257


def make_data(folder: Path, total_tokens: int, seed: int = 0, shards_wanted: int = 8) -> tuple[Path, Path]:
    """Random-token documents (mean ~1000 tokens) as about ``shards_wanted`` shards, and the same stream as a
    flat memmap file."""
    rng = np.random.default_rng(seed)
    shards = folder / "shards"
    flat = folder / "tokens.bin"
    written = 0
    doc = 0
    target = max(1 << 16, total_tokens * 2 // max(1, shards_wanted))
    with ShardWriter(shards, vocab_size=VOCAB, tokenizer_sha256="0" * 64, eos_id=VOCAB - 1, eos_appended=True,
                     dataset_version="bench", target_shard_bytes=target,
                     row_group_bytes=min(target, 8 << 20)) as w, open(flat, "wb") as fh:
        while written < total_tokens:
            lengths = rng.integers(50, 2000, size=512)
            values = rng.integers(0, VOCAB, size=int(lengths.sum()), dtype=np.uint16)
            offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
            np.cumsum(lengths, out=offsets[1:])
            values[offsets[1:] - 1] = VOCAB - 1  # EOS ends each document
            ids = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
            w.write_table(pa.table({"doc_id": [f"{doc + i:012d}" for i in range(len(lengths))], "input_ids": ids,
                                    "source": ["bench"] * len(lengths)}))
            values.tofile(fh)
            written += int(lengths.sum())
            doc += len(lengths)
    return shards, flat


def bench_shards(shards: Path, seq_len: int, batch: int, workers: int, max_batches: int) -> dict:
    """Time from building the dataset to the ``max_batches``-th batch (first batch and shard hashing included).

    Also reports the steady state apart (labelled ``steady_*``): the batches after the first round of the
    DataLoader's round-robin (one batch from each worker, so every worker has started and hashed its first
    shard), over the time since that round arrived. With 0 workers the round is the first batch.
    """
    t0 = time.perf_counter()
    ds = ShardDataset(shards, seq_len, batch, seed=0, shuffle=True, verify="hash")
    loader = ShardLoader(ds, num_workers=workers, epochs=1)
    warm_batches = max(1, workers)
    n = 0
    first = warm = None
    for _x, _y in loader:
        n += 1
        if first is None:
            first = time.perf_counter() - t0
        if n == warm_batches:
            warm = time.perf_counter() - t0
        if n >= max_batches:
            break
    dt = time.perf_counter() - t0
    window = batch * (seq_len + 1)
    tokens = n * window
    steady_tokens = (n - warm_batches) * window
    steady = steady_tokens / (dt - warm) if warm is not None and n > warm_batches and dt > warm else 0.0
    return {"workers": workers, "batches": n, "tokens": tokens, "seconds": round(dt, 3),
            "first_batch_seconds": round(first or 0.0, 3), "tokens_per_s": round(tokens / dt),
            "tokens_per_s_per_worker": round(tokens / dt / max(1, workers)),
            "timed": "dataset build + worker start + every batch incl. the first + sha256 of each shard opened",
            "startup_seconds": round(warm or 0.0, 3),
            "steady_tokens_per_s": round(steady), "steady_tokens_per_s_per_worker": round(steady / max(1, workers)),
            "steady_timed": "batches after the first one from every worker (start-up and each worker's first "
                            "shard hash excluded; later shards' hashes included)"}


def bench_memmap(flat: Path, seq_len: int, batch: int, max_batches: int) -> dict:
    """nanoGPT's loader, timed from opening the memmap to the ``max_batches``-th batch (first batch included)."""
    t0 = time.perf_counter()
    data = np.memmap(flat, dtype=np.uint16, mode="r")
    rng = np.random.default_rng(0)
    first = None
    for _ in range(max_batches):
        starts = rng.integers(0, len(data) - seq_len - 1, size=batch)
        w = torch.from_numpy(np.stack([data[s : s + seq_len + 1] for s in starts]).astype(np.int64))
        _x, _y = w[:, :-1], w[:, 1:]
        if first is None:
            first = time.perf_counter() - t0
    dt = time.perf_counter() - t0
    tokens = max_batches * batch * (seq_len + 1)
    return {"batches": max_batches, "tokens": tokens, "seconds": round(dt, 3), "first_batch_seconds": round(first, 3),
            "tokens_per_s": round(tokens / dt), "timed": "memmap open + every batch incl. the first (no checks)"}


def bench_training(shards: Path, out: Path, steps: int, model: str, seq_len: int, batch: int) -> dict:
    from train.trainer import TrainConfig, train

    cfg = TrainConfig(shards=str(shards), out=str(out), steps=steps, seq_len=seq_len, batch_size=batch, model=model,
                      log_every=max(1, steps // 4), eval_every=0, ckpt_every=0, holdout_shards=0, warmup_steps=2)
    train(cfg)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steady = [r for r in rows if "tokens_per_s" in r][1:] or [r for r in rows if "tokens_per_s" in r]
    return {"model": model, "steps": steps, "seq_len": seq_len, "batch_size": batch,
            "tokens_per_s": round(sum(r["tokens_per_s"] for r in steady) / len(steady), 1),
            "data_wait": round(sum(r["data_wait"] for r in steady) / len(steady), 4), "device": "cpu"}


SIZES = {"quick": 10_000_000, "full": 200_000_000}


def run(size: str = "quick", tokens: Optional[int] = None, seq_len: int = 1024, batch_size: int = 8,
        workers: Sequence[int] = (0, 2), shards: int = 8, train_steps: int = 0, train_model: str = "tiny",
        train_seq_len: int = 128, train_batch_size: int = 4, keep: Optional[str] = None) -> dict:
    """Run the loader benchmark; ``size`` is ``quick`` (10M tokens) or ``full`` (200M), or give ``tokens``."""
    tokens = tokens or SIZES[size]
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="corpusforge-loader-bench-"))
    try:
        t0 = time.perf_counter()
        shard_dir, flat = make_data(folder, tokens, shards_wanted=shards)
        gen_s = time.perf_counter() - t0
        n_shards = len(list(shard_dir.glob("*.parquet")))
        window = batch_size * (seq_len + 1)
        max_batches = max(2, tokens // window // 2)  # half an epoch: every slot still has data
        results = {"size": size, "tokens": tokens, "seq_len": seq_len, "batch_size": batch_size, "shards": n_shards,
                   "generate_seconds": round(gen_s, 2), "cpu_count": os.cpu_count(),
                   "load_average_1m": round(os.getloadavg()[0], 2)}
        results["memmap"] = bench_memmap(flat, seq_len, batch_size, max_batches)
        results["shard_loader"] = [bench_shards(shard_dir, seq_len, batch_size, nw, max_batches) for nw in workers]
        single = next((r for r in results["shard_loader"] if r["workers"] == 0), results["shard_loader"][0])
        results["ratio_vs_memmap_single_worker"] = round(single["tokens_per_s"] / results["memmap"]["tokens_per_s"], 3)
        best = max(r["tokens_per_s_per_worker"] for r in results["shard_loader"])
        steady = max(r["steady_tokens_per_s_per_worker"] for r in results["shard_loader"])
        results["targets"] = {"ratio>=0.5": results["ratio_vs_memmap_single_worker"] >= 0.5,
                              "per_worker>=5M": best >= 5_000_000,
                              "steady_per_worker>=5M (start-up excluded, not the headline)": steady >= 5_000_000}
        if train_steps:
            results["training"] = bench_training(shard_dir, folder / "ck", train_steps, train_model, train_seq_len,
                                                 train_batch_size)
        return results
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(SIZES), default="quick", help="quick: 10M tokens; full: 200M")
    p.add_argument("--tokens", type=int, default=None, help="tokens of synthetic data (overrides --size)")
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--shards", type=int, default=8, help="about this many shards (each one's hash is timed)")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts to measure")
    p.add_argument("--train-steps", type=int, default=0, help="also train a small model this many steps")
    p.add_argument("--train-model", default="tiny")
    p.add_argument("--train-seq-len", type=int, default=128)
    p.add_argument("--train-batch-size", type=int, default=4)
    p.add_argument("--out", help="write the JSON figures here too")
    p.add_argument("--keep", help="keep the generated data in this folder")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = run(args.size, tokens=args.tokens, seq_len=args.seq_len, batch_size=args.batch_size,
                  workers=args.workers, shards=args.shards, train_steps=args.train_steps,
                  train_model=args.train_model, train_seq_len=args.train_seq_len,
                  train_batch_size=args.train_batch_size, keep=args.keep)
    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
