"""benchmarks/procmem.py (the process-tree sampler of the benchmarks), benchmarks/_cli.py (the peer
benchmarks' command-line tail) and the cluster comparison of benchmarks/near_dedup_peer.py."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks._cli import add_output_options, emit
from benchmarks.near_dedup_peer import compare_clusters
from benchmarks.procmem import TreeSampler, process_kind, run_timed, tree_pids

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux only")

# A parent that starts a child holding 200 MiB and burning a fixed amount of CPU (not of wall time:
# the machine may be loaded), then waits for it.
_TREE = textwrap.dedent("""
    import subprocess, sys
    child = "import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); t = time.process_time()\\n" \\
            "while time.process_time() - t < 1.0: pass\\n" \\
            "time.sleep(0.5)"
    subprocess.run([sys.executable, "-c", child], check=True)
    print("done")
""")


def test_run_timed_counts_the_whole_tree(tmp_path):
    fig = run_timed([sys.executable, "-c", _TREE], log=tmp_path / "log")
    assert fig["stdout"].strip() == "done"
    assert fig["wall_s"] >= 1.5
    assert fig["cpu_s"] >= 0.8  # the child's busy second, not only the parent's wait
    assert fig["peak_rss_mib"] >= 200  # the child's memory is in the tree's sum
    assert fig["peak_rss_mib_by_kind"]["python"] >= 200
    assert set(fig["peak_rss_mib_by_kind"]) <= {"python", "jvm", "other"}


def test_run_timed_fails_with_the_log_tail(tmp_path):
    with pytest.raises(RuntimeError, match="exited 3: .*boom"):
        run_timed([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"],
                  log=tmp_path / "log")


def test_sampler_own_process_and_kinds():
    with TreeSampler(interval=0.01) as tree:
        sum(range(2_000_000))
    assert tree.samples >= 1 and tree.peak_rss > 0 and tree.cpu_s > 0
    assert tree_pids(tree.root)[0] == tree.root
    assert (process_kind("java"), process_kind("python3.11"), process_kind("bash")) == ("jvm", "python", "other")


def test_emit_prints_table_json_and_writes_file(tmp_path, capsys):
    import argparse

    p = argparse.ArgumentParser()
    add_output_options(p)
    args = p.parse_args(["--json", "--output", str(tmp_path / "r.json")])
    report = {"a": 1}
    assert emit(report, lambda r: f"| a | {r['a']} |", args.json, args.output) == 0
    out = capsys.readouterr().out
    assert out.startswith("| a | 1 |\n") and json.loads(out.split("\n", 1)[1]) == report
    assert json.loads(Path(tmp_path / "r.json").read_text()) == report
    emit(report, lambda r: "table only")
    assert capsys.readouterr().out == "table only\n"


def test_compare_clusters_separates_survivor_choice_from_cluster_differences():
    ours = {"a": "a", "b": "a", "c": "a", "d": "d", "e": "d", "f": "f", "g": "f"}
    peer = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2, "h": 3, "i": 3}
    got = compare_clusters(ours, peer, ours_removed={"b", "c", "e", "g"}, peer_removed={"a", "b", "d", "i"})
    assert got["identical_clusters"] == 2 and got["documents_in_identical_clusters"] == 5
    assert got["same_survivor"] == 0  # {a,b,c}: ours keeps a, datatrove c; {d,e}: ours d, datatrove e
    assert got["removed_in_identical_clusters"] == {"corpusforge": 3, "datatrove": 3}
    assert got["removed_in_differing_clusters"] == {"corpusforge": 1, "datatrove": 1}
    assert got["clustered_by_one_side_only"] == {"corpusforge": 2, "datatrove": 2}


def test_same_memory_tells_a_forked_child_from_a_shared_address_space():
    import os
    import subprocess

    from benchmarks.procmem import _KCMP, _same_memory

    if _KCMP is None:
        pytest.skip("kcmp syscall number unknown on this machine")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
    try:
        assert _same_memory(os.getpid(), os.getpid())  # one address space (as a vfork child has its parent's)
        assert not _same_memory(child.pid, os.getpid())  # a child after exec has its own
    finally:
        child.kill()
        child.wait()
