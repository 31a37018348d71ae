"""fastText classifiers without Spark: text preparation, scores, the keep-top-fraction cut, training, cards,
the stage's Arrow batch function and the config section."""
from __future__ import annotations

import json
import random

import fasttext
import pyarrow as pa
import pytest

from pipelines.stages.classify import REASON, SCORES, ClassifyStage
from pipelines.text.assets import resolve_asset
from pipelines.text.classifier import (
    ClassifierModelError,
    ClassifierTrainingError,
    FastTextClassifier,
    binary_metrics,
    card_path,
    load_classifier,
    normalize_label,
    passes_cut,
    prepare_text,
    roc_auc,
    top_fraction_count,
    top_fraction_cut,
    train_classifier,
)
from schemas.config import ConfigError, load_config
from storage.files import file_sha256
from tests.classifier_support import negatives, positives, train_tiny


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("clf") / "tiny.bin"
    card = train_tiny(path)
    return path, card


# ------------------------------------------------------------------------------------------- preparation
def test_prepare_text_joins_lines_caps_and_lowercases():
    assert prepare_text("  One line.\nTwo\r\nthree\rfour\u2028five \n") == "One line. Two three four five"
    assert prepare_text("ABC\ndef", lowercase=True) == "abc def"
    # the cap applies to the document's first characters, before lines are joined
    assert prepare_text("abcdef\nghij", max_chars=8) == "abcdef g"
    assert prepare_text("\n\n") == ""
    assert "\n" not in prepare_text("a\x0bb\x0cc\x1cd\x85e")


def test_normalize_label():
    assert normalize_label("hq") == "__label__hq"
    assert normalize_label("__label__hq") == "__label__hq"
    for bad in ("", "two words", "__label__"):
        with pytest.raises(ValueError):
            normalize_label(bad)


# ------------------------------------------------------------------------------------------------ scores
def test_scores_equal_fasttext_predict_on_prepared_texts(tiny):
    path, _ = tiny
    docs = positives(10, seed=11) + negatives(10, seed=12) + ["", "x\n\ny", "Ünïcödé текст 文字"]
    prepared = [prepare_text(t) for t in docs]
    clf = FastTextClassifier(path, "hq")
    ours = clf.predict_prepared(prepared)
    # fastText's own list prediction (fine under numpy 2 for lists): all labels with their probabilities
    labels, probs = fasttext.load_model(str(path)).predict(prepared, k=-1)
    expected = [float(p[list(lab).index("__label__hq")]) for lab, p in zip(labels, probs)]
    assert ours == expected
    assert clf.predict(docs) == expected  # predict() prepares the texts itself
    assert all(s > 0.5 for s in ours[:10]) and all(s < 0.5 for s in ours[10:20])


def test_model_without_the_label_or_missing_file_fails_clearly(tiny, tmp_path):
    path, _ = tiny
    with pytest.raises(ClassifierModelError, match=r"no label __label__cc; its labels are: .*__label__hq"):
        FastTextClassifier(path, "__label__cc")
    with pytest.raises(ClassifierModelError, match="no classifier model file"):
        FastTextClassifier(tmp_path / "missing.bin", "hq")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model")
    with pytest.raises(ClassifierModelError, match="cannot load"):
        FastTextClassifier(junk, "hq")


def test_load_classifier_caches_per_path_and_label(tiny):
    path, _ = tiny
    assert load_classifier(str(path), "hq") is load_classifier(str(path), "hq")
    assert load_classifier(str(path), "other").label == "__label__other"


# --------------------------------------------------------------------------------------------- the cut
def test_top_fraction_count_is_ceil_on_decimal_fraction():
    assert top_fraction_count(10, 0.3) == 3
    assert top_fraction_count(10, 0.31) == 4
    assert top_fraction_count(3, 0.1) == 1
    assert top_fraction_count(0, 0.5) == 0
    assert top_fraction_count(7, 1.0) == 7


def test_top_fraction_cut_keeps_exactly_k_with_ties_broken_by_doc_id():
    scores = [0.9, 0.5, 0.5, 0.5, 0.1, None, 0.7]
    ids = ["a", "d", "b", "c", "e", "f", "g"]
    cut = top_fraction_cut(scores, ids, 0.5)  # 6 scored -> 3 kept: a (0.9), g (0.7), b (0.5, smallest id)
    assert cut == (0.5, "b")
    kept = [d for s, d in zip(scores, ids) if passes_cut(s, d, cut)]
    assert kept == ["a", "b", "f", "g"]  # f has no score: not ranked, passes
    # input order does not matter
    order = list(range(len(ids)))
    random.Random(1).shuffle(order)
    assert top_fraction_cut([scores[i] for i in order], [ids[i] for i in order], 0.5) == cut
    assert top_fraction_cut([None], ["x"], 0.5) is None


# ------------------------------------------------------------------------------------------- metrics
def test_roc_auc_and_binary_metrics():
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert roc_auc([0.5], [True]) is None
    m = binary_metrics([0.9, 0.6, 0.4, 0.2], [True, False, True, False])
    assert (m["true_positives"], m["false_positives"], m["false_negatives"], m["true_negatives"]) == (1, 1, 1, 1)
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["f1"] == 0.5 and m["roc_auc"] == 0.75


# ------------------------------------------------------------------------------------------- training
def test_training_writes_model_and_card(tiny):
    path, card = tiny
    assert card_path(path) == path.with_suffix(".json")
    on_disk = json.loads(card_path(path).read_text())
    assert on_disk == card
    assert card["model"]["sha256"] == file_sha256(path)
    assert card["model"]["label"] == "__label__hq" and set(card["model"]["labels"]) == {"__label__hq", "__label__other"}
    assert card["samples"]["positive"]["read"] == 80 and card["samples"]["negative"]["read"] == 80
    assert card["samples"]["positive"]["validation"] == 16 and card["samples"]["positive"]["train"] == 64
    assert card["parameters"]["thread"] == 1 and card["parameters"]["seed"] == 3
    v = card["validation"]
    assert v["documents"] == 32 and v["f1"] == 1.0 and v["roc_auc"] == 1.0
    assert card["versions"]["fasttext"] and "corpusforge" in card["versions"]


def test_training_is_deterministic(tmp_path, tiny):
    path, card = tiny
    again = train_tiny(tmp_path / "again.bin")
    assert again["model"]["sha256"] == card["model"]["sha256"]
    other = train_tiny(tmp_path / "other.bin", seed=4)
    assert other["model"]["sha256"] != card["model"]["sha256"]


def test_balance_downsamples_the_larger_class(tmp_path):
    card = train_classifier(positives(80), negatives(20), output=tmp_path / "b.bin", balance=True, bucket=20000,
                            dim=8, seed=1, validation_fraction=0.25)
    s = card["samples"]
    assert s["positive"]["read"] == 80 and s["positive"]["used"] == 20 and s["negative"]["used"] == 20
    assert s["positive"]["validation"] == 5 and s["negative"]["validation"] == 5


def test_quantized_ftz_is_written_and_scores(tmp_path):
    card = train_classifier(positives(), negatives(), output=tmp_path / "q.ftz", bucket=20000, dim=8, seed=1,
                            epoch=10)
    assert card["parameters"]["quantized"] is True
    assert card["validation"]["f1"] >= 0.9
    assert FastTextClassifier(tmp_path / "q.ftz", "hq").predict(positives(3, seed=9))[0] > 0.5


@pytest.mark.parametrize("pos, neg, match", [
    (positives(), [], "negative training data has no documents"),
    ([], negatives(), "positive training data has no documents"),
    (positives(), ["", "  \n "], "negative training data has only empty documents"),
])
def test_training_on_one_class_fails_clearly(tmp_path, pos, neg, match):
    with pytest.raises(ClassifierTrainingError, match=match):
        train_classifier(pos, neg, output=tmp_path / "m.bin")
    assert not (tmp_path / "m.bin").exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("kw, match", [
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"epoch": 0}, "epoch"),
    ({"lr": 0}, "lr must be positive"),
    ({"label": "x", "negative_label": "x"}, "both __label__x"),
])
def test_training_rejects_bad_parameters(tmp_path, kw, match):
    with pytest.raises(ClassifierTrainingError, match=match):
        train_classifier(positives(5), negatives(5), output=tmp_path / "m.bin", **kw)


# ------------------------------------------------------------------------------------ bundled demo model
def test_bundled_demo_model_matches_its_card_and_separates_prose_from_junk():
    path = resolve_asset("pipelines/assets/classify/demo_quality.ftz")
    card = json.loads(card_path(path).read_text())
    assert card["model"]["sha256"] == file_sha256(path)
    assert card["validation"]["roc_auc"] >= 0.95
    clf = FastTextClassifier(path, card["model"]["label"])
    prose = ("The regional council discussed the annual budget on Monday, and several residents asked why the "
             "new bridge will take another two years to finish. The mayor said the plans were approved.")
    cookie = ("We use cookies to improve your experience on our website.\nAccept all cookies\nManage preferences"
              "\nPrivacy policy")
    good, bad = clf.predict([prose, cookie])
    assert good > 0.5 > bad


# ---------------------------------------------------------------------------------- the stage's batches
def _stage_model(path, **spec):
    cfg = load_config(None, ["classify.enabled=true", "language.enabled=true",
                             "classify.models=" + json.dumps([{"name": "hq", "path": str(path), "label": "hq",
                                                               "min_score": 0.5, **spec}])])
    stage_payload = (cfg.classify, (("hq", str(path), file_sha256(path)),))
    return ClassifyStage.load(stage_payload)


def test_stage_batch_scores_equal_fasttext_and_respect_languages(tiny):
    path, _ = tiny
    docs = positives(4, seed=21) + negatives(4, seed=22)
    langs = ["en", "de", "en", None, "en", "fr", "en", "en"]
    batch = pa.RecordBatch.from_pydict({"doc_id": [f"d{i}" for i in range(8)], "text": docs, "lang": langs})
    out = ClassifyStage.process_arrow(_stage_model(path, languages=["en"]), batch).to_pydict()
    expected = FastTextClassifier(path, "hq").predict_prepared([prepare_text(t) for t in docs])
    scores = [row[0] for row in out[SCORES]]
    assert scores == [s if lang == "en" else None for s, lang in zip(expected, langs)]
    assert out[REASON] == [None] * 8  # rules are applied by the Spark side (they need the whole run)


def test_stage_batch_marks_a_failing_document_and_keeps_the_others(tiny):
    path, _ = tiny
    docs = [positives(1, seed=41)[0], None, negatives(1, seed=42)[0]]
    batch = pa.RecordBatch.from_pydict({"doc_id": ["a", "b", "c"], "text": pa.array(docs, pa.string())})
    out = ClassifyStage.process_arrow(_stage_model(path), batch).to_pydict()
    expected = FastTextClassifier(path, "hq").predict([docs[0], docs[2]])
    assert out[SCORES] == [[expected[0]], None, [expected[1]]]
    assert out[REASON] == [None, "classify:error", None]


def test_stage_batch_prepares_like_the_model_card(tiny):
    path, _ = tiny
    docs = ["THE RIVER LIBRARY\nMORNING students", "click BUY now"]
    batch = pa.RecordBatch.from_pydict({"doc_id": ["a", "b"], "text": docs})
    out = ClassifyStage.process_arrow(_stage_model(path, lowercase=True, max_chars=12), batch).to_pydict()
    expected = FastTextClassifier(path, "hq").predict_prepared([prepare_text(t, lowercase=True, max_chars=12)
                                                                for t in docs])
    assert [r[0] for r in out[SCORES]] == expected


# ------------------------------------------------------------------------------------------------ config
def _cfg(models, enabled=True):
    return load_config(None, [f"classify.enabled={str(enabled).lower()}", "classify.models=" + json.dumps(models)])


def test_config_accepts_one_rule_per_model_and_normalizes():
    cfg = _cfg([{"name": "dclm", "path": "/m.bin", "label": "hq", "keep_top_fraction": 0.1,
                 "languages": ["eng", "de"]}])
    m = cfg.classify.models[0]
    assert m.label == "__label__hq" and m.languages == ["de", "en"] and m.min_score is None


@pytest.mark.parametrize("models, match", [
    ([{"name": "a", "path": "/m", "label": "hq"}], "exactly one of min_score"),
    ([{"name": "a", "path": "/m", "label": "hq", "min_score": 0.5, "keep_top_fraction": 0.5}], "exactly one"),
    ([{"name": "a", "path": "/m", "label": "hq", "keep_top_fraction": 0}], "keep_top_fraction"),
    ([{"name": "a", "path": "/m", "label": "hq", "min_score": 1.5}], "min_score"),
    ([{"name": "A-b", "path": "/m", "label": "hq", "min_score": 0.5}], "model name"),
    ([{"name": "a", "path": "/m", "label": "hq", "min_score": 0.5}] * 2, "two models are named"),
    ([{"name": "a", "path": "/m", "label": "two words", "min_score": 0.5}], "label"),
    ([], "lists no models"),
])
def test_config_rejects_bad_models(models, match):
    with pytest.raises(ConfigError, match=match):
        _cfg(models)


def test_bundled_presets_load_with_classify():
    demo = load_config("demo")
    assert demo.classify.enabled and demo.classify.models[0].path.startswith("pipelines/assets/classify/")
    web = load_config("web")
    assert web.classify is not None
