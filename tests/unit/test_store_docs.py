"""The nightly docs: the Airflow DAG parses (when Airflow is importable) and the documented commands exist."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG = REPO / "docs" / "airflow" / "corpusforge_nightly_dag.py"


def test_dag_file_is_valid_python_naming_the_nightly_entry_point():
    tree = ast.parse(DAG.read_text(encoding="utf-8"))
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert "SparkSubmitOperator" in calls
    text = DAG.read_text(encoding="utf-8")
    assert "jobs/nightly.py" in text and "{{ ds }}" in text
    assert (REPO / "jobs" / "nightly.py").is_file()


@pytest.mark.skipif(importlib.util.find_spec("airflow") is None, reason="Airflow is not installed (not a dependency)")
def test_dag_parses_in_airflow():
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(DAG), include_examples=False)
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag("corpusforge_nightly")
    assert dag is not None and [t.task_id for t in dag.tasks] == ["nightly"]


def test_nightly_doc_names_real_flags():
    from jobs import cmd_nightly

    doc = (REPO / "docs" / "nightly.md").read_text(encoding="utf-8")
    import argparse

    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    cmd_nightly.register(sub)
    args = p.parse_args(["nightly", "--config", "c", "--raw", "r", "--date", "2024-01-01", "--store", "s"])
    assert args.func is cmd_nightly.execute
    for flag in ("--config", "--raw", "--date", "--store", "corpusforge takedown", "hash-text", "crontab"):
        assert flag in doc
