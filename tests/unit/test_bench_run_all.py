"""The benchmark suite driver (``make bench``): missing modules give "not run" rows, never figures."""
from __future__ import annotations

import json
import sys
import types

import pytest

from benchmarks import run_all


@pytest.fixture
def fake_suite(monkeypatch):
    mod = types.ModuleType("benchmarks._fake_bench")
    mod.run = lambda size: {"size": size, "table_rows": [
        {"measure": "fake thing", "corpusforge": 12.5, "peer": "peer 5.0", "ratio": 2.5, "target": "2x"}]}
    monkeypatch.setitem(sys.modules, "benchmarks._fake_bench", mod)
    broken = types.ModuleType("benchmarks._no_run_fn")
    monkeypatch.setitem(sys.modules, "benchmarks._no_run_fn", broken)
    suite = {
        "fake": run_all.Bench("a fake benchmark", "benchmarks._fake_bench", "run", "python -m fake --size {size}"),
        "absent": run_all.Bench("a module that does not exist", "benchmarks._absent_module_xyz", "run", "x"),
        "no_run": run_all.Bench("a module without run()", "benchmarks._no_run_fn", "run", "y"),
    }
    monkeypatch.setattr(run_all, "SUITE", suite)
    return suite


def test_missing_module_or_entry_function_is_not_run(fake_suite):
    assert run_all.run_one("absent", "quick")["status"] == "not run"
    rec = run_all.run_one("no_run", "quick")
    assert rec["status"] == "not run" and "AttributeError" in rec["reason"]
    ok = run_all.run_one("fake", "quick")
    assert ok["status"] == "ok" and ok["result"]["size"] == "quick"


def test_table_has_machine_header_and_rows(fake_suite):
    results = {"date": "2026-12-01 19:00 UTC", "command": "make bench", "size": "quick",
               "machine": {"cores": 2, "load_average": [1.0, 2.0, 3.0]}, "load_average_at_end": [1.5, 2.0, 3.0],
               "benchmarks": {name: {**run_all.run_one(name, "quick"), "command": run_all.command_of(name, "quick")}
                              for name in fake_suite}}
    table = run_all.markdown(results)
    assert "2 cores" in table and "load average 1.0 / 2.0 / 3.0" in table and "2026-12-01" in table
    assert "| fake | fake thing | 12.50 | peer 5.0 | **2.50x** | 2x | `python -m fake --size quick` |" in table
    assert table.count("**not run**") == 2
    json.dumps(results)  # what bench-results.json holds is serialisable


def test_write_readme_replaces_only_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{run_all.README_START}\nold table\n{run_all.README_END}\noutro\n")
    run_all.write_readme("| new |\n", readme)
    assert readme.read_text() == f"intro\n{run_all.README_START}\n| new |\n{run_all.README_END}\noutro\n"
