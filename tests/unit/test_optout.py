"""Opt-out reservations and licence signals: real-shaped WARC records through the reader, the rules, the
domain list and the robots.txt source."""
from __future__ import annotations

import gzip
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines.readers import expand_inputs, plan_splits, read_split
from pipelines.stages.base import RunContext, StageConfigError
from pipelines.stages.optout import OptoutStage, load_robots_source
from pipelines.text.optout import (
    SIGNAL_NAMES,
    DomainListError,
    OptoutEvaluator,
    OptoutSettings,
    check_domains,
    classify_license,
    web_signals,
)
from pipelines.text.pii_offline import offline_extractor
from schemas.columns import DOCUMENT_SCHEMA
from schemas.config import IngestSection, validate_config

PAGE_TEXT = ("<p>This is a long enough paragraph of ordinary prose about the weather in the valley, written so that "
             "the extractor keeps it as the main content of the page.</p>") * 3


def html_page(head: str = "", body_extra: str = "") -> bytes:
    return (f"<!DOCTYPE html><html><head><title>Page</title>{head}</head><body><article>{PAGE_TEXT}"
            f"</article>{body_extra}</body></html>").encode()


def warc_response(uri: str, http_headers: list[tuple[str, str]] | list[str], body: bytes, status: str = "200 OK",
                  rid: str = "r1", date: str = "2024-03-01T10:00:00Z", content_type: str = "text/html") -> bytes:
    """One WARC ``response`` record, as a crawler writes it: WARC headers, then the HTTP response."""
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}"]
    for h in http_headers:
        lines.append(h if isinstance(h, str) else f"{h[0]}: {h[1]}")
    http = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: {date}\r\nWARC-Target-URI: {uri}\r\n"
            f"WARC-Record-ID: <urn:uuid:{rid}>\r\nContent-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(http)}\r\n\r\n").encode()
    return head + http + b"\r\n\r\n"


def warc_conversion(uri: str, text: str, rid: str) -> bytes:
    body = text.encode()
    head = (f"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: {uri}\r\nWARC-Record-ID: <urn:uuid:{rid}>\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head + body + b"\r\n\r\n"


def read_docs(path: Path) -> list[dict]:
    section = IngestSection()
    rows = []
    for sp in plan_splits(expand_inputs([str(path)], section.format, section.source), 1 << 30):
        rows.extend(read_split(sp, section))
    assert not [r for r in rows if r["kind"] == "quarantine"]
    return [r for r in rows if r["kind"] == "doc"]


# ------------------------------------------------------------------------------------ reader columns


def test_every_signal_column_is_in_the_document_schema():
    assert set(SIGNAL_NAMES) <= set(DOCUMENT_SCHEMA.names)


def test_warc_reader_keeps_headers_and_meta_as_typed_columns(tmp_path):
    recs = [
        warc_response("https://a.example/p1", [("X-Robots-Tag", "noindex"), ("X-Robots-Tag", "GPTBot: noai"),
                                               ("tdm-reservation", "1"),
                                               ("Link", '<https://a.example/tdm.json>; rel="tdm-policy", '
                                                        '<https://creativecommons.org/licenses/by-nc/4.0/>; '
                                                        'rel="license"'),
                                               ("Content-Language", "en-GB")], html_page(), rid="a"),
        warc_response("https://b.example/p2", [],
                      html_page('<META  NAME = "Robots"  CONTENT = " NoAI ,NoImageAI " >'
                                "<meta name='tdm-reservation' content='1'/>"
                                '<link rel="license" href="/licence.html">'), rid="b"),
        warc_response("https://c.example/p3", [], html_page(), rid="c"),
    ]
    p = tmp_path / "crawl.warc.gz"
    p.write_bytes(b"".join(gzip.compress(r) for r in recs))
    a, b, c = read_docs(p)
    assert a["x_robots_tag"] == ["noindex", "gptbot:noai"] and a["meta_robots"] is None
    assert a["tdm_reservation_header"] is True and a["tdm_reservation_meta"] is None
    assert a["tdm_policy"] == "https://a.example/tdm.json" and a["content_language"] == "en-gb"
    assert (a["license_url"], a["license_spdx"], a["license_kind"], a["license_source"]) == (
        "https://creativecommons.org/licenses/by-nc/4.0/", "CC-BY-NC-4.0", "cc", "http_link")
    assert b["meta_robots"] == ["noai", "noimageai"] and b["x_robots_tag"] is None
    assert b["tdm_reservation_meta"] is True and b["tdm_reservation_header"] is None
    assert (b["license_url"], b["license_kind"], b["license_source"]) == (
        "https://b.example/licence.html", "other", "html_rel")
    assert all(c[n] is None for n in SIGNAL_NAMES), "a page without signals has null columns"


def test_non_warc_inputs_have_null_signal_columns(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "1", "text": "Some text here.", "url": "https://x.example/"}\n')
    (doc,) = read_docs(p)
    assert all(doc.get(n) is None for n in SIGNAL_NAMES)
    w = tmp_path / "w.warc.wet"
    w.write_bytes(warc_conversion("https://x.example/", "Converted text of a page.", "w1"))
    (wet,) = read_docs(w)
    assert all(wet.get(n) is None for n in SIGNAL_NAMES), "WET records carry no headers or HTML"


def test_malformed_headers_are_issues_not_reservations_and_never_lose_the_page(tmp_path):
    recs = [
        warc_response("https://m.example/1", [("tdm-reservation", "yes please"), ("X-Robots-Tag", "noai, <script>"),
                                              ("Content-Language", "en_US!!"), "NoColonHeaderLine",
                                              ("Link", "not a link at all")], html_page(), rid="m1"),
        # a folded (obsolete line-folding) X-Robots-Tag continues on the next line
        warc_response("https://m.example/2", ["X-Robots-Tag: noindex,", "\tnoai"], html_page(), rid="m2"),
    ]
    p = tmp_path / "m.warc"
    p.write_bytes(b"".join(recs))
    one, two = read_docs(p)
    assert one["tdm_reservation_header"] is None and one["x_robots_tag"] == ["noai"]
    assert one["web_signal_issues"] == ["content_language:invalid", "tdm_reservation_header:invalid",
                                        "x_robots_tag:invalid"]
    assert "yes please" not in str(one["web_signal_issues"]), "the malformed value is never echoed"
    assert two["x_robots_tag"] == ["noindex", "noai"]


def test_meta_tags_in_comments_and_scripts_do_not_count():
    page = html_page('<!-- <meta name="tdm-reservation" content="1"> -->'
                     "<script>document.write('<meta name=robots content=noai>')</script>")
    s = web_signals(None, page, "https://x.example/")
    assert s["tdm_reservation_meta"] is None and s["meta_robots"] is None


def test_unquoted_attributes_entities_and_bot_scoped_meta():
    page = html_page("<meta content=noai name=ccbot><meta name=description content='noai in a description'>"
                     '<meta name="tdm-policy" content="https://x.example/p?a=1&amp;b=2">')
    s = web_signals(None, page, "https://x.example/")
    assert s["meta_robots"] == ["ccbot:noai"], "a description meta is not a robots directive"
    assert s["tdm_policy"] == "https://x.example/p?a=1&b=2"


def test_conflicting_tdm_values_a_reservation_anywhere_wins():
    s = web_signals([("tdm-reservation", "0")], html_page('<meta name="tdm-reservation" content="1">'), "https://x/")
    assert s["tdm_reservation_header"] is False and s["tdm_reservation_meta"] is True
    ev = OptoutEvaluator(OptoutSettings())
    fired, evidence, reason = ev.evaluate("https://x/", None, None, False, True)
    assert reason == "optout:tdm_reservation" and evidence == "tdm-reservation meta"
    s2 = web_signals([("tdm-reservation", "1"), ("tdm-reservation", "0")], None, None)
    assert s2["tdm_reservation_header"] is True, "a later 0 does not cancel an earlier 1"


@pytest.mark.parametrize("url,spdx,kind", [
    ("https://creativecommons.org/licenses/by/4.0/", "CC-BY-4.0", "cc"),
    ("http://creativecommons.org/licenses/by-sa/3.0/de/", "CC-BY-SA-3.0-DE", "cc"),
    ("//creativecommons.org/licenses/by-nd/2.5/it/deed.it", "CC-BY-ND-2.5", "cc"),
    ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0", "cc0"),
    ("https://creativecommons.org/publicdomain/mark/1.0/", None, "public_domain_mark"),
    ("https://opensource.org/licenses/MIT", "MIT", "known"),
    ("https://www.apache.org/licenses/LICENSE-2.0", "Apache-2.0", "known"),
    ("https://example.com/terms", None, "other"),
])
def test_license_classification(url, spdx, kind):
    assert classify_license(url) == (spdx, kind)


def test_plain_cc_link_is_the_weakest_licence_source():
    body = '<footer><a href="https://creativecommons.org/licenses/by-sa/4.0/">CC BY-SA</a></footer>'
    s = web_signals(None, html_page(body_extra=body), "https://x/")
    assert (s["license_spdx"], s["license_source"]) == ("CC-BY-SA-4.0", "cc_href")
    s2 = web_signals(None, html_page('<link rel="license" href="https://opensource.org/licenses/MIT">',
                                     body_extra=body), "https://x/")
    assert (s2["license_spdx"], s2["license_source"]) == ("MIT", "html_rel"), "rel=license beats a plain CC link"


# ------------------------------------------------------------------------------------ rules


def test_noai_rules_and_noimageai_does_not_apply_to_text():
    ev = OptoutEvaluator(OptoutSettings(user_agents=("GPTBot",)))
    assert ev.evaluate("https://x/", ["noai"], None, None, None)[2] == "optout:robots_noai"
    assert ev.evaluate("https://x/", None, ["noindex", "noai"], None, None)[1] == "meta robots noai"
    assert ev.evaluate("https://x/", ["gptbot:noai"], None, None, None)[2] == "optout:robots_noai"
    assert ev.evaluate("https://x/", ["otherbot:noai"], None, None, None)[2] is None, "aimed at another crawler"
    assert ev.evaluate("https://x/", ["noimageai"], ["noimageai"], None, None)[2] is None
    off = OptoutEvaluator(OptoutSettings(robots_noai=False, tdm_reservation=False))
    assert off.evaluate("https://x/", ["noai"], None, True, True) == (None, None, None)


def test_domain_rule_matches_subdomains_only_and_precedence():
    ev = OptoutEvaluator(OptoutSettings(domains=("example.co.uk", "blog.example.com")))
    assert ev.evaluate("https://www.Example.co.uk./a", None, None, None, None)[1] == "domain example.co.uk"
    assert ev.evaluate("https://x.blog.example.com/a", None, None, None, None)[2] == "optout:domains"
    assert ev.evaluate("https://example.com/a", None, None, None, None)[2] is None
    assert ev.evaluate("https://notexample.co.uk/", None, None, None, None)[2] is None
    assert ev.evaluate(None, None, None, None, None)[2] is None
    fired, evidence, reason = ev.evaluate("https://example.co.uk/", ["noai"], None, True, None)
    assert fired == ["domains", "tdm_reservation", "robots_noai"] and reason == "optout:domains"


def test_domain_rule_matches_every_form_of_an_internationalized_host():
    ev = OptoutEvaluator(OptoutSettings(domains=("xn--bcher-kva.de",)))  # check_domains writes IDNA form
    for url in ("https://b\u00fccher.de/a", "https://www.B\u00dcCHER.de./a", "http://xn--bcher-kva.de:8080/",
                "https://XN--BCHER-KVA.DE/"):
        assert ev.evaluate(url, None, None, None, None)[1] == "domain xn--bcher-kva.de", url
    assert ev.evaluate("https://bucher.de/", None, None, None, None)[2] is None


def test_hosts_normalize_once():
    from pipelines.text.hosts import comparable_host, normalize_host, url_host

    assert normalize_host(" *.Www.B\u00dccher.DE. ") == "www.xn--bcher-kva.de"
    assert normalize_host("\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com") == "example.com"  # full-width
    assert normalize_host("a..b") is None and normalize_host("x" * 64 + ".com") is None
    assert normalize_host("") is None and normalize_host(" . ") is None
    assert comparable_host("A..B.") == "a..b" and comparable_host(".") is None
    assert url_host("https://user:pw@B\u00dcCHER.de.:8443/p?q#f") == "xn--bcher-kva.de"
    assert url_host("not a url") is None and url_host(None) is None and url_host("http://[::1/") is None


def test_domain_list_is_checked_against_the_public_suffix_list():
    ext = offline_extractor()
    assert check_domains(["Example.CO.UK", "*.blog.example.com", "alice.github.io", "b\u00fccher.de"], ext) == [
        "alice.github.io", "blog.example.com", "example.co.uk", "xn--bcher-kva.de"]
    for bad in ("co.uk", "github.io", "com", "https://example.com/path", ""):
        with pytest.raises(DomainListError):
            check_domains(["ok.example.com", bad], ext)


# ------------------------------------------------------------------------------------ robots.txt source


def test_robots_folder_source(tmp_path):
    d = tmp_path / "robots"
    (d / "b.example").mkdir(parents=True)
    (d / "a.example.txt").write_text("User-agent: GPTBot\nDisallow: /private\n")
    (d / "b.example" / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    (d / "h.example.txt").write_text("<html><body>not found</body></html>")
    (d / "notes.md").write_text("ignored")
    hosts, info = load_robots_source(str(d), ["CCBot", "GPTBot"])
    assert set(hosts) == {"a.example", "b.example", "h.example"}
    assert info["hosts_by_status"] == {"html": 1, "ok": 2} and info["files_ignored"] == 1
    ev = OptoutEvaluator(OptoutSettings(robots_txt=True, user_agents=("CCBot", "GPTBot"), robots=hosts))
    assert ev.evaluate("https://a.example/private/x", None, None, None, None)[1:] == (
        "robots.txt GPTBot: Disallow /private", "optout:robots_txt")
    assert ev.evaluate("https://a.example/public", None, None, None, None)[2] is None
    assert ev.evaluate("http://b.example/anything", None, None, None, None)[1] == "robots.txt CCBot: Disallow /"
    assert ev.evaluate("https://h.example/x", None, None, None, None)[2] is None, "HTML robots.txt allows"
    assert ev.evaluate("https://unknown.example/x", None, None, None, None)[2] is None


def test_common_crawl_robots_warc_statuses_redirects_and_latest_fetch(tmp_path):
    plain = "text/plain"
    recs = [
        warc_response("https://ok.example/robots.txt", [], b"User-agent: CCBot\nDisallow: /no\n", content_type=plain),
        warc_response("https://gone.example/robots.txt", [], b"not found", status="404 Not Found"),
        warc_response("https://down.example/robots.txt", [], b"", status="503 Service Unavailable"),
        warc_response("http://moved.example/robots.txt", ["Location: https://www.moved.example/robots.txt"], b"",
                      status="301 Moved Permanently"),
        warc_response("https://www.moved.example/robots.txt", [], b"User-agent: *\nDisallow: /\n", content_type=plain),
        warc_response("https://html.example/robots.txt", [], b"<!doctype html><p>Home</p>"),
        # two fetches of one host: the later one wins
        warc_response("https://twice.example/robots.txt", [], b"User-agent: *\nDisallow: /\n", content_type=plain,
                      date="2024-01-01T00:00:00Z"),
        warc_response("https://twice.example/robots.txt", [], b"User-agent: *\nAllow: /\n", content_type=plain,
                      date="2024-02-01T00:00:00Z"),
        warc_response("https://ok.example/page.html", [], html_page()),  # not a robots.txt: skipped
    ]
    p = tmp_path / "robotstxt.warc.gz"
    p.write_bytes(b"".join(gzip.compress(r) for r in recs))
    hosts, info = load_robots_source(str(p), ["CCBot"])
    assert {h: e.status for h, e in hosts.items()} == {
        "ok.example": "ok", "gone.example": "unavailable", "down.example": "unreachable", "moved.example": "ok",
        "www.moved.example": "ok", "html.example": "html", "twice.example": "ok"}
    assert info["records_not_robots"] == 1 and info["redirects"] == 1
    ev = OptoutEvaluator(OptoutSettings(robots_txt=True, user_agents=("CCBot",), robots=hosts))

    def reason(url):
        return ev.evaluate(url, None, None, None, None)[2]

    assert reason("https://ok.example/no/1") == "optout:robots_txt" and reason("https://ok.example/yes") is None
    assert reason("https://gone.example/x") is None, "4xx: unavailable, allow"
    assert reason("https://down.example/x") == "optout:robots_txt", "5xx: unreachable, disallow (RFC 9309)"
    assert reason("http://moved.example/x") == "optout:robots_txt", "redirect followed within the source"
    assert reason("https://html.example/x") is None
    assert reason("https://twice.example/x") is None, "the latest fetch wins"
    hosts2, _ = load_robots_source(str(p), ["CCBot"], on_unreachable="allow")
    ev2 = OptoutEvaluator(OptoutSettings(robots_txt=True, user_agents=("CCBot",), robots=hosts2,
                                         on_unreachable="allow"))
    assert ev2.evaluate("https://down.example/x", None, None, None, None)[2] is None


# ------------------------------------------------------------------------------------ stage preparation


def _ctx(tmp_path, **optout):
    cfg = validate_config({"optout": {"enabled": True, **optout}})
    return cfg, RunContext(spark=SimpleNamespace(), config=cfg, run_id="t", staging_dir=tmp_path, work_dir=tmp_path,
                           num_partitions=1)


def test_stage_prepare_records_rules_and_assets(tmp_path):
    f = tmp_path / "domains.txt"
    f.write_text("# opted out\nexample.org\nnews.example.net  # a subdomain only\n")
    cfg, ctx = _ctx(tmp_path, domains={"file": str(f)})
    stage = OptoutStage(cfg.optout, ctx)
    stage.ensure_prepared()
    assert ctx.stage_info["optout"]["rules"] == ["domains", "tdm_reservation", "robots_noai"]
    assert ctx.stage_info["optout"]["domains"] == 2 and "optout_domains" in ctx.assets
    assert stage.worker_payload().domains == ("example.org", "news.example.net")


def test_stage_refuses_a_public_suffix_and_a_missing_source(tmp_path):
    cfg, ctx = _ctx(tmp_path, domains={"names": ["co.uk"]})
    with pytest.raises(StageConfigError, match="public suffix"):
        OptoutStage(cfg.optout, ctx).ensure_prepared()
    cfg, ctx = _ctx(tmp_path, robots_txt={"source": str(tmp_path / "nope" / "*.warc.gz")})
    with pytest.raises(StageConfigError, match="matches no file"):
        OptoutStage(cfg.optout, ctx).ensure_prepared()


# ------------------------------------------------------------------------------------ report and CLI


def test_report_section_from_run_json_stage_info():
    from quality.html import _optout
    from quality.report import optout_summary

    assert optout_summary({}) is None and optout_summary({"optout": {"rules": []}}) is None
    info = {"optout": {"mode": "drop", "rules": ["tdm_reservation", "robots_noai", "robots_txt"],
                       "documents_reserved": 3, "by_rule": {"domains": 0, "tdm_reservation": 2, "robots_noai": 1,
                                                            "robots_txt": 1},
                       "by_reason": {"optout:tdm_reservation": 2, "optout:robots_noai": 1},
                       "signals": {"meta_robots_noimageai": 4}, "robots_txt": {"hosts_by_status": {"ok": 7}}}}
    s = optout_summary(info)
    assert s.by_rule["tdm_reservation"] == 2 and s.robots_hosts_by_status == {"ok": 7}
    page = _optout(SimpleNamespace(optout=s))
    assert 'id="optout"' in page and "<svg" in page and "off (no input)" in page and "meta_robots_noimageai" in page


def test_run_robots_flag_sets_the_source_and_turns_the_section_on(monkeypatch, tmp_path):
    import jobs.cmd_run as cmd_run
    from jobs.cli import build_parser

    seen = {}

    def fake_run(config, *a, **k):
        seen["config"] = config
        raise RuntimeError("stop here")

    monkeypatch.setattr(cmd_run, "run_pipeline", fake_run)
    robots = "*.robots.warc.gz"  # a glob that starts with '*' must stay one string (not a YAML alias)
    args = build_parser().parse_args(["run", "--config", "demo", "--input", str(tmp_path), "--output",
                                      str(tmp_path / "o"), "--robots", robots])
    assert args.func(args) != 0
    cfg = seen["config"]
    assert cfg.optout.enabled and cfg.optout.robots_txt.source == robots


def test_robots_glob_source_names_hosts_by_folder(tmp_path):
    for host in ("a.example", "b.example:8080"):
        (tmp_path / "r" / host).mkdir(parents=True)
        (tmp_path / "r" / host / "robots.txt").write_text("User-agent: *\nDisallow: /x\n")
    (tmp_path / "r" / "robots.txt").write_text("User-agent: *\nDisallow: /\n")  # no host: ignored in a folder
    hosts, _ = load_robots_source(str(tmp_path / "r" / "*" / "robots.txt"), ["CCBot"])
    assert set(hosts) == {"a.example", "b.example:8080"}
    hosts, info = load_robots_source(str(tmp_path / "r"), ["CCBot"])
    assert set(hosts) == {"a.example", "b.example:8080"} and info["files_ignored"] == 1
    ev = OptoutEvaluator(OptoutSettings(robots_txt=True, user_agents=("CCBot",), robots=hosts))
    assert ev.evaluate("http://b.example:8080/x/1", None, None, None, None)[2] == "optout:robots_txt"
    assert ev.evaluate("http://b.example/x/1", None, None, None, None)[2] is None, "another port, another robots.txt"
