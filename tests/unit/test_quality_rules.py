"""One planted document per quality rule: it fails that rule only (the reason names it); a clean one passes.

Documents are built from pseudo-words that never repeat (a seeded generator), so repetition appears only
where a test plants it; the few expected ratios are computed here with plain arithmetic on the text.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

import pipelines.text.quality as quality_mod
from pipelines.text.quality import QualityEvaluator, compile_rules, compute_signals
from schemas.config.quality import QUALITY_RULES, RULE_NAMES, QualitySection

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP = ["the", "and", "of", "to", "with", "that", "have", "be"]


class Gen:
    """Deterministic generator of unique pseudo-words and sentences."""

    CONS = "bdfgklmnprstvz"
    VOW = "aeiou"

    def __init__(self, seed: int = 7, syllables=(2, 3)) -> None:
        self.rng = random.Random(seed)
        self.used: set[str] = set(STOP)
        self.syllables = syllables

    def word(self, syllables=None) -> str:
        syl = syllables or self.syllables
        while True:
            w = "".join(self.rng.choice(self.CONS) + self.rng.choice(self.VOW) for _ in range(self.rng.choice(syl)))
            if w not in self.used:
                self.used.add(w)
                return w

    def words(self, n: int, **kw) -> list[str]:
        return [self.word(**kw) for _ in range(n)]

    def sentence(self, n: int = 11, stop: bool = True, end: str = ".", **kw) -> str:
        ws = self.words(n - 1 if stop else n, **kw)
        if stop:
            ws.insert(self.rng.randrange(1, len(ws)), self.rng.choice(STOP))
        ws[0] = ws[0].capitalize()
        return " ".join(ws) + end

    def prose(self, lines: int = 8, n: int = 11, **kw) -> list[str]:
        return [self.sentence(n, **kw) for _ in range(lines)]


def failing(text: str, section: QualitySection, lang="en") -> list[str]:
    """Every rule the document fails (not only the first)."""
    sig = compute_signals(text, lang)
    out = []
    for name, signal, is_min, thr in compile_rules(section.rules_for(lang)):
        v = sig[signal]
        if v is not None and ((v < thr) if is_min else (v > thr)):
            out.append(name)
    return out


def word_chars(text: str) -> int:
    return sum(len(w) for w in text.split())


# --------------------------------------------------------------------------------------------------
# Planted documents, one per rule. Each returns (text, rules that must be off because the planted
# property implies them, e.g. more than 20% of characters in repeated lines implies more than 1%).


def clean_doc(seed=1) -> str:
    return "\n".join(Gen(seed).prose())


def d_gopher_short_doc():
    return "\n".join(Gen(2).prose(lines=4, n=10)), ()


def d_gopher_long_doc():
    g = Gen(3, syllables=(3, 4))
    return "\n".join(g.prose(lines=9100, n=11)), ()


def d_gopher_short_words():
    g = Gen(4)
    lines = []
    for _ in range(9):
        ws = ["".join(g.rng.choice("bcdfghjklmnprstvwz") + g.rng.choice("aeiou")) for _ in range(10)]
        ws.insert(3, g.rng.choice(STOP))
        lines.append(" ".join(ws) + ".")
    return "\n".join(lines), ()


def d_gopher_long_words():
    return "\n".join(Gen(5, syllables=(6, 7)).prose()), ()


def d_gopher_symbol_ratio():
    g = Gen(6)
    lines = []
    for _ in range(8):
        ws = g.sentence(10).split()
        ws.insert(4, "#" + g.word())
        ws.insert(7, "#" + g.word())
        lines.append(" ".join(ws))
    return "\n".join(lines), ()


def d_gopher_bullet_lines():
    return "\n".join("- " + s for s in Gen(7).prose()), ()


def d_gopher_ellipsis_lines():
    g = Gen(8)
    lines = g.prose(lines=4) + [g.sentence(11, end="...") for _ in range(4)]
    return "\n".join(lines), ()


def d_gopher_alpha_words():
    g = Gen(9)
    lines = []
    for i in range(8):
        ws = g.sentence(9).split()
        ws.insert(2, str(1000 + 7 * i))
        ws.insert(5, str(2000 + 11 * i))
        ws.insert(7, str(3000 + 13 * i))
        lines.append(" ".join(ws))
    return "\n".join(lines), ()


def d_gopher_stop_words():
    return "\n".join(Gen(10).prose(stop=False)), ()


def d_gopher_dup_lines():
    g = Gen(11)
    lines = g.prose(lines=10) + ["x"] * 7
    return "\n".join(lines), ()


def d_gopher_dup_paragraphs():
    g = Gen(12)
    paras = ["\n".join(g.prose(lines=3)) for _ in range(4)] + ["x"] * 4
    return "\n\n".join(paras), ()


def d_gopher_dup_line_chars():
    g = Gen(13)
    dup = g.word(syllables=(18,)).capitalize()  # one long word: repeated, it forms no repeated n-gram
    lines = g.prose(lines=7, n=9)
    for pos in (1, 4, 7, 9):
        lines.insert(pos, dup)
    # >20% of characters in repeated lines also means >1%: FineWeb's stricter rule is implied.
    return "\n".join(lines), ("fineweb_dup_line_chars",)


def d_gopher_dup_paragraph_chars():
    g = Gen(14)
    dup = g.word(syllables=(25,)).capitalize()  # a one-word paragraph, repeated: no repeated n-gram
    paras = g.prose(lines=7)
    for pos in (1, 3, 5, 8):
        paras.insert(pos, dup)
    # The repeated paragraph's lines are repeated lines: the line-character rules are implied.
    return "\n\n".join(paras), ("gopher_dup_line_chars", "fineweb_dup_line_chars")


def _with_repeat(seed: int, seq_len: int, target: float, copies: int = 2, seq_syllables=(2, 3)):
    """Prose where one sequence of ``seq_len`` words appears ``copies`` times in distinct contexts, with
    filler added until the sequence's characters are just below ``target`` of all word characters."""
    g = Gen(seed)
    seq = g.words(seq_len, syllables=seq_syllables)
    lines = []
    for i in range(copies):
        head, tail = g.words(3), g.words(3)
        head[0] = head[0].capitalize()
        # A different stop word before each copy, so that exactly ``seq`` repeats.
        lines.append(" ".join(head + [STOP[i]] + seq + tail) + ".")
    covered = copies * sum(len(w) for w in seq)
    body = g.prose(lines=4)
    filler: list[str] = []
    while covered / (word_chars("\n".join(lines + body)) + sum(len(w) for w in filler) + 1) > target:
        filler.append(g.word())
        if len(filler) == 10:
            filler[0] = filler[0].capitalize()
            body.append(" ".join(filler) + ".")
            filler = []
    if filler:
        filler[0] = filler[0].capitalize()
        body.append(" ".join(filler + ["and"]) + ".")
    text = "\n".join([lines[0]] + body[:3] + lines[1:] + body[3:])
    return text, covered / word_chars(text)


def _top_ngram_doc(seed: int, lengths: list[int], copies: int):
    """A repeated n-gram whose inner words are one character, so shorter n-grams cover less."""
    g = Gen(seed)
    gram = [g.word() if n > 1 else chr(ord("q") + i) for i, n in enumerate(lengths)]
    lines = []
    for i in range(copies):
        ws = g.words(4) + gram + g.words(3)
        ws.insert(2, STOP[i % len(STOP)])  # different stop words: the rule counts distinct ones
        ws[0] = ws[0].capitalize()
        lines.append(" ".join(ws) + ".")
    return "\n".join(lines), gram


def d_gopher_top_2gram():
    g = Gen(15)
    gram = ["zorbalik", "quintemar"]
    lines = []
    for i in range(12):
        ws = g.words(6) + gram + g.words(2)
        ws.insert(3, STOP[i % len(STOP)])  # different stop words: the rule counts distinct ones
        ws[0] = ws[0].capitalize()
        lines.append(" ".join(ws) + ".")
    text = "\n".join(lines)
    assert 12 * 17 / word_chars(text) > 0.20
    return text, ()


def d_gopher_top_3gram():
    text, gram = _top_ngram_doc(16, [7, 1, 7], copies=14)
    assert 0.18 < 14 * sum(map(len, gram)) / word_chars(text)
    return text, ()


def d_gopher_top_4gram():
    text, gram = _top_ngram_doc(17, [7, 1, 1, 7], copies=14)
    assert 0.16 < 14 * sum(map(len, gram)) / word_chars(text)
    return text, ()


_DUP_WINDOWS = {5: (0.15, 0.16), 6: (0.14, 0.15), 7: (0.13, 0.14), 8: (0.12, 0.13), 9: (0.11, 0.12), 10: (0.10, 0.11)}


def _dup_ngram_builder(n: int):
    def build():
        low, high = _DUP_WINDOWS[n]
        text, ratio = _with_repeat(20 + n, n, target=(low + high) / 2)
        assert low < ratio <= high, ratio
        return text, ()

    return build


def d_c4_lorem_ipsum():
    lines = Gen(30).prose()
    lines[3] = lines[3][:-1] + " lorem ipsum dolor sit amet."
    return "\n".join(lines), ()


def d_c4_curly_bracket():
    lines = Gen(31).prose()
    lines[2] = lines[2][:-1] + " {bamoku}."
    return "\n".join(lines), ()


def d_c4_min_sentences():
    g = Gen(32)
    lines = g.prose(lines=2) + [g.sentence(11, end="") for _ in range(7)]
    return "\n".join(lines), ()


def d_c4_removed_lines():
    g = Gen(33)
    lines = g.prose(lines=5) + [g.sentence(3) for _ in range(7)]  # too few words: C4 removes them
    return "\n".join(lines), ()


def d_fineweb_punct_lines():
    g = Gen(34)
    three = " ".join(g.sentence(7) for _ in range(3))
    lines = [three] + [g.sentence(11, end="") for _ in range(9)]
    return "\n".join(lines), ()


def d_fineweb_short_lines():
    g = Gen(35)
    lines = g.prose(lines=8) + [g.sentence(3, stop=False) for _ in range(18)]
    return "\n".join(lines), ()


def d_fineweb_dup_line_chars():
    g = Gen(36)
    dup = g.sentence(4)
    lines = g.prose(lines=10)
    lines.insert(3, dup)
    lines.insert(8, dup)
    return "\n".join(lines), ()


def d_fineweb_newlines_per_word():
    return "\n\n\n\n".join(Gen(37).prose(lines=8, n=9)), ()


PLANTED = {
    "gopher_short_doc": d_gopher_short_doc,
    "gopher_long_doc": d_gopher_long_doc,
    "gopher_short_words": d_gopher_short_words,
    "gopher_long_words": d_gopher_long_words,
    "gopher_symbol_ratio": d_gopher_symbol_ratio,
    "gopher_bullet_lines": d_gopher_bullet_lines,
    "gopher_ellipsis_lines": d_gopher_ellipsis_lines,
    "gopher_alpha_words": d_gopher_alpha_words,
    "gopher_stop_words": d_gopher_stop_words,
    "gopher_dup_lines": d_gopher_dup_lines,
    "gopher_dup_paragraphs": d_gopher_dup_paragraphs,
    "gopher_dup_line_chars": d_gopher_dup_line_chars,
    "gopher_dup_paragraph_chars": d_gopher_dup_paragraph_chars,
    "gopher_top_2gram": d_gopher_top_2gram,
    "gopher_top_3gram": d_gopher_top_3gram,
    "gopher_top_4gram": d_gopher_top_4gram,
    **{f"gopher_dup_{n}gram": _dup_ngram_builder(n) for n in range(5, 11)},
    "c4_lorem_ipsum": d_c4_lorem_ipsum,
    "c4_curly_bracket": d_c4_curly_bracket,
    "c4_min_sentences": d_c4_min_sentences,
    "c4_removed_lines": d_c4_removed_lines,
    "fineweb_punct_lines": d_fineweb_punct_lines,
    "fineweb_short_lines": d_fineweb_short_lines,
    "fineweb_dup_line_chars": d_fineweb_dup_line_chars,
    "fineweb_newlines_per_word": d_fineweb_newlines_per_word,
}

#: Rules that are off by default; their planted document is checked with a threshold set.
OFF_BY_DEFAULT = {"c4_removed_lines": 0.5}


def test_modules_are_this_repository():
    assert Path(quality_mod.__file__).resolve().is_relative_to(REPO_ROOT)


def test_every_rule_has_a_planted_document():
    assert set(PLANTED) == set(RULE_NAMES)


def test_clean_document_passes_every_rule():
    text = clean_doc()
    section = QualitySection()
    assert failing(text, section) == []
    signals, reason = QualityEvaluator(section).evaluate(text, "en")
    assert reason is None
    stop_used = {w.lower().strip(".") for w in text.split()} & set(STOP)
    assert signals["q_words"] == 88 and signals["q_distinct_stop_words"] == len(stop_used) >= 2


def test_stop_word_rule_counts_distinct_words():
    # Gopher: "at least two of the following English words". One stop word, however often and in whatever
    # case or punctuation, is one; a second different one passes the rule.
    g = Gen(40)
    one = [f"{w.capitalize()} {g.word()} {g.word()} {g.word()} {g.word()} {g.word()} {g.word()} {g.word()}."
           for w in ["the", "The", "the,", "(the", "THE", "the"] * 2]
    text = "\n".join(one)
    signals = compute_signals(text, "en")
    assert sum(w.lower().strip(".,(") == "the" for w in text.split()) == 12
    assert signals["q_distinct_stop_words"] == 1
    assert failing(text, QualitySection()) == ["gopher_stop_words"]
    assert compute_signals("the the the", "en")["q_distinct_stop_words"] == 1
    two = text + "\n" + f"{g.word().capitalize()} and {g.word()} {g.word()} {g.word()}."
    assert compute_signals(two, "en")["q_distinct_stop_words"] == 2
    assert failing(two, QualitySection()) == []
    # The other languages' lists count distinct words too.
    assert compute_signals("und und und und", "de")["q_distinct_stop_words"] == 1
    assert compute_signals("und die und die", "de")["q_distinct_stop_words"] == 2


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_planted_document_fails_only_its_rule(rule):
    text, implied = PLANTED[rule]()
    settings = {name: False for name in implied}
    if rule in OFF_BY_DEFAULT:
        # Off by default: the document passes with defaults, and fails once a threshold is set.
        assert QualityEvaluator(QualitySection(**settings)).evaluate(text, "en")[1] is None
        settings[rule] = OFF_BY_DEFAULT[rule]
    section = QualitySection(**settings)
    assert failing(text, section) == [rule]
    _, reason = QualityEvaluator(section).evaluate(text, "en")
    assert reason == f"quality:{rule}"
    # The rule switched off: the same document passes.
    off = QualitySection(**{**settings, rule: False})
    assert QualityEvaluator(off).evaluate(text, "en")[1] is None


@pytest.mark.parametrize("rule", ["gopher_dup_line_chars", "gopher_dup_paragraph_chars"])
def test_implied_rules_report_the_first_in_order(rule):
    text, implied = PLANTED[rule]()
    fails = failing(text, QualitySection())
    assert rule in fails and set(fails) <= {rule, *implied}
    order = [r.name for r in QUALITY_RULES]
    first = min(fails, key=order.index)
    assert QualityEvaluator(QualitySection()).evaluate(text, "en")[1] == f"quality:{first}"


def test_threshold_is_settable():
    text = clean_doc()  # 88 words
    assert QualityEvaluator(QualitySection(gopher_short_doc=88)).evaluate(text, "en")[1] is None
    assert QualityEvaluator(QualitySection(gopher_short_doc=89)).evaluate(text, "en")[1] == "quality:gopher_short_doc"


def test_c4_line_cleaning_follows_the_reference_on_ellipses_and_citations():
    # C4's reference code: a line ending in "..." is not kept, and a trailing citation ("[1]", "[edit]")
    # does not hide the line's final punctuation.
    from pipelines.text.quality import compute_signals

    base = "This line has enough words to be kept by the cleaning."
    trailing = [
        ("This line has enough words but trails off...", 0.5),
        ("This line has enough words and ends in a citation.[12]", 0.0),
        ("This line has enough words and an edit marker.[edit]", 0.0),
        ("This line has enough words and no punctuation [1]", 0.5),
    ]
    for line, removed in trailing:
        signals = compute_signals(base + "\n" + line, "en")
        assert signals["q_c4_removed_lines"] == removed, line
