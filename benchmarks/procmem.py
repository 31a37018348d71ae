"""Peak resident memory of a process tree (driver, JVM, Python workers), sampled from /proc."""
from __future__ import annotations

import os
import threading


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(x) for x in fh.read().split())
    except OSError:
        pass
    return out


def tree_pids(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    out, stack, seen = [], [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        out.append(pid)
        stack.extend(_children(pid))
    return out


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        # fields[11:15] = utime, stime, cutime, cstime (counting from the state field at index 0)
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_rss_bytes(root: int) -> int:
    """Sum of VmRSS over ``root`` and all its descendants."""
    return sum(_rss_bytes(p) for p in tree_pids(root))


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system, including reaped children) of ``root`` and its live descendants."""
    return sum(_cpu_seconds(p) for p in tree_pids(root))


class PeakMemory:
    """Context manager sampling the tree's RSS every ``interval`` seconds; ``peak`` in bytes."""

    def __init__(self, root: int | None = None, interval: float = 0.2):
        self.root = root or os.getpid()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.root))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, tree_rss_bytes(self.root))
