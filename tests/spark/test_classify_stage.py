"""The classify stage through Spark: scores equal fastText's, exact and deterministic keep_top_fraction cuts,
min_score and language rules, errors before any data moves, run.json facts."""
from __future__ import annotations

import json
import random

import pytest

from pipelines.stages.base import RunContext, StageConfigError
from pipelines.stages.classify import ClassifyStage
from pipelines.text.classifier import FastTextClassifier, passes_cut, prepare_text, top_fraction_cut
from schemas.config import load_config
from storage.files import file_sha256
from tests.classifier_support import negatives, positives, train_tiny

N = 60


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("clf") / "tiny.bin"
    train_tiny(path)
    return path


def _docs():
    # mixed good and bad texts; a few exact copies so that ties in score are certain
    texts = positives(25, seed=31) + negatives(25, seed=32) + positives(5, seed=31) + negatives(5, seed=32)
    langs = ["en" if i % 4 else "de" for i in range(len(texts))]
    return [(f"{i:032x}", t, lang) for i, (t, lang) in enumerate(zip(texts, langs))]


def _stage(spark, tmp_path, model, *specs, mode="drop", language=True):
    models = [{"name": "hq", "path": str(model), "label": "hq", **s} if "name" not in s else s for s in specs]
    cfg = load_config(None, ["classify.enabled=true", f"classify.mode={mode}",
                             f"language.enabled={str(language).lower()}", "classify.models=" + json.dumps(models)])
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(spark=spark, config=cfg, run_id="t", staging_dir=tmp_path / "staging", work_dir=work,
                     num_partitions=2)
    return ClassifyStage(cfg.classify, ctx), ctx


def _df(spark, docs, partitions=3):
    return spark.createDataFrame(docs, "doc_id string, text string, lang string").repartition(partitions)


def _rows(out):
    return {r["doc_id"]: r for r in out.collect()}


def test_scores_equal_fasttext_and_min_score_reasons(spark, tmp_path, model):
    docs = _docs()
    stage, ctx = _stage(spark, tmp_path, model, {"min_score": 0.5})
    out = stage.apply(_df(spark, docs))
    assert out.columns == ["doc_id", "text", "lang", "classify_hq", "classify_reason"]
    rows = _rows(out)
    expected = FastTextClassifier(model, "hq").predict_prepared([prepare_text(t) for _, t, _ in docs])
    assert [rows[d]["classify_hq"] for d, _, _ in docs] == expected
    assert [rows[d]["classify_reason"] for d, _, _ in docs] == [None if s >= 0.5 else "classify:hq" for s in expected]
    assert sum(r["classify_reason"] is not None for r in rows.values()) == 30  # the bad half
    asset = ctx.assets["classify_model:hq"]
    assert asset["sha256"] == file_sha256(model) and asset["label"] == "__label__hq"
    info = ctx.stage_info["classify"]["models"][0]
    assert info["rule"] == "min_score" and info["card"]["sha256_matches"] is True


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.9])
def test_keep_top_fraction_keeps_exactly_the_expected_rows(spark, tmp_path, model, fraction):
    docs = _docs()
    stage, ctx = _stage(spark, tmp_path, model, {"keep_top_fraction": fraction})
    rows = _rows(stage.apply(_df(spark, docs)))
    scores = FastTextClassifier(model, "hq").predict_prepared([prepare_text(t) for _, t, _ in docs])
    cut = top_fraction_cut(scores, [d for d, _, _ in docs], fraction)
    expected_kept = {d for (d, _, _), s in zip(docs, scores) if passes_cut(s, d, cut)}
    kept = {d for d, r in rows.items() if r["classify_reason"] is None}
    assert kept == expected_kept
    assert len(kept) == -(-round(fraction * N * 1000) // 1000)  # ceil(fraction * n), exactly
    facts = ctx.stage_info["classify"]["cuts"]["hq"]
    assert facts["scored"] == N and facts["kept"] == len(kept) and facts["cut_doc_id"] == cut[1]


def test_keep_top_fraction_is_deterministic_under_order_and_partitioning(spark, tmp_path, model):
    docs = _docs()
    results = []
    for seed, partitions in ((1, 1), (2, 4), (3, 7)):
        shuffled = list(docs)
        random.Random(seed).shuffle(shuffled)
        stage, _ = _stage(spark, tmp_path / f"r{seed}", model, {"keep_top_fraction": 0.3})
        rows = _rows(stage.apply(_df(spark, shuffled, partitions)))
        results.append({d: (r["classify_hq"], r["classify_reason"]) for d, r in rows.items()})
    assert results[0] == results[1] == results[2]
    # the tie at the cut is broken by doc_id: among equal scores, the smaller ids are the kept ones
    by_score: dict = {}
    for d, (s, reason) in results[0].items():
        by_score.setdefault(s, []).append((d, reason is None))
    for members in by_score.values():
        flags = [kept for _, kept in sorted(members)]
        assert flags == sorted(flags, reverse=True)


def test_languages_filter_and_two_models(spark, tmp_path, model):
    docs = _docs()
    stage, _ = _stage(spark, tmp_path, model,
                      {"name": "en_only", "path": str(model), "label": "hq", "min_score": 0.5, "languages": ["en"]},
                      {"name": "other", "path": str(model), "label": "other", "keep_top_fraction": 0.5},
                      mode="tag")
    rows = _rows(stage.apply(_df(spark, docs)))
    for d, _, lang in docs:
        r = rows[d]
        assert (r["classify_en_only"] is None) == (lang != "en")
        assert r["classify_other"] is not None
        if lang == "en" and r["classify_en_only"] < 0.5:
            assert r["classify_reason"] == "classify:en_only"  # the first model in list order wins
        elif lang != "en":
            assert r["classify_reason"] in (None, "classify:other")


def test_errors_before_any_data_moves(spark, tmp_path, model):
    stage, _ = _stage(spark, tmp_path, model, {"min_score": 0.5, "label": "__label__cc"})
    with pytest.raises(StageConfigError, match=r"classify.models\[0\] \(hq\): .*no label __label__cc"):
        stage.ensure_prepared()
    stage, _ = _stage(spark, tmp_path, model, {"min_score": 0.5, "path": str(tmp_path / "nope.bin")})
    with pytest.raises(StageConfigError, match="no model file"):
        stage.ensure_prepared()
    stage, _ = _stage(spark, tmp_path, model, {"min_score": 0.5, "languages": ["en"]}, language=False)
    with pytest.raises(StageConfigError, match="needs the language stage"):
        stage.ensure_prepared()


def test_demo_preset_runs_the_bundled_classifier_through_the_runner(spark, tmp_path):
    from pathlib import Path

    import pyarrow.parquet as pq

    from pipelines.runner import run_pipeline
    from pipelines.whatif import run_whatif

    demo = Path(__file__).resolve().parents[2] / "pipelines" / "assets" / "demo"
    off = [f"{s}.enabled=false" for s in ("decontaminate", "near_dedup", "pii", "bias", "tokenize")]
    cfg = load_config("demo", off)
    out = tmp_path / "out"
    m = run_pipeline(cfg, [str(demo / "part-00000.jsonl")], str(out), spark=spark).manifest
    curated = pq.read_table(out / "curated").to_pylist()
    rejected = pq.read_table(out / "rejected").to_pylist()
    assert curated and all(r["classify_demo_quality"] is not None for r in curated)
    assert all(r["classify_demo_quality"] >= 0.5 for r in curated)
    ours = [r for r in rejected if r["drop_reason"] == "classify:demo_quality"]
    # the generator's junk that the heuristic rules let through (a cookie notice, boilerplate around an article)
    assert {r["source_id"] for r in ours} == {"doc-00000278", "doc-00000130"}
    assert all(r["classify_demo_quality"] < 0.5 for r in ours)
    assert m.counts.rejected_by_reason["classify:demo_quality"] == 2
    asset = m.assets["classify_model:demo_quality"]
    assert asset["path"] == "pipelines/assets/classify/demo_quality.ftz"
    assert asset["sha256"] == file_sha256(demo.parent / "classify" / "demo_quality.ftz")
    replay = run_whatif(out, stage="classify")
    assert replay["replay_matches_run"] is True and replay["run"]["classify"]["by_model"] == {"demo_quality": 2}
    stricter = run_whatif(out, ["classify.models.demo_quality.keep_top_fraction=0.5"])
    assert stricter["overall"]["estimated_kept"] < m.counts.curated
