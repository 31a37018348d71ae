"""Score floors: pattern searches whose hits could never reach their entity's threshold are skipped, and
the final detections stay the same.

``PiiScrubber.detect_batch`` (the production path, and ``scrub_batch`` through it) passes the score
thresholds to ``PatternDetector.detect`` as floors; ``raw_hits_batch`` without ``prune_below_threshold``
runs every pattern. These tests compare the two, after ``finalize``, on generated texts and on crafted
texts with and without the context words that lift weak patterns (near, far, other case, inside another
word, after the value), under the default threshold, higher and lower ones, and floors of 0; and they
prove that searches are actually skipped. Assertions compare offsets, types and scores only.
"""
from __future__ import annotations

import itertools

import pytest

from benchmarks.pii_corpora import presidio_evaluator_set
from pipelines.text.pii import PiiScrubber
from schemas.config.pii import PiiSection

#: Values that weak patterns (score below 0.35) of Presidio's recognizers match.
VALUES = ["D1234567", "912803456", "123456789", "912-70-1234", "912 70 1234", "078-05-1120", "078051120",
          "12/2024", "3/24", "A12345678", "1234567890123", "fe80::1", "10.0.0.1", "Z12-345-678"]
#: Context words of the recognizers with weak patterns (and a few that are no context at all).
CONTEXT = ["driver license", "license", "lic#", "passport", "US", "account", "bank", "ITIN", "tin", "ssn",
           "social security", "date", "birthday", "ip", "DRIVING", "Passport#", "holiday", "number"]
TEMPLATES = [
    "{ctx} {val}",
    "{CTX} {val}",
    "{ctx}: {val}",
    "my {ctx} is {val}.",
    "re{ctx} {val}",  # the context word inside another word (substring matching, as Presidio's)
    "{ctx}ed {val}",
    "{ctx} alpha bravo charlie delta echo foxtrot {val}",  # more than 5 keywords between: no enhancement
    "{ctx} alpha bravo charlie delta {val}",  # exactly within the window
    "{ctx} the of and to a {val}",  # stop words do not count as keywords
    "{val} {ctx}",  # after the value: no enhancement (suffix 0)
    "{ctx}\n\n" + "filler words here. " * 16 + "{val}",  # far before the match, same document
    "{val}",
    "value {val} and {val} again",
]


def _crafted() -> list[str]:
    out = []
    for ctx, val, tpl in itertools.product(CONTEXT, VALUES, TEMPLATES):
        out.append(tpl.format(ctx=ctx.lower(), CTX=ctx.upper(), val=val))
    return out


CRAFTED = _crafted()
#: The presidio-evaluator generated texts (support tickets, addresses, profiles, ...).
GENERATED = [d.text for d in presidio_evaluator_set(1200, 7)]

SECTIONS = {
    "default": {},
    "higher": {"score_threshold": 0.5, "thresholds": {"US_DRIVER_LICENSE": 0.66, "DATE_TIME": 0.7,
                                                       "US_SSN": 0.45, "US_PASSPORT": 0.42, "US_ITIN": 0.6,
                                                       "IP_ADDRESS": 0.41, "US_BANK_NUMBER": 0.4}},
    "lower": {"score_threshold": 0.05, "thresholds": {"US_DRIVER_LICENSE": 0.02, "US_BANK_NUMBER": 0.06}},
    "zero": {"score_threshold": 0.0},
    # thresholds equal to a pattern's score or to its enhanced score (kept: finalize keeps score >= threshold)
    "boundary": {"thresholds": {"US_DRIVER_LICENSE": 0.4, "US_ITIN": 0.5, "US_SSN": 0.5, "DATE_TIME": 0.6,
                                "US_PASSPORT": 0.1 + 0.35, "US_BANK_NUMBER": 0.4, "IP_ADDRESS": 0.45}},
}


def _section(**kw) -> PiiSection:
    kw.setdefault("entities", ["presidio_default"])
    return PiiSection(enabled=True, ner=False, **kw)


@pytest.fixture(scope="module", params=sorted(SECTIONS))
def scrubber(request) -> PiiScrubber:
    return PiiScrubber(_section(**SECTIONS[request.param]))


def _key(results) -> list[tuple[str, int, int, float]]:
    return [(r.entity_type, r.start, r.end, r.score) for r in results]


def _unpruned_final(scrubber: PiiScrubber, texts: list[str]) -> list:
    raw = scrubber.raw_hits_batch(texts, ner=False)
    return [scrubber.finalize(t, h) if isinstance(h, list) else h for t, h in zip(texts, raw)]


@pytest.mark.parametrize("corpus", ["crafted", "generated"])
def test_final_detections_are_the_same_with_and_without_pruning(scrubber, corpus):
    texts = CRAFTED if corpus == "crafted" else GENERATED
    before = sum(scrubber.patterns.skipped_patterns.values())
    pruned = scrubber.detect_batch(texts, ner=False)
    pruned_raw = scrubber.raw_hits_batch(texts, ner=False, prune_below_threshold=True)
    skipped = sum(scrubber.patterns.skipped_patterns.values()) - before
    full_raw = scrubber.raw_hits_batch(texts, ner=False)
    full = _unpruned_final(scrubber, texts)
    differing = []
    for i, (a, b) in enumerate(zip(pruned, full)):
        assert isinstance(a, list) and isinstance(b, list), f"text {i}: detection failed"
        if _key(a) != _key(b):
            differing.append(i)
        # the pruned raw hits are a subset of all raw hits, with the same scores
        full_set = {(h.entity, h.start, h.end, h.score) for h in full_raw[i]}
        assert {(h.entity, h.start, h.end, h.score) for h in pruned_raw[i]} <= full_set, f"text {i}"
    assert not differing, f"{len(differing)} texts with other detections, e.g. text #{differing[0]}"
    floors = scrubber._floors.values()
    if all(f <= 0 for f in floors):
        assert skipped == 0  # floors of 0 prune nothing
    else:
        assert skipped > 0  # the comparison is not vacuous: searches were skipped


def test_weak_patterns_still_found_where_context_lifts_them():
    """The crafted texts exercise the lifted patterns: detections that exist only through context."""
    s = PiiScrubber(_section())
    texts = ["driver license D1234567", "DRIVER LICENSE D1234567", "relicense D1234567", "passport 912803456",
             "account 123456789", "ITIN 912-70-1234", "license alpha bravo charlie delta echo foxtrot D1234567",
             "D1234567 license", "D1234567"]
    found = [{r.entity_type for r in res} for res in s.detect_batch(texts, ner=False)]
    assert "US_DRIVER_LICENSE" in found[0] and "US_DRIVER_LICENSE" in found[1] and "US_DRIVER_LICENSE" in found[2]
    assert "US_PASSPORT" in found[3]
    assert "US_BANK_NUMBER" in found[4]
    assert "US_ITIN" in found[5]
    # too far before, after the value, absent: the weak hit stays below the threshold
    assert all("US_DRIVER_LICENSE" not in f for f in found[6:])
    assert [_key(r) for r in s.detect_batch(texts, ner=False)] == [_key(r) for r in _unpruned_final(s, texts)]


def test_pruning_skips_the_searches():
    """Fails if the feature is absent: without a context word the weak recognizers are never searched."""
    s = PiiScrubber(_section())
    det = s.patterns
    calls: dict[str, int] = {}
    for entity in ("US_DRIVER_LICENSE", "US_BANK_NUMBER", "US_PASSPORT"):
        inner = det._runner[entity]

        def counting(entity_, rec, text, offset, deadline, plan=None, _inner=inner):
            calls[entity_] = calls.get(entity_, 0) + 1
            return _inner(entity_, rec, text, offset, deadline, plan)

        det._runner[entity] = counting
    text = "order 1234567 shipped to Z1234567 on time"  # digits, no context word of those recognizers
    det.skipped_patterns.clear()
    s.scrub_batch([text], ner=False)  # the stage's path (and the fields scrubber's): through detect_batch
    assert calls == {}
    assert det.skipped_patterns["US_DRIVER_LICENSE"] == 2  # both of its patterns: 0.3 and 0.01
    assert det.skipped_patterns["US_BANK_NUMBER"] == 1
    s.raw_hits_batch([text], ner=False)  # the diagnostic path runs them all
    assert calls == {"US_DRIVER_LICENSE": 1, "US_BANK_NUMBER": 1, "US_PASSPORT": 1}
    calls.clear()
    s.scrub_batch(["driver license " + text], ner=False)  # a context word: the driver licence runs
    assert calls == {"US_DRIVER_LICENSE": 1}


def test_only_patterns_that_can_reach_the_floor_run():
    """A higher floor skips a pattern even with context when its enhanced score stays below it; DATE_TIME
    keeps its strong patterns without its full alternation gate."""
    s = PiiScrubber(_section(thresholds={"US_DRIVER_LICENSE": 0.5}))
    det = s.patterns
    without, with_ctx, words = det._floor_plan("US_DRIVER_LICENSE", 0.5)
    assert without[0] == [] and [score for _, score in with_ctx[0]] == [0.3]  # 0.01 + context = 0.4 < 0.5
    assert "license" in words
    full = det._patterns["DATE_TIME"]
    without, with_ctx, _ = det._floor_plan("DATE_TIME", 0.35)
    assert [score for _, score in without[0]] == [score for _, score in full if score >= 0.35]
    assert without[1] is None  # no gate for a subset
    assert with_ctx[0] is full  # with "date" in the text: every pattern, and the recognizer's gate
    # validate_result can lift any hit to 1.0: never pruned
    assert det._floor_plan("CREDIT_CARD", 0.99) is None
    assert det._floor_plan("US_DRIVER_LICENSE", 0.0) is None


def test_capital_sigma_context_counts_as_present():
    """``str.lower`` maps a capital sigma by its surroundings: the keyword ``'ΣΑΣ'`` lowers to ``'σας'``, while
    ``'ΣΑΣ.Β'`` lowers to ``'σασ.β'``. A context word with a sigma must never let the recognizer be skipped."""
    s = PiiScrubber(_section(entities=["US_DRIVER_LICENSE"]))
    s.patterns.recognizers["US_DRIVER_LICENSE"].context = ["ΣΑΣ"]
    texts = ["ΣΑΣ.Β D1234567", "σας D1234567", "ΣΑΣ D1234567", "D1234567"]
    pruned = [_key(r) for r in s.detect_batch(texts, ner=False)]
    assert pruned == [_key(r) for r in _unpruned_final(s, texts)]
    assert pruned[0] and pruned[0][0][0] == "US_DRIVER_LICENSE"  # lifted by the context word
