"""One short GPU check: training tokens/s and the share of step time spent waiting for data.

Writes synthetic shards (random tokens, GPT-2-sized vocabulary) to a temp folder, trains a model on CUDA
with bf16 autocast for ``--steps`` steps through the real trainer (ShardDataset + DataLoader workers),
and prints JSON figures taken from ``metrics.jsonl`` (the first logged interval, which includes start-up
and CUDA warm-up, is left out).

    python -m benchmarks.gpu_check --steps 60 --model base --seq-len 1024 --batch-size 16 --num-workers 4

Run it on a machine with a GPU; on CPU it refuses unless ``--allow-cpu`` (for a dry run of the script).
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.loader import make_data


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--model", default="base", help="model preset or YAML (default: base, 6 layers x 384)")
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--num-workers", type=int, default=4)
    p.add_argument("--tokens", type=int, default=50_000_000, help="synthetic tokens to write (default 50M)")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--allow-cpu", action="store_true", help="run on CPU (dry run of the script only)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not torch.cuda.is_available() and not args.allow_cpu:
        print(json.dumps({"error": "no CUDA device; this check is for GPU machines (use --allow-cpu for a dry run)"}))
        return 1
    from train.trainer import TrainConfig, train

    folder = Path(tempfile.mkdtemp(prefix="corpusforge-gpu-check-"))
    try:
        t0 = time.perf_counter()
        shards, _ = make_data(folder, args.tokens)
        gen_s = time.perf_counter() - t0
        log_every = max(1, args.steps // 6)
        cfg = TrainConfig(
            shards=str(shards), out=str(folder / "ck"), steps=args.steps, seq_len=args.seq_len,
            batch_size=args.batch_size, model=args.model, log_every=log_every, eval_every=0, ckpt_every=0,
            holdout_shards=0, warmup_steps=min(10, args.steps), num_workers=args.num_workers, compile=args.compile,
            device="cuda" if torch.cuda.is_available() else "cpu",
        )
        t1 = time.perf_counter()
        summary = train(cfg)
        wall = time.perf_counter() - t1
        rows = [json.loads(line) for line in (folder / "ck" / "metrics.jsonl").read_text().splitlines()]
        steady = [r for r in rows if "tokens_per_s" in r][1:] or [r for r in rows if "tokens_per_s" in r]
        out = {
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "model": args.model, "seq_len": args.seq_len, "batch_size": args.batch_size,
            "num_workers": args.num_workers, "steps": args.steps, "compile": args.compile,
            "tokens_per_s": round(sum(r["tokens_per_s"] for r in steady) / len(steady), 1),
            "data_wait_share": round(sum(r["data_wait"] for r in steady) / len(steady), 4),
            "final_loss": summary["loss"], "train_wall_s": round(wall, 2), "data_generation_s": round(gen_s, 2),
            "max_memory_gib": (
                round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None
            ),
        }
        print(json.dumps(out, indent=2, sort_keys=True))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
