"""spark-submit entry point of the nightly pipeline; takes the same arguments as ``corpusforge nightly``.

    spark-submit --master spark://HOST:7077 jobs/nightly.py \\
        --config pipelines/presets/web.yaml --raw /data/raw --date 2024-06-01 --store /data/store

Under spark-submit the master and resources come from spark-submit. The store must be on a filesystem
that the driver and the executors share (the runs are written there) and that supports flock and hard
links (local disk, NFS v4, a cluster filesystem mount).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

if __name__ == "__main__":
    # Allow running from a source checkout without installing: the repository root is the parent dir.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jobs.cmd_nightly import DESCRIPTION, add_nightly_arguments, execute  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="nightly.py", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_nightly_arguments(p)
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return execute(args)


if __name__ == "__main__":
    sys.exit(main())
