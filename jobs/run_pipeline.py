"""spark-submit entry point; takes the same arguments as ``corpusforge run``.

    spark-submit --master spark://HOST:7077 --py-files corpusforge.zip jobs/run_pipeline.py \\
        --config web --input /data/raw --output /data/out/web

Under spark-submit the master and resources come from spark-submit; ``spark.*`` keys of the config
only fill what it leaves unset.
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # Allow running from a source checkout without installing: the repository root is the parent dir.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jobs._submit import submit_main  # noqa: E402
from jobs.cmd_run import DESCRIPTION, add_run_arguments, execute  # noqa: E402


def main(argv=None) -> int:
    return submit_main("run_pipeline.py", DESCRIPTION, add_run_arguments, execute, argv)


if __name__ == "__main__":
    sys.exit(main())
