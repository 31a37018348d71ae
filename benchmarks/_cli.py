"""The common tail of the peer benchmarks' command lines: print the table, then the JSON figures and/or
write them to a file."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable, Optional


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--json`` (print the figures as JSON after the table) and ``--output FILE`` (write them there)."""
    parser.add_argument("--json", action="store_true", help="print the JSON figures after the table")
    parser.add_argument("--output", type=Path, default=None, help="write the JSON figures to this file")


def emit(report: dict, table: Callable[[dict], str], as_json: bool = False, output: Optional[Path] = None) -> int:
    """Print ``table(report)``, then the report as JSON when ``as_json``, and write it to ``output``; returns 0."""
    print(table(report))
    text = json.dumps(report, indent=2)
    if as_json:
        print(text)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    return 0


__all__ = ["add_output_options", "emit"]
