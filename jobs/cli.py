"""The ``corpusforge`` command line.

Each sub-command lives in its own ``jobs/cmd_*.py`` module that defines ``register(subparsers)``; the
module adds a parser and sets ``func`` (a callable taking the parsed args and returning an exit code).
Entry points hold wiring only: the logic is in ``pipelines``, ``quality`` and ``train``. Exit codes
(``jobs/exitcodes.py``): 0 ok, 1 failed, 2 usage or configuration error, 3 quality gates failed.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Optional, Sequence

from jobs.exitcodes import EXIT_OK

#: Sub-command modules, in the order they are listed in ``--help``.
COMMAND_MODULES = [
    "jobs.cmd_run",
    "jobs.cmd_report",
    "jobs.cmd_summary",
    "jobs.cmd_config",
    "jobs.cmd_whatif",
    "jobs.cmd_tokenizer",
    "jobs.cmd_classifier",
    "jobs.cmd_shards",
    "jobs.cmd_train",
    "jobs.cmd_eval",
    "jobs.cmd_ablate",
    "jobs.cmd_sample",
    "jobs.cmd_nightly",
    "jobs.cmd_takedown",
    "jobs.cmd_hash_text",
    "jobs.cmd_pack_env",
    "jobs.cmd_jvm_archive",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corpusforge",
        description=(
            "Spark-native curation of LLM training corpora: ingest, dedup, filter, scrub, tokenize, "
            "report. Spark runs embedded in local mode unless launched through spark-submit."
        ),
        epilog="Run 'corpusforge COMMAND --help' for a command's options. Exit codes: 0 ok, 1 failed, "
        "2 usage or configuration error, 3 quality gates failed.",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args) or EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
