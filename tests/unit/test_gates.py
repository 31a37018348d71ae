"""Quality gates (quality.gates) and drift (quality.drift) on hand-made figures; no Spark."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from quality.drift import compute_drift, total_variation
from quality.gates import evaluate_gates, gates_from_config
from schemas.config.gates import GatesSection
from schemas.report import Accounting, DriftBasis, DuplicateSummary, NearDupSummary, PiiSummary, SignalStats


def _accounting(balanced=True):
    return Accounting(records_in=100, kept=80, removed=15, quarantined=5 if balanced else 4, balanced=balanced,
                      matches_manifest=True)


def _basis(**kw):
    base = dict(records=100, keep_rate=0.8, quarantine_rate=0.05,
                removal_rates={"quality:gopher_short_doc": 0.1, "exact_dedup:duplicate": 0.05,
                               "ingest:malformed_json": 0.05},
                language_mix={"en": 0.75, "de": 0.25}, source_mix={"web": 1.0}, signal_means={"q_words": 300.0})
    base.update(kw)
    return DriftBasis(**base)


def _pii(residual_rate=0.02):
    return PiiSummary(operator="replace", docs_scanned=95, docs_with_pii=10, pii_doc_rate=0.105263,
                      spans_by_entity={"PERSON": 12}, docs_by_entity={"PERSON": 10}, curated_docs_scanned=80,
                      residual_docs=int(residual_rate * 80), residual_rate=residual_rate, residual_spans_by_entity={})


def _near(largest=4, evaluated=80):
    return DuplicateSummary(near=NearDupSummary(
        evaluated_docs=evaluated, clusters=1, documents_in_clusters=largest, duplicates_removed=largest - 1,
        largest_cluster=largest, largest_cluster_share=round(largest / evaluated, 6), giant_clusters=0,
        clusters_by_size=[], largest_clusters=[]))


STATS = {"curated:q_words": SignalStats(signal="q_words", scope="curated", count=78, nulls=2, min=50, max=900,
                                        mean=310.5, p50=280, p90=600, p99=880)}


def _eval(gates, accounting=None, basis=None, pii=None, dups=None, drift=None):
    return evaluate_gates(gates, accounting or _accounting(), basis or _basis(), pii, dups or DuplicateSummary(),
                          STATS, drift)


def test_defaults_check_only_accounting():
    res = _eval(None)
    assert res.enabled and res.passed and [v.gate for v in res.verdicts] == ["accounting"]
    broken = _eval(GatesSection(), accounting=_accounting(balanced=False))
    assert not broken.passed and broken.verdicts[0].status == "fail" and "re-run" in broken.verdicts[0].detail


def test_disabled_gates_check_nothing_even_a_broken_run():
    res = _eval(GatesSection(enabled=False, min_keep_rate=0.99), accounting=_accounting(balanced=False))
    assert not res.enabled and res.passed and res.verdicts == []


def test_thresholds_pass_and_fail_at_the_boundary():
    res = _eval(GatesSection(min_keep_rate=0.8, max_quarantine_rate=0.04), pii=_pii())
    got = {v.gate: (v.value, v.threshold, v.op, v.status) for v in res.verdicts}
    assert got["min_keep_rate"] == (0.8, 0.8, ">=", "pass")
    assert got["max_quarantine_rate"] == (0.05, 0.04, "<=", "fail")
    assert not res.passed


def test_residual_pii_and_cluster_guard():
    gates = GatesSection(max_residual_pii_rate=0.01, max_dup_cluster_share=0.1, max_dup_cluster_size=10)
    res = _eval(gates, pii=_pii(0.02), dups=_near(largest=4))
    got = {v.gate: v.status for v in res.verdicts}
    assert got == {"accounting": "pass", "max_residual_pii_rate": "fail", "max_dup_cluster_share": "pass",
                   "max_dup_cluster_size": "pass"}
    res = _eval(gates, pii=_pii(0.0), dups=_near(largest=40))
    got = {v.gate: (v.value, v.status) for v in res.verdicts}
    assert got["max_dup_cluster_share"] == (0.5, "fail") and got["max_dup_cluster_size"] == (40.0, "fail")


def test_missing_figures_fail_unless_skipped():
    gates = GatesSection(max_residual_pii_rate=0.01, max_dup_cluster_size=5)
    res = _eval(gates)  # neither pii nor near dedup ran
    missing = [v for v in res.verdicts if v.gate != "accounting"]
    assert [v.status for v in missing] == ["fail", "fail"] and not res.passed
    assert "enable pii" in missing[0].detail and "enable near_dedup" in missing[1].detail
    res = _eval(gates.model_copy(update={"on_missing": "skip"}))
    assert res.passed and [v.status for v in res.verdicts[1:]] == ["skipped", "skipped"]


def test_signal_bounds_and_null_rate():
    gates = GatesSection(signals=[{"signal": "q_words", "stat": "mean", "min": 300, "max": 400},
                                  {"signal": "q_words", "stat": "null_rate", "max": 0.01},
                                  {"signal": "q_words", "stat": "p90", "min": 100},
                                  {"signal": "lang_score", "min": 0.5}])
    res = _eval(gates)
    got = {v.gate: (v.value, v.status) for v in res.verdicts}
    assert got["signal:curated:q_words:mean:min"] == (310.5, "pass")
    assert got["signal:curated:q_words:mean:max"] == (310.5, "pass")
    assert got["signal:curated:q_words:null_rate:max"] == (0.025, "fail")
    assert got["signal:curated:q_words:p90:min"] == (600, "pass")
    assert got["signal:curated:lang_score:mean:min"] == (None, "fail")
    assert "approximate" in next(v.description for v in res.verdicts if v.gate.endswith("p90:min"))


def test_drift_gates_skip_without_previous_and_compare_with_one():
    gates = GatesSection(max_language_drift=0.1, max_removal_rate_drift=0.03)
    res = _eval(gates)
    assert res.passed and [v.status for v in res.verdicts[1:]] == ["skipped", "skipped"]
    assert not _eval(gates.model_copy(update={"on_missing_previous": "fail"})).passed

    prev = _basis()
    cur = _basis(keep_rate=0.78, language_mix={"en": 0.6, "de": 0.3, "fr": 0.1},
                 removal_rates={"quality:gopher_short_doc": 0.14, "exact_dedup:duplicate": 0.05,
                                "language:not_kept": 0.01})
    drift = compute_drift(cur, prev, "RUN-1", "a" * 64, "a" * 64)
    assert drift.language_tvd == 0.15 and not drift.config_changed
    assert [(c.key, c.delta) for c in drift.removal_changes][:2] == [("ingest:malformed_json", -0.05),
                                                                    ("quality:gopher_short_doc", 0.04)]
    res = _eval(gates, drift=drift)
    got = {v.gate: (v.value, v.status) for v in res.verdicts}
    assert got["max_language_drift"] == (0.15, "fail")
    assert got["max_removal_rate_drift"] == (0.05, "fail")
    assert "ingest:malformed_json" in next(v.detail for v in res.verdicts if v.gate == "max_removal_rate_drift")
    assert _eval(GatesSection(max_language_drift=0.2, max_removal_rate_drift=0.05), drift=drift).passed


def test_total_variation():
    assert total_variation({"en": 1.0}, {"en": 1.0}) == 0.0
    assert total_variation({"en": 1.0}, {"de": 1.0}) == 1.0
    assert total_variation({"en": 0.5, "de": 0.5}, {"en": 0.7, "de": 0.3}) == 0.2


def test_config_validation_and_lookup():
    with pytest.raises(ValidationError, match="set min, max or both"):
        GatesSection(signals=[{"signal": "q_words"}])
    with pytest.raises(ValidationError, match="above max"):
        GatesSection(signals=[{"signal": "q_words", "min": 2, "max": 1}])
    with pytest.raises(ValidationError, match="twice"):
        GatesSection(signals=[{"signal": "q_words", "min": 1}, {"signal": "q_words", "max": 9}])
    with pytest.raises(ValidationError):
        GatesSection(min_keep_rate=1.5)
    with pytest.raises(ValidationError):
        GatesSection(max_keep_rate=0.5)  # unknown keys are errors
    assert gates_from_config({"name": "x"}) == GatesSection()
    assert gates_from_config({"gates": {"min_keep_rate": 0.3}}).min_keep_rate == 0.3
