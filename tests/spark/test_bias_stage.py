"""The bias stage on Spark: columns, flag-only contract, lexicon hash in assets, report aggregates."""
from __future__ import annotations

import pytest

from pipelines.stages.base import RunContext
from pipelines.stages.bias import BiasStage, bias_aggregates
from pipelines.text.bias import load_lexicon
from schemas.config import validate_config

DOCS = [
    ("b1", "web", "en", "He said Muslim women were welcome. She agreed."),
    ("b2", "web", "en", "Those stupid immigrants ruin everything."),
    ("b3", "books", "de", "Ein ruhiger Tag am Fluss."),
    ("b4", "books", "en", "The black car passed the White House. What an idiot!"),
]


@pytest.fixture()
def staged(spark, tmp_path):
    cfg = validate_config({"bias": {"enabled": True}})
    ctx = RunContext(
        spark=spark, config=cfg, run_id="t", staging_dir=tmp_path / "o", work_dir=tmp_path / "w", num_partitions=2
    )
    stage = BiasStage(cfg.bias, ctx)
    stage.ensure_prepared()
    df = spark.createDataFrame(DOCS, "doc_id string, source string, lang string, text string").repartition(2)
    return stage.apply(df), ctx


def test_bias_columns_and_flags(staged):
    out, ctx = staged
    rows = {r["doc_id"]: r.asDict() for r in out.collect()}
    assert sorted(rows) == ["b1", "b2", "b3", "b4"]
    assert all(r["bias_reason"] is None for r in rows.values())  # flag only
    assert rows["b1"]["bias_identity_counts"] == {"gender": 1, "religion": 1}
    assert rows["b1"]["bias_pronoun_counts"] == {"female": 1, "male": 1}
    assert rows["b2"]["bias_group_toxic"] is True and rows["b2"]["bias_toxic_hits"] == 1
    assert rows["b2"]["bias_flags"] == ["group_targeted_toxicity", "identity_mention", "toxicity"]
    assert rows["b4"]["bias_identity_counts"] == {} and rows["b4"]["bias_group_toxic"] is False
    assert rows["b4"]["bias_toxic_hits"] == 1
    assert rows["b3"]["bias_n_words"] == 5
    lex = load_lexicon()
    assert ctx.assets["bias_lexicon"]["sha256"] == lex.sha256 and ctx.assets["bias_lexicon"]["version"] == lex.version


def test_bias_aggregates_for_the_report(staged):
    out, _ = staged
    rep = bias_aggregates(out)
    o = rep["overall"]
    assert o["docs"] == 4
    assert o["axis_doc_rate"]["religion"] == pytest.approx(0.25)
    assert o["axis_doc_rate"]["nationality"] == pytest.approx(0.25)
    assert o["pronoun_male_share"] == pytest.approx(0.5)
    assert o["toxic_doc_rate"] == pytest.approx(0.5)
    assert o["group_toxic_doc_rate"] == pytest.approx(0.25)
    assert o["group_toxic_rate_among_identity_docs"] == pytest.approx(0.5)
    assert rep["by_source"]["web"]["docs"] == 2 and rep["by_lang"]["de"]["docs"] == 1
    assert rep["by_source_lang"]["books/en"]["toxic_doc_rate"] == pytest.approx(1.0)
