"""What-if over stored classify scores (no Spark): replay of the run's rules, new thresholds and fractions,
the vectorized cut against the reference, and clear errors."""
from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.text.classifier import passes_cut, top_fraction_cut
from pipelines.whatif import WhatIfError, run_whatif
from pipelines.whatif_classify import top_fraction_kept

MODELS = [
    {"name": "hq", "path": "/m.bin", "label": "__label__hq", "min_score": 0.5, "keep_top_fraction": None,
     "languages": None, "lowercase": False, "max_chars": None},
    {"name": "edu", "path": "/e.bin", "label": "__label__edu", "min_score": None, "keep_top_fraction": 0.5,
     "languages": None, "lowercase": False, "max_chars": None},
]


def _fake_run(tmp_path, n=40, mode="drop"):
    """A run directory as the runner writes it, with reasons computed by the reference functions."""
    rng = random.Random(5)
    ids = [f"{i:032x}" for i in range(n)]
    hq = [round(rng.random(), 2) for _ in range(n)]
    edu = [round(rng.random(), 1) for _ in range(n)]  # coarse: many ties
    hq[3] = edu[3] = None  # an earlier stage dropped it: no scores, another reason
    edu_scored = [(s, d) for s, d in zip(edu, ids) if s is not None]
    cut = top_fraction_cut([s for s, _ in edu_scored], [d for _, d in edu_scored], 0.5)
    reasons = []
    for d, a, b in zip(ids, hq, edu):
        if a is None:
            reasons.append(None)
        elif a < 0.5:
            reasons.append("classify:hq")
        elif not passes_cut(b, d, cut):
            reasons.append("classify:edu")
        else:
            reasons.append(None)
    drop = ["quality:gopher_short_doc" if a is None else r for a, r in zip(hq, reasons)]
    if mode == "tag":
        drop = ["quality:gopher_short_doc" if a is None else None for a in hq]
    table = pa.table({"doc_id": ids, "classify_hq": pa.array(hq, pa.float64()),
                      "classify_edu": pa.array(edu, pa.float64()), "classify_reason": reasons, "drop_reason": drop})
    curated = table.filter(pa.array([d is None for d in drop]))
    rejected = table.filter(pa.array([d is not None for d in drop]))
    for name, t in (("curated", curated), ("rejected", rejected)):
        (tmp_path / name).mkdir()
        pq.write_table(t, tmp_path / name / "part-00000.parquet")
    config = {"classify": {"enabled": True, "mode": mode, "batch_size": 1024, "models": MODELS}}
    (tmp_path / "run.json").write_text(json.dumps({"config": config}))
    return table


def test_replay_of_the_run_matches_and_counts(tmp_path):
    table = _fake_run(tmp_path)
    report = run_whatif(tmp_path, stage="classify")
    assert report["replay_matches_run"] is True
    reasons = table["classify_reason"].to_pylist()
    assert report["run"]["classify"]["evaluated"] == 39
    assert report["run"]["classify"]["by_model"] == {
        k: reasons.count(f"classify:{k}") for k in ("hq", "edu") if reasons.count(f"classify:{k}")}
    assert report["whatif"] == report["run"] and report["changed"] == {"newly_rejected": 0, "newly_kept": 0}


def test_new_min_score_and_fraction(tmp_path):
    table = _fake_run(tmp_path)
    hq = table["classify_hq"].to_pylist()
    report = run_whatif(tmp_path, ["classify.models.hq.min_score=0"])
    assert report["whatif"]["classify"]["by_model"].get("hq") is None
    assert report["models"]["hq"] == {"run": {"min_score": 0.5}, "whatif": {"min_score": 0.0}}
    # a fraction instead of a threshold, by index; min_score is replaced
    report = run_whatif(tmp_path, ["classify.models[0].keep_top_fraction=0.25"])
    assert report["models"]["hq"]["whatif"] == {"keep_top_fraction": 0.25}
    scored = sum(s is not None for s in hq)
    assert report["whatif"]["classify"]["by_model"]["hq"] == scored - -(-scored // 4)
    # keep everything with the second model
    report = run_whatif(tmp_path, ["classify.models.edu.keep_top_fraction=1"])
    assert "edu" not in report["whatif"]["classify"]["by_model"]
    assert report["changed"]["newly_kept"] == report["run"]["classify"]["by_model"]["edu"]
    assert report["overall"]["estimated_kept"] == report["overall"]["run_kept"] + report["changed"]["newly_kept"]


def test_vectorized_cut_equals_reference():
    rng = random.Random(9)
    for _ in range(20):
        n = rng.randint(1, 60)
        scores = [None if rng.random() < 0.1 else round(rng.random(), 1) for _ in range(n)]
        ids = [f"{rng.randrange(10**6):032x}{i}" for i in range(n)]
        frac = rng.choice([0.1, 0.33, 0.5, 0.9, 1.0])
        cut = top_fraction_cut(scores, ids, frac)
        expected = [passes_cut(s, d, cut) for s, d in zip(scores, ids)]
        arr = np.array([np.nan if s is None else s for s in scores])
        assert top_fraction_kept(arr, np.array(ids, dtype=str), frac).tolist() == expected


@pytest.mark.parametrize("item, match", [
    ("classify.models.nope.min_score=0.3", "no classify model named 'nope'"),
    ("classify.models[5].min_score=0.3", "has 2 classify model"),
    ("classify.models.hq.label=x", "changes model rules only"),
    ("classify.models.hq.min_score=2", "min_score"),
])
def test_bad_overrides_fail_clearly(tmp_path, item, match):
    _fake_run(tmp_path)
    with pytest.raises(WhatIfError, match=match):
        run_whatif(tmp_path, [item])


def test_mixing_quality_and_classify_or_a_run_without_classify(tmp_path):
    _fake_run(tmp_path)
    with pytest.raises(WhatIfError, match="separate what-ifs"):
        run_whatif(tmp_path, ["classify.models.hq.min_score=0.3", "quality.gopher_short_doc=10"])
    (tmp_path / "run.json").write_text(json.dumps({"config": {"classify": {"enabled": False}}}))
    with pytest.raises(WhatIfError, match="did not run the classify stage"):
        run_whatif(tmp_path, stage="classify")
