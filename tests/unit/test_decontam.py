"""Benchmark decontamination logic (pipelines/text/decontam.py): normalization, hashing, matching, sets."""
from __future__ import annotations

import gzip
import hashlib
import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.text import decontam as dc

TOKEN_A = 7940767442002615849
WHAT_IS_2 = 8824915208396375595

FILLER_WORDS = (
    "river market evening window garden letter morning station harbor village teacher summer winter bridge "
    "colour library kitchen journey mountain history painting student forest island doctor engine season"
).split()


def filler(seed: int, words: int) -> str:
    rng = random.Random(seed)
    out = []
    for i in range(words):
        out.append(rng.choice(FILLER_WORDS))
        if i % 12 == 11:
            out[-1] += "."
    return " ".join(out)


def problem(name: str, n1: int, n2: int, item: str, month1: str, month2: str) -> tuple[str, str]:
    """A GSM8K-style word problem and its answer; every slot is less than 13 words from the next."""
    q = (f"{name} sold {n1} {item} to her friends in {month1}, and then she sold {n2} {item} in {month2}. "
         f"How many {item} did {name} sell altogether in {month1} and {month2}?")
    a = f"{name} sold {n1} + {n2} = {n1 + n2} {item} altogether in {month1} and {month2}. The answer is {n1 + n2}."
    return q, a


def eval_set(name: str, texts: list[str], ids: list[str] | None = None) -> dc.EvalSetData:
    return dc.EvalSetData(name=name, ids=ids or [f"i{i}" for i in range(len(texts))], texts=texts, files={},
                          sha256="0" * 64)


def matcher(*sets: dc.EvalSetData, **kw) -> dc.Matcher:
    return dc.Matcher(dc.build_index(list(sets), **kw))


# --------------------------------------------------------------------------------------- normalization
@pytest.mark.parametrize("text, expected", [
    ("What is  2+2?\n\tAnswer: FOUR!", "what is 2 2 answer four"),
    ("ＡＢＣ　ｄｅｆ ①", "abc def 1"),  # NFKC: full-width forms and circled digits
    ("Straße snake_case — “quoted”", "strasse snake case quoted"),
    ("东京是日本的首都。", "东 京 是 日 本 的 首 都"),
    ("ひらがなとカタカナ", "ひ ら が な と カ タ カ ナ"),
    ("GPT-4是模型", "gpt 4 是 模 型"),
    ("हिन्दी भाषा", "हिन्दी भाषा"),  # combining vowel signs stay inside their word (Unicode \w)
    ("", ""),
    ("!!! ...", ""),
])
def test_normalize(text, expected):
    assert dc.normalize(text) == expected


def test_ascii_fast_path_equals_the_unicode_rule():
    rng = random.Random(3)
    alphabet = "aZ9 _-.,!?\t\n'\"()[]{}#@~`^|\\/:;<>=+*&%$"
    for _ in range(300):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        # the same string with one non-ASCII character appended takes the Unicode path
        assert dc.normalize(s + " é").removesuffix("é").strip() == dc.normalize(s)


def test_vectorized_hashes_equal_the_reference_and_never_cross_documents():
    texts = ["Alpha beta gamma delta epsilon zeta.", "", "东京是日本的首都 and more words here", "one two",
             "x " * 30]
    norms = [dc.normalize(t) for t in texts]
    tb = dc.hash_tokens(norms)
    for n in (1, 3, 5):
        starts = tb.ngram_starts(n)
        got = tb.spans(starts, n).tolist()
        expected, owners = [], []
        for d, t in enumerate(texts):
            toks = dc.tokens(t)
            for i in range(len(toks) - n + 1):
                expected.append(dc.sequence_hash_reference(toks[i:i + n]))
                owners.append(d)
        assert got == expected
        assert tb.owner[starts].tolist() == owners


def test_hash_scheme_version_1_is_pinned():
    # A silent change of the scheme would change which documents match; a change must bump HASH_VERSION.
    assert dc.HASH_VERSION == 1
    assert dc.token_hash_reference("a") == TOKEN_A
    assert dc.sequence_hash_reference(["what", "is", "2"]) == WHAT_IS_2
    assert dc.sequence_hash_reference(["a", "b"]) != dc.sequence_hash_reference(["b", "a"])
    assert dc.sequence_hash_reference(["ab"]) != dc.sequence_hash_reference(["a", "b"])


# ------------------------------------------------------------------------------------------- matching
def test_planted_item_in_a_long_document_is_flagged_and_a_sibling_problem_is_not():
    q, a = problem("Natalia", 48, 24, "clips", "April", "May")
    q2, a2 = problem("Natalia", 37, 15, "clips", "June", "July")  # same template, another problem
    m = matcher(eval_set("gsm", [f"{q}\n{a}"], ["gsm-0001"]))
    long_with_qa = f"{filler(1, 1500)} {q} {a} {filler(2, 1500)}"
    long_with_q = f"{filler(3, 1500)}\n\n{q}\n\n{filler(4, 1500)}"
    long_with_sibling = f"{filler(5, 1500)} {q2} {a2} {filler(6, 1500)}"
    clean = filler(7, 3000)
    r_qa, r_q, r_sib, r_clean = m.match([long_with_qa, long_with_q, long_with_sibling, clean])
    assert r_qa.reason == "decontaminate:gsm" and r_qa.items == ["gsm:gsm-0001"] and r_qa.sets == ["gsm"]
    assert r_qa.ngrams == len(dc.ngram_hashes(f"{q}\n{a}", 13))  # every n-gram of the item is found
    assert r_q.reason == "decontaminate:gsm" and r_q.items == ["gsm:gsm-0001"]
    assert 0 < r_q.ngrams < r_qa.ngrams
    assert r_sib.reason is None and r_sib.ngrams == 0 and r_sib.items == []
    assert r_clean.reason is None


def test_punctuation_case_and_spacing_do_not_hide_an_item():
    q, a = problem("Bob", 12, 30, "apples", "March", "October")
    m = matcher(eval_set("gsm", [q + " " + a]))
    mangled = "  ".join(q.upper().replace(",", " ;").replace("?", "??").split()) + "\n" + a.replace(" ", "\n")
    assert m.match([mangled])[0].reason == "decontaminate:gsm"


def test_min_matches():
    item = " ".join(f"w{i}" for i in range(40))
    doc = "lead " + " ".join(f"w{i}" for i in range(14)) + " tail"  # 14 consecutive tokens: 2 n-grams
    assert matcher(eval_set("s", [item]), min_matches=2).match([doc])[0].reason == "decontaminate:s"
    r = matcher(eval_set("s", [item]), min_matches=3).match([doc])[0]
    assert r.reason is None and r.ngrams == 2 and r.items == ["s:i0"]  # the signal is kept, not flagged


def test_first_set_in_config_order_names_the_reason_and_items_rank_by_matches():
    shared = " ".join(f"s{i}" for i in range(20))
    only_b = " ".join(f"b{i}" for i in range(20))
    a, b = eval_set("aaa", [shared]), eval_set("bbb", [shared + " " + only_b, only_b])
    doc = f"x {shared} y {only_b} z"
    r = matcher(b, a).match([doc])[0]
    assert r.reason == "decontaminate:bbb" and r.sets == ["bbb", "aaa"]
    assert r.items == ["bbb:i0", "bbb:i1", "aaa:i0"]
    assert matcher(a, b).match([doc])[0].reason == "decontaminate:aaa"
    capped = matcher(b, a, max_item_ids=2).match([doc])[0]
    assert capped.items == ["bbb:i0", "bbb:i1"]


# ----------------------------------------------------------------------------------------- short items
def test_short_items_match_whole_when_long_enough_and_are_counted():
    nine = "Which planet in the solar system is the largest?"  # 9 tokens < 13
    tiny = "Paris"  # 1 token < min_item_tokens: skipped
    idx = dc.build_index([eval_set("qa", [nine, tiny, "!!!"])], ngram=13, min_item_tokens=8)
    st = idx.stats["qa"]
    assert (st.items, st.ngram_items, st.short_matched, st.short_skipped, st.empty_items) == (3, 0, 1, 1, 1)
    m = dc.Matcher(idx)
    found, partial, paris = m.match([
        f"{filler(1, 200)} which planet in the Solar System is the LARGEST {filler(2, 200)}",
        f"{filler(1, 200)} which planet in the solar system is the {filler(2, 200)}",  # 8 of the 9 tokens
        "I love Paris in the spring.",
    ])
    assert found.reason == "decontaminate:qa" and found.items == ["qa:i0"] and found.ngrams == 1
    assert partial.reason is None and paris.reason is None


def test_short_item_at_the_very_end_of_a_document_and_not_across_documents():
    nine = "one two three four five six seven eight nine"
    m = matcher(eval_set("qa", [nine]), ngram=13, min_item_tokens=8)
    end, split_a, split_b = m.match(["intro " + nine, "one two three four five", "six seven eight nine"])
    assert end.reason == "decontaminate:qa"
    assert split_a.reason is None and split_b.reason is None


def test_short_items_skip_mode():
    nine = "Which planet in the solar system is the largest?"
    idx = dc.build_index([eval_set("qa", [nine])], ngram=13, short_items="skip")
    assert idx.stats["qa"].short_skipped == 1 and idx.stats["qa"].short_matched == 0
    assert dc.Matcher(idx).match([f"well, {nine} jupiter"])[0].reason is None


# ----------------------------------------------------------------------------------------------- CJK
def test_cjk_items_match_by_characters():
    zh = "中华人民共和国的首都是北京，它也是全国的政治和文化中心。"
    ja = "富士山は日本で一番高い山で、静岡県と山梨県にまたがっている。"
    m = matcher(eval_set("cjk", [zh, ja], ["zh1", "ja1"]))
    r_zh, r_ja, r_part, r_other = m.match([
        "今天我们学习地理。" + zh + "下课后大家去吃饭。",
        "日本の地理について。" + ja.replace("、", " ") + "以上です。",
        "中华人民共和国的首都",  # 10 characters < 13: no n-gram
        "北京是一个很大的城市，有很多人住在那里。",
    ])
    assert r_zh.reason == "decontaminate:cjk" and r_zh.items == ["cjk:zh1"]
    assert r_ja.reason == "decontaminate:cjk" and r_ja.items == ["cjk:ja1"]
    assert r_part.reason is None and r_other.reason is None


def test_thai_items_match():
    th = "ประเทศไทยมีเมืองหลวงชื่อกรุงเทพมหานคร"
    m = matcher(eval_set("th", [th]))
    assert m.match(["ข้อสอบ " + th + " จบ"])[0].reason == "decontaminate:th"


# ---------------------------------------------------------------------------------------------- Bloom
def test_bloom_filter_has_no_false_negatives_and_about_its_stated_rate():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**63, 50_000, dtype=np.int64).view(np.uint64)
    bf = dc.BloomFilter(keys, 0.01)
    assert bf.contains(keys).all()
    others = rng.integers(0, 2**63, 200_000, dtype=np.int64).view(np.uint64)
    measured = bf.contains(others).mean()
    assert bf.fpr <= 0.01
    assert measured < 2 * bf.fpr + 0.001


def test_bloom_mode_candidates_confirm_to_the_exact_outcome():
    q, a = problem("Ana", 5, 9, "pears", "May", "June")
    nine = "Which planet in the solar system is the largest?"
    sets = [eval_set("gsm", [q + " " + a, "unrelated text " * 10]), eval_set("qa", [nine])]
    idx = dc.build_index(sets, ngram=13)
    docs = [f"{filler(1, 300)} {q} {filler(2, 100)} {nine}", filler(3, 500), nine]
    exact = dc.Matcher(idx).match(docs)
    bloom = dc.Matcher(idx.for_workers(True, 0.01)).match(docs)
    prefiltered = dc.Matcher(idx.for_workers(False, 0.01)).match(docs)  # what exact-mode workers get
    assert [(p.reason, p.sets, p.items, p.ngrams) for p in prefiltered] == \
        [(e.reason, e.sets, e.items, e.ngrams) for e in exact]
    hashes, items = idx.key_table()
    table: dict[int, list[int]] = {}
    for h, it in zip(hashes.tolist(), items.tolist()):
        table.setdefault(h, []).append(it)
    for e, b in zip(exact, bloom):
        assert b.reason is None and not b.sets  # workers only collect candidates in Bloom mode
        pairs = [(h, it) for h in np.array(b.candidates, dtype=np.int64).view(np.uint64).tolist()
                 for it in table.get(h, [])]
        confirmed = dc.summarize(idx, np.array([p[0] for p in pairs], dtype=np.uint64),
                                 np.array([p[1] for p in pairs], dtype=np.int64), b.short_items)
        assert (confirmed.reason, confirmed.sets, confirmed.items, confirmed.ngrams) == \
            (e.reason, e.sets, e.items, e.ngrams)
    assert exact[0].sets == ["gsm", "qa"] and exact[2].reason == "decontaminate:qa"


# --------------------------------------------------------------------------------------- reading sets
def test_read_jsonl_parquet_text_and_folders(tmp_path):
    jl = tmp_path / "qa.jsonl"
    jl.write_text("\n".join([
        json.dumps({"id": "q1", "question": "What is two plus two?", "answer": "four"}),
        "{not json",
        json.dumps({"id": "q2", "other": "x"}),
        json.dumps({"id": "q3", "question": "", "answer": ""}),
        json.dumps({"id": 7, "question": "Name a colour.", "choices": ["red", "blue"], "answer": None}),
        "[1, 2]",
        "",
    ]), encoding="utf-8")
    d = dc.read_eval_set("qa", jl, ["question", "answer"], id_field="id")
    assert d.ids == ["q1", "7"] and d.texts == ["What is two plus two?\nfour", "Name a colour."]
    assert d.records == 6 and dict(d.skipped) == {"malformed_json": 1, "missing_fields": 1, "empty_text": 1,
                                                  "not_an_object": 1}
    assert d.sha256 == hashlib.sha256(jl.read_bytes()).hexdigest()
    d2 = dc.read_eval_set("qa", jl, ["question", "choices"])
    assert d2.texts[1] == "Name a colour.\nred\nblue" and d2.ids[0] == "qa.jsonl:1"

    folder = tmp_path / "set"
    (folder / "sub").mkdir(parents=True)
    pq.write_table(pa.table({"prompt": ["alpha beta", None], "n": [1, 2]}), folder / "a.parquet")
    (folder / "sub" / "b.txt.gz").write_bytes(gzip.compress("line one\n\n  \nline two\n\xff\n".encode("utf-8")
                                                            + b"\xff\xfe bad\n"))
    (folder / "notes.md").write_text("ignored")
    f = dc.read_eval_set("mix", folder, ["prompt"])
    assert f.texts == ["alpha beta", "line one", "line two", "\xff"]
    assert f.ids == ["a.parquet:0", "sub/b.txt.gz:1", "sub/b.txt.gz:4", "sub/b.txt.gz:5"]
    assert f.records == 6 and dict(f.skipped) == {"empty_text": 1, "undecodable_line": 1}
    assert sorted(f.files) == ["a.parquet", "sub/b.txt.gz"]
    listing = "".join(f"{k} {v}\n" for k, v in sorted(f.files.items()))
    assert f.sha256 == hashlib.sha256(listing.encode()).hexdigest()


def test_bad_sets_are_clear_errors(tmp_path):
    with pytest.raises(dc.EvalSetError, match="does not exist"):
        dc.read_eval_set("x", tmp_path / "missing.jsonl", ["q"])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(dc.EvalSetError, match="no usable item"):
        dc.read_eval_set("x", empty, [])
    jl = tmp_path / "a.jsonl"
    jl.write_text(json.dumps({"q": "hello"}) + "\n")
    with pytest.raises(dc.EvalSetError, match="list the fields"):
        dc.read_eval_set("x", jl, [])
    with pytest.raises(dc.EvalSetError, match="no usable item.*missing_fields: 1"):
        dc.read_eval_set("x", jl, ["question"])
    (tmp_path / "d").mkdir()
    with pytest.raises(dc.EvalSetError, match="holds no"):
        dc.read_eval_set("x", tmp_path / "d", [])
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(dc.EvalSetError, match="not a readable Parquet"):
        dc.read_eval_set("x", bad, ["q"])
