"""Command-line flags of training, shared by ``python -m train``, ``torchrun -m train`` and ``corpusforge train``."""
from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Optional, Sequence

from pydantic import ValidationError

from storage.shards import ShardError
from train.config import TrainConfig

log = logging.getLogger(__name__)

# flag -> TrainConfig field, for every option besides the two required paths
_FLAGS = {
    "--steps": ("steps", int, "optimizer steps in total (default: 1000)"),
    "--seq-len": ("seq_len", int, "tokens per training window (default: 256)"),
    "--batch-size": ("batch_size", int, "windows per micro-batch per rank (default: 8)"),
    "--grad-accum": ("grad_accum", int, "micro-batches per optimizer step (default: 1)"),
    "--model": ("model", str, "model preset (tiny, small, base, gpt2-124m) or a YAML file of ModelConfig fields"),
    "--lr": ("lr", float, "peak learning rate (default: 3e-4)"),
    "--min-lr": ("min_lr", float, "final learning rate of the cosine decay (default: 3e-5)"),
    "--warmup-steps": ("warmup_steps", int, "linear warmup steps (default: 100)"),
    "--weight-decay": ("weight_decay", float, "AdamW weight decay (default: 0.1)"),
    "--grad-clip": ("grad_clip", float, "max gradient norm, 0 = off (default: 1.0)"),
    "--seed": ("seed", int, "seed of initialization and data order (default: 0)"),
    "--eval-every": ("eval_every", int, "evaluate every N steps, 0 = only at the end (default: 200)"),
    "--eval-batches": ("eval_batches", int, "held-out batches per evaluation (default: 20)"),
    "--holdout-shards": ("holdout_shards", int, "shards held out for evaluation (default: 5%%, >= 1)"),
    "--log-every": ("log_every", int, "write a metrics row every N steps (default: 10)"),
    "--ckpt-every": ("ckpt_every", int, "checkpoint every N steps, 0 = only at the end (default: 200)"),
    "--keep-checkpoints": ("keep_checkpoints", int, "checkpoints kept (default: 2)"),
    "--num-workers": ("num_workers", int, "DataLoader workers per rank (default: 0)"),
    "--shuffle-buffer": ("shuffle_buffer", int, "windows in the shuffle buffer (default: 1024)"),
    "--verify": ("verify", str, "shard checks before first use: hash, size or none (default: hash)"),
    "--device": ("device", str, "auto, cpu, cuda or cuda:N (default: auto)"),
}


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training flags to ``parser``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--shards", help="shard folder, dataset store (with CURRENT) or index.json")
    source.add_argument("--mix", metavar="MIX_YAML",
                        help="a mixture of shard streams with token weights, row filters, max_epochs and "
                             "rehydration (see docs/train.md)")
    parser.add_argument("--out", required=True, help="checkpoint folder (metrics.jsonl, ckpt-*.pt)")
    for flag, (_, typ, help_) in _FLAGS.items():
        parser.add_argument(flag, type=typ, default=None, help=help_)
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--allow-mixture-change", action="store_true",
                        help="with --resume: continue although the mixture differs from the checkpoint's (the new "
                             "mixture continues at the same batch position of its own order)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A validated :class:`TrainConfig` from parsed flags (unset flags keep their defaults)."""
    data = {"shards": getattr(args, "shards", None), "mix": getattr(args, "mix", None), "out": args.out,
            "resume": bool(args.resume), "compile": bool(args.compile),
            "allow_mixture_change": bool(getattr(args, "allow_mixture_change", False))}
    for _, (field, _, _) in _FLAGS.items():
        value = getattr(args, field, None)
        if value is not None:
            data[field] = value
    return TrainConfig.model_validate(data)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m train`` / ``torchrun -m train``: parse flags, train, print the summary as JSON."""
    parser = argparse.ArgumentParser(prog="python -m train", description="Train a GPT on corpusforge token shards.")
    add_train_arguments(parser)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO) if rank == 0 else logging.WARNING,
        format=f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s",
    )
    try:
        # deferred: torch takes about a second to import; parsing flags (corpusforge --help) must not pay it
        from train.trainer import train

        cfg = config_from_args(args)
        summary = train(cfg)
    except (ValidationError, ShardError, FileExistsError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2 if isinstance(exc, ValidationError) else 1
    if rank == 0:
        print(json.dumps(summary, sort_keys=True))
    return 0
