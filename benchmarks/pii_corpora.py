"""Evaluation sets for the PII parity harness, built from data nobody on the team wrote.

Three sources, one shape (:class:`EvalDoc`: text, gold character spans with a type from :data:`GOLD_TYPES`):

* ``presidio_evaluator``: fresh draws from presidio-evaluator's own sentence generator and templates
  (``PresidioSentenceFaker``), deterministic for a seed, generated without any network access.
* ``nemo_curator``: NeMo Curator's PII test lines (``tests/pii_data/*.txt``, PII tagged inline such as
  ``<email>...</email>``). NeMo's own test (``tests/test_pii_accuracy.py``) strips the tags with
  ``re.sub(r"<[^>]*>([^<]*)</[^>]*>", r"\\1", line).strip()`` for the input, and expects the output to be the
  input with every tagged value replaced by ``"*" * len(value)`` and nothing else changed: *exact masking*
  (the whole tagged span masked, no more, no less), one category at a time (``PiiDeidentifier("en",
  [category], "mask")``, e.g. only EMAIL_ADDRESS on ``emails.txt``) except ``multiple.txt`` (all categories,
  runs of ``*`` and spaces compared collapsed). Hence :attr:`EvalDoc.labeled`: the types a line's tags cover
  (an untagged first name in ``emails.txt`` is not gold). :func:`exact_masked` approximates the "no less"
  half of exact masking; :func:`non_pii_words_kept` measures the "no more" half.
* ``dolma_warc``: Dolma's sample WARC files, wget crawls of real researcher homepages and organisation sites.
  The text is what the ingest stage produces (:func:`pipelines.readers.read_split` with the default ingest
  section: Resiliparse main-content extraction and our normalization); HTML (``<title>``, ``<h1>``,
  ``mailto:`` links) is read with FastWARC from the same records. Gold is partial (only EMAIL_ADDRESS and
  PERSON, and only the names below), see :func:`dolma_warc_set`. These are real people's data: this module
  never prints or logs values, and ``repr(EvalDoc)`` shows no text.

Scoring, per document and scrubbed output (``<ENTITY>`` / ``<ENTITY_pseudonym>`` placeholders or mask
characters): :func:`leaked` (gold value still verbatim in the output), :func:`exact_masked` and
:func:`non_pii_words_kept` (words outside gold that survive, in order: longest common subsequence).

Usage (prints counts per source and type, never values)::

    python -m benchmarks.pii_corpora --n 2000 --seed 0 --data ../shared/data
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import functools
import io
import json
import os
import re
import unicodedata
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional
from urllib.parse import unquote

#: Our normalized gold types (every type the three sources produce).
GOLD_TYPES = (
    "PERSON",
    "LOCATION",
    "STREET_ADDRESS",
    "ZIP_CODE",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "URL",
    "IP_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "US_DRIVER_LICENSE",
    "DATE_TIME",
    "AGE",
    "NRP",
    "ORGANIZATION",
    "TITLE",
)

#: presidio-evaluator's output types (after its own ENTITY_TYPE_MAPPING) -> ours. Its ``url`` values are
#: full URLs (``https://www.example.com/``) labeled DOMAIN_NAME; GPE covers city, state and country.
PRESIDIO_EVALUATOR_TYPES = {
    "PERSON": "PERSON",
    "GPE": "LOCATION",
    "LOCATION": "LOCATION",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "ZIP_CODE": "ZIP_CODE",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "DOMAIN_NAME": "URL",
    "URL": "URL",
    "IP_ADDRESS": "IP_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
    "DATE_TIME": "DATE_TIME",
    "AGE": "AGE",
    "NRP": "NRP",
    "ORGANIZATION": "ORGANIZATION",
    "TITLE": "TITLE",
}

#: NeMo Curator's inline tags -> our types (the tag set of its tests/pii_data files).
NEMO_TAGS = {
    "name": "PERSON",
    "email": "EMAIL_ADDRESS",
    "phone_number": "PHONE_NUMBER",
    "address": "STREET_ADDRESS",
    "ssn": "US_SSN",
    "credit_card_number": "CREDIT_CARD",
    "ip_address": "IP_ADDRESS",
    "birth_date": "DATE_TIME",
}

#: The one category NeMo's test enables per file (tests/test_pii_accuracy.py); other files (multiple.txt):
#: every category.
NEMO_FILE_TYPES = {
    "emails.txt": ("EMAIL_ADDRESS",),
    "ip_address.txt": ("IP_ADDRESS",),
    "address.txt": ("STREET_ADDRESS",),
    "ssn.txt": ("US_SSN",),
    "birthdates.txt": ("DATE_TIME",),
    "card_no.txt": ("CREDIT_CARD",),
    "names.txt": ("PERSON",),
    "phone_numbers.txt": ("PHONE_NUMBER",),
}

DOLMA_TYPES = ("EMAIL_ADDRESS", "PERSON")

BENCH_DEPS_HINT = (
    "install it with `make install` (pip install --no-deps presidio-evaluator==0.3.2 python-dotenv; "
    "faker comes with the dev extra)"
)


@dataclass(repr=False)
class EvalDoc:
    """One evaluation document.

    Attributes:
        text: the input text of the scrubber.
        gold: ``(start, end, type)`` character spans of the values that must be scrubbed, sorted by start,
            not overlapping; ``type`` is in :data:`GOLD_TYPES`.
        source: ``presidio_evaluator``, ``nemo_curator`` or ``dolma_warc``.
        doc_id: stable id within the source.
        labeled: the types the gold covers (other PII in the text is unlabeled, e.g. a first name in NeMo's
            ``emails.txt``); None: every type in :data:`GOLD_TYPES`.
    """

    text: str
    gold: list[tuple[int, int, str]]
    source: str
    doc_id: str
    labeled: Optional[tuple[str, ...]] = None

    def __repr__(self) -> str:  # no text, no values: real people's data must not reach logs or test output
        types = dict(sorted(Counter(t for _, _, t in self.gold).items()))
        return f"EvalDoc(source={self.source!r}, doc_id={self.doc_id!r}, chars={len(self.text)}, gold={types})"


# -- scoring -------------------------------------------------------------------------------------------------

#: Placeholders of a scrubbed text: ``<EMAIL_ADDRESS>`` and keyed pseudonyms ``<PERSON_abcdefghijkl>``.
PLACEHOLDER_RE = re.compile(r"<[A-Z][A-Z0-9_]*(?:_[a-z]+)?>")
_WORD_RE = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def _without_gold(doc: EvalDoc) -> str:
    parts, pos = [], 0
    for s, e, _ in sorted(doc.gold):
        parts.append(doc.text[pos:s])
        parts.append(" ")
        pos = max(pos, e)
    parts.append(doc.text[pos:])
    return "".join(parts)


def _lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two word lists, exactly: bit-parallel (Allison-Dix /
    Hyyro), one big-integer step per word of ``b``; a common prefix and suffix are matched first."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    j = 0
    while j < n - i and a[len(a) - 1 - j] == b[len(b) - 1 - j]:
        j += 1
    a, b = a[i : len(a) - j], b[i : len(b) - j]
    if not a or not b:
        return i + j
    masks: dict[str, int] = {}
    for k, w in enumerate(a):
        masks[w] = masks.get(w, 0) | (1 << k)
    full = (1 << len(a)) - 1
    v = full
    for w in b:
        m = masks.get(w)
        if m is not None:
            u = v & m
            v = ((v + u) | (v - u)) & full
    return i + j + len(a) - v.bit_count()


def non_pii_words_kept(doc: EvalDoc, scrubbed: str) -> tuple[int, int]:
    """``(kept, total)`` over the words (``\\w+``) of the text outside every gold span.

    The words of the original with the gold spans removed are aligned with the words of the scrubbed text
    with its placeholders removed; ``kept`` is the length of their longest common subsequence (the most words
    that survive in order). So a scrubber that removes one occurrence of a common word loses that occurrence
    only, placeholders and mask characters count for nothing, and words inside gold spans are not counted
    (removing them is the job). Exact LCS rather than ``difflib.SequenceMatcher``: the latter's greedy
    longest-block matching can pair a short block with a far-away repeat and lose most of the alignment
    (dropping every third word of a 12,000-word page, it found 383 of the 8,178 surviving words).
    """
    a = _words(_without_gold(doc))
    b = _words(PLACEHOLDER_RE.sub(" ", scrubbed))
    return _lcs_length(a, b), len(a)


def non_pii_word_share(doc: EvalDoc, scrubbed: str) -> float:
    """``kept / total`` of :func:`non_pii_words_kept` (1.0 for a document without non-gold words)."""
    kept, total = non_pii_words_kept(doc, scrubbed)
    return kept / total if total else 1.0


def _verbatim_re(value: str) -> re.Pattern:
    # Token-aware "verbatim": "Ron" is not leaked by "Ronald", "34" not by "1234".
    pre = r"(?<!\w)" if re.match(r"\w", value) else ""
    post = r"(?!\w)" if re.search(r"\w$", value) else ""
    return re.compile(pre + re.escape(value) + post)


def leaked(doc: EvalDoc, scrubbed: str) -> list[tuple[str, bool]]:
    """One ``(type, leaked)`` per gold span, in ``doc.gold`` order.

    A gold value is leaked when its exact string is still verbatim in the scrubbed text (as a token: not
    when it is only part of a longer word or number). Identical values share the verdict.
    """
    seen: dict[str, bool] = {}
    out = []
    for s, e, t in doc.gold:
        value = doc.text[s:e]
        if value not in seen:
            seen[value] = bool(value.strip()) and _verbatim_re(value).search(scrubbed) is not None
        out.append((t, seen[value]))
    return out


def exact_masked(doc: EvalDoc, scrubbed: str) -> list[tuple[str, bool]]:
    """One ``(type, masked)`` per gold span: NeMo Curator's exact masking, approximated.

    NeMo expects the whole tagged span replaced (no character of it left in place). Approximation: the value
    is not leaked (:func:`leaked`) and none of its words of 3 or more characters survives, a word surviving
    when the scrubbed text (placeholders removed) has more occurrences of it than the original text outside
    all gold spans. Values with only shorter words (``10.41.21.72``) rest on the leak check alone.
    """
    outside = Counter(_words(_without_gold(doc)))
    after = Counter(_words(PLACEHOLDER_RE.sub(" ", scrubbed)))
    out = []
    for (t, is_leaked), (s, e, _) in zip(leaked(doc, scrubbed), doc.gold):
        words = {w for w in _words(doc.text[s:e]) if len(w) >= 3}
        survived = any(after[w] > outside[w] for w in words)
        out.append((t, not is_leaked and not survived))
    return out


# -- presidio-evaluator ----------------------------------------------------------------------------------------


class _NoNetwork:
    """Stands in for ``requests`` in presidio-evaluator's providers: any use fails like a dead network."""

    def __getattr__(self, name: str):
        raise OSError("network access is disabled while generating the evaluation set")


#: "Now" for Faker's date providers while generating (dates are drawn relative to it).
REFERENCE_NOW = _dt.datetime(2024, 6, 1, 12, 0, 0)


class _AnyDatetime(type):
    def __instancecheck__(cls, obj) -> bool:  # real datetimes still pass Faker's isinstance checks
        return isinstance(obj, _dt.datetime)


class _AnyDate(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, _dt.date)


class _FrozenDatetime(_dt.datetime, metaclass=_AnyDatetime):
    @classmethod
    def now(cls, tz=None):
        return REFERENCE_NOW if tz is None else REFERENCE_NOW.replace(tzinfo=_dt.timezone.utc).astimezone(tz)

    @classmethod
    def today(cls):
        return REFERENCE_NOW


class _FrozenDate(_dt.date, metaclass=_AnyDate):
    @classmethod
    def today(cls):
        return REFERENCE_NOW.date()


def presidio_evaluator_set(n: int, seed: int, *, apply_lower_case: bool = True) -> list[EvalDoc]:
    """``n`` sentences from presidio-evaluator's ``PresidioSentenceFaker`` (en_US, lower_case_ratio=0.05).

    Deterministic for ``seed`` (whatever ran before); the global ``random``, NumPy and Faker states the
    generator seeds are restored afterwards. Nothing is downloaded: the hospital provider's WikiData query is
    replaced by its own fallback list (and ``requests`` in that module by a stub that fails). Faker's dates are drawn
    relative to a frozen :data:`REFERENCE_NOW` (they follow the wall clock otherwise). The generator's prints,
    tqdm bar and warnings are silenced.

    presidio-evaluator 0.3.2 lowercases the span values of a ``lower_case_ratio`` share of the samples but
    not their ``full_text`` (it writes the lowered text to ``.fake``). With ``apply_lower_case`` (default) the
    lowered text is used for those samples, as the ratio intends (about 5% all-lowercase sentences, a hard
    case for NER); without it, ``full_text`` as the library returns it. Gold values are ``text[start:end]``
    either way. Types are mapped with
    :data:`PRESIDIO_EVALUATOR_TYPES`; a sample without entities is kept (it tests false positives).
    """
    import random
    from unittest import mock

    py_state = random.getstate()  # before the imports: a first import may draw from it
    try:
        import faker.providers.date_time as faker_dates
        import numpy as np
        from faker.generator import random as faker_random
        from presidio_evaluator.data_generator import PresidioSentenceFaker
        from presidio_evaluator.data_generator.faker_extensions import providers
    except ImportError as exc:
        random.setstate(py_state)
        raise ImportError(f"presidio_evaluator_set needs presidio-evaluator ({exc.name} is missing); "
                          f"{BENCH_DEPS_HINT}") from exc

    states = (py_state, np.random.get_state(), faker_random.getstate())
    sink = io.StringIO()
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.object(
                providers.HospitalProvider, "load_wiki_hospitals", lambda self: list(self.default_list)))
            stack.enter_context(mock.patch.object(providers, "requests", _NoNetwork()))
            # Faker's dates are drawn relative to now / today: freeze them, or a seed is not reproducible.
            stack.enter_context(mock.patch.object(faker_dates, "datetime", _FrozenDatetime))
            stack.enter_context(mock.patch.object(faker_dates, "dtdate", _FrozenDate))
            stack.enter_context(mock.patch.object(faker_dates, "_get_local_timezone", lambda: _dt.timezone.utc))
            stack.enter_context(contextlib.redirect_stdout(sink))
            stack.enter_context(contextlib.redirect_stderr(sink))
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore")
            # The person records (with random middle initials) are drawn with the global random before the
            # generator seeds itself: seed it first.
            random.seed(seed)
            np.random.seed(seed % 2**32)
            faker = PresidioSentenceFaker("en_US", lower_case_ratio=0.05, random_seed=seed)
            samples = faker.generate_new_fake_sentences(num_samples=n)
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        faker_random.setstate(states[2])

    docs = []
    for i, sample in enumerate(samples):
        text = sample.full_text
        lowered = getattr(sample, "fake", None)
        if apply_lower_case and isinstance(lowered, str) and len(lowered) == len(text) and lowered == text.lower():
            text = lowered
        gold = []
        for span in sample.spans:
            typ = PRESIDIO_EVALUATOR_TYPES.get(span.entity_type)
            if typ is None:
                raise ValueError(f"presidio-evaluator produced an unmapped entity type {span.entity_type!r}; "
                                 "add it to PRESIDIO_EVALUATOR_TYPES")
            s, e = span.start_position, span.end_position
            if text[s:e] != str(span.entity_value) and text[s:e].lower() != str(span.entity_value).lower():
                raise ValueError(f"presidio-evaluator sample {i}: a {typ} span does not match its value")
            gold.append((s, e, typ))
        docs.append(EvalDoc(text, _resolve(gold, text), "presidio_evaluator", f"presidio_evaluator:{seed}:{i}"))
    return docs


def _resolve(gold: Iterable[tuple[int, int, str]], text: str) -> list[tuple[int, int, str]]:
    """Sorted, non-empty, non-overlapping spans (the longer one wins an overlap, then the earlier)."""
    keep: list[tuple[int, int, str]] = []
    for s, e, t in sorted(set(gold), key=lambda g: (-(g[1] - g[0]), g[0])):
        if not text[s:e].strip():
            continue
        if all(e <= ks or ke <= s for ks, ke, _ in keep):
            keep.append((s, e, t))
    return sorted(keep)


# -- NeMo Curator ----------------------------------------------------------------------------------------------

_TAG_RE = re.compile(r"<([A-Za-z_]+)>([^<]*)</\1>")
_STRAY_TAG_RE = re.compile(r"</?[A-Za-z_]+>")


def parse_tagged_line(line: str) -> tuple[str, list[tuple[int, int, str]]]:
    """NeMo Curator's tagged line -> ``(text, gold)``: tags stripped, then the line stripped, as NeMo's test
    does. Gold spans are the tagged values (their own surrounding spaces trimmed), typed with
    :data:`NEMO_TAGS`. Raises ValueError for an unknown tag or a tag left unclosed."""
    parts: list[str] = []
    gold: list[tuple[int, int, str]] = []
    pos = n = 0
    for m in _TAG_RE.finditer(line):
        tag, value = m.group(1), m.group(2)
        if tag not in NEMO_TAGS:
            raise ValueError(f"unknown NeMo Curator PII tag <{tag}>")
        before = line[pos : m.start()]
        parts.append(before)
        n += len(before)
        lead = len(value) - len(value.lstrip())
        core = value.strip()
        if core:
            gold.append((n + lead, n + lead + len(core), NEMO_TAGS[tag]))
        parts.append(value)
        n += len(value)
        pos = m.end()
    parts.append(line[pos:])
    raw = "".join(parts)
    if _STRAY_TAG_RE.search(raw):
        raise ValueError("malformed NeMo Curator line: a tag is not closed")
    shift = len(raw) - len(raw.lstrip())
    text = raw.strip()
    return text, [(s - shift, e - shift, t) for s, e, t in gold]


def nemo_curator_set(data_dir: Path) -> list[EvalDoc]:
    """Every non-empty line of ``data_dir/*.txt`` (NeMo Curator's ``tests/pii_data``), in file then line order.

    ``doc_id`` is ``nemo_curator:<file stem>:<line number>``; ``labeled`` is the category NeMo's test enables
    for the file (:data:`NEMO_FILE_TYPES`), all mapped tag types for the other files.
    """
    data_dir = Path(data_dir)
    files = sorted(data_dir.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no *.txt files in {data_dir} (NeMo Curator's tests/pii_data)")
    every = tuple(t for t in GOLD_TYPES if t in set(NEMO_TAGS.values()))
    docs = []
    for path in files:
        labeled = NEMO_FILE_TYPES.get(path.name, every)
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            text, gold = parse_tagged_line(line)
            docs.append(EvalDoc(text, _resolve(gold, text), "nemo_curator", f"nemo_curator:{path.stem}:{lineno}",
                                labeled))
    return docs


# -- Dolma WARC sample -----------------------------------------------------------------------------------------

#: E-mail addresses: not right after ``@`` or another address character (so a fediverse handle
#: ``@user@host.social`` is not one), a dotted domain, an alphabetic TLD, and not a file name (``logo@2x.png``).
EMAIL_RE = re.compile(
    r"(?<![\w.%+@-])[A-Za-z0-9][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w@-])"
)
_FILE_TLDS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ico", "pdf"}
_AT = r"\s*[\[\(\{<]\s*(?:at|AT|At|@)\s*[\]\)\}>]\s*"
_DOT = r"(?:\s*[\[\(\{<]\s*(?:dot|DOT|Dot)\s*[\]\)\}>]\s*|\.|\s+(?:dot|DOT)\s+)"
#: Obfuscated addresses a person would read as one: ``name [at] host [dot] edu``, ``name (at) host.edu``,
#: ``name at host dot edu`` (plain words: only with at least one spelled-out ``dot``).
OBFUSCATED_EMAIL_RE = re.compile(
    rf"(?<![\w.%+@-])[A-Za-z0-9][A-Za-z0-9._%+-]*{_AT}[A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+)*{_DOT}[A-Za-z]{{2,24}}"
    r"(?![\w@-])"
    r"|(?<![\w.%+@-])[A-Za-z0-9][A-Za-z0-9._%+-]*\s+(?:at|AT)\s+[A-Za-z0-9-]+(?:\s+(?:dot|DOT)\s+[A-Za-z0-9-]+)+"
    r"(?![\w@-])"
)

#: Words that make a title or heading not a personal name.
_NOT_NAME_WORDS = {
    "about", "academic", "blog", "center", "centre", "college", "commons", "contact", "cv", "department",
    "engineering", "faculty", "foundation", "group", "highlights", "home", "homepage", "inc", "institute",
    "lab", "labs", "laboratory", "lineage", "me", "meet", "news", "our", "page", "people", "projects",
    "publications", "research", "resume", "school", "science", "team", "university", "welcome",
}
_TITLE_SPLIT_RE = re.compile(r"\s+[|\-\u2013\u2014:\u00b7\u2022\u00bb]\s+|\s*\|\s*")


@functools.lru_cache(maxsize=1)
def _name_lexicons() -> tuple[frozenset, frozenset]:
    """First and last names of every Faker locale (independent of the scrubbers under test)."""
    import importlib
    import pkgutil

    try:
        import faker.providers.person as person
    except ImportError as exc:
        raise ImportError(f"dolma_warc_set needs faker's name lists; {BENCH_DEPS_HINT}") from exc
    first: set[str] = set()
    last: set[str] = set()
    for mod_info in pkgutil.iter_modules(person.__path__):
        try:
            provider = importlib.import_module(f"{person.__name__}.{mod_info.name}").Provider
        except (ImportError, AttributeError):
            continue
        for attr, into in (("first_names", first), ("first_names_male", first), ("first_names_female", first),
                           ("last_names", last)):
            values = getattr(provider, attr, ())
            if isinstance(values, (tuple, list, dict, set, frozenset)):
                into.update(v for v in values if isinstance(v, str))
    return frozenset(first), frozenset(last)


def _name_token_ok(tok: str, initial_ok: bool) -> bool:
    if initial_ok and re.fullmatch(r"[A-Z]\.?", tok):
        return True
    parts = re.split(r"[-'\u2019]", tok)
    return all(p[:1].isupper() and p.isalpha() and (len(p) == 1 or p[1:].islower()) for p in parts if p) and (
        len(tok) >= 2 and tok.lower() not in _NOT_NAME_WORDS
    )


def looks_like_person_name(candidate: str) -> bool:
    """2-4 capitalised words (middle initials allowed), none of them a page/organisation word, and the first
    word a known first name or the last a known last name (Faker's lists over all its locales)."""
    toks = candidate.split()
    if not 2 <= len(toks) <= 4:
        return False
    if not all(_name_token_ok(t, 0 < k < len(toks) - 1) for k, t in enumerate(toks)):
        return False
    first, last = _name_lexicons()
    return toks[0] in first or toks[-1] in last


def _html_of(payload: bytes, content_type: str) -> str:
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    m = re.search(r"charset=([\w.:-]+)", content_type or "", re.I)
    return bytes_to_str(payload, m.group(1) if m else detect_encoding(payload))


def page_facts(html: str) -> tuple[list[str], list[str]]:
    """``(person names, mailto addresses)`` of one page. Name candidates: the parts of the ``<title>`` (split
    at `` | ``, `` - ``, `` : ``...), the first ``<h1>`` and the anchor texts of ``mailto:`` links; a name is a
    candidate that :func:`looks_like_person_name`."""
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    cands: list[str] = []
    if tree.title:
        cands += _TITLE_SPLIT_RE.split(tree.title)
    mails: list[str] = []
    if tree.document is not None:
        h1 = tree.document.query_selector("h1")
        if h1 is not None:
            cands.append(h1.text)
        for a in tree.document.query_selector_all("a[href]"):
            href = (a.getattr("href") or "").strip()
            if href[:7].lower() != "mailto:":
                continue
            cands.append(a.text)
            for addr in unquote(href[7:]).split("?", 1)[0].split(","):
                if EMAIL_RE.fullmatch(addr.strip()):
                    mails.append(addr.strip())
    names = []
    for c in cands:
        c = " ".join(unicodedata.normalize("NFC", c or "").split())
        if c and c not in names and looks_like_person_name(c):
            names.append(c)
    return names, mails


def _warc_html(path: Path) -> dict[str, tuple[str, str]]:
    """WARC-Record-ID -> (HTML, HTTP content type) of the 200 HTML responses of one WARC file (FastWARC)."""
    import zlib

    from fastwarc.stream_io import ChunkedReader
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    out = {}
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
            hh = rec.http_headers
            if hh is None or hh.status_code != 200:
                continue
            ctype = hh.get("Content-Type", "") or ""
            body = rec.reader.read()
            if "chunked" in (hh.get("Transfer-Encoding", "") or "").lower():
                with contextlib.suppress(Exception):
                    body = ChunkedReader(io.BytesIO(body)).read()
            ce = (hh.get("Content-Encoding", "") or "").lower()
            if ce in ("gzip", "x-gzip", "deflate"):
                with contextlib.suppress(zlib.error):
                    body = zlib.decompressobj(wbits=47 if "gzip" in ce else 15).decompress(body)
            out[rec.record_id] = (_html_of(body, ctype), ctype)
    return out


def _pipeline_docs(path: Path) -> list[dict]:
    """The ingest stage's document rows of one WARC file (default ingest section)."""
    # deferred: only this set needs the readers (and pyarrow); the synthetic set must import without them
    from pipelines.readers import expand_inputs, plan_splits, read_split
    from schemas.config import IngestSection

    section = IngestSection()
    rows = []
    for split in plan_splits(expand_inputs([str(path)], section.format, section.source), 1 << 40):
        rows.extend(r for r in read_split(split, section) if r["kind"] == "doc")
    return rows


def dolma_gold(text: str, names: Iterable[str], mails: Iterable[str]) -> list[tuple[int, int, str]]:
    """Gold spans of one page: EMAIL_ADDRESS (:data:`EMAIL_RE` minus file names, :data:`OBFUSCATED_EMAIL_RE`,
    and the ``mailto:`` addresses ``mails`` where the text has them) and PERSON (every occurrence of one of
    ``names``, any whitespace between its words)."""
    gold = []
    for m in EMAIL_RE.finditer(text):
        if m.group().rsplit(".", 1)[-1].lower() not in _FILE_TLDS:
            gold.append((m.start(), m.end(), "EMAIL_ADDRESS"))
    for m in OBFUSCATED_EMAIL_RE.finditer(text):
        gold.append((m.start(), m.end(), "EMAIL_ADDRESS"))
    for addr in mails:
        for m in re.finditer(r"(?<![\w.%+@-])" + re.escape(addr) + r"(?![\w@-])", text, re.I):
            gold.append((m.start(), m.end(), "EMAIL_ADDRESS"))
    for name in names:
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(t) for t in name.split()) + r"(?!\w)"
        for m in re.finditer(pattern, text):
            gold.append((m.start(), m.end(), "PERSON"))
    return _resolve(gold, text)


def dolma_warc_set(data_dir: Path, pattern: str = "dolma-sample-*.warc.gz") -> list[EvalDoc]:
    """The HTML response pages of ``data_dir/dolma-sample-*.warc.gz`` as the pipeline sees them.

    Text: the ingest stage's documents (non-empty by construction); wget's own log and argument records
    (``resource`` records) are left out, and so are exact repeats of a page's text (the crawl fetched some
    pages several times). Gold (:func:`dolma_gold`): e-mail addresses, and the person names of
    :func:`page_facts` (page owners' names from titles and first headings, mailto names) collected over the
    whole crawl, so an owner's name is also gold where another page cites it. Gold is partial: only
    EMAIL_ADDRESS and PERSON (``labeled``), and other people named on a page (team lists, co-authors), name
    variants ("Daniel S. Weld" for "Dan Weld") and fediverse handles are unlabeled.
    ``doc_id`` is ``dolma_warc:<file stem>:<WARC-Record-ID>``.
    """
    data_dir = Path(data_dir)
    files = sorted(data_dir.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no {pattern} files in {data_dir}")
    pages: list[tuple[str, str]] = []
    names: set[str] = set()
    mails: set[str] = set()
    seen: set[str] = set()
    for path in files:
        html = _warc_html(path)
        stem = path.name.split(".", 1)[0]
        for row in _pipeline_docs(path):
            meta = row.get("metadata") or {}
            if meta.get("warc-type") != "response" or row["source_id"] not in html:
                continue
            if not row["text"].strip() or row["content_sha256"] in seen:
                continue
            seen.add(row["content_sha256"])
            page_names, page_mails = page_facts(html[row["source_id"]][0])
            names.update(page_names)
            mails.update(page_mails)
            pages.append((f"dolma_warc:{stem}:{row['source_id']}", row["text"]))
    ordered_names, ordered_mails = sorted(names), sorted(mails)
    return [EvalDoc(text, dolma_gold(text, ordered_names, ordered_mails), "dolma_warc", doc_id, DOLMA_TYPES)
            for doc_id, text in pages]


# -- registry ---------------------------------------------------------------------------------------------------

SETS: dict[str, Callable[..., list[EvalDoc]]] = {
    "presidio_evaluator": presidio_evaluator_set,
    "nemo_curator": nemo_curator_set,
    "dolma_warc": dolma_warc_set,
}

#: Where the real-data sets lie under the shared data folder.
DATA_SUBDIRS = {"nemo_curator": Path("pii/nemo-curator-pii_data"), "dolma_warc": Path("webtext/warc")}


def default_data_root() -> Path:
    """``$CORPUSFORGE_SHARED_DATA``, else ``<repo>/../shared/data`` (as tests/conftest.py)."""
    env = os.environ.get("CORPUSFORGE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load(name: str, *, n: int = 1000, seed: int = 0, data_root: Optional[Path] = None,
         data_dir: Optional[Path] = None) -> list[EvalDoc]:
    """One set by name: ``presidio_evaluator`` (``n``, ``seed``), or ``nemo_curator`` / ``dolma_warc`` read
    from ``data_dir``, default ``data_root / DATA_SUBDIRS[name]`` (``data_root``: :func:`default_data_root`)."""
    if name not in SETS:
        raise KeyError(f"unknown evaluation set {name!r}; one of {sorted(SETS)}")
    if name == "presidio_evaluator":
        return presidio_evaluator_set(n, seed)
    if data_dir is None:
        data_dir = Path(data_root if data_root is not None else default_data_root()) / DATA_SUBDIRS[name]
    return SETS[name](Path(data_dir))


def summary(docs: list[EvalDoc]) -> dict:
    """Counts only (documents, characters, gold values per type): safe to print for real data."""
    return {
        "docs": len(docs),
        "chars": sum(len(d.text) for d in docs),
        "docs_with_gold": sum(1 for d in docs if d.gold),
        "gold": dict(sorted(Counter(t for d in docs for _, _, t in d.gold).items())),
    }


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.pii_corpora", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--n", type=int, default=1000, help="presidio_evaluator samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None, help="shared data folder with pii/ and webtext/warc/")
    args = ap.parse_args(argv)
    report = {}
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        try:
            report[name] = summary(load(name, n=args.n, seed=args.seed, data_root=args.data))
        except (FileNotFoundError, ImportError) as exc:
            report[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
