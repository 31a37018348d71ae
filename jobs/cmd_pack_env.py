"""``corpusforge pack-env``: the virtual environment as an archive for ``spark-submit --archives``."""
from __future__ import annotations

import argparse
import json
import sys

from jobs.exitcodes import EXIT_OK, EXIT_USAGE
from pipelines.packenv import PackEnvError, pack_environment

HELP = "pack this virtual environment (with corpusforge) for spark-submit --archives"
DESCRIPTION = """\
Pack the virtual environment corpusforge runs in into an archive for spark-submit --archives
(venv-pack, as Spark's documentation shows). An editable corpusforge (pip install -e, as 'make install'
does) is replaced in the archive by a freshly built wheel, so the archive's bin/python imports
corpusforge without the source tree. Every executor needs the same Python interpreter at the same path
(printed as "interpreter"); see the README, "On a cluster".

examples:
  corpusforge pack-env --output env.tar.gz --exclude torch
  spark-submit --archives env.tar.gz#environment \\
      --conf spark.pyspark.python=./environment/bin/python ... jobs/run_pipeline.py --config web ...
"""


def execute(args: argparse.Namespace) -> int:
    try:
        result = pack_environment(args.output, exclude=args.exclude, prefix=args.prefix,
                                  compress_level=args.compress_level)
    except PackEnvError as exc:
        print(f"corpusforge pack-env: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result.to_dict(), indent=2))
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("pack-env", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True, help="archive to write: .tar.gz (Spark's docs), .tgz, .tar or .zip")
    p.add_argument("--exclude", action="append", default=[], metavar="PKG",
                   help="a distribution executors do not need (e.g. torch), with its otherwise unused "
                   "dependencies; repeatable")
    p.add_argument("--prefix", default=None, help="the virtual environment to pack (default: the running one)")
    p.add_argument("--compress-level", type=int, default=4, choices=range(10), metavar="0-9",
                   help="gzip level (default 4; 1 is faster and a little larger)")
    p.set_defaults(func=execute)
