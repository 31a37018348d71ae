"""Imports point downward only and never in a circle (docs/architecture.md), checked on the AST.

The rules are proven on synthetic module trees first (each broken rule is caught and named with its
file and line), then applied to this repository.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests import archrules
from tests.archrules import check_tree, cycles, discover, edges, forbidden_imports, unexplained_function_imports

REPO = Path(__file__).resolve().parents[2]


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body), encoding="utf-8")
    for pkg_dir in {p.parent for p in root.rglob("*.py")}:
        (pkg_dir / "__init__.py").touch()
    return root


CLEAN = {
    "schemas/config.py": "import json\n",
    "storage/files.py": "from schemas.config import json\n",
    "pipelines/text/rules.py": "from schemas import config\nfrom storage.files import json\n",
    "pipelines/stages/rule_stage.py": "from pipelines.text.rules import json\nfrom .base import Stage\n",
    "pipelines/stages/base.py": "class Stage: ...\n",
    "pipelines/runner.py": "from pipelines.stages import rule_stage\n",
    "quality/report.py": "from pipelines.runner import json\n",
    "jobs/cli.py": "import quality.report\nfrom train import loop\n",
    "train/loop.py": "from storage.files import json\nfrom schemas.config import json as j\n",
}


def test_clean_synthetic_tree_passes(tmp_path):
    assert check_tree(make_tree(tmp_path, CLEAN)) == []


@pytest.mark.parametrize(
    "rel, body, expected",
    [
        ("schemas/config.py", "from pipelines.text import rules\n", "schemas/config.py:1"),
        ("pipelines/runner.py", "import os\n\nfrom quality.report import json\n", "pipelines/runner.py:3"),
        ("pipelines/text/rules.py", "from ..stages.base import Stage\n", "pipelines/text/rules.py:1"),
        (
            "storage/files.py",
            "def f():\n    # deferred: a test\n    from pipelines import runner\n",
            "storage/files.py:3",
        ),
        ("quality/report.py", "from jobs import cli\n", "quality/report.py:1"),
        ("pipelines/runner.py", "from train import loop\n", "pipelines/runner.py:1"),
    ],
)
def test_upward_import_is_named_with_file_and_line(tmp_path, rel, body, expected):
    root = make_tree(tmp_path, {**CLEAN, rel: body})
    problems = forbidden_imports(edges(root, discover(root)))
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_trainer_may_import_only_schemas_and_storage(tmp_path):
    root = make_tree(tmp_path, {**CLEAN, "train/loop.py": "import json\n\nfrom pipelines.text.rules import json\n"})
    problems = forbidden_imports(edges(root, discover(root)))
    assert problems == ["train/loop.py:3: train.loop imports pipelines.text.rules; "
                        "train/ may import only schemas, storage, train"]


def test_cycle_within_one_layer_is_found_even_through_functions(tmp_path):
    root = make_tree(tmp_path, {
        **CLEAN,
        "pipelines/ledger.py": "from pipelines.runner import json\n",
        "pipelines/runner.py": "def run():\n    # deferred: test\n    from pipelines import ledger\n",
    })
    found = cycles(edges(root, discover(root)))
    assert len(found) == 1
    assert "pipelines.ledger, pipelines.runner" in found[0]
    assert "pipelines/ledger.py:1" in found[0] and "pipelines/runner.py:3" in found[0]


def test_package_init_cycle_is_found(tmp_path):
    root = make_tree(tmp_path, {
        **CLEAN,
        "pipelines/readers/__init__.py": "from .jsonl import read\nLIMIT = 1\n",
        "pipelines/readers/jsonl.py": "from pipelines.readers import LIMIT\n\ndef read(): ...\n",
    })
    # jsonl takes a name from the package, whose __init__ imports jsonl: a cycle (import order decides
    # what works). Importing a sibling submodule through the package (``from pkg import mod``) is not one.
    assert any("pipelines.readers, pipelines.readers.jsonl" in c for c in cycles(edges(root, discover(root))))


def test_function_level_import_needs_a_reason(tmp_path):
    body = "def f():\n    from schemas.config import json\n    return json\n"
    root = make_tree(tmp_path, {**CLEAN, "storage/files.py": body})
    problems = unexplained_function_imports(edges(root, discover(root)))
    assert len(problems) == 1 and problems[0].startswith("storage/files.py:2")
    root2 = make_tree(tmp_path / "b", {**CLEAN, "storage/files.py": body.replace(
        "    from", "    # deferred: heavy\n    from")})
    assert unexplained_function_imports(edges(root2, discover(root2))) == []


def test_every_module_of_the_repository_is_in_a_layer():
    for name in discover(REPO):
        archrules.layer_of(name)  # raises for a module outside every layer


def test_repository_follows_the_import_rules():
    problems = check_tree(REPO)
    assert not problems, "\n".join(problems)
