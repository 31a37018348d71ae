"""Loader and training throughput: Parquet shards vs a flat numpy memmap, and tokens/s of a small model.

Targets (issue 6): the shard loader reaches at least 0.5x the memmap rate and at least 5M tokens/s per
worker. The figures are printed as JSON (and written to ``--out`` when given).

    python -m benchmarks.loader --tokens 2000000          # small, a few seconds
    python -m benchmarks.loader --tokens 200000000        # full size

Both loaders produce the same thing the trainer consumes: int64 ``[batch, seq_len + 1]`` tensors of
windows. The memmap baseline is nanoGPT's: random window offsets into one flat uint16 file. The shard
loader additionally verifies each shard's sha256 before first use, shuffles shards, row groups and
windows, and keeps its resumable position.
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

import numpy as np
import pyarrow as pa
import torch

from storage.shards import ShardWriter
from train.dataset import ShardDataset, ShardLoader

log = logging.getLogger(__name__)
VOCAB = 50257


def make_data(folder: Path, total_tokens: int, seed: int = 0) -> tuple[Path, Path]:
    """Random-token documents (mean ~1000 tokens) as shards, and the same stream as a flat memmap file."""
    rng = np.random.default_rng(seed)
    shards = folder / "shards"
    flat = folder / "tokens.bin"
    written = 0
    doc = 0
    with ShardWriter(shards, vocab_size=VOCAB, tokenizer_sha256="0" * 64, eos_id=VOCAB - 1, eos_appended=True,
                     dataset_version="bench") as w, open(flat, "wb") as fh:
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
    ds = ShardDataset(shards, seq_len, batch, seed=0, shuffle=True, verify="hash")
    loader = ShardLoader(ds, num_workers=workers, epochs=1)
    start = time.perf_counter()
    it = iter(loader)
    next(it)  # worker start-up (fork) is not throughput; shard hashing still counts below
    first = time.perf_counter() - start
    t0 = time.perf_counter()
    n = 0
    for x, y in it:
        n += 1
        if n >= max_batches:
            break
    dt = time.perf_counter() - t0
    tokens = n * batch * (seq_len + 1)
    return {"workers": workers, "batches": n, "tokens": tokens, "seconds": round(dt, 3),
            "first_batch_seconds": round(first, 3), "tokens_per_s": round(tokens / dt),
            "tokens_per_s_per_worker": round(tokens / dt / max(1, workers))}


def bench_memmap(flat: Path, seq_len: int, batch: int, max_batches: int) -> dict:
    data = np.memmap(flat, dtype=np.uint16, mode="r")
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(max_batches):
        starts = rng.integers(0, len(data) - seq_len - 1, size=batch)
        w = torch.from_numpy(np.stack([data[s : s + seq_len + 1] for s in starts]).astype(np.int64))
        _x, _y = w[:, :-1], w[:, 1:]
    dt = time.perf_counter() - t0
    tokens = max_batches * batch * (seq_len + 1)
    return {"batches": max_batches, "tokens": tokens, "seconds": round(dt, 3), "tokens_per_s": round(tokens / dt)}


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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=2_000_000, help="tokens of synthetic data (default: 2M, small)")
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts to measure")
    p.add_argument("--train-steps", type=int, default=20)
    p.add_argument("--train-model", default="tiny")
    p.add_argument("--train-seq-len", type=int, default=128)
    p.add_argument("--train-batch-size", type=int, default=4)
    p.add_argument("--out", help="write the JSON figures here too")
    p.add_argument("--keep", help="keep the generated data in this folder")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="corpusforge-loader-bench-"))
    try:
        t0 = time.perf_counter()
        shards, flat = make_data(folder, args.tokens)
        gen_s = time.perf_counter() - t0
        window = args.batch_size * (args.seq_len + 1)
        max_batches = max(2, args.tokens // window // 2)  # half an epoch: every slot still has data
        results = {"tokens": args.tokens, "seq_len": args.seq_len, "batch_size": args.batch_size,
                   "generate_seconds": round(gen_s, 2), "cpu_count": os.cpu_count()}
        results["memmap"] = bench_memmap(flat, args.seq_len, args.batch_size, max_batches)
        results["shards"] = []
        for nw in args.workers:
            results["shards"].append(bench_shards(shards, args.seq_len, args.batch_size, nw, max_batches - 1))
        single = next((r for r in results["shards"] if r["workers"] == 0), results["shards"][0])
        results["ratio_vs_memmap_single_worker"] = round(single["tokens_per_s"] / results["memmap"]["tokens_per_s"], 3)
        results["targets"] = {"ratio>=0.5": results["ratio_vs_memmap_single_worker"] >= 0.5,
                              "per_worker>=5M": single["tokens_per_s_per_worker"] >= 5_000_000}
        if args.train_steps:
            results["training"] = bench_training(shards, folder / "ck", args.train_steps, args.train_model,
                                                 args.train_seq_len, args.train_batch_size)
        text = json.dumps(results, indent=2, sort_keys=True)
        print(text)
        if args.out:
            Path(args.out).write_text(text + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
