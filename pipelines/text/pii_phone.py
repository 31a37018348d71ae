"""Presidio's PhoneRecognizer with the work it repeats per region done once (same spans, same scores).

Presidio's ``PhoneRecognizer.analyze`` runs python-phonenumbers' ``PhoneNumberMatcher`` once per supported
region (eight by default), and each run re-scans the text and parses every candidate again with that
region as the default. :class:`MultiRegionPhoneRecognizer` keeps the matcher's own scan, candidate
extraction, inner-match search and retry budget untouched (it *is* ``PhoneNumberMatcher``, one per region,
as in Presidio) and changes only ``_parse_and_verify``, the step that parses one candidate, so that work
whose outcome cannot depend on the region is done once per text and parsing that provably fails is
skipped:

1. a candidate whose possible number starts with ``+`` parses to the same number whatever the default
   region (the country code comes from the number itself), and verification at ``VALID`` or stricter reads
   only the number and the candidate: the outcome (a match or none) is shared by all regions;
2. at ``VALID`` or stricter a match needs ``is_valid_number``, and a valid number's national significant
   number has one of the lengths its region's metadata lists. That number never has more digits than the
   candidate has digits and letters (letters become digits in vanity numbers). Without ``+``, the country
   code is the default region's, or is read after the region's international prefix (one digit at least)
   and is itself a digit at least. So a candidate with fewer than ``min(shortest length among the regions
   of the default region's country code, shortest length of any region + 2)`` digits and letters cannot
   match with that default region, and it is not parsed.

3. a candidate without ``+``, letters or the characters of an extension (``# ＃ ~ ～ , ;``) is parsed from
   its digits ``d`` alone (no vanity letters to convert, no extension to strip). Unless the default region's
   international prefix matches at the start of ``d`` (then the number may belong to any country), its
   country code is the default region's, and the national significant number that ``is_valid_number``
   checks is ``d`` after at most two steps: the country code stripped (only when ``d`` starts with it,
   followed by a national prefix with the default region's metadata) and a national prefix stripped or
   transformed by the metadata's rule (the default region's, or the country code's main region's after a
   stripped country code); each step may also not happen. A valid number has one of the possible lengths
   of a region of that country code and matches that region's general pattern (``is_valid_number`` checks
   both first, ``_is_number_matching_desc``), so when none of the few numbers these steps can give has
   both, the candidate cannot match and is not parsed (:class:`RegionBounds`).

4. the strings a region's matcher parses when nothing matches do not depend on the region (the scan, the
   date checks and the inner groups read the text only), and the retry budget only stops that walk
   earlier; so a region for which none of them passes rules 1 to 3 finds nothing, and its walk is skipped
   (:meth:`_SharedMatcher.may_find`).

Candidates holding ``;`` (RFC 3966 ``phone-context``, which can bring a ``+`` from elsewhere) always go
the library's way. Presidio's result explanation (the region name) is not built: the stage reads spans
and scores only. ``tests/unit/test_pii_fastpath.py`` checks that spans and scores equal Presidio's
recognizer's on generated, Faker national-format and adversarial texts.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers import phonenumbermatcher as _m
from phonenumbers.phonenumbermatcher import Leniency, PhoneNumberMatcher
from phonenumbers.phonenumberutil import (
    COUNTRY_CODES_FOR_NON_GEO_REGIONS,
    SUPPORTED_REGIONS,
    _extract_possible_number,
    _is_number_matching_desc,
    normalize_digits_only,
)
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

_PLUS = ("+", "\uff0b")
_NOT_ASCII_DIGIT = re.compile(r"[^0-9]")
_REJECTED = object()  # a region-independent "no match" in the per-text cache


def _shortest(metadata) -> Optional[int]:
    lengths = metadata.general_desc.possible_length if metadata is not None else ()
    return min(lengths) if lengths else None


@lru_cache(maxsize=1)
def _global_min_length() -> int:
    """Shortest national significant number any region (or non-geographic code) can have as valid."""
    found = [_shortest(PhoneMetadata.metadata_for_region(r)) for r in SUPPORTED_REGIONS]
    found += [_shortest(PhoneMetadata.metadata_for_nongeo_region(cc)) for cc in COUNTRY_CODES_FOR_NON_GEO_REGIONS]
    if any(x is None for x in found):  # a region without listed lengths: no bound beyond parse's own
        return 0
    return min(found)


@lru_cache(maxsize=None)
def min_candidate_chars(region: Optional[str]) -> int:
    """Fewest digits and letters a candidate without ``+`` needs to be a valid number with this default
    region (rule 2 of the module docstring); 0 when no bound is known."""
    if region is None or region not in SUPPORTED_REGIONS:
        return 0
    cc = phonenumbers.country_code_for_region(region)
    same_cc = [_shortest(PhoneMetadata.metadata_for_region(r)) for r in phonenumbers.region_codes_for_country_code(cc)]
    if not same_cc or any(x is None for x in same_cc):
        return 0
    glob = _global_min_length()
    if glob == 0:
        return 0
    return min(min(same_cc), glob + 2)


#: Characters that start an extension in python-phonenumbers' parsing patterns, besides letters (explicit
#: and ambiguous labels such as ``ext`` or ``x``): ``#``, ``~`` and their full-width forms, ``,`` (auto-dialling
#: and comma extensions) and ``;`` (RFC 3966 and auto-dialling).
_EXTENSION_CHARS = frozenset("#\uff03~\uff5e,;")


class _NationalPrefix:
    """python-phonenumbers' ``_maybe_strip_national_prefix_carrier_code`` for one region's metadata, as far
    as the digits it leaves: the number with the prefix stripped (or transformed) when the library would
    strip it. The library also keeps the number unstripped when the result is not viable; callers consider
    both. ``known`` is False for metadata this mirror does not cover (a transform rule without groups)."""

    def __init__(self, metadata):
        pattern = metadata.national_prefix_for_parsing if metadata is not None else None
        self.pattern = re.compile(pattern) if pattern else None
        self.transform = metadata.national_prefix_transform_rule if metadata is not None else None
        self.known = not (self.pattern is not None and self.transform and self.pattern.groups == 0)

    def __call__(self, number: str) -> str:
        if self.pattern is None or not number:
            return number
        m = self.pattern.match(number)
        if m is None:
            return number
        if not self.transform or m.groups()[-1] is None:
            return number[m.end():]
        return self.pattern.sub(self.transform, number, count=1)


class RegionBounds:
    """Rule 3 of the module docstring for one default region: the lengths the national significant number
    of a plain digit string can take when parsed with this region, and whether one of them is a length a
    valid number of its country code can have.

    Mirrors the two steps of ``parse`` that change the digits on the national path: stripping the default
    country code (only when the digits start with it) followed by a national prefix with the region's
    metadata, and the national prefix stripped after it (with the region's metadata when no country code
    was stripped, with the country code's main region's when one was). Each strip may also not happen;
    every combination is considered.
    """

    def __init__(self, region: str):
        metadata = PhoneMetadata.metadata_for_region(region)
        cc = metadata.country_code
        self.cc = str(cc)
        self.idd = re.compile(metadata.international_prefix) if metadata.international_prefix else None
        same_cc = [PhoneMetadata.metadata_for_region(r) for r in phonenumbers.region_codes_for_country_code(cc)]
        lengths = [m.general_desc.possible_length if m is not None else () for m in same_cc]
        self._own = _NationalPrefix(metadata)
        main_region = phonenumbers.region_code_for_country_code(cc)
        self._main = self._own if main_region == region else _NationalPrefix(
            PhoneMetadata.metadata_for_region(main_region))
        #: possible lengths of a valid number of this country code; None: no pruning (a region without
        #: listed lengths, no international prefix, or metadata the mirror does not cover)
        self.lengths: Optional[frozenset] = None
        if lengths and all(lengths) and self.idd is not None and self._own.known and self._main.known:
            self.lengths = frozenset(n for x in lengths for n in x)
        #: the general descriptions of the country code's regions: a valid number matches the one of its region
        self._descs = [m.general_desc for m in same_cc if m is not None]

    def _valid_shape(self, national: str) -> bool:
        """Whether ``national`` has a length and the general pattern of some region of the country code
        (what ``is_valid_number`` checks first, with the library's own ``_is_number_matching_desc``)."""
        return len(national) in self.lengths and any(_is_number_matching_desc(national, d) for d in self._descs)

    def may_match(self, digits: str) -> bool:
        """False only when no number parsed from these digits with this default region can be valid."""
        if self.lengths is None or self.idd.match(digits):
            return True  # no bound, or an international prefix: any country's number may follow
        nationals = {digits, self._own(digits)}
        if digits.startswith(self.cc):
            rest = digits[len(self.cc):]
            for national in (rest, self._own(rest)):
                nationals.add(national)
                nationals.add(self._main(national))
        return any(self._valid_shape(n) for n in nationals)


@lru_cache(maxsize=None)
def region_bounds(region: Optional[str]) -> Optional[RegionBounds]:
    """:class:`RegionBounds` of a supported region, else None (no pruning)."""
    if region is None or region not in SUPPORTED_REGIONS:
        return None
    return RegionBounds(region)


def _candidate_info(candidate: str) -> tuple:
    """Region-independent facts of a candidate: starts with ``+`` (after the library's extraction), digits
    and letters counted, and its normalised digits when rule 3 applies (no letters, no extension chars)."""
    plus = _extract_possible_number(candidate)[:1] in _PLUS
    alnum = sum(1 for ch in candidate if ch.isdigit() or ch.isalpha())
    plain = not plus and not any(ch.isalpha() or ch in _EXTENSION_CHARS for ch in candidate)
    if not plain:
        return plus, alnum, None
    # ASCII text: its digits are already the normalised ones (the library's loop maps other scripts' digits).
    return plus, alnum, _NOT_ASCII_DIGIT.sub("", candidate) if candidate.isascii() else normalize_digits_only(candidate)


class _SharedMatcher(PhoneNumberMatcher):
    """``PhoneNumberMatcher`` whose region-independent steps read a cache shared by the regions of one text.

    ``_find``, ``_extract_match`` and ``_extract_inner_match`` are the library's logic, statement for
    statement, except that the pattern searches (next candidate, date and time-stamp checks, inner groups)
    are looked up in ``shared`` (they read only the text and the candidate); ``_parse_and_verify`` applies
    the rules of the module docstring. The retry budget (``max_tries``) is spent exactly as the library
    spends it.
    """

    def __init__(self, text: str, region: str, leniency: int, shared: dict):
        super().__init__(text, region, leniency=leniency)
        self._shared = shared
        self._strict = leniency >= Leniency.VALID
        self._min_chars = min_candidate_chars(region) if self._strict else 0
        self._bounds = region_bounds(region) if self._strict else None

    def _next_candidate(self, index):
        key = ("scan", index)
        try:
            return self._shared[key]
        except KeyError:
            pass
        match = _m._PATTERN.search(self.text, index)
        found = None
        if match is not None:
            start = match.start()
            candidate = self._trim_after_first_match(_m._SECOND_NUMBER_START_PATTERN, self.text[start : match.end()])
            found = (start, candidate)
        self._shared[key] = found
        return found

    def _find(self, index):
        found = self._next_candidate(index)
        while self._max_tries > 0 and found is not None:
            start, candidate = found
            candidate_len = len(candidate)
            if candidate_len >= self._min_candidate_length:
                match = self._extract_match(candidate, start)
                if match is not None:
                    return match
                self._max_tries -= 1
            found = self._next_candidate(start + candidate_len)
        return None

    def _skip(self, candidate, offset) -> bool:
        """The library's date and time-stamp checks of ``_extract_match`` (no match when true)."""
        key = ("skip", candidate, offset)
        skip = self._shared.get(key)
        if skip is None:
            skip = bool(_m._SLASH_SEPARATED_DATES.search(candidate)) or bool(
                _m._TIME_STAMPS.search(candidate)
                and _m._TIME_STAMPS_SUFFIX.match(self.text[offset + len(candidate) :])
            )
            self._shared[key] = skip
        return skip

    def _extract_match(self, candidate, offset):
        if self._skip(candidate, offset):
            return None
        match = self._parse_and_verify(candidate, offset)
        if match is not None:
            return match
        return self._extract_inner_match(candidate, offset)

    def _inner_units(self, candidate, offset) -> list:
        """The library's inner-match attempts, grouped as its loop makes them: one unit per pass of its
        ``while`` (which checks the retry budget once per pass), each unit one or two ``(group, offset)``."""
        key = ("inner", candidate, offset)
        units = self._shared.get(key)
        if units is None:
            units = []
            trim, unwanted = self._trim_after_first_match, _m._UNWANTED_END_CHAR_PATTERN
            for possible_inner_match in _m._INNER_MATCHES:
                group_match = possible_inner_match.search(candidate)
                is_first_match = True
                while group_match:
                    unit = []
                    if is_first_match:
                        unit.append((trim(unwanted, candidate[: group_match.start()]), offset))
                        is_first_match = False
                    unit.append((trim(unwanted, group_match.group(1)), offset + group_match.start(1)))
                    units.append(unit)
                    group_match = possible_inner_match.search(candidate, group_match.start() + 1)
            self._shared[key] = units
        return units

    def _extract_inner_match(self, candidate, offset):
        for unit in self._inner_units(candidate, offset):
            if self._max_tries <= 0:
                return None
            for group, group_offset in unit:
                match = self._parse_and_verify(group, group_offset)
                if match is not None:
                    return match
                self._max_tries -= 1
        return None

    def attempts(self) -> list:
        """Every string the matcher would parse if no candidate matched: the candidates of the scan (past
        the date and time-stamp checks) and their inner groups, in order. Region-independent (shared)."""
        walk = self._shared.get(("walk",))
        if walk is None:
            walk = []
            found = self._next_candidate(0)
            while found is not None:
                start, candidate = found
                if len(candidate) >= self._min_candidate_length and not self._skip(candidate, start):
                    walk.append(candidate)
                    walk.extend(group for unit in self._inner_units(candidate, start) for group, _ in unit)
                found = self._next_candidate(start + len(candidate))
            self._shared[("walk",)] = walk
        return walk

    def may_find(self) -> bool:
        """False when no string of :meth:`attempts` can match with this region by the rules of the module
        docstring (then the region finds nothing: the retry budget only ever stops a walk earlier)."""
        if not self._strict:
            return True
        for candidate in self.attempts():
            if ";" in candidate:
                return True
            info = self._info(candidate)
            if info[0]:
                return True  # a number with '+': its region-independent outcome is parsed (once) in the walk
            if info[1] < self._min_chars:
                continue
            if info[2] is None or self._bounds is None or self._bounds_allow(info[2]):
                return True
        return False

    def _info(self, candidate) -> tuple:
        info = self._shared.get(candidate)
        if info is None:
            info = self._shared[candidate] = _candidate_info(candidate)
        return info

    def _bounds_allow(self, digits: str) -> bool:
        key = ("bounds", self.preferred_region, digits)
        ok = self._shared.get(key)
        if ok is None:
            ok = self._shared[key] = self._bounds.may_match(digits)
        return ok

    def _parse_and_verify(self, candidate, offset):
        if not self._strict or ";" in candidate:
            return super()._parse_and_verify(candidate, offset)
        info = self._info(candidate)
        if info[0]:
            key = ("plus", candidate, offset)
            known = self._shared.get(key)
            if known is None:
                found = super()._parse_and_verify(candidate, offset)
                known = self._shared[key] = _REJECTED if found is None else found
            return None if known is _REJECTED else known
        if info[1] < self._min_chars:
            return None
        if info[2] is not None and self._bounds is not None and not self._bounds_allow(info[2]):
            return None
        return super()._parse_and_verify(candidate, offset)


#: Internals of python-phonenumbers' matcher that :class:`_SharedMatcher` relies on.
_INTERNALS = ("_PATTERN", "_SECOND_NUMBER_START_PATTERN", "_SLASH_SEPARATED_DATES", "_TIME_STAMPS",
              "_TIME_STAMPS_SUFFIX", "_INNER_MATCHES", "_UNWANTED_END_CHAR_PATTERN")
_SELF_TEST = (
    "Call +1 415-555-2671, 020 7946 0958 or (030) 1234567; fax 01 42 68 53 00 ext. 12, +972 3 123 4567, "
    "022 2345 6789 / +55 11 91234-5678; 12/03/2024 at 10:30 pm, pp. 123-456, 4111 1111 1111 1111, "
    "tel:+49-30-1234567;phone-context=+49, 1-800-FLOWERS, (37) 788-063, 699 956 915, 60-56-85-91."
)


@lru_cache(maxsize=None)
def shared_matching_ok(regions: tuple, leniency: int) -> bool:
    """Whether the installed python-phonenumbers has the internals :class:`_SharedMatcher` mirrors and
    gives Presidio's spans on a self-test text; if not, :class:`MultiRegionPhoneRecognizer` runs
    Presidio's own code."""
    if not all(hasattr(_m, name) for name in _INTERNALS):
        return False
    try:
        ours = MultiRegionPhoneRecognizer._results(_SELF_TEST, regions, leniency, "PHONE_NUMBER", 0.4)
        theirs = PhoneRecognizer(supported_regions=regions, leniency=leniency).analyze(_SELF_TEST, ["PHONE_NUMBER"])
    except Exception:  # pragma: no cover - an incompatible library version
        return False
    return sorted((r.start, r.end) for r in ours) == sorted((r.start, r.end) for r in theirs)


class MultiRegionPhoneRecognizer(PhoneRecognizer):
    """Presidio's ``PhoneRecognizer`` (same arguments, context words, score and spans) with the per-region
    work shared (module docstring). Results carry no analysis explanation. Falls back to Presidio's own
    ``analyze`` when the installed python-phonenumbers fails :func:`shared_matching_ok`."""

    @staticmethod
    def _results(text: str, regions: tuple, leniency: int, entity: str, score: float) -> list:
        shared: dict = {}
        results = []
        for region in regions:
            matcher = _SharedMatcher(text, region, leniency, shared)
            if not matcher.may_find():
                continue  # nothing this region could parse: skip its walk
            for match in matcher:
                results.append(RecognizerResult(entity_type=entity, start=match.start, end=match.end, score=score))
        return EntityRecognizer.remove_duplicates(results)

    def analyze(self, text, entities, nlp_artifacts=None):  # noqa: D102 - Presidio's signature
        regions = tuple(self.supported_regions)
        if self.leniency is None or not shared_matching_ok(regions, self.leniency):
            return super().analyze(text, entities, nlp_artifacts)
        return self._results(text, regions, self.leniency, self.supported_entities[0], self.SCORE)
