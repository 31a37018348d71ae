"""CPU seconds and peak resident memory of a process tree (driver, JVM, Python workers), sampled from /proc.

The one sampler of the benchmarks (Linux only). A :class:`TreeSampler` walks ``/proc`` every ``interval``
seconds from a background thread and keeps:

* ``peak_rss``: the largest sum of the resident memory over the root and all its live descendants seen
  at one sample (bytes; a child that still shares its parent's address space, between ``vfork`` and
  ``exec``, is not counted twice), and ``peak_rss_by_kind``: the peak of each kind of process (``jvm``, ``python``,
  ``other``) on its own, so that a figure can say which side of the tree holds the memory;
* ``cpu_s``: CPU seconds (user + system) of every process of the tree, each at its last sample. A
  process's own time only: the ``cutime``/``cstime`` of reaped children are not added, since those
  children were sampled themselves (adding both would count them twice). Processes that live less
  than one interval can be missed; :func:`run_timed` therefore also takes ``getrusage`` of the reaped
  children and reports the larger of the two.
"""
from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from pathlib import Path
from typing import Optional, Sequence

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


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


def _stat(pid: int) -> Optional[tuple[str, int, float, int]]:
    """``(command name, RSS bytes, own CPU seconds, parent pid)`` of a live process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    head, _, rest = raw.rpartition(")")
    fields = rest.split()
    try:
        # counting from the state field at index 0: 1 ppid, 11 utime, 12 stime, 21 rss (pages)
        return (head.partition("(")[2], int(fields[21]) * _PAGE, (int(fields[11]) + int(fields[12])) / _TICK,
                int(fields[1]))
    except (IndexError, ValueError):
        return None


_KCMP = {"x86_64": 312, "aarch64": 272}.get(os.uname().machine)
_KCMP_VM = 1


def _same_memory(pid: int, other: int) -> bool:
    """True when two processes share one address space: a ``vfork``/``posix_spawn`` child before its
    ``exec`` (the JVM starts its children so), whose RSS is its parent's memory, not memory of its own."""
    if _KCMP is None:
        return False
    import ctypes  # deferred: only when a child's RSS is close to its parent's

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(_KCMP, pid, other, _KCMP_VM, 0, 0) == 0


def process_kind(name: str) -> str:
    """``jvm``, ``python`` or ``other`` for a ``/proc/<pid>/stat`` command name."""
    if name == "java":
        return "jvm"
    if name.startswith("python") or name in ("corpusforge", "pytest"):
        return "python"
    return "other"


def tree_rss_bytes(root: int) -> int:
    """Sum of the resident memory of ``root`` and all its live descendants."""
    return sum(s[1] for s in map(_stat, tree_pids(root)) if s)  # a spawning child's shared memory included


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system, own time of each process) of ``root`` and its live descendants."""
    return sum(s[2] for s in map(_stat, tree_pids(root)) if s)


class TreeSampler:
    """Context manager sampling a process tree every ``interval`` seconds (see the module docstring).

    ``root`` defaults to this process. Figures: ``peak_rss`` (bytes), ``peak_rss_by_kind`` (bytes per
    :func:`process_kind`), ``cpu_s`` (seconds), ``samples``.
    """

    def __init__(self, root: Optional[int] = None, interval: float = 0.1) -> None:
        self.root = root or os.getpid()
        self.interval = interval
        self.peak_rss = 0
        self.peak_rss_by_kind: dict[str, int] = {}
        self.samples = 0
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        total, by_kind = 0, {}
        stats = {pid: _stat(pid) for pid in tree_pids(self.root)}
        for pid, st in stats.items():
            if st is None:
                continue
            name, rss, cpu, ppid = st
            self._cpu[pid] = max(cpu, self._cpu.get(pid, 0.0))
            parent = stats.get(ppid)
            if pid != self.root and parent and rss >= 0.9 * parent[1] and _same_memory(pid, ppid):
                continue  # a spawning child shares its parent's memory: counted once, with the parent
            total += rss
            kind = process_kind(name)
            by_kind[kind] = by_kind.get(kind, 0) + rss
        self.samples += 1
        self.peak_rss = max(self.peak_rss, total)
        for kind, rss in by_kind.items():
            self.peak_rss_by_kind[kind] = max(rss, self.peak_rss_by_kind.get(kind, 0))

    @property
    def cpu_s(self) -> float:
        return sum(self._cpu.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_timed(cmd: Sequence[str], env: Optional[dict] = None, cwd: Optional[Path] = None,
              log: Optional[Path] = None, interval: float = 0.1) -> dict:
    """Run ``cmd`` to completion as one process tree, sampled; raise with its log tail when it fails.

    Returns ``wall_s``, ``cpu_s`` (the larger of the sampled tree and ``getrusage`` of the reaped
    children: a JVM that its parent never waits for is only in the former, short-lived processes only
    in the latter), ``peak_rss_mib``, ``peak_rss_mib_by_kind`` and ``stdout`` (text). ``stderr`` goes to
    ``log`` when given (else it is discarded).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    err = open(log, "w", encoding="utf-8") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=cwd)
        with TreeSampler(proc.pid, interval) as tree:
            out, _ = proc.communicate()
    finally:
        if log:
            err.close()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        tail = Path(log).read_text(encoding="utf-8", errors="replace")[-3000:] if log else ""
        raise RuntimeError(f"{Path(cmd[0]).name} exited {proc.returncode}: {tail}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(max(reaped, tree.cpu_s), 2),
        "peak_rss_mib": round(tree.peak_rss / 2**20, 1),
        "peak_rss_mib_by_kind": {k: round(v / 2**20, 1) for k, v in sorted(tree.peak_rss_by_kind.items())},
        "stdout": out,
    }


__all__ = ["TreeSampler", "process_kind", "run_timed", "tree_cpu_seconds", "tree_pids",
           "tree_rss_bytes"]
