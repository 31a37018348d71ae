"""The opt-out stage in a run: real-shaped WARC records, drop and tag modes, the removal ledger, run.json counts,
and standing opt-outs through nightly and the takedown path."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs.cmd_takedown import _requests_of
from pipelines.nightly import run_nightly
from pipelines.runner import run_pipeline
from pipelines.store import DatasetStore, read_jsonl
from pipelines.text.hosts import url_host
from pipelines.text.optout import DomainListError
from schemas.config import load_config
from tests.spark.nightly_support import demo_records, fast_config, write_partition
from tests.unit.test_optout import html_page, warc_response
from train.dataset import load_index

CORE = [f"{s}.enabled=false"
        for s in ("language", "quality", "classify", "decontaminate", "near_dedup", "pii", "bias", "tokenize")]


def _crawl(root: Path) -> Path:
    """A WARC file with one page per rule and clean pages, and a JSONL file from an opted-out domain."""
    root.mkdir(parents=True, exist_ok=True)

    def page(i: int, head: str = "") -> bytes:
        return html_page(head + f"<meta name='description' content='page {i}'>").replace(
            b"weather", f"weather number {i}".encode())

    recs = [
        warc_response("https://tdm.example/a", [("tdm-reservation", "1")], page(1), rid="tdm"),
        warc_response("https://meta.example/a", [], page(2, '<meta name="ROBOTS" content="noindex,NOAI">'), rid="noai"),
        warc_response("https://robots.example/private/a", [], page(3), rid="robots"),
        warc_response("https://robots.example/public/a", [], page(4), rid="robots-ok"),
        warc_response("https://www.optedout.example/a", [], page(5), rid="domain"),
        warc_response("https://img.example/a", [("X-Robots-Tag", "noimageai")], page(6), rid="noimageai"),
        warc_response("https://clean.example/a", [("Link", '<https://creativecommons.org/licenses/by/4.0/>; '
                                                          'rel="license"')], page(7), rid="clean"),
    ]
    (root / "crawl.warc.gz").write_bytes(b"".join(gzip.compress(r) for r in recs))
    (root / "feed.jsonl").write_text(
        json.dumps({"id": "j1", "text": "A JSONL document from an opted-out domain.", "url": "http://optedout.example/x"})
        + "\n" + json.dumps({"id": "j2", "text": "A JSONL document from elsewhere.", "url": "http://else.example/"})
        + "\n", encoding="utf-8")
    robots = root.parent / "robots"
    robots.mkdir(exist_ok=True)
    (robots / "robots.example.txt").write_text("User-agent: GPTBot\nDisallow: /private/\n")
    return root


def _cfg(tmp_path: Path, *extra: str):
    return load_config("demo", CORE + ["optout.enabled=true", f"optout.robots_txt.source={tmp_path / 'robots'}",
                                       "optout.domains.names=[optedout.example]", *extra])


def _table(out: Path, name: str) -> list[dict]:
    return pq.read_table(out / name).to_pylist()


def test_drop_mode_rejects_each_rule_with_its_reason_and_ledger_row(spark, tmp_path):
    crawl = _crawl(tmp_path / "in")
    out = tmp_path / "out"
    res = run_pipeline(_cfg(tmp_path), [str(crawl)], str(out), spark=spark)
    rejected = {r["source_id"]: r for r in _table(out, "rejected")}
    assert {k: v["drop_reason"] for k, v in rejected.items()} == {
        "<urn:uuid:tdm>": "optout:tdm_reservation",
        "<urn:uuid:noai>": "optout:robots_noai",
        "<urn:uuid:robots>": "optout:robots_txt",
        "<urn:uuid:domain>": "optout:domains",
        "j1": "optout:domains",
    }
    curated = {r["source_id"]: r for r in _table(out, "curated")}
    assert set(curated) == {"<urn:uuid:robots-ok>", "<urn:uuid:noimageai>", "<urn:uuid:clean>", "j2"}
    assert curated["<urn:uuid:noimageai>"]["x_robots_tag"] == ["noimageai"], "noimageai does not remove text"
    assert curated["<urn:uuid:clean>"]["license_spdx"] == "CC-BY-4.0"
    assert curated["j2"]["license_url"] is None and curated["j2"]["optout_reason"] is None
    assert rejected["<urn:uuid:robots>"]["optout_evidence"] == "robots.txt GPTBot: Disallow /private/"
    # ledger: stage optout, the rule, and the deciding signal; never text
    ledger = {r["doc_id"]: r for r in _table(out, "ledger/removals")}
    row = ledger[rejected["<urn:uuid:domain>"]["doc_id"]]
    assert (row["stage"], row["rule"], row["signal"], row["value"]) == (
        "optout", "domains", "optout_evidence", "domain optedout.example")
    summary = json.loads((out / "ledger" / "summary.json").read_text())
    assert summary["by_stage"]["optout"] == 5
    # run.json: counts per rule and per signal; optout runs first
    run = json.loads((out / "run.json").read_text())
    info = run["stage_info"]["optout"]
    assert info["by_rule"] == {"domains": 2, "tdm_reservation": 1, "robots_noai": 1, "robots_txt": 1}
    assert info["documents_reserved"] == 5 and info["signals"]["x_robots_tag_noimageai"] == 1
    assert info["robots_txt"]["hosts_by_status"] == {"ok": 1}
    assert info["robots_txt"]["documents_without_robots"] == 7, "every document but the two robots.example pages"
    assert [s["name"] for s in run["stages"]][:2] == ["optout", "exact_dedup"]
    assert res.manifest.counts.rejected_by_reason["optout:robots_txt"] == 1
    assert "optout_robots_txt" in run["assets"]


def test_tag_mode_keeps_everything_and_marks_the_reasons(spark, tmp_path):
    crawl = _crawl(tmp_path / "in")
    out = tmp_path / "out"
    run_pipeline(_cfg(tmp_path, "optout.mode=tag", "optout.robots_txt.user_agents=[CCBot]"), [str(crawl)], str(out),
                 spark=spark)
    assert not _table(out, "rejected")
    curated = {r["source_id"]: r for r in _table(out, "curated")}
    assert len(curated) == 9
    assert curated["<urn:uuid:tdm>"]["optout_reason"] == "optout:tdm_reservation"
    assert curated["<urn:uuid:robots>"]["optout_reason"] is None, "the robots.txt only names GPTBot"
    run = json.loads((out / "run.json").read_text())
    assert run["stage_info"]["optout"]["by_rule"]["domains"] == 2


def test_a_domain_added_to_the_list_leaves_published_versions_at_the_next_nightly(spark, tmp_path):
    raw = tmp_path / "raw"
    recs = demo_records(0, 12)
    write_partition(raw, "2024-01-01", recs)
    domains = tmp_path / "optout-domains.txt"
    domains.write_text("# nothing opted out yet\n")
    store = DatasetStore(tmp_path / "store")
    cfg = fast_config("optout.enabled=true", f"optout.domains.file={domains}")
    r1 = run_nightly(cfg, raw, "2024-01-01", store.root, spark=spark)
    assert r1.status == "published" and r1.optout_domains_added == []
    curated = pq.read_table(store.runs_dir / r1.run_id / "curated").to_pylist()
    host = url_host(curated[0]["url"])
    victims = {r["doc_id"] for r in curated if url_host(r["url"]) == host or url_host(r["url"]).endswith("." + host)}
    assert victims

    # The owner adds the domain; the next night removes it from what is published, then runs as usual.
    domains.write_text(f"# opted out\n{host}\n")
    write_partition(raw, "2024-01-02", demo_records(40, 3))
    r2 = run_nightly(cfg, raw, "2024-01-02", store.root, spark=spark)
    assert r2.optout_domains_added == [host] and r2.optout_documents_removed == len(victims)
    assert r2.status == "published"
    index, folder = load_index(store.root)
    published = set()
    for s in index.shards:
        published.update(pq.read_table(folder / s.path, columns=["doc_id"]).column(0).to_pylist())
    assert not (published & victims)
    ledger = {r["request_id"]: r for r in read_jsonl(store.ledger_dir / "takedowns.jsonl")}
    assert sorted(ledger[f"optout-domain:{host}"]["matched_doc_ids"]) == sorted(victims)
    # a third night with the same list adds nothing
    write_partition(raw, "2024-01-03", demo_records(50, 2))
    r3 = run_nightly(cfg, raw, "2024-01-03", store.root, spark=spark)
    assert r3.optout_domains_added == [] and r3.optout_documents_removed == 0


def test_takedown_cli_accepts_an_optout_domain_list(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text("Example.org\n# comment\nnews.example.net\n")
    ns = type("A", (), {"requests": None, "optout_domains": str(f)})()
    assert [(r.request_id, r.kind, r.value) for r in _requests_of(ns)] == [
        ("optout-domain:example.org", "domain", "example.org"),
        ("optout-domain:news.example.net", "domain", "news.example.net")]
    f.write_text("co.uk\n")
    with pytest.raises(DomainListError):
        _requests_of(ns)
