"""The top-level package names are generic: make sure the imported ones are this repository's."""
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["pipelines", "schemas", "storage", "quality", "train", "jobs"])
def test_imported_package_is_this_repository(name):
    mod = importlib.import_module(name)
    origin = Path(mod.__file__).resolve()
    assert origin.parent == REPO / name, f"{name} imported from {origin}, not from {REPO}"
