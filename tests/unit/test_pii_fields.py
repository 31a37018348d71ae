"""``pii.fields``: scrubbing of URLs and metadata (pipelines/text/pii_fields.py) and the stage's field columns,
with the real pattern recognizers and with a fake scrubber for the edge cases (failures, batching)."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pytest

from pipelines.stages.pii import PiiScrubbers, PiiStage
from pipelines.text.pii_fields import (
    fields_section,
    scrub_fields,
    scrub_metadata,
    scrub_metadata_batch,
    scrub_url,
    scrub_urls,
)
from schemas.config.pii import PiiSection

EMAIL = "jane.doe@example.org"
PHONE = "+44 20 7946 0958"


# ------------------------------------------------------------------------------------------ the fake


@dataclass
class Result:
    text: str
    counts: dict = field(default_factory=dict)
    reason: object = None


_FAKE_PATTERNS = (
    ("EMAIL_ADDRESS", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("PHONE_NUMBER", re.compile(r"\+?\d[\d -]{7,}\d")),
)


class Fake:
    """A regex scrubber: ``<EMAIL_ADDRESS>``, ``<PHONE_NUMBER>``; "BOOM" in a value fails its detection,
    "RAISE" in a call makes the whole call raise. Records the values of every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, values):
        self.calls.append(list(values))
        if len(values) > 1 and any("RAISE" in v for v in values):
            raise RuntimeError("batch failed")
        out = []
        for v in values:
            if "BOOM" in v or "RAISE" in v:
                out.append(Result("", {}, "pii:error"))
                continue
            counts: dict[str, int] = {}
            for name, pattern in _FAKE_PATTERNS:
                n = len(pattern.findall(v))
                if n:
                    counts[name] = n
                    v = pattern.sub(f"<{name}>", v)
            out.append(Result(v, counts))
        return out


@pytest.fixture
def fake():
    return Fake()


@pytest.fixture(scope="module")
def real():
    from pipelines.text.pii import PiiScrubber

    scrubber = PiiScrubber(fields_section(PiiSection(enabled=True, ner=False)))  # what the stage uses
    return lambda values: scrubber.scrub_batch(values, ner=False)


# ------------------------------------------------------------------------------------------ URLs, fake


def test_opaque_urls_are_scrubbed_after_the_scheme(fake):
    assert scrub_url(f"mailto:{EMAIL}", fake) == ("mailto:%3CEMAIL_ADDRESS%3E", {"EMAIL_ADDRESS": 1})
    assert scrub_url("tel:+1-415-555-2671", fake) == ("tel:%3CPHONE_NUMBER%3E", {"PHONE_NUMBER": 1})
    new, counts = scrub_url(f"mailto:{EMAIL}?subject=Hello%20there&body=call%20%2B44%2020%207946%200958", fake)
    assert new == "mailto:%3CEMAIL_ADDRESS%3E?subject=Hello%20there&body=call+%3CPHONE_NUMBER%3E"
    assert counts == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}


def test_query_values_are_decoded_scrubbed_and_re_encoded_in_place(fake):
    url = "https://example.com/contact?email=jane.doe%40example.org&phone=%2B44%2020%207946%200958&lang=en"
    new, counts = scrub_url(url, fake)
    assert new == "https://example.com/contact?email=%3CEMAIL_ADDRESS%3E&phone=%3CPHONE_NUMBER%3E&lang=en"
    assert counts == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    parts = urlsplit(new)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "example.com", "/contact")
    assert [p.split("=")[0] for p in parts.query.split("&")] == ["email", "phone", "lang"]  # order kept


def test_path_segments_and_fragment(fake):
    assert scrub_url(f"https://example.com/u/{EMAIL}/profile", fake) == (
        "https://example.com/u/%3CEMAIL_ADDRESS%3E/profile", {"EMAIL_ADDRESS": 1}
    )
    # each segment on its own: the e-mail pattern cannot swallow "people/" before it
    new, _ = scrub_url("https://uni.edu/people/john.smith@uni.edu/#/contact/a@b.co", fake)
    assert new == "https://uni.edu/people/%3CEMAIL_ADDRESS%3E/#/contact/%3CEMAIL_ADDRESS%3E"
    # percent-encoded in the path
    assert scrub_url("https://x.org/u/jane.doe%40example.org", fake)[0] == "https://x.org/u/%3CEMAIL_ADDRESS%3E"


def test_userinfo_is_dropped_and_counted(fake):
    assert scrub_url("http://user:secret@example.com/x", fake) == ("http://example.com/x", {"USERINFO": 1})
    assert scrub_url("ftp://jane.doe@files.example.com:2121/", fake) == (
        "ftp://files.example.com:2121/", {"USERINFO": 1}
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "HTTPS://Example.COM:8080/a/b%20c/d+e/?q=x+y&&z&empty=#Frag%20ment",
        "https://example.com/?",
        "https://example.com/#",
        "https://example.com/search?q=caf%C3%A9&q=th%C3%A9&sort",
        "https://de.wikipedia.org/wiki/M%C3%BCnchen",
        "https://example.com/wiki/Straße?x=%zz",
        "//cdn.example.com/lib.js",
        "/relative/path?x=1",
        "https://example.com/a;param=1/b?x=%2F%26#top",
        "",
    ],
)
def test_a_url_without_pii_comes_back_byte_for_byte(fake, url):
    assert scrub_url(url, fake) == (url, {})


def test_host_and_port_are_kept_even_when_they_look_personal(fake):
    new, _ = scrub_url("https://jane.doe.example.org:8443/call/+44%2020%207946%200958", fake)
    assert new == "https://jane.doe.example.org:8443/call/%3CPHONE_NUMBER%3E"


def test_invalid_url_is_scrubbed_as_a_plain_string_never_raises(fake):
    assert scrub_url("http://[::1", fake) == ("http://[::1", {})
    assert scrub_url(f"http://[::1/{EMAIL}", fake) == ("http://[::1/<EMAIL_ADDRESS>", {"EMAIL_ADDRESS": 1})
    assert scrub_url(f"http://[v1.x/{PHONE}", fake) == ("http://[v1.x/<PHONE_NUMBER>", {"PHONE_NUMBER": 1})
    # what urlsplit accepts is a URL, if only a relative path: its pieces are scrubbed and re-encoded
    assert scrub_url(f"not a url {PHONE}", fake) == ("not%20a%20url%20%3CPHONE_NUMBER%3E", {"PHONE_NUMBER": 1})
    assert scrub_url(None, fake) == (None, {})


def test_invalid_url_pieces_between_slashes(fake):
    assert scrub_url("http://[::1/a/BOOM", fake) == (None, {})
    assert scrub_url(f"http://[::1/x/{EMAIL}/{PHONE}", fake) == (
        "http://[::1/x/<EMAIL_ADDRESS>/<PHONE_NUMBER>", {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    )


def test_changed_pieces_keep_the_url_valid(fake):
    url = "https://example.com/p?note=" + "jane.doe%40example.org%20%26%20friends%3Dall"
    new, _ = scrub_url(url, fake)
    assert new == "https://example.com/p?note=%3CEMAIL_ADDRESS%3E+%26+friends%3Dall"  # & and = stay encoded
    assert "<" not in new and ">" not in new and " " not in new


def test_failed_detection_withholds_the_url(fake):
    assert scrub_urls(["https://x.org:81/BOOM/y?a=1#f"], fake)[0].value == "https://x.org:81/"
    assert scrub_urls(["https://x.org:81/BOOM/y?a=1#f"], fake)[0].failed == 1
    assert scrub_url("https://u:p@x.org/a?q=BOOM", fake) == ("https://x.org/", {})
    assert scrub_url("mailto:BOOM@x.org", fake) == (None, {})  # no host: null
    assert scrub_url("http://[::1/BOOM", fake) == (None, {})


def test_a_raising_batch_is_retried_value_by_value(fake, caplog):
    caplog.set_level(logging.DEBUG)
    out = scrub_urls([f"https://a.org/{EMAIL}", "https://b.org/RAISE-secret-thing", "https://c.org/x"], fake)
    assert [r.value for r in out] == ["https://a.org/%3CEMAIL_ADDRESS%3E", "https://b.org/", "https://c.org/x"]
    assert "secret" not in caplog.text and EMAIL not in caplog.text


def test_all_pieces_of_a_batch_go_in_one_call_each_distinct_piece_once(fake):
    urls = ["https://a.org/en/x?lang=en", "https://b.org/en/y?lang=en#x", None, "mailto:a@b.co"]
    maps = [[("k", "en"), ("j", '["x", "z"]')], None]
    scrub_fields(urls, maps, fake)
    assert len(fake.calls) == 1
    assert sorted(fake.calls[0]) == sorted({"en", "x", "y", "lang", "a@b.co", "z"})


def test_url_results_by_batch(fake):
    out = scrub_urls([f"mailto:{EMAIL}", None, "https://x.org/"], fake)
    assert [r.value for r in out] == ["mailto:%3CEMAIL_ADDRESS%3E", None, "https://x.org/"]
    assert [r.counts for r in out] == [{"EMAIL_ADDRESS": 1}, {}, {}]


# ------------------------------------------------------------------------------------------ metadata, fake


def test_metadata_nested_json_strings_are_scrubbed_keys_and_numbers_kept(fake):
    nested = json.dumps({"authors": [{"mail": EMAIL, "n": 4155552671}], "jane@keys.org": "ok", "t": True})
    items, counts = scrub_metadata([("people", nested), ("title", "A walk")], fake)
    people = json.loads(items[0][1])
    assert people == {"authors": [{"mail": "<EMAIL_ADDRESS>", "n": 4155552671}], "jane@keys.org": "ok", "t": True}
    assert items[1] == ("title", "A walk") and counts == {"EMAIL_ADDRESS": 1}


def test_metadata_plain_values_and_unchanged_values(fake):
    unchanged = '{"b":  [1,2],   "a": "x"}'  # odd spacing: kept byte for byte when nothing changed
    items, counts = scrub_metadata(
        [
            ("contact", f"write to {EMAIL}"),  # ingest stores strings as they are (not JSON)
            ("phone", "4155552671"),  # looks like a JSON number: scrubbed as the string it is
            ("quoted", json.dumps(f"{PHONE}")),  # a JSON string
            ("raw", unchanged),
            ("broken", '{"a": "jane.doe@example.org"'),  # not valid JSON
            ("none", None),
        ],
        fake,
    )
    assert items == [
        ("contact", "write to <EMAIL_ADDRESS>"),
        ("phone", "<PHONE_NUMBER>"),
        ("quoted", '"<PHONE_NUMBER>"'),
        ("raw", unchanged),
        ("broken", '{"a": "<EMAIL_ADDRESS>"'),
        ("none", None),
    ]
    assert counts == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 2}


def test_metadata_urls_are_scrubbed_as_urls(fake):
    items, counts = scrub_metadata(
        [
            ("link", "https://u:p@x.org/a%20b/c?mail=jane.doe%40example.org"),
            ("links", json.dumps(["mailto:a@b.co", "https://x.org/plain", "see https://x.org/a@b.co"])),
            ("broken", "https://x.org/BOOM"),
        ],
        fake,
    )
    assert items[0] == ("link", "https://x.org/a%20b/c?mail=%3CEMAIL_ADDRESS%3E")
    assert json.loads(items[1][1]) == [
        "mailto:%3CEMAIL_ADDRESS%3E", "https://x.org/plain", "see https://x.org/<EMAIL_ADDRESS>"
    ]
    assert items[2] == ("broken", '""')
    assert counts == {"EMAIL_ADDRESS": 3, "USERINFO": 1}


def test_metadata_re_encoding_keeps_non_ascii(fake):
    items, _ = scrub_metadata([("a", json.dumps({"name": "Zoë", "m": EMAIL}, ensure_ascii=False))], fake)
    assert items[0][1] == '{"name": "Zoë", "m": "<EMAIL_ADDRESS>"}'


def test_metadata_none_dict_and_failure(fake, caplog):
    caplog.set_level(logging.DEBUG)
    assert scrub_metadata(None, fake) == (None, {})
    assert scrub_metadata({"a": EMAIL}, fake) == ({"a": "<EMAIL_ADDRESS>"}, {"EMAIL_ADDRESS": 1})
    out = scrub_metadata_batch([[("a", '["ok", "BOOM secret"]'), ("b", EMAIL)], None, []], fake)
    assert out[0].value == [("a", '""'), ("b", "<EMAIL_ADDRESS>")] and out[0].failed == 1
    assert out[1].value is None and out[2].value == []
    assert "secret" not in caplog.text


# ------------------------------------------------------------------------------------------ real scrubber


def test_real_scrubber_urls(real):
    cases = {
        f"mailto:{EMAIL}": "mailto:%3CEMAIL_ADDRESS%3E",
        "https://example.com/contact?email=jane.doe%40example.org&phone=%2B44%2020%207946%200958&lang=en": (
            "https://example.com/contact?email=%3CEMAIL_ADDRESS%3E&phone=%3CPHONE_NUMBER%3E&lang=en"
        ),
        f"https://example.com/u/{EMAIL}/profile": "https://example.com/u/%3CEMAIL_ADDRESS%3E/profile",
        "http://user:secret@example.com/x": "http://example.com/x",
        "https://uni.edu/people/john.smith@uni.edu/": "https://uni.edu/people/%3CEMAIL_ADDRESS%3E/",
        "tel:+1-415-555-2671": "tel:%3CPHONE_NUMBER%3E",
    }
    out = scrub_urls(list(cases), real)
    assert [r.value for r in out] == list(cases.values())
    # one span each for the e-mail and the phone (which the counts may call PHONE_NUMBER or NUMBER_SEQUENCE)
    assert out[1].counts["EMAIL_ADDRESS"] == 1 and sum(out[1].counts.values()) == 2
    assert out[3].counts == {"USERINFO": 1}


def test_real_scrubber_phone_in_a_file_name(real):
    new, counts = scrub_url("https://uni.example.edu/~jsmith/cv-phone-0612345678.pdf", real)
    assert "0612345678" not in unquote(new) and sum(counts.values()) >= 1
    assert new.startswith("https://uni.example.edu/~jsmith/")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "https://www.example.com/news/2024/05/garden-club-opens.html?utm_source=feed&page=2#comments",
        "https://en.wikipedia.org/wiki/Garden",
    ],
)
def test_real_scrubber_leaves_urls_without_pii_alone(real, url):
    assert scrub_url(url, real) == (url, {})


def test_real_scrubber_invalid_url_does_not_raise(real):
    new, _ = scrub_url("http://[::1", real)
    assert isinstance(new, str)
    new, counts = scrub_url(f"http://[::1/{EMAIL}", real)
    assert EMAIL not in new and new.endswith("/<EMAIL_ADDRESS>") and counts["EMAIL_ADDRESS"] == 1


def test_real_scrubber_metadata(real):
    nested = json.dumps({"authors": [{"mail": EMAIL}, {"phone": PHONE}], "year": 2021}, ensure_ascii=False)
    items, counts = scrub_metadata(
        [
            ("people", nested),
            ("contact", f"mail {EMAIL}"),
            ("lang", "en"),
            ("homepage", "https://uni.example.edu/people/jane.doe@example.org/"),
            ("file", "index.html"),
        ],
        real,
    )
    blob = json.dumps(items)
    assert EMAIL not in blob and PHONE not in blob and "7946" not in blob
    assert json.loads(items[0][1]) == {"authors": [{"mail": "<EMAIL_ADDRESS>"}, {"phone": "<PHONE_NUMBER>"}],
                                       "year": 2021}
    assert items[1] == ("contact", "mail <EMAIL_ADDRESS>") and items[2] == ("lang", "en")
    assert items[3] == ("homepage", "https://uni.example.edu/people/%3CEMAIL_ADDRESS%3E/")
    assert items[4] == ("file", "index.html")
    assert counts["EMAIL_ADDRESS"] == 3 and sum(counts.values()) == 4


def test_real_url_entity_would_eat_file_names():
    """Why the fields are scrubbed without Presidio's URL recognizer."""
    from pipelines.text.pii import PiiScrubber

    with_url = PiiScrubber(PiiSection(enabled=True, ner=False))
    assert with_url.scrub_batch(["index.html"], ner=False)[0].text != "index.html"


# ------------------------------------------------------------------------------------------ the stage's columns


class FakeScrubber:
    """Stands in for PiiScrubber in PiiStage.process_arrow: the fake's patterns, ``section.fields``."""

    def __init__(self, fields=("text", "url", "metadata")) -> None:
        self.section = SimpleNamespace(fields=list(fields))
        self.fake = Fake()
        self.ner_flags: list[bool] = []

    def scrub_batch(self, texts, langs=None, return_spans=False, ner=True):
        from pipelines.text.pii import ScrubResult

        self.ner_flags.append(ner)
        return [ScrubResult(text=r.text, counts=r.counts, reason=r.reason) for r in self.fake(list(texts))]


def _models(fields=("text", "url", "metadata")):
    text, field_scrubber = FakeScrubber(fields), FakeScrubber(fields)
    return PiiScrubbers(text, field_scrubber), text, field_scrubber


MAP = pa.map_(pa.string(), pa.string())


def _batch(text_type=None, with_metadata=True):
    text_type = text_type or pa.string()
    cols = {
        "doc_id": pa.array(["d1", "d2", "d3"]),
        "url": pa.array([f"https://x.org/u/{EMAIL}?p=1", None, "https://y.org/BOOM"], type=text_type),
        "text": pa.array([f"mail {EMAIL}", "plain", "plain"], type=text_type),
    }
    if with_metadata:
        cols["metadata"] = pa.array(
            [[("contact", json.dumps({"p": PHONE}))], None, [("k", "v"), ("bad", "BOOM")]], type=MAP
        )
    return pa.RecordBatch.from_pydict(cols)


def test_stage_scrubs_url_and_metadata_and_counts_them():
    model, text, field_scrubber = _models()
    out = PiiStage.process_arrow(model, _batch()).to_pydict()
    assert out["url"] == ["https://x.org/u/%3CEMAIL_ADDRESS%3E?p=1", None, "https://y.org/"]
    assert out["metadata"] == [[("contact", '{"p": "<PHONE_NUMBER>"}')], None, [("k", "v"), ("bad", '""')]]
    assert out["pii_field_counts"] == [
        [("metadata", 1), ("url", 1)],
        [("metadata", 0), ("url", 0)],
        [("metadata", 0), ("metadata:error", 1), ("url", 0), ("url:error", 1)],
    ]
    assert out["pii_counts"] == [[("EMAIL_ADDRESS", 1)], [], []]  # the text only
    assert out["pii_reason"] == [None, None, None]
    assert text.ner_flags == [True] and field_scrubber.ner_flags == [False]  # one call for all fields


def test_stage_fields_text_only_leaves_url_and_metadata_alone():
    batch = _batch()
    out = PiiStage.process_arrow(_models(fields=["text"])[0], batch)
    assert out.column("url").equals(batch.column("url"))
    assert out.column("metadata").equals(batch.column("metadata"))
    assert out.to_pydict()["pii_field_counts"] == [None, None, None]
    assert out.to_pydict()["text"][0] == "mail <EMAIL_ADDRESS>"


def test_stage_scrubs_the_fields_present_with_the_input_string_type():
    out = PiiStage.process_arrow(_models()[0], _batch(pa.large_string(), with_metadata=False))
    assert out.schema.field("url").type == pa.large_string()
    assert out.to_pydict()["pii_field_counts"][0] == [("url", 1)]
    assert "metadata" not in out.schema.names


def test_stage_without_entities_for_the_fields_leaves_them_unchanged():
    text = FakeScrubber()
    out = PiiStage.process_arrow(PiiScrubbers(text, None), _batch()).to_pydict()
    assert out["url"][0] == f"https://x.org/u/{EMAIL}?p=1"
    assert out["pii_field_counts"][0] == [("metadata", 0), ("url", 0)]


def test_fields_section_keeps_pattern_entities_but_url():
    section = PiiSection(enabled=True, operator="mask", allow_list=["info@example.org"])
    fs = fields_section(section)
    assert "URL" in section.entities and "PERSON" in section.entities
    assert "URL" not in fs.entities and "PERSON" not in fs.entities and fs.ner is False
    assert "EMAIL_ADDRESS" in fs.entities and "PHONE_NUMBER" in fs.entities
    assert (fs.operator, fs.allow_list, fs.fields) == ("mask", ["info@example.org"], section.fields)


def test_stage_load_builds_a_field_scrubber_only_when_fields_are_scrubbed(monkeypatch):
    import pipelines.stages.pii as stage_module

    monkeypatch.setattr(stage_module, "PiiScrubber", lambda section, key=None: section)
    both = PiiStage.load((PiiSection(enabled=True), None))
    assert both.text.ner is True and both.fields.ner is False and "URL" not in both.fields.entities
    assert PiiStage.load((PiiSection(enabled=True, fields=["text"]), None)).fields is None
    assert PiiStage.load((PiiSection(enabled=True, entities=["URL", "PERSON"]), None)).fields is None
