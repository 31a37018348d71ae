"""The pii stage on Spark: scrubbed text, URL and metadata, counts, reasons, assets, determinism, and a
stage-level canary (no planted value anywhere in the written output or the driver's logs)."""
from __future__ import annotations

import json
import logging
from urllib.parse import unquote

import pytest

from pipelines.stages.base import RunContext, StageConfigError
from pipelines.stages.pii import PiiStage
from schemas.config import validate_config

EMAIL = "canary.vexworth@example.org"
PHONE = "+44 20 7946 0958"
CARD = "4111-1111-1111-1111"
PERSON = "Harriet Vexworth"
PLANTED = [EMAIL, PHONE, CARD, PERSON, "7946 0958", "vexworth"]


def _docs():
    return [
        ("d1", "web", f"Please contact {PERSON} at {EMAIL} for details about the garden club."),
        ("d2", "web", f"Call {PHONE} about the refund; the card {CARD} was charged twice last month."),
        ("d3", "books", "A quiet chapter about gardens, rivers and the slow turning of the seasons."),
        ("d4", "books", "a-" * 8192 + "@"),
        ("d5", "web", " ".join(f"x{i}.vexworth@example.org" for i in range(25))),
    ]


#: URLs and metadata by document: personal data in a path, a query, an opaque URL and JSON metadata.
URLS = {
    "d1": "https://club.example.org/members/canary.vexworth%40example.org/?call=%2B44%2020%207946%200958&ref=news",
    "d2": f"mailto:{EMAIL}?subject=refund",
    "d3": "https://books.example.com/chapter/3?lang=en#top",
}
METADATA = {
    "d1": {"contact": json.dumps({"emails": [EMAIL], "card": CARD, "year": 2021}), "note": f"call {PHONE}"},
    "d3": {"genre": "gardening"},
}


def _df(spark, partitions=2):
    rows = [
        (i, s, f"{s}-{i}", "in.jsonl", n, URLS.get(i), t, METADATA.get(i)) for n, (i, s, t) in enumerate(_docs())
    ]
    cols = (
        "doc_id string, source string, source_id string, source_file string, source_offset long, url string, "
        "text string, metadata map<string,string>"
    )
    return spark.createDataFrame(rows, cols).repartition(partitions)


def _ctx(spark, tmp_path, overrides):
    cfg = validate_config({"pii": {"enabled": True, **overrides}})
    ctx = RunContext(
        spark=spark, config=cfg, run_id="t", staging_dir=tmp_path / "out", work_dir=tmp_path / "work", num_partitions=2
    )
    return cfg, ctx


def _run(spark, tmp_path, partitions=2, **overrides):
    overrides.setdefault("time_budget_s", 0.5)
    overrides.setdefault("time_budget_s_per_mb", 0.0)
    cfg, ctx = _ctx(spark, tmp_path, overrides)
    stage = PiiStage(cfg.pii, ctx)
    stage.ensure_prepared()
    out = stage.apply(_df(spark, partitions))
    return out, ctx


def test_stage_scrubs_counts_and_marks(spark, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    out, ctx = _run(spark, tmp_path)
    rows = {r["doc_id"]: r.asDict() for r in out.collect()}
    assert sorted(rows) == ["d1", "d2", "d3", "d4", "d5"]  # same rows, none lost
    assert {"pii_counts", "pii_residual_counts", "pii_density", "pii_reason"} <= set(out.columns)
    assert rows["d1"]["pii_counts"] == {"EMAIL_ADDRESS": 1, "PERSON": 1} and rows["d1"]["pii_reason"] is None
    assert "<PERSON>" in rows["d1"]["text"] and "<EMAIL_ADDRESS>" in rows["d1"]["text"]
    assert rows["d2"]["pii_counts"] == {"CREDIT_CARD": 1, "PHONE_NUMBER": 1}
    assert rows["d3"]["pii_counts"] == {} and rows["d3"]["text"] == _docs()[2][2]
    assert rows["d4"]["pii_reason"] == "pii:error" and rows["d4"]["text"] == ""
    assert rows["d5"]["pii_reason"] == "pii:too_much_pii" and rows["d5"]["pii_counts"] == {"EMAIL_ADDRESS": 25}
    assert all(r["pii_residual_counts"] == {} for r in rows.values())
    # The fields besides the text: scrubbed in place, host kept, counted on their own.
    assert rows["d1"]["url"] == (
        "https://club.example.org/members/%3CEMAIL_ADDRESS%3E/?call=%3CPHONE_NUMBER%3E&ref=news"
    )
    assert rows["d2"]["url"] == "mailto:%3CEMAIL_ADDRESS%3E?subject=refund"
    assert rows["d3"]["url"] == URLS["d3"] and rows["d3"]["metadata"] == METADATA["d3"]
    contact = json.loads(rows["d1"]["metadata"]["contact"])
    assert contact == {"emails": ["<EMAIL_ADDRESS>"], "card": "<CREDIT_CARD>", "year": 2021}
    assert rows["d1"]["metadata"]["note"] == "call <PHONE_NUMBER>"
    assert rows["d1"]["pii_field_counts"] == {"url": 2, "metadata": 3}
    assert rows["d3"]["pii_field_counts"] == {"url": 0, "metadata": 0}
    assert rows["d4"]["pii_field_counts"] == {"url": 0, "metadata": 0}
    assert rows["d1"]["pii_counts"] == {"EMAIL_ADDRESS": 1, "PERSON": 1}  # the text only
    assert ctx.stage_info["pii"]["fields"] == ["text", "url", "metadata"]
    # Assets and facts for run.json.
    assert len(ctx.assets["pii_spacy_model"]["sha256"]) == 64
    assert len(ctx.assets["pii_public_suffix_list"]["sha256"]) == 64
    assert ctx.stage_info["pii"]["operator"] == "replace" and ctx.stage_info["pii"]["ner"] is True

    # Canary at stage level: write what the runner would write and search every byte of it, and the logs.
    out.write.parquet(str(tmp_path / "curated"))
    blob = b"".join(p.read_bytes() for p in (tmp_path / "curated").rglob("*") if p.is_file())
    import pyarrow.parquet as pq

    table_text = str(pq.read_table(str(tmp_path / "curated")).to_pylist())
    for v in PLANTED:
        assert (v.encode() in blob) is False
        assert (v in table_text) is False
        assert (v in unquote(table_text)) is False  # nor percent-encoded in a URL
        assert (v in caplog.text) is False


def test_fields_text_only_leaves_url_and_metadata_as_they_came(spark, tmp_path):
    out, ctx = _run(spark, tmp_path, ner=False, fields=["text"])
    rows = {r["doc_id"]: r.asDict() for r in out.collect()}
    assert {i: r["url"] for i, r in rows.items() if r["url"]} == URLS
    assert {i: r["metadata"] for i, r in rows.items() if r["metadata"]} == METADATA
    assert all(r["pii_field_counts"] is None for r in rows.values())
    assert "<EMAIL_ADDRESS>" in rows["d1"]["text"]  # the text is scrubbed all the same
    assert ctx.stage_info["pii"]["fields"] == ["text"]


def test_pattern_only_and_deterministic_across_partitions(spark, tmp_path):
    a, _ = _run(spark, tmp_path / "a", partitions=1, ner=False)
    b, _ = _run(spark, tmp_path / "b", partitions=3, ner=False)
    ra = sorted((r["doc_id"], r["text"], str(sorted(r["pii_counts"].items())), r["pii_reason"]) for r in a.collect())
    rb = sorted((r["doc_id"], r["text"], str(sorted(r["pii_counts"].items())), r["pii_reason"]) for r in b.collect())
    assert ra == rb
    d1 = [x for x in ra if x[0] == "d1"][0]
    assert "PERSON" not in d1[2] and "EMAIL_ADDRESS" in d1[2]  # ner: false leaves names


def test_pseudonyms_on_spark_and_key_required(spark, tmp_path, monkeypatch):
    monkeypatch.delenv("CORPUSFORGE_PII_SECRET", raising=False)
    cfg, ctx = _ctx(spark, tmp_path, {"operator": "pseudonymize", "ner": False})
    with pytest.raises(StageConfigError) as err:
        PiiStage(cfg.pii, ctx).prepare()
    assert "CORPUSFORGE_PII_SECRET" in str(err.value)
    monkeypatch.setenv("CORPUSFORGE_PII_SECRET", "spark-test-secret")
    out, _ = _run(spark, tmp_path, operator="pseudonymize", ner=False)
    from pipelines.text.pii import pseudonym

    d1 = [r for r in out.collect() if r["doc_id"] == "d1"][0]
    assert pseudonym(b"spark-test-secret", "EMAIL_ADDRESS", EMAIL) in d1["text"]
    assert (EMAIL in d1["text"]) is False
