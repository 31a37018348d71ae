"""Quality signals and rules for one document (Gopher quality and repetition, C4, FineWeb); no Spark.

:func:`compute_signals` reads a document once: it splits lines and words a single time, maps words to
integer ids, and derives every signal from those shared structures (n-gram statistics run in numpy over
the ids). Rules (:data:`schemas.config.quality.QUALITY_RULES`) only compare stored signals with
thresholds, which is what lets ``corpusforge whatif`` replay new thresholds over a finished run.

Languages differ, and the signals adapt without needing the language stage:

* Text written without spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar, Tibetan) is
  cut into units: each character of those scripts is one unit, other runs of non-space characters are one
  unit each. Word counts, n-grams and C4's words-per-line use units. When such characters make up most
  units, the document is *unsegmented*: mean word length and stop words are not computed (null), so
  those rules are skipped.
* Thai and Lao do not end sentences with punctuation: for unsegmented documents mostly in those scripts,
  the terminal-punctuation signals (FineWeb's punctuated lines, C4's sentence count) are null and C4's
  line cleaning does not require terminal punctuation.
* Terminal punctuation includes the sentence enders of CJK, Devanagari, Arabic, Armenian, Ethiopic,
  Myanmar, Khmer and Tibetan scripts.
* Stop words come from :mod:`pipelines.text.stopwords` for the document's language (null when there is
  no list for it). As in the Gopher paper ("at least two of the following English words"), the signal
  ``q_distinct_stop_words`` counts how many *different* stop words occur (lower-cased, surrounding
  punctuation stripped), not their occurrences: "the the the" holds one.

A signal that is null skips its rules. Per-language thresholds are configuration (``quality.languages``).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np

from schemas.config.quality import QUALITY_RULES, RULE_NAMES, RuleSpec

from .stopwords import stopwords_for

log = logging.getLogger(__name__)

#: Signal columns in output order, with their Arrow/Spark type ("int" = int64, "float" = float64).
SIGNALS: tuple[tuple[str, str], ...] = (
    ("q_words", "int"),
    ("q_mean_word_len", "float"),
    ("q_symbol_ratio", "float"),
    ("q_bullet_lines", "float"),
    ("q_ellipsis_lines", "float"),
    ("q_alpha_words", "float"),
    ("q_distinct_stop_words", "int"),
    ("q_dup_lines", "float"),
    ("q_dup_paragraphs", "float"),
    ("q_dup_line_chars", "float"),
    ("q_dup_paragraph_chars", "float"),
    ("q_top_2gram", "float"),
    ("q_top_3gram", "float"),
    ("q_top_4gram", "float"),
    ("q_dup_5gram", "float"),
    ("q_dup_6gram", "float"),
    ("q_dup_7gram", "float"),
    ("q_dup_8gram", "float"),
    ("q_dup_9gram", "float"),
    ("q_dup_10gram", "float"),
    ("q_lorem_ipsum", "int"),
    ("q_curly_brackets", "int"),
    ("q_c4_sentences", "int"),
    ("q_c4_removed_lines", "float"),
    ("q_punct_lines", "float"),
    ("q_short_lines", "float"),
    ("q_newlines_per_word", "float"),
)
SIGNAL_NAMES: tuple[str, ...] = tuple(name for name, _ in SIGNALS)

# Scripts written without spaces between words.
_NOSPACE = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # Hiragana, Katakana (incl. half-width)
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"  # Han
)
_CJK_PUNCT = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_NOSPACE_RE = re.compile(f"[{_NOSPACE}]")
_NO_TERMINAL_PUNCT_RE = re.compile("[\u0e00-\u0eff]")  # Thai and Lao
_UNIT_RE = re.compile(f"[{_NOSPACE}][{_CJK_PUNCT}]*|[^\\s{_NOSPACE}]+")
# A letter, or a character of a script written without spaces (Thai vowel signs are marks, not letters).
_HAS_LETTER = re.compile(rf"[^\W\d_]|[{_NOSPACE}]").search
_PARAGRAPH_SPLIT = re.compile(r"\n[ \t\r\f\v]*\n")

_CLOSERS = "\"'”’»」』)]"
#: Characters that end a sentence (a line ending in one of them, or a closing quote, is punctuated).
TERMINAL_PUNCT: tuple[str, ...] = tuple(".!?。！？…।॥؟۔։።။។།\"'”’»」』")
_CLOSERS_CLASS = "[" + re.escape(_CLOSERS) + "]*"
_SENTENCE_END_RE = re.compile(
    r"[.!?…؟]+" + _CLOSERS_CLASS + r"(?=\s|$)|[。！？।॥۔։።။។།]+" + _CLOSERS_CLASS
)
BULLETS: tuple[str, ...] = (
    "•", "●", "○", "◦", "▪", "▫", "■", "□", "‣", "⁃", "∙", "·", "-", "–", "—", "*", "➢", "►", "▶", "→",
)
ELLIPSES: tuple[str, ...] = ("...", "…")
_WORD_STRIP = "".join(sorted(set(".,;:!?\"'()[]{}<>«»“”‘’„‚`*_#-–—/\\|…。，、；：！？「」『』（）")))
_CITATIONS_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
#: Line-level C4 cleaning removes lines with these phrases (terms-of-use, privacy and cookie notices).
POLICY_PHRASES: tuple[str, ...] = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)


@dataclass(frozen=True)
class SignalParams:
    """Parameters that change how signals are computed (``quality.signals`` in the config)."""

    c4_line_min_words: int = 5
    c4_line_max_word_chars: int = 1000
    c4_line_terminal_punct: bool = True
    c4_line_javascript: bool = True
    c4_line_policy: bool = True
    short_line_chars: int = 30

    @classmethod
    def from_section(cls, signals: Any) -> "SignalParams":
        """Build from ``QualitySection.signals``."""
        return cls(**{k: getattr(signals, k) for k in cls.__dataclass_fields__})


Number = Union[int, float]


def _coverage(starts: np.ndarray, n: int, n_words: int, lens: np.ndarray) -> int:
    """Characters of the words covered by n-grams starting at ``starts`` (each word counted once)."""
    diff = np.bincount(starts, minlength=n_words + 1)
    diff -= np.bincount(starts + n, minlength=n_words + 1)
    covered = np.cumsum(diff[:n_words]) > 0
    return int(lens[covered].sum())


def _ngram_signals(ids: np.ndarray, lens: np.ndarray, word_chars: int) -> dict[str, float]:
    """Gopher's top n-gram (n=2..4) and duplicate n-gram (n=5..10) character fractions.

    n-grams get exact dense ids by pairing the (n-1)-gram id at i with the word id at i+n-1, so there are
    no hash collisions. Once no (n-1)-gram repeats, no longer n-gram can repeat and the loop stops.
    """
    out = {f"q_top_{n}gram": 0.0 for n in (2, 3, 4)}
    out.update({f"q_dup_{n}gram": 0.0 for n in range(5, 11)})
    n_words = len(ids)
    if n_words < 2 or word_chars <= 0:
        return out
    # cur holds dense ids (< number of distinct (n-1)-grams <= n_words), so keys stay below n_words**2.
    cur = ids
    vocab = int(ids.max()) + 1
    for n in range(2, 11):
        m = n_words - n + 1
        if m <= 0:
            break
        key = cur[:m] * vocab + ids[n - 1 : n - 1 + m]
        uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
        cur = inv.reshape(-1).astype(np.int64, copy=False)
        if len(uniq) == m:  # every n-gram is distinct: nothing repeats at this n or beyond
            break
        if n <= 4:
            top = int(np.argmax(counts))
            if counts[top] > 1:
                starts = np.flatnonzero(cur == top)
                out[f"q_top_{n}gram"] = _coverage(starts, n, n_words, lens) / word_chars
        else:
            starts = np.flatnonzero(counts[cur] > 1)
            if len(starts):
                out[f"q_dup_{n}gram"] = _coverage(starts, n, n_words, lens) / word_chars
    return out


def _words(text: str, lines: list[str]) -> tuple[list[list[str]], list[str], bool, bool]:
    """Words per line and of the document, and whether the text is unsegmented / has no terminal punctuation.

    Scripts written without spaces (CJK, Thai, ...) count each of their characters as a word; a text is
    ``unsegmented`` when such characters are most of its words, and ``no_terminal_punct`` when it is
    mostly Thai or Lao, which end sentences without punctuation.
    """
    nospace = _NOSPACE_RE.search(text) is not None
    if nospace:
        line_words = [_UNIT_RE.findall(ln) for ln in lines]
    else:
        line_words = [ln.split() for ln in lines]
    words = [w for ws in line_words for w in ws]
    unsegmented = no_terminal_punct = False
    if nospace and words:
        n_nospace = len(_NOSPACE_RE.findall(text))
        unsegmented = 2 * n_nospace > len(words)
        no_terminal_punct = unsegmented and 2 * len(_NO_TERMINAL_PUNCT_RE.findall(text)) > n_nospace
    return line_words, words, unsegmented, no_terminal_punct


def _word_signals(words: list[str], unsegmented: bool,
                  lang: Optional[str]) -> tuple[dict[str, Optional[Number]], np.ndarray, np.ndarray, int, int]:
    """Gopher word signals, plus word ids, word lengths, total word characters and the longest word's length.

    Ids, lengths and per-unique-word properties are computed once; a word's id is the position of its
    first occurrence.
    """
    n_words = len(words)
    stop = None if unsegmented else stopwords_for(lang)
    if not n_words:
        sig = {"q_mean_word_len": None if unsegmented else 0.0, "q_alpha_words": 0.0,
               "q_distinct_stop_words": None if stop is None else 0}
        empty = np.zeros(0, dtype=np.int64)
        return sig, empty, empty, 0, 0
    # A C-level loop; ids stay below n_words.
    vocab: dict[str, int] = {}
    ids = np.fromiter(map(vocab.setdefault, words, range(n_words)), dtype=np.int64, count=n_words)
    lens = np.fromiter(map(len, words), dtype=np.int64, count=n_words)
    word_chars = int(lens.sum())
    uniq = list(vocab)
    counts = np.bincount(ids, minlength=n_words)[np.fromiter(vocab.values(), dtype=np.int64, count=len(uniq))]
    has_letter = np.fromiter((_HAS_LETTER(w) is not None for w in uniq), dtype=bool, count=len(uniq))
    sig: dict[str, Optional[Number]] = {
        "q_mean_word_len": None if unsegmented else word_chars / n_words,
        "q_alpha_words": int(counts[has_letter].sum()) / n_words,
    }
    if stop is not None:
        # Distinct stop words (Gopher: "at least two of the following words"); "The" and "the," are one.
        sig["q_distinct_stop_words"] = len(stop.intersection(w.lower().strip(_WORD_STRIP) for w in uniq))
    else:
        sig["q_distinct_stop_words"] = None
    return sig, ids, lens, word_chars, int(lens.max())


def _repeats(items: list[str]) -> tuple[int, int]:
    """How many of ``items`` repeat an earlier one, and their characters."""
    seen: set[str] = set()
    dups = dup_chars = 0
    for x in items:
        if x in seen:
            dups += 1
            dup_chars += len(x)
        else:
            seen.add(x)
    return dups, dup_chars


def _repetition_signals(text: str, lines: list[str]) -> dict[str, float]:
    """Gopher repetition signals: lines and paragraphs repeating an earlier one (by count and characters)."""
    n_lines, n_chars = len(lines), len(text)
    dup_lines, dup_line_chars = _repeats(lines)
    if "\n" in text:
        paragraphs = [p for p in (x.strip() for x in _PARAGRAPH_SPLIT.split(text)) if p]
    else:
        paragraphs = lines
    dup_paras, dup_para_chars = _repeats(paragraphs)
    return {
        "q_dup_lines": dup_lines / n_lines if n_lines else 0.0,
        "q_dup_paragraphs": dup_paras / len(paragraphs) if paragraphs else 0.0,
        "q_dup_line_chars": dup_line_chars / n_chars if n_chars else 0.0,
        "q_dup_paragraph_chars": dup_para_chars / n_chars if n_chars else 0.0,
    }


def _c4_kept_lines(low: str, lines: list[str], line_words: list[list[str]], max_word: int,
                   no_terminal_punct: bool, params: SignalParams) -> list[str]:
    """The lines C4's line-level cleaning keeps (``low`` is the lower-cased text)."""
    need_terminal = params.c4_line_terminal_punct and not no_terminal_punct
    check_js = params.c4_line_javascript and "javascript" in low
    check_policy = params.c4_line_policy and any(p in low for p in POLICY_PHRASES)
    check_long = max_word > params.c4_line_max_word_chars
    min_words = params.c4_line_min_words
    kept: list[str] = []
    for ln, ws in zip(lines, line_words):
        if need_terminal:
            # As C4's reference code: Wikipedia-style citations ("[1]", "[edit]", "[citation needed]") do
            # not hide a line's final punctuation, and a line ending in an ellipsis is not a sentence.
            end = _CITATIONS_RE.sub("", ln).rstrip() if "[" in ln else ln
            if not end.endswith(TERMINAL_PUNCT) or end.endswith(ELLIPSES):
                continue
        if len(ws) < min_words:
            continue
        if check_long and max(map(len, ws)) > params.c4_line_max_word_chars:
            continue
        if check_js or check_policy:
            lower = ln.lower()
            if check_js and "javascript" in lower:
                continue
            if check_policy and any(p in lower for p in POLICY_PHRASES):
                continue
        kept.append(ln)
    return kept


def _c4_signals(text: str, lines: list[str], line_words: list[list[str]], max_word: int,
                no_terminal_punct: bool, params: SignalParams) -> dict[str, Optional[Number]]:
    """C4: document-level markers and the result of line-level cleaning."""
    n_lines = len(lines)
    low = text.lower()
    kept = _c4_kept_lines(low, lines, line_words, max_word, no_terminal_punct, params)
    return {
        "q_lorem_ipsum": low.count("lorem ipsum"),
        "q_curly_brackets": text.count("{"),
        "q_c4_sentences": None if no_terminal_punct else len(_SENTENCE_END_RE.findall("\n".join(kept))),
        "q_c4_removed_lines": (n_lines - len(kept)) / n_lines if n_lines else 0.0,
    }


def _line_signals(text: str, lines: list[str], n_words: int, no_terminal_punct: bool,
                  params: SignalParams) -> dict[str, Optional[Number]]:
    """Gopher bullet/ellipsis lines, the symbol ratio and FineWeb's line signals."""
    n_lines = len(lines)
    ellipses = text.count("...") + text.count("…")
    sig: dict[str, Optional[Number]] = {
        "q_symbol_ratio": max(text.count("#"), ellipses) / n_words if n_words else 0.0,
        "q_newlines_per_word": text.count("\n") / n_words if n_words else 0.0,
    }
    if not n_lines:
        sig.update(q_bullet_lines=0.0, q_ellipsis_lines=0.0, q_short_lines=0.0,
                   q_punct_lines=None if no_terminal_punct else 0.0)
        return sig
    short = params.short_line_chars
    sig["q_bullet_lines"] = sum(1 for ln in lines if ln.startswith(BULLETS)) / n_lines
    sig["q_ellipsis_lines"] = sum(1 for ln in lines if ln.endswith(ELLIPSES)) / n_lines
    sig["q_short_lines"] = sum(1 for ln in lines if len(ln) <= short) / n_lines
    if no_terminal_punct:
        sig["q_punct_lines"] = None
    else:
        sig["q_punct_lines"] = sum(1 for ln in lines if ln.endswith(TERMINAL_PUNCT)) / n_lines
    return sig


def compute_signals(text: str, lang: Optional[str] = None,
                    params: SignalParams = SignalParams()) -> dict[str, Optional[Number]]:
    """Every quality signal of one document.

    Args:
        text: the normalized document text.
        lang: the document's normalized language code (picks the stop-word list); None if unknown.
        params: how signals are computed (C4 line cleaning, FineWeb short lines).

    Returns:
        Signal name -> value, in :data:`SIGNALS` order; None where a signal does not apply.
    """
    lines = [ln for ln in (x.strip() for x in text.split("\n")) if ln]
    line_words, words, unsegmented, no_terminal_punct = _words(text, lines)
    word_sig, ids, lens, word_chars, max_word = _word_signals(words, unsegmented, lang)
    sig: dict[str, Optional[Number]] = {"q_words": len(words)}
    sig.update(word_sig)
    sig.update(_line_signals(text, lines, len(words), no_terminal_punct, params))
    sig.update(_repetition_signals(text, lines))
    sig.update(_ngram_signals(ids, lens, word_chars))
    sig.update(_c4_signals(text, lines, line_words, max_word, no_terminal_punct, params))
    return {name: sig[name] for name in SIGNAL_NAMES}


CompiledRules = tuple[tuple[str, str, bool, float], ...]


def compile_rules(rules: dict[str, Union[float, bool]]) -> CompiledRules:
    """(name, signal, is_min, threshold) for every switched-on rule, in evaluation order."""
    out = []
    for spec in QUALITY_RULES:
        thr = rules[spec.name]
        if thr is False:
            continue
        out.append((spec.name, spec.signal, spec.op == "min", float(thr)))
    return tuple(out)


def first_failing_rule(signals: dict[str, Optional[Number]], rules: CompiledRules) -> Optional[str]:
    """Name of the first rule the signals fail (None: the document passes). Null signals skip their rules."""
    for name, signal, is_min, thr in rules:
        value = signals[signal]
        if value is None:
            continue
        if (value < thr) if is_min else (value > thr):
            return name
    return None


class QualityEvaluator:
    """Signals and reason for documents under a ``QualitySection`` (rules resolved per language, cached)."""

    def __init__(self, section: Any) -> None:
        self.section = section
        self.params = SignalParams.from_section(section.signals)
        self._compiled: dict[Optional[str], CompiledRules] = {}

    def rules_for(self, lang: Optional[str]) -> CompiledRules:
        """Compiled rules for an effective language code."""
        compiled = self._compiled.get(lang)
        if compiled is None:
            compiled = self._compiled[lang] = compile_rules(self.section.rules_for(lang))
        return compiled

    def evaluate(self, text: str, lang: Optional[str] = None) -> tuple[dict[str, Optional[Number]], Optional[str]]:
        """(signals, reason) of one document; reason is ``"quality:<rule>"`` or None."""
        eff = self.section.effective_language(lang)
        signals = compute_signals(text, eff, self.params)
        rule = first_failing_rule(signals, self.rules_for(eff))
        return signals, (None if rule is None else f"quality:{rule}")

    def evaluate_many(
        self, texts: Sequence[Optional[str]], langs: Optional[Sequence[Optional[str]]] = None
    ) -> tuple[dict[str, list[Optional[Number]]], list[Optional[str]]]:
        """Signals as columns (lists) and reasons for many documents.

        A document whose evaluation fails gets null signals and ``"quality:error"``; failures are not
        logged one by one (texts may hold personal data).
        """
        columns: dict[str, list[Optional[Number]]] = {name: [] for name in SIGNAL_NAMES}
        appenders = [(name, columns[name].append) for name in SIGNAL_NAMES]
        reasons: list[Optional[str]] = []
        if langs is None:
            langs = [None] * len(texts)
        for text, lang in zip(texts, langs):
            try:
                if text is None:
                    raise ValueError("null text")
                signals, reason = self.evaluate(text, lang)
            except Exception:
                for _, append in appenders:
                    append(None)
                reasons.append("quality:error")
                continue
            for name, append in appenders:
                append(signals[name])
            reasons.append(reason)
        return columns, reasons


def rule_spec(name: str) -> RuleSpec:
    """The :class:`RuleSpec` of a rule name (raises KeyError with the known names)."""
    for spec in QUALITY_RULES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown quality rule '{name}'; known rules: {', '.join(RULE_NAMES)}")


__all__ = [
    "SIGNALS",
    "SIGNAL_NAMES",
    "SignalParams",
    "QualityEvaluator",
    "compile_rules",
    "compute_signals",
    "first_failing_rule",
    "rule_spec",
]
