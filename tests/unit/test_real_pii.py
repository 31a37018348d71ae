"""PII scrubbing on real tagged lines: NVIDIA NeMo Curator's PII test data (``../shared/data/pii``).

Each line carries its PII tagged inline (``<email>...</email>``); :mod:`benchmarks.pii_corpora` strips the
tags and keeps the tagged spans as gold. NeMo's own tests expect every tagged span replaced; here each
claimed type must be masked exactly that way (:func:`benchmarks.pii_corpora.exact_masked`), and the
types that rest on NER may leak no more than the measured counts below. Assertion messages name line
numbers and types only, never values. Skips when the shared folder is absent.
"""
from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import pii_corpora as pc
from pipelines.text.pii import PiiScrubber
from schemas.config import PiiSection
from tests.conftest import SHARED_DATA, shared_path

#: Pattern types: every tagged span must be replaced whole, with NER on or off.
PATTERN_TYPES = ("CREDIT_CARD", "EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER", "US_SSN")
#: With NER (the default config), measured on 2026-12-01: PERSON leaks in 2 of 7 tagged names (two lines
#: where the small spaCy model does not tag a lower-case or single given name); no STREET_ADDRESS value
#: survives verbatim. DATE_TIME (the birth dates) is not claimed by the default entity set (docs/pii.md).
MAX_LEAKS_WITH_NER = {"PERSON": 2, "STREET_ADDRESS": 0}


@pytest.fixture(scope="module")
def nemo():
    shared_path("pii", "nemo-curator-pii_data")
    docs = pc.load("nemo_curator", data_root=SHARED_DATA)
    assert len(docs) >= 50
    return docs


def _verdicts(docs, scrubber):
    results = scrubber.scrub_batch([d.text for d in docs])
    masked, leaks, totals = Counter(), Counter(), Counter()
    failures = []
    for i, (doc, res) in enumerate(zip(docs, results)):
        assert res.reason != "pii:error", f"line {i}: scrubber error {res.error}"
        for (t, ok), (_, leaked) in zip(pc.exact_masked(doc, res.text), pc.leaked(doc, res.text)):
            totals[t] += 1
            masked[t] += ok
            leaks[t] += leaked
            if t in PATTERN_TYPES and not ok:
                failures.append((i, t))
    return masked, leaks, totals, failures


def test_nemo_pattern_types_masked_exactly_without_ner(nemo):
    masked, _, totals, failures = _verdicts(nemo, PiiScrubber(PiiSection(enabled=True, ner=False)))
    assert not failures, f"pattern spans not fully masked (line, type): {failures}"
    assert all(totals[t] >= 2 for t in PATTERN_TYPES), dict(totals)


def test_nemo_with_ner_masks_patterns_and_leaks_no_more_than_measured(nemo):
    masked, leaks, totals, failures = _verdicts(nemo, PiiScrubber(PiiSection(enabled=True)))
    assert not failures, f"pattern spans not fully masked (line, type): {failures}"
    for t, most in MAX_LEAKS_WITH_NER.items():
        assert leaks[t] <= most, f"{t}: {leaks[t]} of {totals[t]} tagged values survive verbatim (at most {most})"
    # NER catches most of the tagged names (without it all 7 leak)
    assert totals["PERSON"] - leaks["PERSON"] >= 5
