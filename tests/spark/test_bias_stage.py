"""The bias stage on Spark: columns, flag-only contract, the toxicity model's score and flags, lexicon and model
hashes in run.json's assets, report aggregates (with the bundled model loaded for real, no fakes)."""
from __future__ import annotations

import pytest

from pipelines.stages.base import RunContext, StageConfigError
from pipelines.stages.bias import BiasStage, bias_aggregates
from pipelines.text.bias import load_lexicon
from pipelines.text.toxicity import load_toxicity_model
from schemas.config import validate_config
from storage.files import file_sha256

DOCS = [
    ("b1", "web", "en", "He said Muslim women were welcome. She agreed."),
    ("b2", "web", "en", "Those stupid immigrants ruin everything."),
    ("b3", "books", "de", "Ein ruhiger Tag am Fluss."),
    ("b4", "books", "en", "The black car passed the White House. What an idiot!"),
    ("b5", "web", "en", "Many Muslims live here. Shut up, you stupid worthless moron, nobody likes you."),
    ("b6", "web", "en", ""),
]


def _stage(spark, tmp_path, section):
    cfg = validate_config({"bias": {"enabled": True, **section}})
    ctx = RunContext(
        spark=spark, config=cfg, run_id="t", staging_dir=tmp_path / "o", work_dir=tmp_path / "w", num_partitions=2
    )
    stage = BiasStage(cfg.bias, ctx)
    stage.ensure_prepared()
    df = spark.createDataFrame(DOCS, "doc_id string, source string, lang string, text string").repartition(2)
    return stage.apply(df), ctx


@pytest.fixture()
def staged(spark, tmp_path):
    return _stage(spark, tmp_path, {})


@pytest.fixture()
def staged_lexicon(spark, tmp_path):
    return _stage(spark, tmp_path, {"toxicity_model": False})


def test_model_score_and_flags(staged):
    out, ctx = staged
    rows = {r["doc_id"]: r.asDict() for r in out.collect()}
    assert sorted(rows) == ["b1", "b2", "b3", "b4", "b5", "b6"]
    assert all(r["bias_reason"] is None for r in rows.values())  # flag only
    model = load_toxicity_model()
    thr = model.threshold
    # The column is the model's document score, computed on the workers exactly as on the driver.
    for doc_id, _, _, text in DOCS:
        expected = model.score_documents([text])[0]
        got = rows[doc_id]["bias_toxicity_score"]
        assert (got is None and expected is None) or got == pytest.approx(expected, abs=1e-12), doc_id
        if got is not None:
            assert 0.0 <= got <= 1.0
        assert ("toxicity" in rows[doc_id]["bias_flags"]) == (got is not None and got >= thr), doc_id
    assert rows["b6"]["bias_toxicity_score"] is None and rows["b6"]["bias_flags"] == []
    # A neutral identity statement: identity mention only.
    assert rows["b1"]["bias_flags"] == ["identity_mention"] and rows["b1"]["bias_toxicity_score"] < thr
    assert rows["b1"]["bias_identity_counts"] == {"gender": 1, "religion": 1}
    # Toxic, but the identity term is in the other (neutral) sentence: not group-targeted.
    assert rows["b5"]["bias_flags"] == ["identity_mention", "toxicity"] and rows["b5"]["bias_group_toxic"] is False
    # The lexicon's hits stay next to the score.
    assert rows["b4"]["bias_toxic_hits"] == 1 and rows["b2"]["bias_toxic_hits"] == 1
    # run.json: the model's sha256 and the card's figures, the signal of each flag.
    asset = ctx.assets["toxicity_model"]
    assert asset["path"] == "pipelines/assets/toxicity/model.ftz" and asset["sha256"] == file_sha256(model.path)
    info = ctx.stage_info["bias"]
    assert info["toxicity_model"]["threshold"] == thr and info["toxicity_model"]["sha256"] == asset["sha256"]
    assert info["toxicity_model"]["error_rates"]["model"]["held_apart"]["all"]["recall"] is not None
    assert info["signals"]["toxicity"].startswith("toxicity model score")
    assert info["signals"]["toxic_hits"] == "toxicity lexicon"


def test_lexicon_only_mode(staged_lexicon):
    out, ctx = staged_lexicon
    rows = {r["doc_id"]: r.asDict() for r in out.collect()}
    assert all(r["bias_toxicity_score"] is None for r in rows.values())
    assert rows["b1"]["bias_pronoun_counts"] == {"female": 1, "male": 1}
    assert rows["b2"]["bias_group_toxic"] is True and rows["b2"]["bias_toxic_hits"] == 1
    assert rows["b2"]["bias_flags"] == ["group_targeted_toxicity", "identity_mention", "toxicity"]
    assert rows["b4"]["bias_identity_counts"] == {} and rows["b4"]["bias_group_toxic"] is False
    assert rows["b4"]["bias_flags"] == ["toxicity"]
    assert rows["b3"]["bias_n_words"] == 5
    lex = load_lexicon()
    assert ctx.assets["bias_lexicon"]["sha256"] == lex.sha256 and ctx.assets["bias_lexicon"]["version"] == lex.version
    assert "toxicity_model" not in ctx.assets
    assert ctx.stage_info["bias"]["signals"]["toxicity"].startswith("toxicity lexicon")


def test_bias_aggregates_for_the_report(staged_lexicon, staged):
    out, _ = staged_lexicon
    rep = bias_aggregates(out)
    o = rep["overall"]
    assert o["docs"] == 6
    assert o["axis_doc_rate"]["religion"] == pytest.approx(2 / 6)
    assert o["pronoun_male_share"] == pytest.approx(0.5)
    assert o["toxic_doc_rate"] == pytest.approx(3 / 6) == o["lexicon_toxic_doc_rate"]
    assert o["toxicity_scored_docs"] == 0 and o["toxicity_score_mean"] is None
    assert rep["by_source"]["web"]["docs"] == 4 and rep["by_lang"]["de"]["docs"] == 1
    assert rep["by_source_lang"]["books/en"]["toxic_doc_rate"] == pytest.approx(1.0)
    # With the model: the flag rate is the model's, the lexicon rate is still reported.
    out_m, _ = staged
    rows = out_m.collect()
    om = bias_aggregates(out_m)["overall"]
    assert om["toxic_doc_rate"] == pytest.approx(sum("toxicity" in r["bias_flags"] for r in rows) / 6, abs=1e-6)
    assert om["lexicon_toxic_doc_rate"] == pytest.approx(3 / 6, abs=1e-6)
    scores = [r["bias_toxicity_score"] for r in rows if r["bias_toxicity_score"] is not None]
    assert om["toxicity_scored_docs"] == len(scores) == 5
    assert om["toxicity_score_mean"] == pytest.approx(sum(scores) / len(scores), abs=1e-6)


def test_missing_model_fails_on_the_driver(spark, tmp_path):
    with pytest.raises(StageConfigError, match="toxicity_model_path"):
        _stage(spark, tmp_path, {"toxicity_model_path": str(tmp_path / "nope.ftz")})
