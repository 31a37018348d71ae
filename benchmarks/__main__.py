"""``python -m benchmarks``: the whole suite (same as ``make bench``); see :mod:`benchmarks.run_all`."""
from benchmarks.run_all import main

raise SystemExit(main())
