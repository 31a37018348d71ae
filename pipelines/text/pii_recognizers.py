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

With per-entity *score floors* (:meth:`PatternDetector.detect`'s ``floors``: the score thresholds), a
pattern whose hits could never reach the floor, not even after context enhancement, is not searched at
all; see :meth:`PatternDetector.detect` for why the final detections stay the same.

Regular expressions run with a timeout taken from the document's deadline (``regex``'s ``timeout``), so a
pathological input raises :class:`BudgetExceeded` instead of stalling a worker.
"""
from __future__ import annotations

import inspect
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import regex

from .pii_offline import make_tldextract_offline, presidio_cpu_only

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
        presidio_cpu_only()
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
            entities = _declared_entities(cls)
            if entities is None:
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


def _declared_entities(cls: type) -> Optional[list[str]]:
    """The entity a recognizer class declares as the default of its ``supported_entity`` argument, read
    without building it (building every Presidio recognizer compiles some 170 patterns, most never used);
    None when it declares none (then the class is built and asked)."""
    try:
        param = inspect.signature(cls.__init__).parameters.get("supported_entity")
    except (TypeError, ValueError):  # pragma: no cover - a signature Python cannot read
        return None
    if param is None or not isinstance(param.default, str):
        return None
    return [param.default]

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


#: A run of digits and python-phonenumbers' valid punctuation (its ``_VALID_PUNCTUATION``, checked by a test).
PHONE_RUN = (
    r"\d(?:[\d\-x\u2010-\u2015\u2212\u30fc\uff0d-\uff0f \u00a0\u00ad\u200b\u2060\u3000()\uff08\uff09"
    r"\uff3b\uff3d.\[\]/~\u2053\u223c\uff5e]*\d)?"
)

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
    # MAC addresses have no whitespace in them and start with two hex digits and a ':' or '-' that repeat,
    # or with four hex digits and a '.' (Cisco form).
    "MAC_ADDRESS": Prefilter("nonspace", r"[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\."),
    # Phone numbers: runs of digits and python-phonenumbers' valid punctuation (``_VALID_PUNCTUATION``), where
    # a number's national digits lie; a valid number has at least 4 of them (the shortest length any
    # region's metadata lists, pii_phone._global_min_length); context for leading '+', '(' and extensions.
    "PHONE_NUMBER": Prefilter(
        "windows",
        PHONE_RUN,
        min_digits=4,
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


_DIGIT = regex.compile(r"\d")


def _count_up_to(rx, text: str, cap: int) -> int:
    """Matches of ``rx`` in ``text``, counted up to ``cap`` (stops there)."""
    n = 0
    if cap <= 0:
        return 0
    for _ in rx.finditer(text):
        n += 1
        if n >= cap:
            break
    return n
_MAX_SCORE, _MIN_SCORE = 1.0, 0.0  # presidio_analyzer.EntityRecognizer.MAX_SCORE, MIN_SCORE


def min_digit_chars(pattern: str) -> int:
    """The fewest characters of class ``\\d`` that any match of ``pattern`` contains (0 when unknown).

    Read from the parse tree of Python's ``re`` (Presidio's patterns are in its syntax): a literal digit or
    a class of digits only counts 1, repetitions count their minimum, alternatives their smallest branch,
    and anything else (look-arounds, back-references, negated or mixed classes, syntax ``re`` cannot
    parse) counts 0, so the figure is never more than the truth. Digits have no case variants, so
    ``IGNORECASE`` changes nothing.
    """
    try:
        import re._parser as sre  # deferred: only for the one-off analysis of recognizer patterns
        from re import _constants as c  # deferred: as above
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_constants as c  # type: ignore[no-redef]  # deferred: as above
        import sre_parse as sre  # type: ignore[no-redef]  # deferred: as above
    try:
        tree = sre.parse(pattern)
    except Exception:
        return 0

    def is_digit_class(items) -> bool:
        for op, av in items:
            if op is c.LITERAL and chr(av).isdecimal():
                continue
            if op is c.RANGE and av[0] >= 0x30 and av[1] <= 0x39:
                continue
            if op is c.CATEGORY and av is c.CATEGORY_DIGIT:
                continue
            return False
        return bool(items)

    def count(seq) -> int:
        total = 0
        for op, av in seq:
            if op is c.LITERAL:
                total += 1 if chr(av).isdecimal() else 0
            elif op is c.IN:
                total += 1 if is_digit_class(av) else 0
            elif op is c.SUBPATTERN:
                total += count(av[-1])
            elif op is c.BRANCH:
                total += min(count(b) for b in av[1])
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT) or op is getattr(c, "POSSESSIVE_REPEAT", None):
                total += av[0] * count(av[2])
            elif op is getattr(c, "ATOMIC_GROUP", None):
                total += count(av)
            # AT, ANY, NOT_LITERAL, ASSERT, ASSERT_NOT, GROUPREF, GROUPREF_EXISTS, ...: 0 (never over)
        return total

    try:
        return count(tree)
    except Exception:  # pragma: no cover - an unexpected tree shape: no claim
        return 0


_BACKREF_OR_FLAGS = regex.compile(r"\\[1-9]|\\g<|\(\?P=|\(\?[a-zA-Z]+\)|\(\?\(")


def _alternation_gate(patterns: list[str], flags: int):
    """One pattern that matches wherever any of ``patterns`` matches: ``(?:p1)|(?:p2)|...``.

    At every position the alternation tries each branch, so if one pattern matches at a position the
    alternation matches there or further left: no match of the alternation means no match of any pattern,
    and the patterns need not run. None (no gate) for fewer than two patterns, or when a pattern has a
    back-reference, a conditional or global inline flags (their meaning would change inside the
    alternation), or the alternation does not compile (e.g. a group name used twice).
    """
    if len(patterns) < 2 or any(_BACKREF_OR_FLAGS.search(p) for p in patterns):
        return None
    try:
        return regex.compile("|".join(f"(?:{p})" for p in patterns), flags=flags)
    except regex.error:
        return None


#: What :meth:`PatternDetector._run_patterns` searches: compiled patterns with their scores, and an
#: alternation gate of exactly those patterns (None: no gate).
PatternPlan = tuple[list, Optional[object]]


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
        presidio_cpu_only()
        from presidio_analyzer import PatternRecognizer  # deferred: Presidio is heavy, needed only to scrub
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer  # deferred: as above

        from .pii_extra import EXTRA_PREFILTERS, EXTRA_RECOGNIZERS  # deferred: imports Presidio (heavy)
        from .pii_phone import MultiRegionPhoneRecognizer  # deferred: imports Presidio (heavy)

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
            if entity == "PHONE_NUMBER" and use_prefilters and cls is PhoneRecognizer:
                # Presidio's recognizer with the per-region work shared: the same spans and scores.
                cls = MultiRegionPhoneRecognizer
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
        # Per pattern recognizer: its compiled patterns and scores, and its validate/invalidate methods
        # where its class overrides Presidio's no-op ones.
        self._patterns: dict[str, list] = {}
        self._checks: dict[str, tuple] = {}
        #: Entity -> the fewest digits a text needs for a match of the recognizer (its patterns' and its
        #: pre-filter's, read from their parse trees: min_digit_chars): skipped on texts with fewer.
        self._min_digits: dict[str, int] = {}
        #: Recognizers with several patterns: one search for any of them first (see _alternation_gate).
        self._gates: dict[str, object] = {}
        for entity, rec in self.recognizers.items():
            if self._runner[entity] != self._run_patterns:
                continue
            self._patterns[entity] = [(_compiled(p.regex, self._flags[entity]), p.score) for p in rec.patterns]
            cls = type(rec)
            self._checks[entity] = (
                rec.validate_result if cls.validate_result is not PatternRecognizer.validate_result else None,
                rec.invalidate_result if cls.invalidate_result is not PatternRecognizer.invalidate_result else None,
            )
            if rec.patterns:
                self._min_digits[entity] = min(min_digit_chars(p.regex) for p in rec.patterns)
            gate = _alternation_gate([p.regex for p in rec.patterns], self._flags[entity])
            if gate is not None:
                self._gates[entity] = gate
        #: (entity, floor) -> the patterns to search on a text without / with one of the recognizer's
        #: context words, and those words (see :meth:`_floor_plan`); None when no pattern can be skipped.
        self._floor_plans: dict[tuple[str, float], Optional[tuple[PatternPlan, PatternPlan, Optional[tuple]]]] = {}
        for entity, pf in self.prefilters.items():
            if entity in self.recognizers:
                need = max(pf.min_digits, min_digit_chars(pf.pattern))
                self._min_digits[entity] = max(self._min_digits.get(entity, 0), need)
        self._digit_cap = max(self._min_digits.values(), default=0)
        #: Per recognizer, what detect() reads for every text: (entity, recognizer, pre-filter, fewest
        #: digits needed); with pre-filters off, no pre-filter and no digit need.
        self._plan = [
            (e, r, self.prefilters.get(e), self._min_digits.get(e, 0)) if use_prefilters else (e, r, None, 0)
            for e, r in self.recognizers.items()
        ]
        #: Entity -> pattern searches skipped by score floors (patterns x documents), for tests and profiles.
        self.skipped_patterns: Counter = Counter()
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

    def _subset_plan(self, entity: str, keep: list[int]) -> PatternPlan:
        """The patterns ``keep`` (indices) of ``entity``'s recognizer, with the recognizer's alternation
        gate when all of them are kept and without a gate otherwise.

        The full gate is never used for a subset: it also matches where only a skipped pattern can, so it
        would no longer tell whether the patterns that run can match. An alternation of the subset was
        measured instead and is never faster (2,000 presidio-evaluator texts: DATE_TIME's 11 patterns of
        score 0.6 and more take 0.053 s behind their alternation, 0.035 s without; IP_ADDRESS's 4 the same
        either way; the other subsets of Presidio's recognizers have one pattern or none).
        """
        patterns = self._patterns[entity]
        if len(keep) == len(patterns):
            return patterns, self._gates.get(entity)
        return [patterns[i] for i in keep], None

    def _floor_plan(self, entity: str, floor: float):
        """``(without, with_context, context)`` for a pattern recognizer under score floor ``floor``, or None
        when every pattern must run.

        ``without``: the patterns whose score reaches ``floor``; ``with_context``: those whose score or
        context-enhanced score (:func:`enhanced_score`) reaches it (the same object as ``without`` when they
        are the same patterns); ``context``: the recognizer's context words, or None when one of them holds
        a Greek sigma (``str.lower`` maps a capital sigma by what surrounds it, so a word lower-cased alone
        may differ from the same word in the lower-cased text: such a recognizer always counts as having
        context). None as well when the recognizer's class overrides ``validate_result``, which can lift
        a hit of any pattern to 1.0.
        """
        key = (entity, floor)
        if key in self._floor_plans:
            return self._floor_plans[key]
        plan = None
        if self._checks[entity][0] is None:
            scores = [score for _, score in self._patterns[entity]]
            keep = [i for i, sc in enumerate(scores) if not sc < floor]
            keep_ctx = [i for i, sc in enumerate(scores) if not (sc < floor and enhanced_score(sc) < floor)]
            if len(keep) < len(scores):
                without = self._subset_plan(entity, keep)
                with_ctx = without if keep_ctx == keep else self._subset_plan(entity, keep_ctx)
                words = tuple(self.context_words(entity))
                plan = (without, with_ctx, None if any(ch in w for w in words for ch in "σς") else words)
        self._floor_plans[key] = plan
        return plan

    def detect(
        self,
        text: str,
        deadline: float,
        lang: Optional[str] = None,
        floors: Optional[Mapping[str, float]] = None,
    ) -> list[Hit]:
        """All raw hits in ``text``; raises :class:`BudgetExceeded` once ``time.monotonic() > deadline``.

        ``lang`` (the document's language code) widens the phone regions when configured.

        ``floors`` (entity -> the score threshold :meth:`pipelines.text.pii.PiiScrubber.finalize` applies)
        skips the patterns whose hits could never reach their entity's threshold: a pattern of a recognizer
        whose class does not override ``validate_result`` is not searched when its score is below the floor
        and either none of the recognizer's context words occurs in ``text.lower()`` (the *whole* text,
        lower-cased once per document and only when needed) or even the enhanced score
        ``min(1, max(score + 0.35, 0.4))`` is below the floor. A recognizer with no pattern left is skipped
        with its region pre-filter. The hits returned are then a subset of those without ``floors``, and
        the final detections are the same, for every text:

        * without ``validate_result`` a hit's score is its pattern's score, or 0 when ``invalidate_result``
          rejects it (0 is never a hit); nothing else in detection raises a pattern hit's score except
          :func:`enhance_with_context`, once, to exactly :func:`enhanced_score`;
        * enhancement needs one of the recognizer's context words inside one of the lower-cased keywords
          before the hit (:func:`preceding_keywords`). Those keywords are tokens of the same whole text
          (or pieces of them split at ``:``), lower-cased one by one, and ``str.lower`` maps every
          character on its own except a capital sigma (see :meth:`_floor_plan`), so a context word found
          there is a substring of ``text.lower()``. No context word in ``text.lower()``: no enhancement;
        * :meth:`~pipelines.text.pii.PiiScrubber.finalize` keeps a hit only when its (final) score is at
          least its entity's threshold, before duplicate removal and everything else, so a hit that can
          never reach it changes nothing downstream;
        * the recognizer's alternation gate is used only when all of its patterns run (``_subset_plan``).

        The one difference is time: a document near its time budget can finish where the skipped searches
        would have pushed it past (budget outcomes depend on timing anyway). Without ``floors``, or with
        floors of 0, every pattern runs (the raw hits the parity harness diagnoses).
        """
        hits: list[Hit] = []
        digits = -1  # digits in the text, counted up to self._digit_cap when first needed
        lowered: Optional[str] = None
        runners = self._runner
        for entity, rec, pf, need in self._plan:
            if need:
                if digits < 0:
                    digits = _count_up_to(_DIGIT, text, self._digit_cap)
                if digits < need:
                    continue  # every match of this recognizer holds more digits than the text has
            plan: Optional[PatternPlan] = None
            if floors is not None and entity in self._patterns:
                floor = floors.get(entity)
                pruned = self._floor_plan(entity, floor) if floor is not None else None
                if pruned is not None:
                    plan, with_ctx, words = pruned
                    if with_ctx is not plan:
                        if words is None:
                            plan = with_ctx
                        else:
                            if lowered is None:
                                lowered = text.lower()
                            if any(w in lowered for w in words):
                                plan = with_ctx
                    skipped = len(self._patterns[entity]) - len(plan[0])
                    if skipped:
                        self.skipped_patterns[entity] += skipped
                    if not plan[0]:
                        continue  # no hit of this recognizer could reach its threshold
            if entity == "PHONE_NUMBER":
                rec = self._phone_recognizer(lang)
            run = runners[entity]
            if pf is None:
                hits.extend(run(entity, rec, text, 0, deadline, plan))
                continue
            for start, end in regions(text, pf):
                hits.extend(run(entity, rec, text[start:end], start, deadline, plan))
        return hits

    def _run_patterns(
        self, entity: str, rec, text: str, offset: int, deadline: float, plan: Optional[PatternPlan] = None
    ) -> list[Hit]:
        """Presidio's PatternRecognizer logic (scores, validate/invalidate) with a deadline.

        ``plan``: the patterns to search and their gate (default: all of the recognizer's, see
        :meth:`detect`'s ``floors``).
        """
        found: list[Hit] = []
        validate, invalidate = self._checks[entity]
        patterns, gate = plan if plan is not None else (self._patterns[entity], self._gates.get(entity))
        if gate is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BudgetExceeded(f"{entity} patterns ran past the document's time budget")
            try:
                if gate.search(text, timeout=remaining) is None:
                    return found
            except TimeoutError:
                raise BudgetExceeded(f"{entity} pattern ran past the document's time budget") from None
        for rx, pattern_score in patterns:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BudgetExceeded(f"{entity} patterns ran past the document's time budget")
            try:
                for m in rx.finditer(text, timeout=remaining):
                    s, e = m.span()
                    if s == e:
                        continue
                    score = pattern_score
                    if validate is not None or invalidate is not None:
                        value = text[s:e]
                        valid = validate(value) if validate is not None else None
                        if valid is not None:
                            score = _MAX_SCORE if valid else _MIN_SCORE
                        if invalidate is not None and invalidate(value):
                            score = _MIN_SCORE
                    if score > _MIN_SCORE:
                        found.append(Hit(entity, s + offset, e + offset, score, entity))
            except TimeoutError:
                raise BudgetExceeded(f"{entity} pattern ran past the document's time budget") from None
        return found

    def _run_analyze(
        self, entity: str, rec, text: str, offset: int, deadline: float, plan: Optional[PatternPlan] = None
    ) -> list[Hit]:
        """Recognizers with their own ``analyze`` (phone, IBAN): called on the region, then deadline check
        (``plan`` is for pattern recognizers only: never given here)."""
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


def enhanced_score(score: float) -> float:
    """A hit's score once context enhancement lifts it (Presidio: +0.35, at least 0.4, at most 1)."""
    return min(_MAX_SCORE, max(score + CONTEXT_SIMILARITY_FACTOR, MIN_SCORE_WITH_CONTEXT))


def enhance_with_context(text: str, hits: list[Hit], context_of: Callable[[str], list[str]]) -> None:
    """Raise the score of hits whose preceding keywords contain one of their recognizer's context words."""
    for h in hits:
        ctx = context_of(h.source)
        if not ctx:
            continue
        words = preceding_keywords(text, h.start)
        if any(c in w for c in ctx for w in words):
            h.score = enhanced_score(h.score)
