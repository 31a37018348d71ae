"""``corpusforge whatif``: keep rates of a finished run under other quality thresholds, without re-running.

Example::

    corpusforge whatif --run out/ --set quality.gopher_short_doc=100 --set quality.fineweb_short_lines=false

Prints a JSON report (see :func:`pipelines.whatif.run_whatif`) to stdout, or writes it to ``--json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from jobs.exitcodes import EXIT_OK, EXIT_USAGE
from pipelines.whatif import WhatIfError, run_whatif

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``whatif`` sub-command."""
    p = subparsers.add_parser(
        "whatif",
        help="recompute quality (or classify) keep rates of a finished run for new thresholds (no re-run)",
        description=(
            "Replay quality rules over the signals a run stored in OUT/curated and OUT/rejected, with the "
            "run's own quality settings (OUT/run.json) changed by --set. With no --set it replays the run's "
            "own settings, which reproduces the run's quality keep rate."
        ),
    )
    p.add_argument("--run", required=True, metavar="OUT", help="output directory of a finished run")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="quality.RULE=VALUE",
        help="a rule threshold (a number, or false to switch it off); repeatable. Per language: "
        "quality.languages.LANG.RULE=VALUE",
    )
    p.add_argument("--by-lang", action="store_true", help="add keep rates per language")
    p.add_argument("--stage", choices=["quality", "classify"], default=None,
                   help="what to replay (default: classify when a --set is classify.*, else quality). classify: "
                   "--set classify.models.NAME.min_score=V or classify.models.NAME.keep_top_fraction=V "
                   "(NAME or [INDEX]); see docs/classify.md")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the report here instead of stdout")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the what-if and print or write its report."""
    try:
        report = run_whatif(args.run, args.overrides, by_lang=args.by_lang, stage=args.stage)
    except WhatIfError as exc:
        print(f"corpusforge whatif: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = json.dumps(report, indent=2, sort_keys=False)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
        key = "classify" if "classify" in report["run"] else "quality"
        q_run, q_new = report["run"][key], report["whatif"][key]
        print(
            f"{key} keep rate: run {q_run['keep_rate']}, what-if {q_new['keep_rate']} "
            f"({report['changed']['newly_rejected']} newly rejected, {report['changed']['newly_kept']} newly kept)",
            file=sys.stderr,
        )
    else:
        print(text)
    return EXIT_OK
