"""train/allocator.py: glibc malloc tuning for CPU training (fresh interpreters: it is process-wide)."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = r"""
import ctypes, sys
from train.allocator import tune_malloc
applied = tune_malloc() if sys.argv[1] == "tune" else False
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def faults():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
size = 64 << 20                # above the 32 MiB cap of glibc's dynamic mmap threshold
before = faults()
for _ in range(40):            # the pattern of a training step: allocate, touch and free the same big buffers
    p = libc.malloc(size)
    ctypes.memset(p, 1, size)
    libc.free(p)
print(applied, faults() - before)
"""


def _probe(mode: str, env: dict) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_tuning_reuses_freed_buffers_instead_of_faulting_fresh_pages():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env.pop("CORPUSFORGE_MALLOC_TUNING", None)
    applied, tuned = _probe("tune", env)
    _, untuned = _probe("none", env)
    assert applied
    # untuned: every 64 MiB buffer is a fresh mmap, 16384 page faults each; tuned: the first one only
    assert untuned > 40 * 8192
    assert tuned < untuned / 10


def test_user_settings_and_opt_out_win():
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    for extra in ({"CORPUSFORGE_MALLOC_TUNING": "0"}, {"MALLOC_ARENA_MAX": "2"},
                  {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}):
        applied, _ = _probe("tune", {**base, **extra})
        assert not applied, extra
