"""The report's bias section names the signal behind each figure and shows the error rates of the model card."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

from pipelines.stages.base import RunContext
from pipelines.stages.bias import BiasStage
from pipelines.text.assets import bundled
from quality.html import _bias
from schemas.config import validate_config
from schemas.report import BiasSummary

AGG = {"overall": {"docs": 2, "axis_doc_rate": {"gender": 0.5}, "toxic_doc_rate": 0.5,
                   "lexicon_toxic_doc_rate": 0.0, "toxicity_score_mean": 0.3, "group_toxic_doc_rate": 0.0,
                   "group_toxic_rate_among_identity_docs": 0.0},
       "by_source": {"web": {"docs": 2, "axis_doc_rate": {"gender": 0.5}, "toxic_doc_rate": 0.5,
                             "lexicon_toxic_doc_rate": 0.0, "toxicity_score_mean": 0.3}},
       "by_lang": {}}


def _section_info(tmp_path: Path, bias: dict) -> dict:
    cfg = validate_config({"bias": {"enabled": True, **bias}})
    ctx = RunContext(spark=None, config=cfg, run_id="t", staging_dir=tmp_path / "o", work_dir=tmp_path / "w",
                     num_partitions=1)
    BiasStage(cfg.bias, ctx).ensure_prepared()
    return ctx.stage_info["bias"]


def _html(info: dict) -> str:
    summary = BiasSummary(lexicon_version=info["lexicon_version"], axes=["gender"], docs=2,
                          flags={"identity_mention": 1, "toxicity": 1}, aggregates=AGG,
                          signals=info["signals"], toxicity_model=info.get("toxicity_model"))
    return _bias(SimpleNamespace(bias=summary))


def test_report_names_the_model_and_shows_the_cards_error_rates(tmp_path):
    info = _section_info(tmp_path, {})
    html = _html(info)
    card = json.loads(bundled("assets/toxicity/model.json").read_text(encoding="utf-8"))
    thr = card["toxicity"]["threshold"]
    assert f"from toxicity model score &gt;= {thr:g}" in html
    assert "<b>toxic_hits</b> from toxicity lexicon" in html and "<b>identity_mention</b> from identity lexicon" in html
    assert "pipelines/assets/toxicity/model.ftz" in html and "Measured error rates (from the model card)" in html
    assert "toxic docs (model)" in html and "lexicon toxic docs" in html
    held = card["toxicity"]["evaluation"]["held_apart"]["all"]
    lex = card["toxicity"]["lexicon_flag_evaluation"]["held_apart"]["all"]
    assert f"{100 * held['recall']:.1f} %" in html and f"{100 * lex['recall']:.1f} %" in html


def test_error_rates_follow_the_card_not_the_code(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    shutil.copyfile(bundled("assets/toxicity/model.ftz"), d / "model.ftz")
    card = json.loads(bundled("assets/toxicity/model.json").read_text(encoding="utf-8"))
    card["toxicity"]["evaluation"]["held_apart"]["all"]["recall"] = 0.123456
    (d / "model.json").write_text(json.dumps(card), encoding="utf-8")
    html = _html(_section_info(tmp_path, {"toxicity_model_path": str(d / "model.ftz"), "toxicity_threshold": 0.7}))
    assert "12.3 %" in html
    assert "threshold 0.7 (the card&#x27;s is" in html or "threshold 0.7 (the card's is" in html


def test_lexicon_only_report_says_so(tmp_path):
    html = _html(_section_info(tmp_path, {"toxicity_model": False}))
    assert "<b>toxicity</b> from toxicity lexicon (a toxic term)" in html
    assert "No toxicity model" in html and "toxic docs (lexicon)" in html and "Measured error rates" not in html
