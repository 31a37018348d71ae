"""``corpusforge train``: train a GPT straight from token shards (``torchrun -m train`` takes the same flags)."""
from __future__ import annotations

import argparse
import json
import logging

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    from train.cli import add_train_arguments

    p = subparsers.add_parser(
        "train", help="train a GPT on token shards (use 'torchrun --nproc-per-node N -m train' for DDP)"
    )
    add_train_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from storage.shards import ShardError
    from train.cli import config_from_args
    from train.trainer import train

    try:
        summary = train(config_from_args(args))
    except ValidationError as exc:
        log.error("invalid training options: %s", exc)
        return 2
    except (ShardError, FileExistsError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 1
    print(json.dumps(summary, sort_keys=True))
    return 0
