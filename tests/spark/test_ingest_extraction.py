"""HTML extraction inside the Spark ingest scan: ``ingest.warc.extractor`` and its settings reach the Python
workers, and a page over ``ingest.warc.timeout_seconds`` becomes an ``ingest:html_extraction_timeout``
quarantine row while the rest of the file is read (in both budget modes)."""
from __future__ import annotations

import gzip
import re
import time
from pathlib import Path

import pytest

from pipelines.readers import expand_inputs, plan_splits
from pipelines.stages.ingest import scan_to_parquet
from schemas.config import load_config

ARTICLE = (
    "<p>The lighthouse keeper climbed the spiral stairs every evening at dusk to light the great lamp, "
    "trimming the wick and polishing the lens until it shone across the bay for the fishing boats.</p>"
    "<p>In winter storms the keeper stayed awake through the night, watching for ships in distress and "
    "writing the weather into the logbook every hour, as the rules of the service required.</p>"
    "<table><tr><td>Lamp lit at</td><td>seventeen forty five</td></tr></table>"
    "<p>When the light was automated, the keeper's cottage became a small museum about the coast.</p>"
)
PAGE = (
    "<html><head><title>Keeper</title></head><body><nav><a href='/'>Harbour home menu</a> "
    "<a href='/t'>Tide tables menu</a> <a href='/c'>Contact the harbour office</a></nav>"
    f"<main><article><h1>The lighthouse keeper</h1>{ARTICLE}</article></main>"
    "<footer>Copyright Harbour Society, all rights reserved</footer></body></html>"
)
#: Quadratic for Resiliparse's main-content pass (one long C call) and long for trafilatura.
DEEP = "<html><body>" + "<div>x " * 20000 + "deep" + "</div>" * 20000 + "</body></html>"
WIDE = "<html><body>" + '<div><p>word soup here and more</p><a href="#">link</a></div>' * 60000 + "</body></html>"


def _response(rid: str, uri: str, html: str) -> bytes:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {uri}\r\nWARC-Record-ID: <urn:uuid:{rid}>\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n").encode()
    return gzip.compress(head + http + b"\r\n\r\n")


def _scan(spark, root: Path, tmp_path: Path, *overrides: str):
    cfg = load_config("web", list(overrides)).ingest
    files = expand_inputs([str(root)], cfg.format, cfg.source)
    table, stats, _ = scan_to_parquet(spark, plan_splits(files, cfg.split_bytes), cfg, tmp_path / "work")
    rows = table.collect()
    return ([r for r in rows if r["kind"] == "doc"], [r for r in rows if r["kind"] == "quarantine"], stats)


@pytest.fixture()
def crawl(tmp_path):
    root = tmp_path / "crawl"
    root.mkdir()
    (root / "site.warc.gz").write_bytes(_response("a1", "http://harbour.example/keeper", PAGE))
    return root


def test_the_configured_extractor_and_its_settings_run_in_the_workers(spark, crawl, tmp_path):
    docs, quar, _ = _scan(spark, crawl, tmp_path / "t")
    assert len(docs) == 1 and not quar
    text = docs[0]["text"]
    assert "spiral stairs every evening" in text and "seventeen forty five" in text
    assert "Tide tables menu" not in text and "all rights reserved" not in text

    no_tables, _, _ = _scan(spark, crawl, tmp_path / "nt", "ingest.warc.trafilatura.include_tables=false")
    assert "spiral stairs every evening" in no_tables[0]["text"] and "seventeen forty five" not in no_tables[0]["text"]

    whole, _, _ = _scan(spark, crawl, tmp_path / "r", "ingest.warc.extractor=resiliparse",
                        "ingest.warc.main_content=false")
    assert "Tide tables menu" in whole[0]["text"] and "spiral stairs every evening" in whole[0]["text"]


@pytest.mark.parametrize("extractor, mode, page", [
    ("resiliparse", "process", DEEP),
    ("trafilatura", "process", WIDE),
    ("trafilatura", "signal", WIDE),
])
def test_a_page_over_the_budget_is_quarantined_and_the_file_goes_on(spark, tmp_path, extractor, mode, page):
    root = tmp_path / "crawl"
    root.mkdir()
    (root / "mixed.warc.gz").write_bytes(
        _response("p1", "http://harbour.example/keeper", PAGE)
        + _response("p2", "http://harbour.example/pathological", page)
        + _response("p3", "http://harbour.example/keeper-again", PAGE.replace("lighthouse", "beacon")))
    start = time.monotonic()
    docs, quar, stats = _scan(spark, root, tmp_path / "out", f"ingest.warc.extractor={extractor}",
                              "ingest.warc.timeout_seconds=0.5", f"ingest.warc.timeout_mode={mode}")
    elapsed = time.monotonic() - start
    assert sorted(d["source_id"] for d in docs) == ["<urn:uuid:p1>", "<urn:uuid:p3>"]
    assert len(quar) == 1 and quar[0]["reason"] == "ingest:html_extraction_timeout"
    detail = quar[0]["detail"]
    assert "0.5 s" in detail and f"{mode} mode" in detail and "ingest.warc.timeout_seconds" in detail
    stopped_after = float(re.search(r"stopped after ([0-9.]+) s", detail).group(1))
    assert stopped_after < 3, detail  # unbounded, the page takes about 8 s
    assert sum(s["records"] for s in stats) == 3  # in = out: the quarantined page is counted
    assert elapsed < 120, f"scan took {elapsed:.0f} s"
