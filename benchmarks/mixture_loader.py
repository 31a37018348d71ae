"""Mixture loader throughput next to the single-stream loader, and its start-up cost.

Three synthetic streams of random-token documents (with ``lang`` and ``dup_cluster_size`` columns) are
read as: one stream alone (:class:`~train.dataset.ShardDataset`), a plain 3-stream mixture, and a mixture
whose streams are filtered by language and rehydrated by cluster size (which reads the small shard
columns once at start-up). Figures are printed as JSON::

    python -m benchmarks.mixture_loader --tokens 6000000
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from storage.shards import ShardWriter
from train.dataset import ShardDataset, ShardLoader
from train.mixture import MixtureDataset, MixtureLoader

VOCAB = 50257


def make_stream(folder: Path, tokens: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    written = doc = 0
    with ShardWriter(folder, vocab_size=VOCAB, tokenizer_sha256="0" * 64, eos_id=VOCAB - 1, eos_appended=True,
                     dataset_version=folder.name) as w:
        while written < tokens:
            lengths = rng.integers(50, 2000, size=512)
            values = rng.integers(0, VOCAB, size=int(lengths.sum()), dtype=np.uint16)
            offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
            np.cumsum(lengths, out=offsets[1:])
            values[offsets[1:] - 1] = VOCAB - 1
            w.write_table(pa.table({
                "doc_id": [f"{doc + i:012d}" for i in range(len(lengths))],
                "input_ids": pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)),
                "source": ["bench"] * len(lengths),
                "lang": rng.choice(["en", "de", "fr"], size=len(lengths)).tolist(),
                "dup_cluster_size": pa.array(rng.geometric(0.3, size=len(lengths)), pa.int32()),
            }))
            written += int(lengths.sum())
            doc += len(lengths)
    return folder


def _time(make_loader, batches: int, batch: int, seq_len: int) -> dict:
    t0 = time.perf_counter()
    loader = make_loader()
    it = iter(loader)
    next(it)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = 0
    for _ in it:
        n += 1
        if n >= batches:
            break
    dt = time.perf_counter() - t0
    tokens = n * batch * (seq_len + 1)
    return {"batches": n, "seconds": round(dt, 3), "startup_seconds": round(startup, 3),
            "tokens_per_s": round(tokens / dt)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=6_000_000, help="tokens over the three streams (default: 6M)")
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="corpusforge-mix-bench-"))
    try:
        streams = [make_stream(folder / name, args.tokens // 3, i) for i, name in enumerate("abc")]
        for f in folder.rglob("*.parquet"):  # page cache warm for every variant alike (the first would pay it)
            f.read_bytes()
        s, b = args.seq_len, args.batch_size
        batches = max(2, args.tokens // 3 // (b * (s + 1)) // 2)  # half of one stream: never runs dry
        plain = [{"name": p_.name, "path": str(p_), "weight": w} for p_, w in zip(streams, (5, 3, 2))]
        shaped = [dict(plain[0], filter={"lang": ["en", "de"]}),
                  dict(plain[1], rehydrate=[{"min": 2, "max": 5, "repeat": 2}, {"min": 6, "repeat": 1.5}]),
                  plain[2]]
        results = {"tokens": args.tokens, "seq_len": s, "batch_size": b, "workers": 0, "note": (
            "single process, no DataLoader workers; figures are noisy on a shared machine")}
        results["single_stream"] = _time(lambda: ShardLoader(ShardDataset(streams[0], s, b), epochs=1), batches, b, s)
        results["mixture_3_streams"] = _time(lambda: MixtureLoader(MixtureDataset(plain, s, b)), batches, b, s)
        results["mixture_filter_rehydrate"] = _time(lambda: MixtureLoader(MixtureDataset(shaped, s, b)), batches, b,
                                                    s)
        results["single_stream_again"] = _time(lambda: ShardLoader(ShardDataset(streams[0], s, b), epochs=1), batches,
                                               b, s)
        single = max(results["single_stream"]["tokens_per_s"], results["single_stream_again"]["tokens_per_s"])
        results["mixture_vs_single"] = round(results["mixture_3_streams"]["tokens_per_s"] / single, 3)
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
