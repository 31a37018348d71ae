"""The language stage on a small DataFrame: columns, reasons, per-language minimum scores, tag mode."""
from __future__ import annotations

import pytest

from pipelines.stages.base import RunContext, StageConfigError
from pipelines.stages.language import LanguageStage
from schemas.config import load_config

DOCS = [
    ("d1", "The library on our street opens early on Saturdays, so we usually borrow a few books."),
    ("d2", "Die Bibliothek in unserer Straße öffnet samstags früh, deshalb leihen wir meistens Bücher aus."),
    ("d3", "La bibliothèque de notre rue ouvre tôt le samedi, alors nous empruntons souvent des livres."),
    ("d4", "Hello"),
    ("d5", ""),
    ("d6", "Библиотека на нашей улице открывается рано по субботам.\nМы обычно берём несколько книг."),
    ("d7", None),
]


def _ctx(spark, tmp_path, overrides):
    cfg = load_config(None, ["language.enabled=true", *overrides])
    return cfg, RunContext(
        spark=spark, config=cfg, run_id="t", staging_dir=tmp_path / "staging", work_dir=tmp_path / "work",
        num_partitions=2,
    )


def _df(spark):
    rows = [(doc_id, text, {"site": "x"}) for doc_id, text in DOCS]
    return spark.createDataFrame(rows, "doc_id string, text string, metadata map<string,string>").repartition(3)


def _run(spark, tmp_path, *overrides):
    cfg, ctx = _ctx(spark, tmp_path, overrides)
    stage = LanguageStage(cfg.language, ctx)
    stage.ensure_prepared()
    out = stage.apply(_df(spark))
    return ctx, out, {r["doc_id"]: r for r in out.collect()}


def test_columns_and_reasons(spark, tmp_path):
    ctx, out, rows = _run(spark, tmp_path, "language.keep=[en, deu]", "language.min_score_by_lang={de: 0.5}")
    assert out.columns[:3] == ["doc_id", "text", "metadata"]
    assert out.columns[3:] == [name for name, _ in LanguageStage.columns]
    assert len(rows) == len(DOCS)
    assert [rows[d]["lang"] for d in ("d1", "d2", "d3", "d6")] == ["en", "de", "fr", "ru"]
    assert rows["d1"]["lang_label"] == "en" and rows["d1"]["lang_score"] > 0.65
    assert rows["d1"]["language_reason"] is None
    assert rows["d2"]["language_reason"] is None
    assert rows["d3"]["language_reason"] == "language:not_kept"
    assert rows["d6"]["language_reason"] == "language:not_kept"
    assert rows["d4"]["language_reason"] == "language:low_score" and rows["d4"]["lang"] == "en"
    assert rows["d5"]["language_reason"] == "language:low_score" and rows["d5"]["lang"] is None
    assert rows["d7"]["language_reason"] == "language:error" and rows["d7"]["lang"] is None
    assert rows["d1"]["metadata"] == {"site": "x"}
    assert all(r["lang_share"] is None for r in rows.values())
    asset = ctx.assets["language_model"]
    assert asset["path"].endswith("lid.176.ftz") and len(asset["sha256"]) == 64
    assert ctx.stage_info["language"]["keep"] == ["en", "de"]


def test_tag_mode_keeps_every_row_and_writes_signals(spark, tmp_path):
    _, out, rows = _run(spark, tmp_path, "language.mode=tag", "language.keep=[en]", "language.main_share=true")
    assert out.count() == len(DOCS)
    assert rows["d2"]["language_reason"] == "language:not_kept"
    assert rows["d2"]["lang"] == "de" and rows["d2"]["lang_score"] > 0.9
    assert rows["d6"]["lang_share"] == 1.0


def test_rerun_replaces_columns(spark, tmp_path):
    cfg, ctx = _ctx(spark, tmp_path, ["language.keep=all"])
    stage = LanguageStage(cfg.language, ctx)
    stage.ensure_prepared()
    twice = stage.apply(stage.apply(_df(spark)))
    assert twice.columns.count("lang") == 1
    assert {r["doc_id"]: r["language_reason"] for r in twice.collect()}["d3"] is None


def test_missing_model_fails_on_the_driver(spark, tmp_path):
    cfg, ctx = _ctx(spark, tmp_path, [f"language.model_path={tmp_path / 'missing.bin'}"])
    with pytest.raises(StageConfigError, match="language.model_path"):
        LanguageStage(cfg.language, ctx).prepare()
