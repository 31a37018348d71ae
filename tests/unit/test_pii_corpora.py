"""Evaluation sets of the PII parity harness (benchmarks/pii_corpora.py).

The scoring functions and the tag parser run on hand-written documents, always. The presidio-evaluator set
needs presidio-evaluator (installed by `make install`; the tests fail without it); the NeMo Curator and
Dolma sets need the shared data folder (skipped without it). Tests on real data assert counts only: no
value of a real person reaches the output.
"""
from __future__ import annotations

import socket
import time

import pytest

from benchmarks import pii_corpora as pc
from tests.conftest import SHARED_DATA

NEMO_DIR = SHARED_DATA / "pii" / "nemo-curator-pii_data"
WARC_DIR = SHARED_DATA / "webtext" / "warc"


def doc(text: str, *values: tuple[str, str]) -> pc.EvalDoc:
    """An EvalDoc whose gold spans are the first occurrence of each (value, type), left to right."""
    gold, pos = [], 0
    for value, typ in values:
        s = text.index(value, pos)
        gold.append((s, s + len(value), typ))
        pos = s + len(value)
    return pc.EvalDoc(text, gold, "test", "t1")


# -- NeMo Curator tag stripping ----------------------------------------------------------------------------


def test_tag_stripping_offsets():
    line = ("  Hi, I am <name>Ann Lee</name>; mail <email>ann@x.org</email> or call "
            "<phone_number>555 0100</phone_number>.  ")
    text, gold = pc.parse_tagged_line(line)
    assert text == "Hi, I am Ann Lee; mail ann@x.org or call 555 0100."
    assert [(text[s:e], t) for s, e, t in gold] == [
        ("Ann Lee", "PERSON"), ("ann@x.org", "EMAIL_ADDRESS"), ("555 0100", "PHONE_NUMBER")]


def test_tag_stripping_matches_nemo_curator_regex():
    import re

    line = "<address>1 Main St, Avon MA 2322</address> and <birth_date>May 1, 1990</birth_date>"
    text, gold = pc.parse_tagged_line(line)
    # NeMo Curator's own input transformation (tests/test_pii_accuracy.py)
    assert text == re.sub(r"<[^>]*>([^<]*)</[^>]*>", r"\1", line).strip()
    assert [(s, e, t) for s, e, t in gold] == [(0, 23, "STREET_ADDRESS"), (28, 39, "DATE_TIME")]
    assert text[0:23] == "1 Main St, Avon MA 2322" and text[28:39] == "May 1, 1990"


def test_tag_stripping_trims_value_spaces_and_rejects_bad_tags():
    text, gold = pc.parse_tagged_line("x <ssn> 123-45-6789 </ssn> y")
    assert [text[s:e] for s, e, _ in gold] == ["123-45-6789"]
    with pytest.raises(ValueError, match="unknown NeMo Curator PII tag <passport>"):
        pc.parse_tagged_line("<passport>X1</passport>")
    with pytest.raises(ValueError, match="not closed"):
        pc.parse_tagged_line("<email>a@b.org")


def test_nemo_curator_set_on_tagged_files(tmp_path):
    (tmp_path / "emails.txt").write_text("Hello, I am John. My email is <email>j@d.com</email>.\n\n")
    (tmp_path / "multiple.txt").write_text("I am <name>Ann</name>, SSN <ssn>123-45-6789</ssn>\n")
    docs = pc.nemo_curator_set(tmp_path)
    assert [d.doc_id for d in docs] == ["nemo_curator:emails:1", "nemo_curator:multiple:1"]
    assert docs[0].labeled == ("EMAIL_ADDRESS",)  # NeMo's test enables one category per file
    assert set(docs[1].labeled) == set(pc.NEMO_TAGS.values())
    assert [(d.text[s:e], t) for d in docs for s, e, t in d.gold] == [
        ("j@d.com", "EMAIL_ADDRESS"), ("Ann", "PERSON"), ("123-45-6789", "US_SSN")]
    with pytest.raises(FileNotFoundError):
        pc.nemo_curator_set(tmp_path / "missing")


# -- scoring -------------------------------------------------------------------------------------------------


def test_leaked_verbatim_per_gold_span():
    d = doc("Ann Lee wrote to bob@x.org about Ron.", ("Ann Lee", "PERSON"), ("bob@x.org", "EMAIL_ADDRESS"),
            ("Ron", "PERSON"))
    assert pc.leaked(d, d.text) == [("PERSON", True), ("EMAIL_ADDRESS", True), ("PERSON", True)]
    assert pc.leaked(d, "<PERSON> wrote to <EMAIL_ADDRESS> about <PERSON>.") == [
        ("PERSON", False), ("EMAIL_ADDRESS", False), ("PERSON", False)]
    # one value left verbatim; a partial value ("Lee") is not the exact string
    assert pc.leaked(d, "Lee wrote to bob@x.org about <PERSON>.") == [
        ("PERSON", False), ("EMAIL_ADDRESS", True), ("PERSON", False)]
    # a token, not a substring: "Ronald" does not leak "Ron"
    assert pc.leaked(d, "<PERSON> wrote to <EMAIL_ADDRESS> about Ronald.")[2] == ("PERSON", False)


def test_exact_masked():
    d = doc("Call Ann Lee at home; Lee is out.", ("Ann Lee", "PERSON"))
    assert pc.exact_masked(d, "Call <PERSON> at home; Lee is out.") == [("PERSON", True)]  # Lee also outside
    assert pc.exact_masked(d, "Call ******* at home; Lee is out.") == [("PERSON", True)]
    assert pc.exact_masked(d, "Call Ann <PERSON> at home; Lee is out.") == [("PERSON", False)]
    assert pc.exact_masked(d, "Call <PERSON> Lee at home; Lee is out.") == [("PERSON", False)]  # one Lee too many
    assert pc.exact_masked(d, d.text) == [("PERSON", False)]


def test_non_pii_words_kept_perfect_scrub():
    d = doc("Mail Ann Lee at ann@x.org today.", ("Ann Lee", "PERSON"), ("ann@x.org", "EMAIL_ADDRESS"))
    assert pc.non_pii_words_kept(d, d.text) == (3, 3)  # Mail, at, today; words inside gold don't count
    assert pc.non_pii_words_kept(d, "Mail <PERSON> at <EMAIL_ADDRESS> today.") == (3, 3)
    assert pc.non_pii_words_kept(d, "Mail <PERSON_abcdefghijkl> at ********* today.") == (3, 3)
    assert pc.non_pii_word_share(d, "Mail <PERSON> at <EMAIL_ADDRESS> today.") == 1.0


def test_non_pii_words_kept_penalizes_removed_words_where_removed():
    d = doc("the cat saw the dog and Ann saw the cat", ("Ann", "PERSON"))
    assert pc.non_pii_words_kept(d, "the cat saw the dog and <PERSON> saw the cat") == (9, 9)
    # one occurrence of a common word removed: one word lost, not every "the"
    assert pc.non_pii_words_kept(d, "the cat saw <PERSON> dog and <PERSON> saw the cat") == (8, 9)
    assert pc.non_pii_words_kept(d, "<PERSON> cat saw the dog and <PERSON> saw the <PERSON>") == (7, 9)
    assert pc.non_pii_words_kept(d, "") == (0, 9)


def test_non_pii_words_kept_placeholders_do_not_count():
    # the word PERSON is in the original text; a placeholder in its place does not keep it
    d = doc("Ann is the PERSON of the year", ("Ann", "PERSON"))
    assert pc.non_pii_words_kept(d, "<PERSON> is the <PERSON> of the year") == (5, 6)
    # words left over from a gold value are neither kept words nor counted
    assert pc.non_pii_words_kept(d, "Ann is the PERSON of the year") == (6, 6)


def test_non_pii_words_kept_is_an_exact_alignment():
    words = [f"w{i % 37}" for i in range(3000)]
    d = pc.EvalDoc(" ".join(words), [], "test", "t")
    kept = [w for i, w in enumerate(words) if i % 3]
    assert pc.non_pii_words_kept(d, " ".join(kept)) == (2000, 3000)


def test_non_pii_words_kept_is_fast():
    docs = [doc(f"Dear Ann Lee, your order {i} ships to Main Street on Monday, thanks for shopping with us.",
                ("Ann Lee", "PERSON"), ("Main Street", "STREET_ADDRESS")) for i in range(5000)]
    outs = [d.text.replace("Ann Lee", "<PERSON>").replace("Monday", "<DATE_TIME>") for d in docs]
    t0 = time.perf_counter()
    totals = [pc.non_pii_words_kept(d, o) for d, o in zip(docs, outs)]
    assert time.perf_counter() - t0 < 3.0
    assert totals[0] == (12, 13)  # "Monday" lost


def test_eval_doc_repr_shows_no_text():
    d = doc("Mail Ann Lee now", ("Ann Lee", "PERSON"))
    assert "Ann" not in repr(d) and "Mail" not in repr(d)
    assert "PERSON" in repr(d)


def test_load_unknown_set():
    with pytest.raises(KeyError, match="unknown evaluation set"):
        pc.load("nope")


# -- Dolma gold rules on synthetic pages ---------------------------------------------------------------------


def test_dolma_gold_rules_on_a_synthetic_page():
    html = (
        "<html><head><title>About Me - Maria Garcia</title></head><body><h1>Maria Garcia</h1>"
        "<a href='mailto:%6D%67@ex.edu'>Email</a><a href='mailto:jo@ex.edu'>John Smith</a></body></html>"
    )
    names, mails = pc.page_facts(html)
    assert names == ["Maria Garcia", "John Smith"]
    assert mails == ["mg@ex.edu", "jo@ex.edu"]
    text = ("Maria  Garcia is here. Write to mg@ex.edu or maria [at] ex [dot] edu, not to @maria@social.example "
            "or logo@2x.png. John Smith says hi; Maria Garcias is someone else.")
    gold = pc.dolma_gold(text, names, mails)
    assert [(text[s:e], t) for s, e, t in gold] == [
        ("Maria  Garcia", "PERSON"), ("mg@ex.edu", "EMAIL_ADDRESS"), ("maria [at] ex [dot] edu", "EMAIL_ADDRESS"),
        ("John Smith", "PERSON")]


@pytest.mark.parametrize("title,ok", [
    ("Maria Garcia", True), ("Amy X. Zhang", True), ("Creative Commons", False), ("Research Team", False),
    ("Home Page", False), ("maria garcia", False), ("Maria", False), ("Allen Institute for AI", False),
])
def test_looks_like_person_name(title, ok):
    assert pc.looks_like_person_name(title) is ok


# -- presidio-evaluator --------------------------------------------------------------------------------------


def test_presidio_evaluator_missing_names_the_install_command(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "presidio_evaluator", None)
    monkeypatch.setitem(sys.modules, "presidio_evaluator.data_generator", None)
    with pytest.raises(ImportError, match="make install"):
        pc.presidio_evaluator_set(2, 0)


def test_presidio_evaluator_set_is_deterministic_and_typed():
    a = pc.presidio_evaluator_set(40, 11)
    b = pc.presidio_evaluator_set(40, 11)
    c = pc.presidio_evaluator_set(40, 12)
    assert [(d.text, d.gold) for d in a] == [(d.text, d.gold) for d in b]
    assert [d.text for d in a] != [d.text for d in c]
    assert len(a) == 40 and all(d.source == "presidio_evaluator" for d in a)
    assert sum(len(d.gold) for d in a) > 20
    for d in a:
        for s, e, t in d.gold:
            assert t in pc.GOLD_TYPES and d.text[s:e].strip()
        assert all(x[1] <= y[0] for x, y in zip(d.gold, d.gold[1:]))


def test_presidio_evaluator_lower_case_share():
    fixed = pc.presidio_evaluator_set(400, 2)
    raw = pc.presidio_evaluator_set(400, 2, apply_lower_case=False)
    changed = [i for i, (a, b) in enumerate(zip(fixed, raw)) if a.text != b.text]
    assert 5 <= len(changed) <= 50  # lower_case_ratio=0.05 of 400
    for i in changed:
        assert fixed[i].text == raw[i].text.lower() and fixed[i].gold == raw[i].gold


def test_presidio_evaluator_set_without_network_and_quiet(monkeypatch, capfd):
    attempts = []

    def no_connect(self, address):
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", no_connect)
    docs = pc.presidio_evaluator_set(20, 3)
    assert len(docs) == 20
    assert attempts == []
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# -- real data (shared folder) -------------------------------------------------------------------------------


@pytest.mark.skipif(not NEMO_DIR.is_dir(), reason=f"no NeMo Curator PII data in {NEMO_DIR}")
def test_nemo_curator_set_real_files():
    docs = pc.load("nemo_curator", data_root=SHARED_DATA)
    assert len(docs) >= 50
    types = {t for d in docs for _, _, t in d.gold}
    assert {"PERSON", "EMAIL_ADDRESS", "STREET_ADDRESS", "US_SSN", "CREDIT_CARD", "IP_ADDRESS"} <= types
    assert types <= set(pc.GOLD_TYPES)
    for d in docs:
        assert d.gold and all(t in d.labeled for _, _, t in d.gold)
        assert "<" not in d.text  # every tag stripped


@pytest.mark.skipif(not (WARC_DIR / "dolma-sample-0000.warc.gz").is_file(),
                    reason=f"no Dolma WARC sample in {WARC_DIR}")
def test_dolma_warc_set_real_files(capfd):
    docs = pc.dolma_warc_set(WARC_DIR)
    assert len(docs) >= 20 and all(d.text.strip() for d in docs)
    assert len({d.text for d in docs}) == len(docs)
    s = pc.summary(docs)
    assert s["gold"].get("PERSON", 0) >= 20 and s["gold"].get("EMAIL_ADDRESS", 0) >= 2
    assert all(d.labeled == ("EMAIL_ADDRESS", "PERSON") for d in docs)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the module prints nothing (real people's data)
