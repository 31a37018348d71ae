"""The bundled toxicity model, loaded for real: card, preparation, calibrated scores, fairness, flags.

No fakes: every test that scores text loads ``pipelines/assets/toxicity/model.ftz`` with its card. The
toxic sentences below are written for these tests (insults without slurs); nothing comes from the labelled
sets, which never enter the repository.
"""
from __future__ import annotations

import json
import math
import random
import shutil

import pytest

from pipelines.text.assets import bundled
from pipelines.text.bias import FLAG_GROUP_TOXIC, FLAG_IDENTITY, FLAG_TOXIC, BiasAggregator, BiasScorer, load_lexicon
from pipelines.text.classifier import read_card
from pipelines.text.toxicity import (
    CARD_KEY,
    DEFAULT_MODEL_PATH,
    IDENTITY_TEMPLATES,
    PLACEHOLDER,
    Calibration,
    ToxicityModel,
    ToxicityModelError,
    blind_identity,
    card_error_rates,
    choose_threshold,
    identity_false_positives,
    identity_forms,
    identity_matcher,
    identity_statements,
    load_toxicity_model,
    model_text,
)
from schemas.config import validate_config
from storage.files import file_sha256

TOXIC = [
    "Shut up, you stupid moron, nobody cares about your garbage opinions.",
    "You are so damn stupid, shut the hell up.",
    "Nobody likes you, you stupid ass.",
]
NEUTRAL = [
    "The committee will meet on Tuesday to review the budget for the new library.",
    "Add two cups of flour and stir until the dough is smooth.",
    "The train to the airport leaves every fifteen minutes from platform four.",
]


@pytest.fixture(scope="module")
def model() -> ToxicityModel:
    return load_toxicity_model()


def test_bundled_model_and_card_are_this_repositorys(model):
    assert model.name == DEFAULT_MODEL_PATH
    assert bundled("assets/toxicity/model.ftz").is_file() and bundled("assets/toxicity/model.json").is_file()
    card = read_card(model.path)
    assert card["model"]["sha256"] == file_sha256(model.path) == model.sha256  # the card describes this file
    block = card[CARD_KEY]
    assert block["identity_blinding"] is True and block["placeholder"] == PLACEHOLDER
    assert 0.0 < model.threshold < 1.0 and model.threshold == block["threshold"]
    assert card["preparation"]["lowercase"] is True
    # The measured error rates the report shows come from the card.
    rates = card_error_rates(card)
    assert rates["model"]["held_apart"]["all"]["recall"] == block["evaluation"]["held_apart"]["all"]["recall"]
    assert rates["lexicon_flag"]["held_apart"]["all"]["precision"] is not None
    # Licence attribution and rebuild instructions ship with it.
    readme = bundled("assets/toxicity/README.md").read_text(encoding="utf-8")
    assert "scripts/build_toxicity_model.py" in readme
    licences = bundled("assets/toxicity/LICENSES.md").read_text(encoding="utf-8")
    assert "Tom Davidson" in licences and "Microsoft" in licences and "CDLA-Permissive-2.0" in licences


def test_scores_are_probabilities(model):
    texts = TOXIC + NEUTRAL + ["", "   ", "!!!", "a", "x" * 5000]
    scores = model.score_texts(texts)
    assert scores[len(TOXIC) + len(NEUTRAL)] is None and scores[len(TOXIC) + len(NEUTRAL) + 1] is None
    assert all(0.0 <= s <= 1.0 for s in scores if s is not None)
    docs = model.score_documents(texts + [None])
    assert docs[-1] is None and all(0.0 <= s <= 1.0 for s in docs if s is not None)


def test_toxic_sentences_score_above_and_neutral_below_the_threshold(model):
    for s in model.score_documents(TOXIC):
        assert s >= model.threshold
    for s in model.score_documents(NEUTRAL):
        assert s < model.threshold


def test_neutral_identity_statements_stay_below_the_threshold(model):
    lex = load_lexicon()
    statements = identity_statements(lex.identity_base)
    assert len({s.term for s in statements}) == len(lex.identity_base) and len(statements) >= 24 * 150
    fp = identity_false_positives(model, statements)
    assert fp["spread"] <= 0.05 and fp["mean"] <= 0.01
    # Blinding: naming one group or another gives exactly the same score.
    a, b, c = model.score_texts(["I am a gay person.", "I am a Christian person.", "I am a deaf person."])
    assert a == b == c < model.threshold


def test_a_document_scores_as_its_most_toxic_sentence(model):
    neutral = " ".join(NEUTRAL * 20)
    doc = neutral + " " + TOXIC[0] + " " + neutral
    [score] = model.score_documents([doc])
    [alone] = model.score_texts([TOXIC[0] + " "])
    assert score >= model.threshold and math.isclose(score, alone)
    assert model.score_documents([neutral])[0] < model.threshold


def test_preparation_blinds_identity_terms_and_splits_punctuation():
    m = identity_matcher(load_lexicon())
    assert blind_identity("Muslim women's rights", m).split() == [PLACEHOLDER, PLACEHOLDER, "rights"]
    # Context constraints are not applied when blinding: 'black' alone is blinded too.
    assert PLACEHOLDER in blind_identity("I am black.", m)
    assert model_text("Idiot!! Go away, now.", None) == "Idiot ! ! Go away , now ."
    assert model_text("The manager's jewel", m) == "The manager's jewel"  # no identity term inside words


def test_scorer_flags_come_from_the_model(model):
    scorer = BiasScorer(load_lexicon(), model)
    r = scorer.score("Those immigrants are worthless pathetic idiots. The weather was nice today.")
    assert r.toxicity_score >= model.threshold and r.group_toxic_sentences == 1
    assert r.flags == [FLAG_GROUP_TOXIC, FLAG_IDENTITY, FLAG_TOXIC]
    # The identity mention is in a neutral sentence: toxic, but not group-targeted.
    r2 = scorer.score("Many Muslims live here. " + TOXIC[1])
    assert r2.flags == [FLAG_IDENTITY, FLAG_TOXIC] and not r2.group_toxic
    # A neutral identity statement: identity mention only, whatever the lexicon says.
    r3 = scorer.score("Gay people live here.")
    assert r3.flags == [FLAG_IDENTITY] and r3.toxicity_score < model.threshold
    # The lexicon hit count is kept next to the score.
    assert scorer.score("What an idiot plan.").toxic == 1
    empty = scorer.score("")
    assert empty.toxicity_score is None and empty.flags == []
    # Batch scoring gives the same results as one by one.
    texts = TOXIC + NEUTRAL + ["Many Muslims live here.", None]
    assert [x.flags for x in scorer.score_many(texts)] == [scorer.score(t).flags for t in texts]


def test_aggregates_name_the_flag_and_keep_the_lexicon_rate(model):
    scorer = BiasScorer(load_lexicon(), model)
    agg = BiasAggregator(load_lexicon().axes)
    for text in (TOXIC[0], NEUTRAL[0], "What an idiot plan, said nobody."):
        agg.add_result("web", "en", scorer.score(text))
    o = agg.report()["overall"]
    assert o["toxicity_scored_docs"] == 3 and 0.0 <= o["toxicity_score_mean"] <= 1.0
    assert o["lexicon_toxic_doc_rate"] == pytest.approx(2 / 3)  # 'idiot' twice
    flagged = sum(1 for t in (TOXIC[0], NEUTRAL[0], "What an idiot plan, said nobody.")
                  if scorer.score(t).toxicity_score >= model.threshold)
    assert o["toxic_doc_rate"] == pytest.approx(flagged / 3)


def test_threshold_override_and_model_errors(tmp_path):
    low = ToxicityModel(None, threshold=0.01)
    assert low.threshold == 0.01 and low.score_documents([NEUTRAL[0]])[0] >= 0.0
    with pytest.raises(ToxicityModelError, match="no file"):
        ToxicityModel(tmp_path / "missing.ftz")
    src = bundled("assets/toxicity/model.ftz")
    shutil.copyfile(src, tmp_path / "m.ftz")
    with pytest.raises(ToxicityModelError, match="no readable model card"):
        ToxicityModel(tmp_path / "m.ftz")
    card = json.loads(bundled("assets/toxicity/model.json").read_text(encoding="utf-8"))
    card["model"]["sha256"] = "0" * 64
    (tmp_path / "m.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ToxicityModelError, match="describes another model file"):
        ToxicityModel(tmp_path / "m.ftz")
    card["model"]["sha256"] = file_sha256(src)
    (tmp_path / "m.json").write_text(json.dumps(card), encoding="utf-8")
    assert ToxicityModel(tmp_path / "m.ftz").sha256 == card["model"]["sha256"]  # a user copy with its card works
    del card[CARD_KEY]
    (tmp_path / "m.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ToxicityModelError, match="no valid 'toxicity' block"):
        ToxicityModel(tmp_path / "m.ftz")


def test_calibration_recovers_a_logistic_mapping_and_threshold_rule():
    rng = random.Random(3)
    raw, pos = [], []
    for _ in range(4000):
        z = rng.uniform(-6, 6)
        p_true = 1 / (1 + math.exp(-(0.5 * z - 1.0)))
        raw.append(1 / (1 + math.exp(-z)))
        pos.append(rng.random() < p_true)
    cal = Calibration.fit(raw, pos)
    # Equal class weights shift the intercept by the log prior odds; the slope is recovered.
    assert cal.a == pytest.approx(0.5, abs=0.08)
    prior = sum(pos) / len(pos)
    assert cal.b == pytest.approx(-1.0 - math.log(prior / (1 - prior)), abs=0.2)
    assert 0.0 < cal.apply(1.00001) <= 1.0 and 0.0 <= cal.apply(0.0) < 1.0
    with pytest.raises(ValueError):
        Calibration.fit([0.2, 0.3], [True, True])
    assert choose_threshold([0.1, 0.2, 0.7, 0.9], [False, False, True, True]) == pytest.approx(0.5)
    assert choose_threshold([0.1, 0.2, 0.3, 0.9], [False, False, True, True]) == pytest.approx(0.3)


def test_identity_forms_and_templates_cover_the_lexicon():
    lex = load_lexicon()
    base = {t for _, t in lex.identity_base}
    forms = identity_forms()
    assert set(forms) <= base  # every listed term is a lexicon term
    assert all(len(v) == 24 for v in IDENTITY_TEMPLATES.values())  # same number of statements per term
    st = identity_statements([("gender", "woman"), ("religion", "islam"), ("sexual_orientation", "gay")])
    first = {}
    for x in st:
        first.setdefault(x.term, x.text)
    assert first == {"woman": "I am a woman.", "islam": "We talked about islam today.", "gay": "I am a gay person."}
    assert len(st) == 3 * 24 and "An asian person wrote this story." in {
        x.text for x in identity_statements([("race_ethnicity", "asian")])}


def test_config_defaults_and_validation():
    cfg = validate_config({"bias": {"enabled": True}})
    assert cfg.bias.toxicity_model is True and cfg.bias.toxicity_model_path == DEFAULT_MODEL_PATH
    assert cfg.bias.toxicity_threshold is None
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError):
            validate_config({"bias": {"toxicity_threshold": bad}})


def test_benchmark_skips_cleanly_without_data(tmp_path, capsys):
    from benchmarks.toxicity import main  # deferred: the benchmark module is only needed here

    assert main(["--data", str(tmp_path)]) == 0
    assert "SKIP" in capsys.readouterr().out


def test_benchmark_reproduces_the_cards_figures(tmp_path, capsys):
    """With the development data present (../shared/data), the benchmark's figures equal the card's and meet
    the targets; the printed output names no text (counts and rates only)."""
    from benchmarks.toxicity import data_available, default_data_root, main  # deferred: needs the data

    if not data_available(default_data_root()):
        pytest.skip("the labelled toxicity data (../shared/data/toxicity) is not available")
    out_json = tmp_path / "figures.json"
    assert main(["--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    figures = json.loads(out_json.read_text(encoding="utf-8"))
    assert figures["matches_model_card"] is True
    model = figures["toxicity_model"]
    assert model["targets"]["held_apart_met"] and model["targets"]["identity_spread_met"]
    assert model["held_apart"]["all"]["recall"] > figures["lexicon_flag"]["held_apart"]["all"]["recall"]
    assert "held-apart figures equal the model card's: True" in printed and "lexicon flag" in printed


def test_stage_worker_blinds_every_identity_term_whatever_axes_are_counted(tmp_path):
    from pipelines.stages.base import RunContext  # deferred: stage layer, only this test needs it
    from pipelines.stages.bias import BiasStage

    cfg = validate_config({"bias": {"enabled": True, "axes": ["gender"]}})
    ctx = RunContext(spark=None, config=cfg, run_id="t", staging_dir=tmp_path / "o", work_dir=tmp_path / "w",
                     num_partitions=1)
    stage = BiasStage(cfg.bias, ctx)
    stage.ensure_prepared()
    scorer = BiasStage.load(stage.worker_payload())  # what each Python worker builds
    a, b = scorer.score_many(["I am a gay person.", "I am a Christian person."])
    assert a.identity == {} and b.identity == {}  # not counted: those axes are off
    assert a.toxicity_score == b.toxicity_score  # but blinded all the same
    assert ctx.assets["toxicity_model"]["sha256"] == scorer.toxicity.sha256
