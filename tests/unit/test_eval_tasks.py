"""Task files: refusals that name the line and the problem, and the bundled example task file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.demo_tasks import make_items, render
from train.tasks import TaskFileError, load_tasks

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "pipelines" / "assets" / "tasks" / "demo-cloze.jsonl"


def _write(tmp_path: Path, lines: list) -> Path:
    p = tmp_path / "tasks.jsonl"
    p.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines), encoding="utf-8")
    return p


GOOD = {"id": "q1", "context": "The cat", "choices": [" sat.", " flew."], "label": 0}


def test_a_valid_file_loads_with_blank_lines_allowed(tmp_path):
    items = load_tasks(_write(tmp_path, [GOOD, "", {**GOOD, "id": 7, "label": 1}]))
    assert [(i.id, i.label, i.choices) for i in items] == [
        ("q1", 0, (" sat.", " flew.")), ("7", 1, (" sat.", " flew."))]


BAD = {**GOOD, "id": "q2"}


@pytest.mark.parametrize("bad, message", [
    ({**BAD, "label": 2}, r"tasks.jsonl:2 \(id 'q2'\): label 2 is out of range for 2 choices \(0..1\)"),
    ({**BAD, "label": -1}, "label -1 is out of range"),
    ({**BAD, "label": "0"}, "label must be an integer"),
    ({**BAD, "label": True}, "label must be an integer"),
    ({**BAD, "choices": [" only"]}, "at least 2"),
    ({**BAD, "choices": [" a", ""]}, "choice 1 must be a non-empty string"),
    ({**BAD, "context": None}, "context must be a string"),
    ({"id": "q2", "choices": [" a", " b"]}, "lacks context, label"),
    ([1, 2], "must be a JSON object"),
    ("{not json", "tasks.jsonl:2: not valid JSON"),
    (GOOD, "id 'q1' appears twice"),
])
def test_a_bad_item_is_refused_with_its_line_and_problem(tmp_path, bad, message):
    with pytest.raises(TaskFileError, match=message):
        load_tasks(_write(tmp_path, [GOOD, bad]))


def test_a_file_without_items_is_refused(tmp_path):
    with pytest.raises(TaskFileError, match="no usable item"):
        load_tasks(_write(tmp_path, ["", "   "]))
    with pytest.raises(FileNotFoundError):
        load_tasks(tmp_path / "missing.jsonl")


def test_bundled_task_file_is_valid_and_regenerates_identically():
    items = load_tasks(BUNDLED)
    assert len(items) == 200
    assert all(len(i.choices) == 4 and 0 <= i.label < 4 for i in items)
    # the right answer is not always in the same place (a model cannot win by position)
    assert len({i.label for i in items}) == 4
    assert BUNDLED.read_text(encoding="utf-8") == render(make_items())


def test_the_bundled_task_file_is_found_by_name():
    from jobs.cmd_eval import resolve_tasks

    assert resolve_tasks("demo-cloze").read_bytes() == BUNDLED.read_bytes()
    assert resolve_tasks("my.jsonl") == Path("my.jsonl")
