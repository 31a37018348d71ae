"""spark-submit entry point of the nightly pipeline; takes the same arguments as ``corpusforge nightly``.

    spark-submit --master spark://HOST:7077 jobs/nightly.py \\
        --config web --raw /data/raw --date 2024-06-01 --store /data/store

Under spark-submit the master and resources come from spark-submit. The store must be on a filesystem
that the driver and the executors share (the runs are written there) and that supports flock and hard
links (local disk, NFS v4, a cluster filesystem mount).
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # Allow running from a source checkout without installing: the repository root is the parent dir.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jobs._submit import submit_main  # noqa: E402
from jobs.cmd_nightly import DESCRIPTION, add_nightly_arguments, execute  # noqa: E402


def main(argv=None) -> int:
    return submit_main("nightly.py", DESCRIPTION, add_nightly_arguments, execute, argv)


if __name__ == "__main__":
    sys.exit(main())
