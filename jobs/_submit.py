"""Shared body of the spark-submit entry points (``jobs/run_pipeline.py``, ``jobs/nightly.py``)."""
from __future__ import annotations

import argparse
import logging
from typing import Callable, Optional, Sequence


def submit_main(prog: str, description: str, add_arguments: Callable[[argparse.ArgumentParser], None],
                execute: Callable[[argparse.Namespace], int], argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command's arguments (plus ``--log-level``), set up logging and run it."""
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return execute(args)
