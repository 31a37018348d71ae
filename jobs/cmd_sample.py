"""``corpusforge sample --checkpoint CKPT --prompt TEXT``: generate text from a trained checkpoint."""
from __future__ import annotations

import argparse
import logging

from jobs.exitcodes import EXIT_FAILED, EXIT_OK

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("sample", help="generate text from a checkpoint")
    p.add_argument("--checkpoint", required=True, help="ckpt-*.pt file or checkpoint folder (latest)")
    p.add_argument("--prompt", default="", help="text to continue")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    p.add_argument("--top-k", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-samples", type=int, default=1)
    p.add_argument("--tokenizer", help="tokenizer.json to use instead of the one in the checkpoint")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # deferred: train imports torch (seconds), which only the sample command needs
    from train.sampling import load_sampler

    try:
        sampler = load_sampler(args.checkpoint, args.tokenizer, args.device)
    except (FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    for i in range(args.num_samples):
        text = sampler.generate(args.prompt, args.max_new_tokens, args.temperature, args.top_k, seed=args.seed + i)
        print(args.prompt + text)
        if i + 1 < args.num_samples:
            print("---")
    return EXIT_OK
