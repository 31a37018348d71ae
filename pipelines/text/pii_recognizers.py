"""Presidio's pattern recognizers, run only where a match is possible, under a time budget.

Vanilla Presidio runs every recognizer's regular expressions over the whole text of every document. Most
of that work is provably useless: an e-mail needs an ``@``, a card number needs thirteen digits, a URL
needs a dot followed by letters. For each recognizer we know a *pre-filter* that yields the only regions
of the text where one of its matches can lie:

* ``nonspace``: the matches never contain whitespace, so they lie inside the whitespace-free run around
  a cheap necessary substring (``@`` for e-mail, ``.xx`` for URL, ``d.d`` or ``h:h`` for IP);
* ``runs``: the matches consist only of digits and a few separators, so they lie inside maximal runs
  of those characters (cards, SSNs);
* ``windows``: the matches start at a cheap anchor and have a bounded length (IBAN, phone numbers).

Each region is widened by one character on each side so that ``\\b`` and one-character look-behinds
see exactly what they see in the whole text; the recognizer's own patterns, scores, checksum validation
and invalidation then run on the region, and offsets are shifted back. The matches are therefore the
same as Presidio's on the whole text (phone numbers: a superset, because python-phonenumbers stops after
65,535 candidates per text, which windows never reach). Recognizers without a known pre-filter run on the
whole text.

Regular expressions run with a timeout taken from the document's deadline (``regex``'s ``timeout``), so a
pathological input raises :class:`BudgetExceeded` instead of stalling a worker.
"""
from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional

import regex

from .pii_offline import make_tldextract_offline

log = logging.getLogger(__name__)


class BudgetExceeded(RuntimeError):
    """A document's detection ran past its time budget (the message never contains document text)."""


#: Presidio classes that are NER or remote-service recognizers, never loaded as pattern recognizers.
_NOT_PATTERN = ("Spacy", "Stanza", "Transformers", "GLiNER", "HuggingFace", "MedicalNER", "Azure", "LangExtract")


def recognizer_classes() -> dict[str, type]:
    """Entity -> recognizer class: corpusforge's own (:mod:`pipelines.text.pii_extra`) and every pattern
    recognizer in ``presidio_analyzer.predefined_recognizers`` (found by its ``supported_entities``)."""
    global _CLASSES
    if _CLASSES is None:
        from presidio_analyzer import EntityRecognizer  # deferred: Presidio is heavy, needed only to scrub
        from presidio_analyzer import predefined_recognizers as pr

        from .pii_extra import EXTRA_RECOGNIZERS  # deferred: subclasses Presidio's recognizers (heavy import)

        found: dict[str, type] = {}
        for name in sorted(dir(pr)):
            cls = getattr(pr, name)
            if not (inspect.isclass(cls) and issubclass(cls, EntityRecognizer) and name.endswith("Recognizer")):
                continue
            if any(tag in name for tag in _NOT_PATTERN):
                continue
            try:
                entities = cls().supported_entities
            except Exception:  # pragma: no cover - a recognizer that needs arguments is not a pattern one
                continue
            for entity in entities:
                found.setdefault(entity, cls)
        found.update(EXTRA_RECOGNIZERS)
        _CLASSES = found
    return _CLASSES


_CLASSES: Optional[dict[str, type]] = None

#: The regex flags Presidio's ``RecognizerRegistry`` sets on every recognizer it loads (its default).
PRESIDIO_REGISTRY_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE

#: Regions where a language is spoken (ISO 639-1 code of the ``lang`` column -> python-phonenumbers
#: regions): phone numbers in those regions' national formats are recognized in documents of that language
#: (``pii.phone_regions_from_language``), besides ``pii.phone_regions``.
LANGUAGE_PHONE_REGIONS: dict[str, tuple[str, ...]] = {
    "en": ("US", "GB", "CA", "AU", "NZ", "IE", "IN", "ZA", "SG", "PH", "NG", "KE"),
    "de": ("DE", "AT", "CH", "LI", "LU"), "fr": ("FR", "BE", "CH", "LU", "CA", "MC", "SN", "CI", "MA", "TN"),
    "es": ("ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CU", "BO", "DO", "HN", "PY", "SV", "NI",
           "CR", "PA", "UY", "PR"),
    "it": ("IT", "CH", "SM"), "nl": ("NL", "BE", "SR"), "pt": ("PT", "BR", "AO", "MZ"), "pl": ("PL",),
    "sv": ("SE", "FI"), "da": ("DK",), "no": ("NO",), "nb": ("NO",), "nn": ("NO",), "fi": ("FI",),
    "is": ("IS",), "et": ("EE",), "lv": ("LV",), "lt": ("LT",), "cs": ("CZ",), "sk": ("SK",), "sl": ("SI",),
    "hr": ("HR", "BA"), "bs": ("BA",), "sr": ("RS", "BA", "ME"), "hu": ("HU",), "ro": ("RO", "MD"),
    "bg": ("BG",), "el": ("GR", "CY"), "tr": ("TR", "CY"), "ru": ("RU", "BY", "KZ", "KG"), "uk": ("UA",),
    "be": ("BY",), "ka": ("GE",), "hy": ("AM",), "az": ("AZ",), "kk": ("KZ",), "he": ("IL",), "ar": (
        "SA", "EG", "AE", "MA", "DZ", "TN", "IQ", "JO", "LB", "KW", "QA", "OM", "BH", "SY", "LY", "YE"),
    "fa": ("IR", "AF"), "ur": ("PK", "IN"), "hi": ("IN",), "bn": ("BD", "IN"), "ta": ("IN", "LK", "SG"),
    "ja": ("JP",), "ko": ("KR",), "zh": ("CN", "TW", "HK", "MO", "SG"), "vi": ("VN",), "th": ("TH",),
    "id": ("ID",), "ms": ("MY", "SG", "BN"), "tl": ("PH",), "sw": ("KE", "TZ", "UG"), "ga": ("IE",),
    "cy": ("GB",), "mt": ("MT",), "sq": ("AL", "XK"), "mk": ("MK",), "ca": ("ES", "AD"), "eu": ("ES",),
    "gl": ("ES",), "lb": ("LU",),
}


@dataclass(frozen=True)
class Prefilter:
    """Where matches of one recognizer can lie.

    Attributes:
        kind: ``nonspace``, ``runs`` or ``windows``.
        pattern: the gate (nonspace, windows) or the run pattern (runs).
        min_digits: regions with fewer digits are skipped (runs, windows).
        before: characters kept before a window's anchor (windows).
        after: characters kept after a window's anchor (windows).
    """

    kind: str
    pattern: str
    min_digits: int = 0
    before: int = 1
    after: int = 1


PREFILTERS: dict[str, Prefilter] = {
    # Presidio's e-mail pattern has no whitespace in it and needs an '@'.
    "EMAIL_ADDRESS": Prefilter("nonspace", r"@"),
    # Every URL pattern ends the host with '.' and an alphabetic TLD of two letters or more.
    "URL": Prefilter("nonspace", r"\.[^\W\d_]{2}"),
    # IPv4 needs digit '.' digit; every IPv6 form has two colons with at most four hex digits between.
    "IP_ADDRESS": Prefilter("nonspace", r"\d\.\d|:[0-9A-Fa-f]{0,4}:"),
    # Card pattern: 13-19 digits with optional '-' or ' ' between groups.
    "CREDIT_CARD": Prefilter("runs", r"\d[\d \-]{11,}\d", min_digits=13),
    # SSN patterns: 9 digits with optional '-', ' ' or '.' separators.
    "US_SSN": Prefilter("runs", r"\d[\d \-.]{7,}\d", min_digits=9),
    # IBAN: two letters and two digits, then at most 7 groups of 4 (with separators) and a short tail.
    "IBAN_CODE": Prefilter("windows", r"[^\W\d_]{2}\d{2}", before=1, after=64),
    # Phone numbers: digit runs with phone punctuation; context for leading '+', '(' and extensions.
    "PHONE_NUMBER": Prefilter(
        "windows",
        r"\d(?:[\d \-().\/\u00a0\u2010-\u2015]*\d)?",
        min_digits=5,
        before=24,
        after=24,
    ),
}

_WARMUP_TEXT = (
    "warm-up: mail a.b@example.com, call +1 415-555-2671 or 020 7946 0958, card 4111 1111 1111 1111, "
    "iban DE89 3704 0044 0532 0130 00, ip 192.0.2.1 fe80::1, www.example.com/x, ssn 078-05-1120"
)

_SPACE_BEFORE = regex.compile(r"\s", flags=regex.REVERSE)
_SPACE_AFTER = regex.compile(r"\s")


def _count_digits(s: str) -> int:
    return sum(1 for ch in s if ch.isdigit())


def regions(text: str, pf: Prefilter) -> list[tuple[int, int]]:
    """Sorted, disjoint ``(start, end)`` regions of ``text`` where matches of the recognizer can lie."""
    gate = _compiled(pf.pattern)
    out: list[tuple[int, int]] = []
    n = len(text)
    if pf.kind == "nonspace":
        pos = 0
        while True:
            m = gate.search(text, pos)
            if m is None:
                break
            before = _SPACE_BEFORE.search(text, 0, m.start())
            after = _SPACE_AFTER.search(text, m.end())
            start = before.start() if before else 0  # keep the whitespace char itself (1 char of context)
            end = after.end() if after else n
            out.append((start, end))
            pos = end
    elif pf.kind == "runs":
        for m in gate.finditer(text):
            if pf.min_digits and _count_digits(m.group()) < pf.min_digits:
                continue
            out.append((max(0, m.start() - 1), min(n, m.end() + 1)))
    elif pf.kind == "windows":
        for m in gate.finditer(text):
            if pf.min_digits and _count_digits(m.group()) < pf.min_digits:
                continue
            start, end = max(0, m.start() - pf.before), min(n, m.end() + pf.after)
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
    else:  # pragma: no cover - the table above is code
        raise ValueError(f"unknown prefilter kind {pf.kind!r}")
    return out


_REGEX_CACHE: dict[tuple[str, int], "regex.Pattern"] = {}


def _compiled(pattern: str, flags: int = 0):
    key = (pattern, flags)
    rx = _REGEX_CACHE.get(key)
    if rx is None:
        rx = _REGEX_CACHE[key] = regex.compile(pattern, flags=flags)
    return rx


@dataclass
class Hit:
    """A raw detection: entity type, span in the document, Presidio score, recognizer that found it."""

    entity: str
    start: int
    end: int
    score: float
    source: str  # recognizer key (entity name for pattern recognizers, "ner" for spaCy)


class PatternDetector:
    """Runs the pattern recognizers (Presidio's and corpusforge's) for a set of entities over documents.

    Args:
        entities: pattern entity types (see :func:`recognizer_classes`).
        phone_regions: regions for Presidio's PhoneRecognizer.
        use_prefilters: False runs every recognizer over the whole text (how vanilla Presidio does it;
            kept for the equivalence tests, benchmarks and the parity harness's diagnosis).
        phone_regions_from_language: also parse the national formats of the regions where the document's
            language is spoken (:data:`LANGUAGE_PHONE_REGIONS`).
    """

    def __init__(
        self,
        entities: list[str],
        phone_regions: Optional[list[str]] = None,
        use_prefilters: bool = True,
        phone_regions_from_language: bool = False,
    ):
        from presidio_analyzer import PatternRecognizer  # deferred: Presidio is heavy, needed only to scrub

        from .pii_extra import EXTRA_PREFILTERS, EXTRA_RECOGNIZERS  # deferred: imports Presidio (heavy)

        make_tldextract_offline()
        classes = recognizer_classes()
        self.recognizers: dict[str, object] = {}
        self._runner: dict[str, Callable] = {}
        self.use_prefilters = use_prefilters
        self.prefilters = dict(PREFILTERS)
        for entity, (kind, pattern, min_digits, before, after) in EXTRA_PREFILTERS.items():
            self.prefilters[entity] = Prefilter(kind, pattern, min_digits, before, after)
        self.phone_regions = tuple(phone_regions) if phone_regions else None
        self.regions_from_language = phone_regions_from_language
        self._phone_by_regions: dict[tuple[str, ...], object] = {}
        for entity in entities:
            cls = classes.get(entity)
            if cls is None:
                raise ValueError(f"no pattern recognizer for entity {entity!r} in the installed Presidio")
            if entity == "PHONE_NUMBER" and self.phone_regions:
                rec = cls(supported_regions=self.phone_regions)
            else:
                rec = cls()
            if entity not in EXTRA_RECOGNIZERS and hasattr(rec, "global_regex_flags"):
                # What Presidio's RecognizerRegistry does to every recognizer it loads (vanilla's flags): a
                # recognizer built by its class alone may lack IGNORECASE (IbanRecognizer does).
                rec.global_regex_flags = PRESIDIO_REGISTRY_FLAGS
            self.recognizers[entity] = rec
            uses_base_analyze = isinstance(rec, PatternRecognizer) and type(rec).analyze is PatternRecognizer.analyze
            self._runner[entity] = self._run_patterns if uses_base_analyze else self._run_analyze
        self._flags = {
            e: getattr(r, "global_regex_flags", None) or 0 for e, r in self.recognizers.items()
        }
        # Compile every pattern and load phone metadata now, so that the first document's time budget is
        # not spent on one-off set-up work.
        self.detect(_WARMUP_TEXT, time.monotonic() + 600.0)

    def context_words(self, entity: str) -> list[str]:
        """The recognizer's context words (lower case), used for score enhancement."""
        rec = self.recognizers.get(entity)
        return [w.lower() for w in (getattr(rec, "context", None) or [])]

    def _phone_recognizer(self, lang: Optional[str]):
        """The PhoneRecognizer for the configured regions plus those of ``lang`` (one instance per set)."""
        base = self.recognizers["PHONE_NUMBER"]
        extra = LANGUAGE_PHONE_REGIONS.get((lang or "").lower(), ()) if self.regions_from_language else ()
        configured = tuple(getattr(base, "supported_regions", ()) or ())
        regions = configured + tuple(r for r in extra if r not in configured)
        if regions == configured:
            return base
        rec = self._phone_by_regions.get(regions)
        if rec is None:
            rec = self._phone_by_regions[regions] = type(base)(supported_regions=regions)
        return rec

    def detect(self, text: str, deadline: float, lang: Optional[str] = None) -> list[Hit]:
        """All raw hits in ``text``; raises :class:`BudgetExceeded` once ``time.monotonic() > deadline``.

        ``lang`` (the document's language code) widens the phone regions when configured.
        """
        hits: list[Hit] = []
        for entity, rec in self.recognizers.items():
            if entity == "PHONE_NUMBER":
                rec = self._phone_recognizer(lang)
            pf = self.prefilters.get(entity) if self.use_prefilters else None
            run = self._runner[entity]
            if pf is None:
                hits.extend(run(entity, rec, text, 0, deadline))
                continue
            for start, end in regions(text, pf):
                hits.extend(run(entity, rec, text[start:end], start, deadline))
        return hits

    def _run_patterns(self, entity: str, rec, text: str, offset: int, deadline: float) -> list[Hit]:
        """Presidio's PatternRecognizer logic (scores, validate/invalidate) with a deadline."""
        from presidio_analyzer import EntityRecognizer  # deferred: Presidio is heavy, needed only to scrub

        found: list[Hit] = []
        flags = self._flags[entity]
        for pattern in rec.patterns:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BudgetExceeded(f"{entity} patterns ran past the document's time budget")
            rx = _compiled(pattern.regex, flags)
            try:
                for m in rx.finditer(text, timeout=remaining):
                    s, e = m.span()
                    if s == e:
                        continue
                    value = text[s:e]
                    score = pattern.score
                    valid = rec.validate_result(value)
                    if valid is not None:
                        score = EntityRecognizer.MAX_SCORE if valid else EntityRecognizer.MIN_SCORE
                    invalid = rec.invalidate_result(value)
                    if invalid:
                        score = EntityRecognizer.MIN_SCORE
                    if score > EntityRecognizer.MIN_SCORE:
                        found.append(Hit(entity, s + offset, e + offset, score, entity))
            except TimeoutError:
                raise BudgetExceeded(f"{entity} pattern ran past the document's time budget") from None
        return found

    def _run_analyze(self, entity: str, rec, text: str, offset: int, deadline: float) -> list[Hit]:
        """Recognizers with their own ``analyze`` (phone, IBAN): called on the region, then deadline check."""
        if time.monotonic() > deadline:
            raise BudgetExceeded(f"{entity} ran past the document's time budget")
        results = rec.analyze(text=text, entities=[entity], nlp_artifacts=None)
        return [Hit(r.entity_type, r.start + offset, r.end + offset, r.score, entity) for r in results]


# --- context enhancement (Presidio's LemmaContextAwareEnhancer, computed locally) ----------------------

_TOKEN = regex.compile(r"\w+|[^\w\s]+")
CONTEXT_SIMILARITY_FACTOR = 0.35
MIN_SCORE_WITH_CONTEXT = 0.4
CONTEXT_PREFIX_COUNT = 5


def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS  # deferred: spaCy is heavy, needed only for context words

    return frozenset(STOP_WORDS)


_STOP: Optional[frozenset[str]] = None


def _is_keyword(tok: str) -> bool:
    global _STOP
    if _STOP is None:
        _STOP = _stop_words()
    if tok in _STOP or tok == "be" or tok == "-pron-":
        return False
    return any(ch.isalnum() for ch in tok)


def preceding_keywords(text: str, start: int, n: int = CONTEXT_PREFIX_COUNT) -> list[str]:
    """Up to ``n + 1`` keywords ending with the token at ``start`` (the entity's own first token).

    Same window as Presidio's LemmaContextAwareEnhancer (``context_prefix_count=5``, suffix 0): lower-cased
    tokens that are not stop words or punctuation, walking backwards from the match. Lower-cased surface
    forms stand in for lemmas; with Presidio's default substring matching a context word found in a
    lemma is found in its surface form too, so this never finds less context.
    """
    first = _TOKEN.match(text, start)
    words: list[str] = []
    if first is not None:
        tok = first.group().lower()
        if _is_keyword(tok):
            words.extend(tok.split(":"))
    need = n + 1 - (1 if words else 0)
    span = 256
    while need > 0:
        lo = max(0, start - span)
        toks = [t.lower() for t in _TOKEN.findall(text, lo, start)]
        if lo > 0 and toks:
            toks = toks[1:]  # the first token may be cut by the window
        kws = [t for t in toks if _is_keyword(t)]
        if len(kws) >= need or lo == 0:
            for t in reversed(kws[-need:] if need <= len(kws) else kws):
                words.extend(t.split(":"))
            break
        span *= 4
    return words


def enhance_with_context(text: str, hits: list[Hit], context_of: Callable[[str], list[str]]) -> None:
    """Raise the score of hits whose preceding keywords contain one of their recognizer's context words."""
    for h in hits:
        ctx = context_of(h.source)
        if not ctx:
            continue
        words = preceding_keywords(text, h.start)
        if any(c in w for c in ctx for w in words):
            h.score = min(1.0, max(h.score + CONTEXT_SIMILARITY_FACTOR, MIN_SCORE_WITH_CONTEXT))
