"""``corpusforge jvm-archive``: build the class-data-sharing archive that halves an embedded Spark's start-up."""
from __future__ import annotations

import argparse
import sys

from jobs.exitcodes import EXIT_FAILED, EXIT_OK
from pipelines.jvm_archive import ENV_SETTING, ArchiveError, archive_path, build_archive, cache_dir

HELP = "build the JVM class archive that halves Spark's start-up on this machine (make install runs it)"
DESCRIPTION = f"""\
Start an embedded Spark once with -XX:ArchiveClassesAtExit, run a small job (Parquet, Arrow batches to a
Python worker, a shuffle) and keep the classes its JVM loaded as a class-data-sharing archive. Every later
embedded Spark of corpusforge (runs, reports, tests, benchmarks; not spark-submit) maps it and starts in
about half the time (measured on 2 cores: session 4.8-5.7 s -> 2.4 s, first small job 2.9 s -> 1.2 s).

The archive (about 150 MB) is named after a fingerprint of the java executable and of Spark's jars, under
{cache_dir()} (CORPUSFORGE_CACHE_DIR or XDG_CACHE_HOME move it); a new JDK or Spark needs a new one, and
a JVM that cannot use it loads classes as usual. {ENV_SETTING}=off makes sessions ignore it.

examples:
  corpusforge jvm-archive              # build it unless it exists (about 15 s)
  corpusforge jvm-archive --rebuild
  corpusforge jvm-archive --path       # print where it is (or would be) and whether it exists
"""


def execute(args: argparse.Namespace) -> int:
    if args.path:
        path = archive_path()
        if path is None:
            print("no java executable or no Spark jars found", file=sys.stderr)
            return EXIT_FAILED
        print(f"{path} ({'built' if path.is_file() else 'not built'})")
        return EXIT_OK
    try:
        path = build_archive(force=args.rebuild)
    except ArchiveError as exc:
        print(f"corpusforge jvm-archive: not built: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"JVM class archive: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    return EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("jvm-archive", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rebuild", action="store_true", help="build it again even when it exists")
    p.add_argument("--path", action="store_true", help="print the archive's path and whether it is built")
    p.set_defaults(func=execute)
