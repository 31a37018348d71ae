"""``corpusforge summary`` on a small dataset store built here from the demo corpus: golden files of the
training-content summary and the dataset card, byte-identical reruns, and both pages in headless Chromium.

The store holds one run over three sources: ``books`` (JSONL from the demo corpus, described as licensed
under CC-BY-4.0), ``crawl`` (a WARC file of HTML pages from eight hosts in seven registrable domains, with
WARC-Date headers, described as crawled) and ``misc`` (JSONL, not described: licence unknown; one document
too short for the quality rules, one with a fake e-mail address for the pii stage). The run is published
as v000001; a domain takedown then publishes v000002 and withdraws v000001, so the summary of CURRENT also
reports the takedown ledger.

Golden files live in ``tests/golden/compliance/``. Regenerate them after an intended change with::

    CORPUSFORGE_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/e2e/test_summary_e2e.py

and review the diff. Times (run start/finish, version creation, takedown) are masked before comparing,
since a fresh store is built at every test run; everything else must match byte for byte.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs.cli import main
from pipelines.runner import run_pipeline
from pipelines.store import DatasetStore, run_entries
from pipelines.takedown.apply import apply_takedowns
from quality.report import write_report
from schemas.config import load_config
from tests.e2e.demo_support import clean_demo_texts

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "compliance"
REGEN = os.environ.get("CORPUSFORGE_REGEN_GOLDEN") == "1"
CHROMIUM = os.environ.get("CORPUSFORGE_CHROMIUM", "/usr/bin/chromium")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")

#: (host, page count, paragraphs per page): eight domains of different content sizes.
SITES = [("www.example.com", 3, 3), ("blog.example.com", 1, 2), ("news.example.org", 2, 2),
         ("www.example.co.uk", 1, 3), ("example.net", 1, 1), ("docs.example.edu", 1, 1),
         ("zeta.example.info", 1, 1), ("eta.example.io", 1, 1)]

SOURCES = """
sources:
  books:
    category: licensed
    description: Public-domain style English prose from the demo corpus, licensed for the demo.
    licence: cc-by-4.0
    link: https://example.org/books-terms
  crawl:
    category: crawled
    description: HTML pages crawled from eight demo hosts.
    licence_text: terms of each site
    crawler: DemoBot/1.0
    collection_period: {start: 2024-02-25, end: 2024-03-10}
"""

PROVIDER = """
provider_name: Example AI GmbH
provider_contact: compliance@example.com
model_names: [example-lm-1b-v1]
placement_date: 2026-01-15
illegal_content_measures: Source vetting before ingestion; no dedicated classifier in this pipeline.
card:
  motivation: A small demonstration corpus for testing the pipeline's compliance documents.
  intended_uses: Pipeline tests and demonstrations.
"""


def _warc_record(url: str, date: str, rid: str, html_body: str) -> bytes:
    http = ("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html_body).encode("utf-8")
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\nWARC-Date: {date}\r\n"
            f"WARC-Record-ID: <urn:uuid:{rid}>\r\nContent-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(http)}\r\n\r\n").encode("ascii")
    return head + http + b"\r\n\r\n"


def build_inputs(root: Path) -> list[str]:
    texts = clean_demo_texts("en", 40)
    pos = 0
    records = []
    for s, (host, pages, paras) in enumerate(SITES):
        for p in range(pages):
            body = "".join(f"<p>{texts[pos + k]}</p>" for k in range(paras))
            pos += paras
            lic = ""
            if host == "news.example.org":  # licence signals: a CC BY 4.0 link on one page, a custom one on the other
                lic = ('<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">' if p == 0
                       else '<link rel="license" href="https://news.example.org/terms">')
            html_body = (f"<html><head><title>Page {p}</title>{lic}</head><body><nav>Home | About</nav><article>"
                         f"<h1>Article {p}</h1>{body}</article><footer>Contact</footer></body></html>")
            day = 1 + (s + p) % 9
            records.append(_warc_record(f"https://{host}/page-{p}", f"2024-03-0{day}T12:00:00Z",
                                        f"00000000-0000-0000-0000-{s:06d}{p:06d}", html_body))
    crawl = root / "crawl"
    crawl.mkdir(parents=True)
    (crawl / "pages.warc").write_bytes(b"".join(records))
    books, misc = root / "books", root / "misc"
    books.mkdir()
    misc.mkdir()
    (books / "part.jsonl").write_text("".join(json.dumps({"id": f"b{i}", "text": t}) + "\n"
                                              for i, t in enumerate(texts[pos:pos + 5])), encoding="utf-8")
    pos += 5
    misc_texts = texts[pos:pos + 3] + ["Buy now, cheap, click here."]  # the last one is too short: removed
    misc_texts[0] += " Write to the editor at editor.demo@example.com for a copy."  # scrubbed by the pii stage
    (misc / "part.jsonl").write_text("".join(json.dumps({"id": f"m{i}", "text": t}) + "\n"
                                             for i, t in enumerate(misc_texts)), encoding="utf-8")
    return [str(crawl), str(books), str(misc)]


def build_store(spark, root: Path) -> DatasetStore:
    """One published run over the three sources, then a domain takedown (v000001 -> v000002)."""
    import yaml

    sources = yaml.safe_load(SOURCES)["sources"]
    cfg = load_config("demo", ["near_dedup.enabled=false", "pii.enabled=true", "pii.ner=false", "bias.enabled=true",
                               "classify.enabled=false", "output.num_files=1", "spark.shuffle_partitions=2",
                               f"sources={json.dumps(sources, default=str)}"])
    store = DatasetStore(root / "store")
    run_id = "run-0001"
    run_pipeline(cfg, build_inputs(root / "raw"), str(store.run_dir(run_id)), spark=spark, run_id=run_id,
                 report_writer=write_report)
    index, entries = run_entries(store.run_dir(run_id), run_id)
    store.build_version("v000001", entries, index, {"parent": None, "reason": "test", "runs": [run_id]},
                        config_sha256=index.config_sha256)
    store.switch_current("v000001")
    apply_takedowns(spark, store, [{"request_id": "td-1", "domain": "zeta.example.info"}])
    return store


@pytest.fixture(scope="module")
def store(spark, tmp_path_factory):
    return build_store(spark, tmp_path_factory.mktemp("summary-e2e"))


def _summarise(store: DatasetStore, out: Path, *extra: str) -> dict[str, bytes]:
    info = out.parent / "provider.yaml"
    info.write_text(PROVIDER, encoding="utf-8")
    rc = main(["summary", "--store", str(store.root), "--out", str(out), "--provider-info", str(info), *extra])
    assert rc == 0
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _masked(data: bytes) -> str:
    return _TIME.sub("<time>", data.decode("utf-8"))


def test_summary_matches_golden_files_and_is_deterministic(store, tmp_path):
    first = _summarise(store, tmp_path / "a")
    second = _summarise(store, tmp_path / "b")
    assert first == second  # same store -> byte-identical files
    assert set(first) == {"training-content-summary.md", "training-content-summary.json",
                          "training-content-summary.html", "dataset-card.md", "dataset-card.html"}
    for name in ("training-content-summary.md", "training-content-summary.json", "dataset-card.md"):
        golden = GOLDEN / name
        if REGEN:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(_masked(first[name]), encoding="utf-8")
        assert golden.is_file(), f"{golden} missing: regenerate with CORPUSFORGE_REGEN_GOLDEN=1"
        assert _masked(first[name]) == golden.read_text(encoding="utf-8"), (
            f"{name} differs from {golden}; if the change is intended, regenerate with CORPUSFORGE_REGEN_GOLDEN=1 "
            "and review the diff")


def test_summary_content(store, tmp_path):
    files = _summarise(store, tmp_path / "s")
    s = json.loads(files["training-content-summary.json"])
    index = store.version_index("v000002")
    g = s["general_information"]
    assert g["training_data_size"]["text"]["tokens"] == index.total_tokens
    assert g["training_data_size"]["text"]["range"] == "less than 1 billion tokens"
    assert s["scope"]["version"] == "v000002"
    assert s["scope"]["documents_removed_after_publication_by_takedowns"] == 1
    src = s["data_sources"]
    assert [x["name"] for x in src["licensed"]] == ["books"] and src["licensed"][0]["licence"] == "CC-BY-4.0"
    crawl = src["crawled"]["sources"][0]
    assert crawl["name"] == "crawl" and crawl["crawler"] == "DemoBot/1.0"
    assert crawl["warc_date_range"]["first"] == "2024-03-01" and crawl["warc_date_range"]["last"] <= "2024-03-09"
    assert crawl["content_types"] == {"text/html": crawl["documents"]}
    assert crawl["licence_signals"] == {"(none)": crawl["documents"] - 2, "CC-BY-4.0": 1, "kind:other": 1}
    assert src["licensed"][0]["licence_signals"] == {}  # JSONL has no page signals
    assert src["unknown_licences"] == ["misc"]
    assert [x["name"] for x in src["other"]] == ["misc"] and src["other"][0]["category_inferred"]
    td = src["crawled"]["top_domains"]
    # example.com (www + blog) is the largest registrable domain; 8 hosts -> 7 domains -> top 10% = 1
    assert td["domains_total"] == 7 and td["domains_listed"] == 1
    assert td["domains"][0]["domain"] == "example.com" and td["domains"][0]["documents"] == 4
    assert s["hand_supplied_fields"] == ["card.intended_uses", "card.motivation", "illegal_content_measures",
                                         "model_names", "placement_date", "provider_contact", "provider_name"]
    assert "tdm_measures" in s["missing_fields"] and "crawler_behaviour" in s["missing_fields"]
    tk = s["data_processing"]["takedowns"]
    assert tk["requests"] == 1 and tk["documents_removed"] == 1 and tk["versions_withdrawn"] == ["v000001"]
    md = files["training-content-summary.md"].decode()
    assert "UNKNOWN (not given)" in md and "to complete" in md and "(supplied by hand)" in md
    card = files["dataset-card.md"].decode()
    for heading in ("## Motivation", "## Composition", "## Collection process", "## Preprocessing", "## Uses",
                    "## Distribution", "## Maintenance", "## Known limitations and bias indicators"):
        assert heading in card
    assert "### Step quality" in card and "Caveats:" in card


def test_sme_rule_and_single_run(store, tmp_path):
    files = _summarise(store, tmp_path / "sme", "--top-domains", "sme")
    td = json.loads(files["training-content-summary.json"])["data_sources"]["crawled"]["top_domains"]
    assert td["rule"] == "sme" and td["domains_listed"] == 1  # ceil(5% of 7) = 1
    out = tmp_path / "run"
    assert main(["summary", "--run", str(store.run_dir("run-0001")), "--out", str(out)]) == 0
    s = json.loads((out / "training-content-summary.json").read_text())
    assert s["scope"]["kind"] == "run" and s["data_processing"]["takedowns"] is None
    assert s["missing_fields"][:2] == ["provider_name", "provider_contact"]


def test_summary_errors(store, tmp_path, capsys):
    assert main(["summary", "--out", str(tmp_path / "x")]) == 2
    assert main(["summary", "--store", str(store.root), "--version", "v000001", "--out", str(tmp_path / "x")]) == 1
    assert "withdrawn" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("provider: x\n", encoding="utf-8")
    assert main(["summary", "--store", str(store.root), "--out", str(tmp_path / "x"),
                 "--provider-info", str(bad)]) == 2
    assert "unknown key 'provider'" in capsys.readouterr().err


def test_report_records_sources_licences_and_domains(store, spark, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(store.run_dir("run-0001"), run)
    first = write_report(run, spark=spark)
    domains_bytes = (run / "report" / "domains.parquet").read_bytes()
    again = write_report(run, spark=spark)
    assert (run / "report" / "domains.parquet").read_bytes() == domains_bytes  # deterministic
    assert again.json_path.read_bytes() == first.json_path.read_bytes()
    d = again.report.source_details
    assert set(d) == {"books", "crawl", "misc"}
    assert (d["books"].licence, d["books"].category, d["books"].described) == ("CC-BY-4.0", "licensed", True)
    assert (d["misc"].licence, d["misc"].category, d["misc"].described) == ("unknown", None, False)
    crawl = d["crawl"]
    assert crawl.licence == "terms of each site (free text)" and crawl.crawler == "DemoBot/1.0"
    assert (crawl.period_start, crawl.period_end) == ("2024-02-25", "2024-03-10")
    # the takedown erased zeta.example.info's page from the run's tables: 10 of the 11 pages are left
    assert crawl.warc_date_first == "2024-03-01" and crawl.warc_dated_records == 10
    assert crawl.formats == ["warc"] and crawl.domains == 6 and crawl.curated_docs == 10
    assert crawl.licence_signals == {"(none)": 8, "CC-BY-4.0": 1, "kind:other": 1}
    assert crawl.tokens == again.report.outputs.tokens_by_source["crawl"]
    rows = pq.read_table(run / "report" / "domains.parquet").to_pylist()
    assert {r["domain"] for r in rows} == {"example.com", "example.org", "example.co.uk", "example.net",
                                           "example.edu", "example.io"}
    assert {r["source"] for r in rows} == {"crawl"}  # the JSONL sources have no URLs
    com = next(r for r in rows if r["domain"] == "example.com")
    assert com["docs"] == 4  # www.example.com (3 pages) + blog.example.com (1)
    page = again.html_path.read_text(encoding="utf-8")
    assert "Sources: descriptions and licences" in page and "UNKNOWN" in page and "DemoBot/1.0" in page


def test_older_runs_and_opt_out_figures(store, tmp_path):
    """A report rendered before source details existed still gives a summary (sources undescribed, licence
    unknown, the missing domain list said); an opt-out stage's removals are counted per rule."""
    copy = tmp_path / "store"
    shutil.copytree(store.root, copy)
    run = copy / "runs" / "run-0001"
    rep_path = run / "report" / "report.json"
    rep = json.loads(rep_path.read_text())
    rep.pop("source_details")
    rep["removals"].append({"reason": "optout:tdm_reservation", "stage": "optout", "count": 2, "rate": 0.1})
    rep["removals"].append({"reason": "optout:robots_txt", "stage": "optout", "count": 1, "rate": 0.05})
    rep_path.write_text(json.dumps(rep))
    (run / "report" / "domains.parquet").unlink()
    manifest = json.loads((run / "run.json").read_text())
    manifest["config"]["optout"] = {"enabled": True, "mode": "drop", "tdm_reservation": True}
    manifest["stages"].insert(1, {"name": "optout", "mode": "drop"})
    (run / "run.json").write_text(json.dumps(manifest))
    out = tmp_path / "old"
    assert main(["summary", "--store", str(copy), "--out", str(out)]) == 0
    s = json.loads((out / "training-content-summary.json").read_text())
    src = s["data_sources"]
    assert src["unknown_licences"] == ["books", "crawl", "misc"]
    assert [x["name"] for x in src["crawled"]["sources"]] == ["crawl"]  # inferred from the WARC input
    assert src["crawled"]["top_domains"]["recorded_for_all_runs"] is False
    t = s["data_processing"]["tdm_reservations"]
    assert t["evaluated"] and t["removed_by_rule"] == {"robots_txt": 1, "tdm_reservation": 2} and t["removed"] == 3
    md = (out / "training-content-summary.md").read_text()
    assert "| tdm_reservation | 2 |" in md and "re-render them with `corpusforge report`" in md


def test_pages_render_in_headless_chromium(store, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"headless Chromium not found at {CHROMIUM}: run scripts/install_chromium.sh or set "
                    "CORPUSFORGE_CHROMIUM")
    from tests.e2e.test_report_e2e import _Browser

    _summarise(store, tmp_path / "h")
    browser = _Browser(tmp_path / "chromium-profile")
    try:
        sid = browser.new_page()
        seen = {}
        for name in ("training-content-summary.html", "dataset-card.html"):
            page = (tmp_path / "h" / name).resolve()
            browser.events.clear()
            browser.call("Page.navigate", {"url": page.as_uri()}, session=sid)
            browser.wait_for("Page.loadEventFired")
            js = ("JSON.stringify({h2: Array.from(document.querySelectorAll('section h2')).map(e => e.textContent),"
                  " tables: document.querySelectorAll('table').length, width: document.body.scrollWidth,"
                  " bg: getComputedStyle(document.querySelector('header.top')).backgroundColor})")
            seen[name] = json.loads(browser.call("Runtime.evaluate", {"expression": js, "returnByValue": True},
                                                 session=sid)["result"]["value"])
            errors = [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"
                      or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
            assert not errors, errors
            requests = {e["params"]["request"]["url"] for e in browser.events
                        if e.get("method") == "Network.requestWillBeSent"}
            assert requests == {page.as_uri()}, requests
    finally:
        browser.close()
    s = seen["training-content-summary.html"]
    assert s["h2"][:3] == ["1. General information", "2. List of data sources", "3. Data processing aspects"]
    assert s["tables"] >= 10 and s["bg"] == "rgb(31, 59, 87)"  # the report's header colour: shared style
    c = seen["dataset-card.html"]
    assert "Preprocessing" in c["h2"] and "Known limitations and bias indicators" in c["h2"]
