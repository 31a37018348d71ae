"""Readers on real Common Crawl / web-archive files from the shared data folder (``../shared/data``).

The files are real captures nobody on the team wrote (Common Crawl CC-MAIN-2024-22 WARC and WET, a
CC-MAIN-2020-34 excerpt, ClueWeb records with quirky headers, one clipped record, warcio's format edge
cases). The expected counts below are what these files contain (records per type, which were cut off);
each test skips with the reason when the folder is absent, so the suite passes on a plain clone.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.conftest import shared_path
from tests.unit.test_readers import read_all


def _warc(name: str):
    return shared_path("webtext", "warc", name)


def _skipped(stats) -> dict:
    total: Counter = Counter()
    for s in stats:
        total.update(s.get("skipped") or {})
    return dict(total)


# file -> (documents, quarantine reasons, skipped record types): what the real files hold.
EXPECTED = {
    "cc-whirlwind-whirlwind.warc.gz": (1, {}, {"warc:warcinfo": 1, "warc:request": 1, "warc:metadata": 1}),
    "cc-whirlwind-whirlwind.warc.wet.gz": (1, {}, {"warc:warcinfo": 1}),
    "resiliparse-warcfile.warc.gz": (16, {}, {"warc:warcinfo": 1, "warc:request": 17, "warc:metadata": 16}),
    "resiliparse-clueweb-quirk.warc.gz": (29, {}, {"warc:warcinfo": 1}),
    # one record clipped mid-body: quarantined with its reason, never silently dropped
    "resiliparse-clipped.warc.gz": (0, {"ingest:warc_truncated_record": 1}, {}),
    # wget's own files (metadata://gnu.org/... resources: its arguments and log) are counted, not documents
    "dolma-sample-0000.warc.gz": (22, {}, {"warc:warcinfo": 1, "warc:request": 22, "warc:metadata": 1,
                                           "warc:crawler_metadata_resource": 2}),
    "dolma-sample-0001.warc.gz": (15, {}, {"warc:warcinfo": 1, "warc:request": 15, "warc:metadata": 1,
                                           "warc:crawler_metadata_resource": 2}),
    # warcio's truncated file: the last record's Content-Length runs past the end of the file
    "warcio-example-trunc.warc": (0, {"ingest:warc_bad_content_length": 1}, {"warc:warcinfo": 2, "warc:request": 1}),
    "warcio-example.warc.gz": (1, {}, {"warc:warcinfo": 2, "warc:request": 2, "warc:revisit": 1}),
    "warcio-example-bad-non-chunked.warc.gz": (1, {}, {"warc:warcinfo": 2, "warc:request": 2, "warc:revisit": 1}),
    "warcio-example-iana.org-chunked.warc": (1, {}, {"warc:warcinfo": 1, "warc:request": 1}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_warc_files_documents_quarantine_and_skips(name):
    docs, quar, stats = read_all(_warc(name))  # read_all also checks records seen = docs + quarantined
    n_docs, reasons, skipped = EXPECTED[name]
    assert len(docs) == n_docs
    assert dict(Counter(q["reason"] for q in quar)) == reasons
    assert _skipped(stats) == skipped
    for d in docs:
        assert d["text"].strip(), "no empty documents"
        assert re.match(r"<?[a-z][a-z0-9+.-]*://", d["url"]), "every record keeps its target URI"
        assert "\ufffd" not in d["text"][:2000] or name.startswith("resiliparse"), "UTF-8 pages decode cleanly"
    assert len({d["doc_id"] for d in docs}) == len(docs)


def test_real_wet_and_warc_of_the_same_capture_agree():
    """The CC-MAIN-2024-22 capture as WARC (HTML, extracted by us) and as WET (Common Crawl's text)."""
    (warc_doc,), _, _ = read_all(_warc("cc-whirlwind-whirlwind.warc.gz"))
    (wet_doc,), _, _ = read_all(_warc("cc-whirlwind-whirlwind.warc.wet.gz"))
    assert warc_doc["url"] == wet_doc["url"]
    # The page is the Aragonese Wikipedia article "Escopete"; both texts carry its title and body words.
    for text in (warc_doc["text"], wet_doc["text"]):
        assert "Escopete" in text
    # Our extraction drops the navigation that Common Crawl's WET text keeps, so it is the shorter text.
    assert 0 < len(warc_doc["text"]) < len(wet_doc["text"])


def test_real_wget_target_uri_in_angle_brackets_is_unwrapped():
    docs, _, _ = read_all(_warc("dolma-sample-0000.warc.gz"))
    assert docs and all(not d["url"].startswith("<") and not d["url"].endswith(">") for d in docs)


def test_real_truncated_record_is_accounted_with_offset():
    _, (q,), (stats,) = read_all(_warc("resiliparse-clipped.warc.gz"))
    assert q["reason"] == "ingest:warc_truncated_record"
    assert q["offset_unit"] == "byte" and q["source_offset"] >= 0
    assert stats["records"] == 1


@pytest.mark.parametrize("name", ["warcio-example.arc.gz", "cc-whirlwind-whirlwind.warc.wat.gz"])
def test_real_unsupported_archive_kinds_are_quarantined_not_dropped(name):
    docs, quar, _ = read_all(_warc(name))
    assert not docs
    assert [q["reason"] for q in quar] == ["ingest:unsupported_format"]


def test_real_ccnet_jsonl_gz_documents():
    folder = shared_path("webtext", "cc-text")
    files = sorted(folder.glob("*.jsonl.gz"))
    assert files, f"no *.jsonl.gz in {folder}"
    total = 0
    for f in files:
        docs, quar, _ = read_all(f)
        assert not quar
        assert all(d["text"].strip() for d in docs)
        total += len(docs)
    assert total == 20  # the README's 20 CCNet-processed documents
