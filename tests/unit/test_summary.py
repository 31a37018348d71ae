"""The training-content summary's rules and inputs without Spark: the top-domain rule on constructed domain
distributions, the template's size ranges, source descriptions (SPDX ids, free text, unknown licences),
the hand-supplied provider file and the Markdown/HTML rendering."""
from __future__ import annotations

import math

import pytest

from quality import blocks as B
from quality.summary import ProviderInfo, SummaryError, size_range, top_domain_count, top_domains
from schemas.config import ConfigError, load_config
from schemas.config.sources import SPDX_IDS, SourceInfo, licence_label


@pytest.mark.parametrize("n, rule, expected", [
    (0, "10pct", 0), (1, "10pct", 1), (9, "10pct", 1), (10, "10pct", 1), (11, "10pct", 2), (100, "10pct", 10),
    (101, "10pct", 11), (100_000, "10pct", 10_000),
    (1, "sme", 1), (20, "sme", 1), (21, "sme", 2), (25, "sme", 2), (19_999, "sme", 1000), (20_000, "sme", 1000),
    (20_001, "sme", 1000), (1_000_000, "sme", 1000), (5_000, "sme", 250),
])
def test_top_domain_count(n, rule, expected):
    assert top_domain_count(n, rule) == expected


def test_top_domain_rule_on_a_constructed_distribution():
    # 57 domains, Zipf-like sizes, with a tie straddling the 10% cut (ranks 6 and 7 hold 500 bytes each).
    sizes = {f"d{i:02d}.example.com": (i + 1, 100_000 // (i + 1)) for i in range(55)}
    sizes["tie-b.example.org"] = (3, 500)
    sizes["tie-a.example.org"] = (2, 500)
    for name, (n, b) in list(sizes.items()):
        if name.startswith("d") and 500 <= b < 20_000:
            sizes[name] = (n, b // 100)  # push the middle down so the tie sits at ranks 6-7
    ranked = sorted(sizes.items(), key=lambda kv: (-kv[1][1], kv[0]))
    out = top_domains(sizes, "10pct")
    k = math.ceil(57 * 0.10)
    assert out["domains_total"] == 57 and out["domains_listed"] == k == 6
    assert [d["domain"] for d in out["domains"]] == [d for d, _ in ranked[:6]]
    # the tie at the cut is broken by name: tie-a is listed, tie-b is not
    assert out["domains"][-1]["domain"] == "tie-a.example.org"
    assert "tie-b.example.org" not in {d["domain"] for d in out["domains"]}
    total = sum(b for _, b in sizes.values())
    assert out["bytes_total"] == total
    assert out["bytes_listed"] == sum(b for _, (_, b) in ranked[:6])
    assert [d["rank"] for d in out["domains"]] == [1, 2, 3, 4, 5, 6]
    assert out["domains"][0]["share_of_bytes"] == round(100_000 / total, 6)
    sme = top_domains(sizes, "sme")
    assert sme["domains_listed"] == 3 and sme["rule"] == "sme" and "SMEs" in sme["rule_text"]


def test_top_domains_of_a_large_distribution_cap_sme_at_1000():
    sizes = {f"site{i:05d}.example": (1, 50_000 - i) for i in range(30_000)}
    assert top_domains(sizes, "10pct")["domains_listed"] == 3000
    sme = top_domains(sizes, "sme")
    assert sme["domains_listed"] == 1000 and sme["domains"][-1]["domain"] == "site00999.example"


def test_top_domains_empty_and_bad_rule():
    out = top_domains({}, "10pct")
    assert out["domains"] == [] and out["domains_total"] == 0 and out["share_of_bytes_listed"] == 0.0
    with pytest.raises(SummaryError, match="--top-domains"):
        top_domain_count(10, "5pct")


def test_size_ranges_of_the_template():
    assert size_range(None) is None
    assert size_range(0) == size_range(999_999_999) == "less than 1 billion tokens"
    assert size_range(1_000_000_000) == size_range(9_999_999_999_999) == "1 billion to 10 trillion tokens"
    assert size_range(10_000_000_000_000) == "more than 10 trillion tokens"


# ------------------------------------------------------------------------------------------- sources
def test_source_licences_spdx_free_text_and_unknown():
    assert SourceInfo(category="licensed", licence="cc-by-sa-4.0").licence == "CC-BY-SA-4.0"
    assert SourceInfo(category="licensed", licence=" MIT ").licence == "MIT"
    assert SourceInfo(category="other", licence="LicenseRef-acme-2024").licence == "LicenseRef-acme-2024"
    with pytest.raises(ValueError, match="licence_text"):
        SourceInfo(category="licensed", licence="Creative Commons")
    assert licence_label(None) == "unknown"
    assert licence_label(SourceInfo(category="crawled")) == "unknown"
    assert licence_label(SourceInfo(category="crawled", licence="")) == "unknown"
    assert licence_label(SourceInfo(category="licensed", licence_text="agreement  2024-17")) == \
        "agreement 2024-17 (free text)"
    assert licence_label(SourceInfo(category="licensed", licence="CC-BY-4.0", licence_text="with attribution")) == \
        "CC-BY-4.0 (with attribution, free text)"
    assert len(SPDX_IDS) == len(set(SPDX_IDS)) and "CC-BY-4.0" in SPDX_IDS and "CC0-1.0" in SPDX_IDS


def test_sources_in_the_pipeline_config():
    cfg = load_config("demo", ["sources.web={category: crawled, crawler: CCBot, "
                               "collection_period: {start: 2024-01-01, end: 2024-02-01}}"])
    web = cfg.sources["web"]
    assert web.crawler == "CCBot" and str(web.collection_period.start) == "2024-01-01"
    assert cfg.resolved_dict()["sources"]["web"]["collection_period"] == {"start": "2024-01-01", "end": "2024-02-01"}
    with pytest.raises(ConfigError, match="sources.web.category"):
        load_config("demo", ["sources.web={licence: MIT}"])
    with pytest.raises(ConfigError, match="start is after"):
        load_config("demo", ["sources.web={category: crawled, collection_period: {start: 2024-03-01, "
                             "end: 2024-02-01}}"])
    with pytest.raises(ConfigError, match="unknown key 'sources.web.licens'"):
        load_config("demo", ["sources.web={category: crawled, licens: MIT}"])
    with pytest.raises(ConfigError, match="category"):
        load_config("demo", ["sources.web={category: scraped}"])
    with pytest.raises(ConfigError, match="no spaces or slashes"):
        load_config(None, ['sources={"my source": {category: other}}'])


def test_bad_licence_is_not_echoed():
    with pytest.raises(ConfigError) as exc:
        load_config("demo", ["sources.web={category: crawled, licence: secret-terms-7731}"])
    assert "secret-terms-7731" not in str(exc.value) and "SPDX" in str(exc.value)


# ------------------------------------------------------------------------------------------ provider
def test_provider_info_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("provider_name: Example AI\nplacement_date: 2026-01-15\nmodel_names: [m-1]\n"
                 "card:\n  motivation: testing\n", encoding="utf-8")
    info = ProviderInfo.from_file(f)
    assert info.placement_date == "2026-01-15"
    assert info.supplied() == ["card.motivation", "model_names", "placement_date", "provider_name"]
    assert ProviderInfo.from_file(None).supplied() == []
    f.write_text("provider_nme: x\n", encoding="utf-8")
    with pytest.raises(SummaryError, match="unknown key 'provider_nme'"):
        ProviderInfo.from_file(f)
    f.write_text("card:\n  motive: x\n", encoding="utf-8")
    with pytest.raises(SummaryError, match="unknown key 'card.motive'"):
        ProviderInfo.from_file(f)
    f.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(SummaryError, match="mapping"):
        ProviderInfo.from_file(f)
    f.write_text("a: [unclosed\n", encoding="utf-8")
    with pytest.raises(SummaryError, match="not valid YAML"):
        ProviderInfo.from_file(f)
    with pytest.raises(SummaryError, match="cannot read"):
        ProviderInfo.from_file(tmp_path / "missing.yaml")


# ------------------------------------------------------------------------------------------ rendering
def test_markdown_and_html_escape_what_users_wrote():
    blocks = [B.h1("Title"), B.h2("Section"), B.p("a <script>alert(1)</script> & b"),
              B.table(["name", "n"], [["pipe | inside", 1234], ["x\nnewline", None]], numeric=(1,)),
              B.table(["empty"], []), B.ul(["one", "two"]), B.note("careful")]
    md = B.to_markdown(blocks)
    assert "| pipe \\| inside | 1,234 |" in md and "| x newline | – |" in md and "|---|---:|" in md
    assert "| none |" in md and "- one\n- two" in md and "> careful" in md
    html = B.to_html(blocks, "Title")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'Content-Security-Policy' in html and "<td class=n>1,234</td>" in html
    assert html.count("<section>") == html.count("</section>") == 1
    assert B.to_markdown(blocks) == md and B.to_html(blocks, "Title") == html  # deterministic
