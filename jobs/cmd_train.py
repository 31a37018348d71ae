"""``corpusforge train``: train a GPT straight from token shards or a mixture of them (``torchrun -m train`` takes
the same flags)."""
from __future__ import annotations

import argparse
import json
import logging

from pydantic import ValidationError

from jobs.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from storage.shards import ShardError
from train.cli import add_train_arguments, config_from_args

log = logging.getLogger(__name__)


def register(subparsers) -> None:

    p = subparsers.add_parser(
        "train", help="train a GPT on token shards or a weighted mixture of them (--mix; see docs/train.md); "
                      "use 'torchrun --nproc-per-node N -m train' for DDP",
        description="Train a GPT on token shards (--shards) or on a mixture of shard streams (--mix mix.yaml: "
                    "token weights, row filters, max_epochs, rehydration by near-duplicate cluster size). "
                    "A mixture is validated before the first step; see docs/train.md.",
    )
    add_train_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from train.trainer import train  # deferred: torch takes about a second; only this command needs it

    try:
        summary = train(config_from_args(args))
    except ValidationError as exc:
        log.error("invalid training options: %s", exc)
        return EXIT_USAGE
    except (ShardError, FileExistsError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    print(json.dumps(summary, sort_keys=True))
    return EXIT_OK
