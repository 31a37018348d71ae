"""The pipeline end to end on real web archives from the shared data folder (``../shared/data``).

Every WARC, WET and WAT file and the ARC file under ``webtext/warc`` go through one run with ingest,
exact dedup, language ID and the quality rules on: the run accounts for every record the readers see
(curated + rejected + quarantined), and quarantines the clipped and truncated records, the unsupported
archive kinds and a record repeated across two files, each with its reason. Skips when the
shared folder is absent.
"""
from __future__ import annotations

import shutil

import pytest

from pipelines.runner import run_pipeline
from schemas.config import load_config
from tests.conftest import shared_path

OFF = [f"{s}.enabled=false" for s in ("classify", "decontaminate", "near_dedup", "pii", "bias", "tokenize")]


@pytest.fixture(scope="module")
def real_run(spark, tmp_path_factory):
    src = shared_path("webtext", "warc")
    inputs = tmp_path_factory.mktemp("real") / "warc"
    inputs.mkdir()
    for f in sorted(src.iterdir()):
        if f.is_file():
            (inputs / f.name).symlink_to(f)  # a link, not a copy: the data stays in the shared folder
    shutil.rmtree(inputs / "licenses", ignore_errors=True)
    out = tmp_path_factory.mktemp("real-out") / "out"
    cfg = load_config("demo", OFF + ["language.mode=tag", "quality.mode=tag"])
    res = run_pipeline(cfg, [str(inputs)], str(out), spark=spark)
    return res.manifest


def test_real_archives_every_record_accounted(real_run):
    c = real_run.counts
    assert c.records == c.curated + c.rejected + c.quarantined
    # 87 documents the readers yield from these files (tests/unit/test_real_readers.py) + 4 quarantined
    assert c.records == 87 + 4
    assert c.curated + c.rejected == 86  # one of the 87 is a repeated record id (quarantined below)


def test_real_archives_quarantine_reasons(real_run):
    assert real_run.counts.quarantined_by_reason == {
        "ingest:warc_truncated_record": 1,  # resiliparse-clipped.warc.gz
        "ingest:warc_bad_content_length": 1,  # warcio-example-trunc.warc
        "ingest:unsupported_format": 2,  # the WAT file and the ARC file
        # warcio's example.warc.gz and its bad-non-chunked twin carry the same record (same WARC-Record-ID)
        "ingest:duplicate_source_id": 1,
    }
