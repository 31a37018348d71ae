"""``corpusforge nightly``: process the night's raw partition, gate, publish a dataset version."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from jobs.exitcodes import EXIT_FAILED, EXIT_GATES_FAILED, EXIT_OK, EXIT_USAGE
from pipelines.nightly import NightlyError, run_nightly
from pipelines.readers import InputError
from pipelines.runner import RunError
from pipelines.stages.base import StageConfigError
from pipelines.store import StoreError
from quality.report import write_report
from schemas.config import ConfigError, load_config

log = logging.getLogger(__name__)

HELP = "process a date partition (and earlier pending ones), gate and publish a dataset version"
DESCRIPTION = """\
Process RAW/date=YYYY-MM-DD/ and every earlier partition not processed yet (a ledger of processed inputs
by path and sha256 lives in the store), dedup against everything already published (the store's
incremental near-dedup index), write the run under STORE/runs/, evaluate the quality gates and, only when
they pass, publish a new version: STORE/versions/NAME/index.json lists every published shard and
STORE/CURRENT is switched by rename. Point the trainer at STORE.

A rerun of the same date is idempotent; a failed, gated or killed run leaves CURRENT untouched.
Exit codes: 0 published or up to date, 1 failed, 2 usage or configuration error, 3 gates failed.

example (crontab, 02:30 every night, yesterday's partition):
  30 2 * * *  corpusforge nightly --config web --raw /data/raw \\
      --date "$(date -u -d yesterday +\\%F)" --store /data/store
"""


def add_nightly_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="FILE", help="YAML config file or bundled preset name")
    p.add_argument("--raw", required=True, metavar="ROOT", help="folder holding date=YYYY-MM-DD/ partitions")
    p.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the night to process")
    p.add_argument("--store", required=True, metavar="STORE", help="the dataset store (created on first use)")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE", dest="overrides",
                   help="override a config value (value read as YAML); repeat for several")
    p.add_argument("--master", default=None, help="Spark master for embedded mode; ignored under spark-submit")
    p.add_argument("--no-backfill", action="store_true",
                   help="process only --date, not earlier partitions that are still pending")


def execute(args: argparse.Namespace) -> int:
    overrides = list(args.overrides)
    if args.master:
        overrides.append(f"spark.master={args.master}")
    try:
        config = load_config(args.config, overrides)
    except ConfigError as exc:
        print(f"corpusforge nightly: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = run_nightly(config, args.raw, args.date, args.store, backfill=not args.no_backfill,
                             report_writer=write_report)
    except (NightlyError, StageConfigError, InputError, FileNotFoundError) as exc:
        print(f"corpusforge nightly: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, (StageConfigError, InputError)) else EXIT_FAILED
    except (RunError, StoreError) as exc:
        print(f"corpusforge nightly: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    return EXIT_GATES_FAILED if result.status == "gated" else EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("nightly", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_nightly_arguments(p)
    p.set_defaults(func=execute)
