"""Bias indicators from versioned lexicons (pure Python; flag only, never drop).

Per document: identity-term mentions per demographic axis, gendered pronoun counts, toxicity-lexicon hits,
and group-targeted toxicity. With a toxicity model (:class:`pipelines.text.toxicity.ToxicityModel`, the
default of the ``bias`` stage), every sentence is scored by the model: the document's ``toxicity_score`` is
its most toxic sentence's calibrated score, the ``toxicity`` flag means that score reaches the model's
threshold, and group-targeted toxicity means an identity term in a sentence whose score reaches it. Without
a model, both come from the lexicon (a toxic term; an identity term and a toxic term in the same sentence).

The lexicons are plain TSV files in ``pipelines/assets/lexicons`` (see its README) with a VERSION and a
sha256 recorded in run.json; the bundled ones are read through importlib.resources
(:mod:`pipelines.text.assets`), so they load from a checkout, a wheel or a zip on ``--py-files`` alike.

Matching rules: whole words only (a term inside another word never counts), case-insensitive unless a
term says ``case=title``, hyphens and spaces equivalent, possessive ``'s`` ignored, plural forms generated
(or given when irregular), multi-word terms matched longest first without overlaps, and per-term context
constraints for non-identity senses (``black`` counts only before a group noun such as ``people``; ``blind``
does not count in ``blind spot``; ``Polish`` counts only capitalized).
"""
from __future__ import annotations

import hashlib
import logging
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Iterable, Optional, Protocol, Sequence, Union

import regex

from pipelines.text.assets import bundled

log = logging.getLogger(__name__)

#: The bundled lexicon folder (a ``Path`` in a checkout or an installed package, a zip entry otherwise).
DEFAULT_LEXICON_DIR: Traversable = bundled("assets/lexicons")
#: What the run manifest records as the bundled lexicon's location.
DEFAULT_LEXICON_NAME = "pipelines/assets/lexicons"
LEXICON_FILES = ("VERSION", "classes.tsv", "identity_terms.tsv", "pronouns.tsv", "toxicity.tsv")

FLAG_TOXIC = "toxicity"
FLAG_GROUP_TOXIC = "group_targeted_toxicity"
FLAG_IDENTITY = "identity_mention"

# Words: letters/digits with inner apostrophes; hyphens and everything else separate words.
_WORD = regex.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_SENTENCE_END = regex.compile(r"[.!?]+[\"')\]\u201d\u2019]*\s+|\n\s*")


class LexiconError(ValueError):
    """A lexicon file is missing or malformed; the message names the file and line."""


def sentence_ends(text: str) -> list[int]:
    """Character offsets where sentences end: sentence ``k`` is ``text[ends[k-1]:ends[k]]`` (``ends[-1]`` = end).

    Sentences end at ``.``, ``!``, ``?`` (with closing quotes or brackets) followed by whitespace, or at a
    line break. The last sentence ends at ``len(text)`` (an offset that is not repeated when the text ends
    with a sentence break).
    """
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if not ends or ends[-1] < len(text):
        ends.append(len(text))
    return ends


def words(text: str) -> list[tuple[str, str, int, int]]:
    """``(lower, surface, start, end)`` for every word; a possessive ``'s`` (or trailing ``'``) is dropped."""
    out = []
    for m in _WORD.finditer(text):
        surface = m.group()
        low = surface.lower()
        if low.endswith("'s") or low.endswith("\u2019s"):
            low, surface = low[:-2], surface[:-2]
        out.append((low, surface, m.start(), m.end()))
    return out


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


@dataclass(frozen=True)
class Term:
    """One lexicon entry after expansion (a plural form is its own Term)."""

    tokens: tuple[str, ...]
    label: str  # axis, pronoun gender, or "toxic"
    next_class: Optional[frozenset] = None
    not_next: frozenset = frozenset()
    not_prev: frozenset = frozenset()
    title_case: bool = False


class _Matcher:
    """Longest-first, non-overlapping matcher of multi-word terms over a word sequence."""

    def __init__(self, terms: Iterable[Term]):
        self.by_first: dict[str, list[Term]] = defaultdict(list)
        for t in terms:
            self.by_first[t.tokens[0]].append(t)
        for lst in self.by_first.values():
            lst.sort(key=lambda t: -len(t.tokens))

    def find(self, ws: Sequence[tuple[str, str, int, int]]) -> list[tuple[Term, int, int]]:
        """``(term, first word index, end word index)`` for every match."""
        out = []
        i, n = 0, len(ws)
        while i < n:
            cands = self.by_first.get(ws[i][0])
            matched = None
            if cands:
                for t in cands:
                    k = len(t.tokens)
                    if i + k > n or any(ws[i + j][0] != t.tokens[j] for j in range(1, k)):
                        continue
                    nxt = ws[i + k][0] if i + k < n else None
                    prev = ws[i - 1][0] if i > 0 else None
                    if t.next_class is not None and nxt not in t.next_class:
                        continue
                    if nxt is not None and nxt in t.not_next:
                        continue
                    if prev is not None and prev in t.not_prev:
                        continue
                    if t.title_case and not ws[i][1][:1].isupper():
                        continue
                    matched = t
                    break
            if matched is not None:
                k = len(matched.tokens)
                out.append((matched, i, i + k))
                i += k
            else:
                i += 1
        return out


def _tokenize_term(term: str) -> tuple[str, ...]:
    return tuple(w[0] for w in words(term))


def _parse_options(raw: str, where: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    for part in raw.split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise LexiconError(f"{where}: option {part!r} is not key=value")
        k, v = part.split("=", 1)
        if k.strip() not in {"plural", "next", "not_next", "not_prev", "case"}:
            raise LexiconError(f"{where}: unknown option {k.strip()!r} (plural, next, not_next, not_prev, case)")
        opts[k.strip()] = v.strip()
    return opts


def _rows(path: Union[Path, Traversable]) -> Iterable[tuple[int, list[str]]]:
    if not path.is_file():
        raise LexiconError(f"lexicon file {path} is missing; a lexicon directory holds {', '.join(LEXICON_FILES)}")
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        yield no, line.rstrip("\n").split("\t")


def _expand(term: str, label: str, opts: dict[str, str], classes: dict[str, frozenset], where: str) -> list[Term]:
    toks = _tokenize_term(term)
    if not toks:
        raise LexiconError(f"{where}: empty term")
    next_class = None
    if "next" in opts:
        name = opts["next"].lstrip("@")
        if name not in classes:
            raise LexiconError(f"{where}: unknown word class @{name} (define it in classes.tsv)")
        next_class = classes[name]
    kw = dict(
        label=label,
        next_class=next_class,
        not_next=frozenset(w.strip().lower() for w in opts.get("not_next", "").split(",") if w.strip()),
        not_prev=frozenset(w.strip().lower() for w in opts.get("not_prev", "").split(",") if w.strip()),
        title_case=opts.get("case", "").lower() == "title",
    )
    out = [Term(tokens=toks, **kw)]
    plural = opts.get("plural")
    if plural is None:
        out.append(Term(tokens=toks[:-1] + (_plural(toks[-1]),), **kw))
    elif plural.lower() != "none":
        out.append(Term(tokens=_tokenize_term(plural), **kw))
    return out


@dataclass
class Lexicon:
    """The loaded lexicons of one directory, with version and hashes.

    ``path`` is where the files were read (a ``Path``, or a zip entry for the bundled lexicon inside a
    zip); ``name`` is what run.json records: ``pipelines/assets/lexicons`` for the bundled lexicon, the
    directory otherwise.
    """

    path: Union[Path, Traversable]
    version: str
    sha256: str
    file_sha256: dict[str, str]
    identity: list[Term]
    pronouns: list[Term]
    toxicity: list[Term]
    name: str = DEFAULT_LEXICON_NAME
    #: ``(axis, term)`` as written in identity_terms.tsv, before plural expansion (for templates).
    identity_base: list[tuple[str, str]] = field(default_factory=list)

    @property
    def axes(self) -> list[str]:
        return sorted({t.label for t in self.identity})


def load_lexicon(directory: Optional[str | Path] = None, axes: Optional[Iterable[str]] = None) -> Lexicon:
    """Load a lexicon directory (default: the bundled one).

    Args:
        directory: directory with the files in ``LEXICON_FILES`` (None: the bundled lexicon).
        axes: keep only identity terms of these axes (None: all).

    Raises:
        LexiconError: a file is missing or a line is malformed (the message names file and line).
    """
    d: Union[Path, Traversable] = Path(directory) if directory else DEFAULT_LEXICON_DIR
    file_sha = {}
    combined = hashlib.sha256()
    for name in LEXICON_FILES:
        p = d / name
        if not p.is_file():
            raise LexiconError(f"lexicon file {p} is missing; a lexicon directory holds {', '.join(LEXICON_FILES)}")
        data = p.read_bytes()
        file_sha[name] = hashlib.sha256(data).hexdigest()
        combined.update(name.encode() + b"\0" + data + b"\0")
    version = (d / "VERSION").read_text(encoding="utf-8").strip()

    classes: dict[str, frozenset] = {}
    for no, cols in _rows(d / "classes.tsv"):
        if len(cols) != 2:
            raise LexiconError(f"{d / 'classes.tsv'}:{no}: expected name<TAB>words")
        classes[cols[0].strip().lstrip("@")] = frozenset(w.strip().lower() for w in cols[1].split(",") if w.strip())

    keep_axes = set(axes) if axes is not None else None
    identity: list[Term] = []
    identity_base: list[tuple[str, str]] = []
    for no, cols in _rows(d / "identity_terms.tsv"):
        where = f"{d / 'identity_terms.tsv'}:{no}"
        if len(cols) not in (2, 3):
            raise LexiconError(f"{where}: expected axis<TAB>term[<TAB>options]")
        axis = cols[0].strip()
        if keep_axes is not None and axis not in keep_axes:
            continue
        identity.extend(
            _expand(cols[1].strip(), axis, _parse_options(cols[2] if len(cols) > 2 else "", where), classes, where)
        )
        identity_base.append((axis, cols[1].strip()))
    if keep_axes is not None:
        missing = keep_axes - {t.label for t in identity}
        if missing:
            raise LexiconError(f"{d / 'identity_terms.tsv'}: no terms for axes {sorted(missing)}")

    pronouns: list[Term] = []
    for no, cols in _rows(d / "pronouns.tsv"):
        if len(cols) != 2:
            raise LexiconError(f"{d / 'pronouns.tsv'}:{no}: expected gender<TAB>pronouns")
        for w in cols[1].split(","):
            if w.strip():
                pronouns.append(Term(tokens=(w.strip().lower(),), label=cols[0].strip()))

    toxicity: list[Term] = []
    for no, cols in _rows(d / "toxicity.tsv"):
        where = f"{d / 'toxicity.tsv'}:{no}"
        if len(cols) not in (1, 2):
            raise LexiconError(f"{where}: expected term[<TAB>options]")
        toxicity.extend(
            _expand(cols[0].strip(), "toxic", _parse_options(cols[1] if len(cols) > 1 else "", where), classes, where)
        )
    name = str(Path(directory).resolve()) if directory else DEFAULT_LEXICON_NAME
    return Lexicon(d, version, combined.hexdigest(), file_sha, identity, pronouns, toxicity, name, identity_base)


@dataclass
class BiasResult:
    """Bias indicators of one document.

    Attributes:
        identity: axis -> identity-term mentions.
        pronouns: pronoun gender (male, female, neutral) -> count.
        toxic: toxicity-lexicon hits.
        group_toxic_sentences: sentences with an identity term that are toxic: by the model's score when
            the scorer has a toxicity model, else by a toxicity-lexicon term in the same sentence.
        n_words: words in the document (denominator for rates).
        toxicity_score: the model's calibrated score of the document's most toxic sentence, in [0, 1]
            (None without a model, or for a text with no words).
        toxicity_threshold: the model threshold the flags use (None without a model).
    """

    identity: dict[str, int] = field(default_factory=dict)
    pronouns: dict[str, int] = field(default_factory=dict)
    toxic: int = 0
    group_toxic_sentences: int = 0
    n_words: int = 0
    toxicity_score: Optional[float] = None
    toxicity_threshold: Optional[float] = None

    @property
    def group_toxic(self) -> bool:
        return self.group_toxic_sentences > 0

    @property
    def is_toxic(self) -> bool:
        """The ``toxicity`` flag: the model score reaches its threshold (with a model), else a lexicon hit."""
        if self.toxicity_threshold is not None:
            return self.toxicity_score is not None and self.toxicity_score >= self.toxicity_threshold
        return self.toxic > 0

    @property
    def flags(self) -> list[str]:
        out = []
        if self.group_toxic:
            out.append(FLAG_GROUP_TOXIC)
        if self.identity:
            out.append(FLAG_IDENTITY)
        if self.is_toxic:
            out.append(FLAG_TOXIC)
        return out


class SentenceToxicity(Protocol):
    """What :class:`BiasScorer` needs of a toxicity model (:class:`pipelines.text.toxicity.ToxicityModel`)."""

    threshold: float

    def score_sentences(self, items: Sequence[tuple[str, Sequence[int]]]) -> list[list[Optional[float]]]:
        """Calibrated scores of the sentences of each ``(text, sentence ends)``."""
        ...


class BiasScorer:
    """Computes :class:`BiasResult` for texts with one loaded :class:`Lexicon` and, optionally, a toxicity model.

    Args:
        lexicon: identity terms, pronouns and the toxicity lexicon.
        toxicity: a :class:`pipelines.text.toxicity.ToxicityModel`; when given, it scores every sentence and
            decides the ``toxicity`` and ``group_targeted_toxicity`` flags (see the module docstring).
    """

    def __init__(self, lexicon: Lexicon, toxicity: Optional[SentenceToxicity] = None):
        self.lexicon = lexicon
        self.toxicity = toxicity
        self._identity = _Matcher(lexicon.identity)
        self._toxic = _Matcher(lexicon.toxicity)
        self._pronouns = {t.tokens[0]: t.label for t in lexicon.pronouns}

    def score(self, text: Optional[str]) -> BiasResult:
        """Bias indicators of one text (None or "" gives an empty result)."""
        return self.score_many([text])[0]

    def score_many(self, texts: Sequence[Optional[str]]) -> list[BiasResult]:
        """Bias indicators of many texts; the model (if any) scores all their sentences in one batch."""
        results: list[BiasResult] = []
        pending: list[tuple[BiasResult, str, list, list[int]]] = []  # (result, text, ident matches, sentence ends)
        for text in texts:
            res, ident, ws = self._lexical(text)
            results.append(res)
            if self.toxicity is None:
                if ident and res.toxic:
                    assert text is not None
                    ends = sentence_ends(text)
                    toxic = self._toxic.find(ws)
                    s_ident = {bisect_right(ends, ws[i][2]) for _, i, _ in ident}
                    s_toxic = {bisect_right(ends, ws[i][2]) for _, i, _ in toxic}
                    res.group_toxic_sentences = len(s_ident & s_toxic)
            else:
                res.toxicity_threshold = self.toxicity.threshold
                if res.n_words:
                    assert text is not None
                    ends = sentence_ends(text)
                    pending.append((res, text, [bisect_right(ends, ws[i][2]) for _, i, _ in ident], ends))
        if pending:
            assert self.toxicity is not None
            scored = self.toxicity.score_sentences([(text, ends) for _, text, _, ends in pending])
            for (res, _, ident_sentences, _), sentence_scores in zip(pending, scored):
                known = [x for x in sentence_scores if x is not None]
                res.toxicity_score = max(known) if known else None
                thr = self.toxicity.threshold
                res.group_toxic_sentences = len({
                    k for k in ident_sentences
                    if k < len(sentence_scores) and sentence_scores[k] is not None and sentence_scores[k] >= thr
                })
        return results

    def _lexical(self, text: Optional[str]) -> tuple[BiasResult, list, list]:
        """Lexicon indicators of one text, with its identity matches and words (for sentence mapping)."""
        if not text:
            return BiasResult(), [], []
        ws = words(text)
        res = BiasResult(n_words=len(ws))
        if not ws:
            return res, [], ws
        ident = self._identity.find(ws)
        res.identity = dict(sorted(Counter(t.label for t, _, _ in ident).items()))
        res.toxic = len(self._toxic.find(ws))
        pron = Counter(self._pronouns[w[0]] for w in ws if w[0] in self._pronouns)
        res.pronouns = dict(sorted(pron.items()))
        return res, ident, ws


class BiasAggregator:
    """Aggregates per-document results for the report, per (source, lang) group and overall.

    Mergeable (``merge``), so partial aggregates from partitions can be combined. Everything is counts;
    :meth:`report` turns them into rates. ``toxic_doc_rate`` is the share of documents with the ``toxicity``
    flag (model or lexicon, whichever decided it); ``lexicon_toxic_doc_rate`` always counts lexicon hits.
    """

    def __init__(self, axes: Iterable[str]):
        self.axes = sorted(axes)
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}

    def group(self, key: tuple[str, str]) -> dict[str, Any]:
        """The raw counters of one (source, lang) group, created empty on first use."""
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = {
                "docs": 0,
                "words": 0,
                "docs_with_axis": Counter(),
                "mentions": Counter(),
                "pronouns": Counter(),
                "docs_toxic": 0,
                "docs_lexicon_toxic": 0,
                "docs_scored": 0,
                "score_sum": 0.0,
                "toxic_hits": 0,
                "docs_group_toxic": 0,
                "docs_with_identity": 0,
            }
        return g

    def add(self, source: Optional[str], lang: Optional[str], identity: dict, pronouns: dict, toxic: int,
            group_toxic: bool, n_words: int, toxic_flag: Optional[bool] = None,
            toxicity_score: Optional[float] = None) -> None:
        """Add one document's indicators (``toxic_flag`` None: the flag is a lexicon hit, ``toxic > 0``)."""
        g = self.group((source or "unknown", lang or "und"))
        g["docs"] += 1
        g["words"] += int(n_words or 0)
        for axis, c in (identity or {}).items():
            if c:
                g["docs_with_axis"][axis] += 1
                g["mentions"][axis] += int(c)
        if identity and any(identity.values()):
            g["docs_with_identity"] += 1
        for k, c in (pronouns or {}).items():
            g["pronouns"][k] += int(c)
        if toxic:
            g["docs_lexicon_toxic"] += 1
            g["toxic_hits"] += int(toxic)
        if (toxic > 0) if toxic_flag is None else toxic_flag:
            g["docs_toxic"] += 1
        if toxicity_score is not None:
            g["docs_scored"] += 1
            g["score_sum"] += float(toxicity_score)
        if group_toxic:
            g["docs_group_toxic"] += 1

    def add_result(self, source: Optional[str], lang: Optional[str], r: BiasResult) -> None:
        """Add one :class:`BiasResult`."""
        self.add(source, lang, r.identity, r.pronouns, r.toxic, r.group_toxic, r.n_words, r.is_toxic, r.toxicity_score)

    def merge(self, other: "BiasAggregator") -> "BiasAggregator":
        """Fold ``other`` into this aggregator (returns self)."""
        for key, og in other.groups.items():
            g = self.group(key)
            for k, v in og.items():
                g[k] = g[k] + v
        return self

    def _summary(self, g: dict[str, Any]) -> dict[str, Any]:
        docs, wds = g["docs"], g["words"]
        male, female = g["pronouns"].get("male", 0), g["pronouns"].get("female", 0)
        return {
            "docs": docs,
            "words": wds,
            "axis_doc_rate": {a: round(g["docs_with_axis"].get(a, 0) / docs, 6) if docs else 0.0 for a in self.axes},
            "axis_mentions_per_10k_words": {
                a: round(g["mentions"].get(a, 0) * 10_000 / wds, 4) if wds else 0.0 for a in self.axes
            },
            "pronouns": {k: int(v) for k, v in sorted(g["pronouns"].items())},
            "pronoun_male_share": round(male / (male + female), 6) if male + female else None,
            "pronoun_male_to_female": round(male / female, 6) if female else None,
            "toxic_doc_rate": round(g["docs_toxic"] / docs, 6) if docs else 0.0,
            "lexicon_toxic_doc_rate": round(g["docs_lexicon_toxic"] / docs, 6) if docs else 0.0,
            "toxicity_scored_docs": int(g["docs_scored"]),
            "toxicity_score_mean": round(g["score_sum"] / g["docs_scored"], 6) if g["docs_scored"] else None,
            "toxic_hits": int(g["toxic_hits"]),
            "group_toxic_doc_rate": round(g["docs_group_toxic"] / docs, 6) if docs else 0.0,
            "group_toxic_rate_among_identity_docs": (
                round(g["docs_group_toxic"] / g["docs_with_identity"], 6) if g["docs_with_identity"] else None
            ),
        }

    def report(self) -> dict[str, Any]:
        """JSON-able aggregates: overall, per source, per language, and per (source, language)."""
        total = BiasAggregator(self.axes)
        by_source: dict[str, BiasAggregator] = defaultdict(lambda: BiasAggregator(self.axes))
        by_lang: dict[str, BiasAggregator] = defaultdict(lambda: BiasAggregator(self.axes))
        for (src, lang), g in self.groups.items():
            one = BiasAggregator(self.axes)
            one.groups[("all", "all")] = g
            total.merge(one)
            by_source[src].merge(BiasAggregator(self.axes).merge(one))
            by_lang[lang].merge(BiasAggregator(self.axes).merge(one))

        def summ(agg: BiasAggregator) -> dict[str, Any]:
            g = agg.groups.get(("all", "all")) or agg.group(("all", "all"))
            return agg._summary(g)

        return {
            "overall": summ(total),
            "by_source": {k: summ(v) for k, v in sorted(by_source.items())},
            "by_lang": {k: summ(v) for k, v in sorted(by_lang.items())},
            "by_source_lang": {
                f"{src}/{lang}": self._summary(g) for (src, lang), g in sorted(self.groups.items())
            },
        }
