"""Documentation that is generated from code must be current."""
from pathlib import Path

from jobs.cmd_config import render_reference
from pipelines.readers.records import REASONS

REPO = Path(__file__).resolve().parents[2]


def test_config_reference_is_current():
    on_disk = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    assert on_disk == render_reference(), "regenerate with: corpusforge config reference > docs/config.md"


def test_every_ingest_reason_code_is_documented():
    doc = (REPO / "docs" / "ingest.md").read_text(encoding="utf-8")
    for code in REASONS:
        assert f"`ingest:{code}`" in doc, f"docs/ingest.md does not document ingest:{code}"
