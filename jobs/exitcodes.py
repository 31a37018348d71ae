"""Exit codes shared by every command (documented in the README and in ``corpusforge --help``)."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # usage or configuration error
EXIT_GATES_FAILED = 3  # the run or report was written, but a quality gate failed

__all__ = ["EXIT_FAILED", "EXIT_GATES_FAILED", "EXIT_OK", "EXIT_USAGE"]
