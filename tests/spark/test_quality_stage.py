"""The quality stage on a small DataFrame: signals, reasons, per-language settings, no-lang input, tag mode."""
from __future__ import annotations

import pytest

from pipelines.stages.base import RunContext, StageConfigError
from pipelines.stages.quality import QualityStage
from pipelines.text.quality import SIGNAL_NAMES
from schemas.config import load_config

GOOD = (
    "The council met on Tuesday evening to discuss the new cycling lanes along the river.\n"
    "Several residents said that the lanes would make the morning commute much safer for children.\n"
    "Others worried that the narrower road would slow down buses during the busiest hours of the day.\n"
    "After a long debate the members agreed to test the plan for six months and then review it."
)
GOOD_DE = (
    "Der Rat traf sich am Dienstagabend, um über die neuen Radwege entlang des Flusses zu sprechen.\n"
    "Mehrere Anwohner sagten, dass die Wege den Schulweg für die Kinder viel sicherer machen würden.\n"
    "Andere fürchteten, dass die schmalere Straße die Busse in den vollen Stunden bremsen würde.\n"
    "Nach einer langen Debatte beschloss der Rat, den Plan sechs Monate zu testen und dann zu prüfen."
)
SHORT_DE = "Der Rat tagte am Dienstag. Es ging um die Radwege. Die Sitzung war kurz."
LOREM = GOOD + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."

DOCS = [
    ("g", GOOD, "en"), ("gde", GOOD_DE, "de"), ("sde", SHORT_DE, "de"), ("lorem", LOREM, "en"), ("null", None, "en")
]


def _stage(spark, tmp_path, *overrides):
    cfg = load_config(None, ["quality.enabled=true", *overrides])
    ctx = RunContext(
        spark=spark, config=cfg, run_id="t", staging_dir=tmp_path / "s", work_dir=tmp_path / "w", num_partitions=2
    )
    stage = QualityStage(cfg.quality, ctx)
    stage.ensure_prepared()
    return stage, ctx


def _df(spark, with_lang=True):
    if with_lang:
        return spark.createDataFrame(DOCS, "doc_id string, text string, lang string").repartition(2)
    return spark.createDataFrame([d[:2] for d in DOCS], "doc_id string, text string")


def test_signals_and_reasons_with_lang(spark, tmp_path):
    stage, ctx = _stage(spark, tmp_path, "quality.languages.de.gopher_short_doc=10")
    out = stage.apply(_df(spark))
    assert out.columns[3:] == [name for name, _ in QualityStage.columns]
    rows = {r["doc_id"]: r for r in out.collect()}
    assert len(rows) == len(DOCS)
    assert rows["g"]["quality_reason"] is None
    assert rows["gde"]["quality_reason"] is None  # German stop words, not English ones
    assert rows["sde"]["quality_reason"] is None  # short, but de allows 10 words
    assert rows["lorem"]["quality_reason"] == "quality:c4_lorem_ipsum" and rows["lorem"]["q_lorem_ipsum"] == 1
    assert rows["null"]["quality_reason"] == "quality:error"
    assert all(rows["null"][s] is None for s in SIGNAL_NAMES)
    assert rows["g"]["q_words"] == len(GOOD.split())
    assert isinstance(rows["g"]["q_dup_5gram"], float)
    assert ctx.assets["quality_stopwords"]["sha256"]


def test_per_language_override_applies_to_lang_column(spark, tmp_path):
    stage, _ = _stage(spark, tmp_path, "quality.languages.de.gopher_short_doc=10", "quality.c4_min_sentences=1")
    rows = {r["doc_id"]: r["quality_reason"] for r in stage.apply(_df(spark)).collect()}
    assert rows["sde"] is None
    stage, _ = _stage(spark, tmp_path, "quality.c4_min_sentences=1")
    rows = {r["doc_id"]: r["quality_reason"] for r in stage.apply(_df(spark)).collect()}
    assert rows["sde"] == "quality:gopher_short_doc"


def test_without_lang_column_uses_default_language(spark, tmp_path):
    stage, _ = _stage(spark, tmp_path)
    rows = {r["doc_id"]: r for r in stage.apply(_df(spark, with_lang=False)).collect()}
    assert rows["g"]["quality_reason"] is None
    assert rows["gde"]["quality_reason"] == "quality:gopher_stop_words"  # judged as English
    stage, _ = _stage(spark, tmp_path, "quality.default_language=de")
    rows = {r["doc_id"]: r for r in stage.apply(_df(spark, with_lang=False)).collect()}
    assert rows["gde"]["quality_reason"] is None


def test_tag_mode_keeps_every_row_and_writes_signals(spark, tmp_path):
    stage, _ = _stage(spark, tmp_path, "quality.mode=tag")
    out = stage.apply(_df(spark))
    assert out.count() == len(DOCS)
    rows = {r["doc_id"]: r for r in out.collect()}
    assert rows["lorem"]["quality_reason"] == "quality:c4_lorem_ipsum"
    assert all(rows["lorem"][s] is not None for s in ("q_words", "q_dup_lines", "q_punct_lines"))


def test_needs_text_column(spark, tmp_path):
    stage, _ = _stage(spark, tmp_path)
    with pytest.raises(StageConfigError, match="text"):
        stage.apply(spark.createDataFrame([("a",)], "doc_id string"))
