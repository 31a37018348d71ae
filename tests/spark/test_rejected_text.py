"""``output.rejected_text``: what rejected/ keeps of removed documents, in every mode, with takedowns working.

Planted: prose documents that are kept, short pages full of fake personal data that quality drops (before
the pii stage), an exact duplicate of a prose page carrying the same data (dropped by exact dedup), with
the data also in the URL's query and in a metadata field.
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from pipelines.minimise import RAW_WARNING, minimise_rejected, rejected_text_policy
from pipelines.runner import run_pipeline
from pipelines.store import DatasetStore, read_jsonl
from pipelines.takedown import apply_takedowns
from pipelines.text.ids import content_sha256
from pipelines.text.normalize import normalize_text
from quality.report import write_report
from schemas.config import load_config

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "pipelines" / "assets" / "demo" / "part-00000.jsonl"

EMAIL = "ottoline.brack.canary@example-mail.org"
CARD = "4539 1488 0343 6467"
PHONE = "(212) 555-0187"
SECRETS = (EMAIL, CARD, CARD.replace(" ", ""), PHONE)

#: ingest, exact dedup, quality, pii (patterns only: no model to load); nothing else.
BASE = [f"{s}.enabled=false" for s in ("language", "classify", "decontaminate", "near_dedup", "bias", "tokenize")] + [
    "pii.ner=false", "pii.max_density=null", "spark.shuffle_partitions=2"]


def _prose(n: int) -> list[str]:
    out = []
    for line in DEMO.read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"]
        if text.startswith(("The ", "A ", "In ", "Our ", "This ", "We ")) and len(text) > 1500:
            out.append(text)
        if len(out) == n:
            return out
    raise AssertionError("the demo corpus has too few prose documents")


def _pii_sentence(i: int) -> str:
    return f"Write to {EMAIL} or call {PHONE} (order {i}); the card on file is {CARD}."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("rejected-text") / "raw"
    d.mkdir()
    prose = _prose(3)
    recs = [{"id": f"p{i}", "text": t, "url": f"https://news.example/{i}"} for i, t in enumerate(prose)]
    dup = prose[0].replace("\n\n", f"\n\n{_pii_sentence(0)}\n\n", 1)
    recs.append({"id": "dup-a", "text": dup, "url": "https://news.example/dup-a"})
    recs.append({"id": "dup-b", "text": dup, "url": "https://news.example/dup-b"})
    for i in range(3):  # short pages: quality:gopher_short_doc, long before the pii stage
        recs.append({"id": f"junk{i}", "text": _pii_sentence(i), "contact": f"mail {EMAIL} now",
                     "url": f"https://shop.example/order?mail={EMAIL}&n={i}"})
    (d / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return d


def _run(spark, corpus, out, *overrides, report=False, takedowns=None):
    cfg = load_config("demo", BASE + list(overrides))
    return run_pipeline(cfg, [str(corpus)], str(out), spark=spark, report_writer=write_report if report else None,
                        takedown_requests=takedowns)


def _rejected(out: Path) -> list[dict]:
    return pq.read_table(out / "rejected").to_pylist()


def _blob(rows) -> str:
    return json.dumps(rows, default=str)


def _secrets_in(blob: str) -> list[str]:
    return [s for s in SECRETS if s in blob]


def _check_hashes_and_ledger(out: Path, rows: list[dict], corpus: Path) -> None:
    """Lengths and content hashes are those of the text as ingested, and the ledger lists every row."""
    texts = {json.loads(x)["id"]: json.loads(x)["text"]
             for x in (corpus / "part.jsonl").read_text(encoding="utf-8").splitlines()}
    for r in rows:
        original = normalize_text(texts[r["source_id"]])
        assert r["content_sha256"] == content_sha256(original)
        assert r["n_chars"] == len(original)
    ledger = pq.read_table(out / "ledger" / "removals").to_pylist()
    assert sorted(x["doc_id"] for x in ledger) == sorted(r["doc_id"] for r in rows)
    assert not _secrets_in(_blob(ledger) + (out / "ledger" / "summary.json").read_text())


def test_scrubbed_is_the_default_and_scrubs_text_url_and_metadata(spark, corpus, tmp_path):
    out = tmp_path / "out"
    res = _run(spark, corpus, out, report=True)
    assert res.manifest.config["output"]["rejected_text"] == "scrubbed"
    info = res.manifest.stage_info["rejected_text"]
    assert info["mode"] == "scrubbed" and info["raw_text_kept"] is False and info["ner"] is False
    assert "EMAIL_ADDRESS" in info["entities"] and info["fields"] == ["url", "metadata"]
    rows = _rejected(out)
    reasons = sorted(r["drop_reason"] for r in rows)
    assert reasons == ["exact_dedup:duplicate"] + ["quality:gopher_short_doc"] * 3
    assert not _secrets_in(_blob(rows)), "rejected/ keeps personal data in the default mode"
    for r in rows:
        assert "<EMAIL_ADDRESS>" in r["text"] and "<CREDIT_CARD>" in r["text"]
    junk = [r for r in rows if r["source_id"].startswith("junk")]
    assert all(r["url"].startswith("https://shop.example/order?") for r in junk)  # scheme and host kept
    assert all(dict(r["metadata"])["contact"] == "mail <EMAIL_ADDRESS> now" for r in junk)
    _check_hashes_and_ledger(out, rows, corpus)
    # curated text went through the pii stage once, as before
    curated = pq.read_table(out / "curated").to_pylist()
    assert len(curated) == 4 and not _secrets_in(_blob(curated))
    report = (out / "report" / "report.json").read_text() + (out / "report" / "report.html").read_text()
    assert not _secrets_in(report) and RAW_WARNING not in report


def test_scrubbed_without_the_pii_stage(spark, corpus, tmp_path):
    out = tmp_path / "out"
    res = _run(spark, corpus, out, "pii.enabled=false")
    assert res.manifest.stage_info["rejected_text"]["scrubbed_by_pii_stage"] is None
    rows = _rejected(out)
    assert len(rows) == 4 and not _secrets_in(_blob(rows))
    assert all("<EMAIL_ADDRESS>" in r["text"] for r in rows)
    # without the pii stage the kept documents are not scrubbed (that is the pii stage's job): the
    # rejected rows are, so the difference proves the rejected rows were processed
    dup_kept = [r for r in pq.read_table(out / "curated").to_pylist() if r["source_id"].startswith("dup-")]
    assert dup_kept and EMAIL in dup_kept[0]["text"]


def test_rows_the_pii_stage_rejected_are_not_scrubbed_twice(spark, corpus, tmp_path):
    out = tmp_path / "out"
    # quality off and a tiny density budget: the pii stage itself rejects the short pages
    res = _run(spark, corpus, out, "quality.enabled=false", "pii.max_density=0.05", "pii.density_min_chars=0",
               "pii.operator=mask")
    rows = _rejected(out)
    by_reason = {}
    for r in rows:
        by_reason.setdefault(r["drop_reason"], []).append(r)
    assert len(by_reason["pii:too_much_pii"]) == 3 and len(by_reason["exact_dedup:duplicate"]) == 1
    for r in by_reason["pii:too_much_pii"]:
        assert r["pii_counts"] and "*" * len(EMAIL) in r["text"]  # scrubbed by the stage (mask operator)
    dup = by_reason["exact_dedup:duplicate"][0]
    assert dup["pii_counts"] is None and "*" * len(EMAIL) in dup["text"]  # scrubbed here, same operator
    assert not _secrets_in(_blob(rows))
    assert res.manifest.stage_info["rejected_text"]["scrubbed_by_pii_stage"]


def test_rejects_after_pii_skip_the_scrubber_and_before_pii_go_through_it(spark, corpus):
    df = spark.read.json(str(corpus)).withColumn("drop_reason", F.lit("quality:x"))
    policy = rejected_text_policy(load_config("demo"))
    assert minimise_rejected(df, policy, scrubbed_by_pii=True) is df
    assert "MapInArrow" in minimise_rejected(df, policy, scrubbed_by_pii=False)._jdf.queryExecution().toString()
    none = rejected_text_policy(load_config("demo", ["output.rejected_text=none"]))
    plan = minimise_rejected(df, none, scrubbed_by_pii=True)._jdf.queryExecution().toString()
    assert "MapInArrow" not in plan
    assert minimise_rejected(df, rejected_text_policy(load_config("demo", ["output.rejected_text=raw"])),
                             scrubbed_by_pii=False) is df


def test_none_keeps_signals_lengths_and_hashes_only(spark, corpus, tmp_path):
    out = tmp_path / "out"
    res = _run(spark, corpus, out, "output.rejected_text=none", report=True)
    assert res.manifest.stage_info["rejected_text"]["mode"] == "none"
    rows = _rejected(out)
    assert len(rows) == 4 and all(r["text"] is None for r in rows)
    assert all(r["n_chars"] > 0 and r["q_words"] is not None for r in rows if r["drop_reason"].startswith("quality"))
    assert not _secrets_in(_blob(rows))
    _check_hashes_and_ledger(out, rows, corpus)
    report = json.loads((out / "report" / "report.json").read_text())
    assert report  # the report is written from a text-less rejected/
    assert not _secrets_in(json.dumps(report))


def test_raw_is_explicit_and_stated(spark, corpus, tmp_path):
    out = tmp_path / "out"
    res = _run(spark, corpus, out, "output.rejected_text=raw", report=True)
    info = res.manifest.stage_info["rejected_text"]
    assert info["raw_text_kept"] is True and info["warning"] == RAW_WARNING
    rows = _rejected(out)
    assert EMAIL in _blob(rows) and CARD in _blob(rows)  # raw: the data is there, as chosen
    _check_hashes_and_ledger(out, rows, corpus)
    assert RAW_WARNING in (out / "report" / "report.html").read_text()
    assert RAW_WARNING in (out / "report" / "report.json").read_text()
    assert EMAIL not in (out / "report" / "report.html").read_text()


def test_takedown_of_a_rejected_document_in_scrubbed_mode(spark, corpus, tmp_path):
    store = DatasetStore(tmp_path / "store")
    run_id = "run-rejected-text"
    out = store.runs_dir / run_id
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(spark, corpus, out)
    rows = _rejected(out)
    victim = next(r for r in rows if r["source_id"] == "junk1")
    other = next(r for r in rows if r["source_id"] == "junk2")
    # the requester knows the text they published, not what rejected/ holds: hash of the original
    sha = content_sha256(normalize_text(_pii_sentence(1)))
    assert victim["text"] != _pii_sentence(1) and victim["content_sha256"] == sha
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps({"request_id": "erase-1", "content_sha256": sha}) + "\n"
                        + json.dumps({"request_id": "erase-2", "doc_id": other["doc_id"]}) + "\n")
    apply_takedowns(spark, store, requests)
    left = {r["doc_id"] for r in _rejected(out)}
    assert victim["doc_id"] not in left and other["doc_id"] not in left and len(left) == len(rows) - 2
    ledger = {r["request_id"]: r for r in read_jsonl(store.ledger_dir / "takedowns.jsonl")}
    assert ledger["erase-1"]["matched_doc_ids"] == [victim["doc_id"]]
    assert ledger["erase-2"]["matched_doc_ids"] == [other["doc_id"]]
    # and a future run rejects it at ingest, with the text erased, url and metadata scrubbed
    out2 = tmp_path / "out2"
    _run(spark, corpus, out2, takedowns=str(requests))
    erased = [r for r in _rejected(out2) if r["drop_reason"].startswith("takedown:")]
    assert sorted(r["source_id"] for r in erased) == ["junk1", "junk2"]
    assert all(r["text"] is None for r in erased) and not _secrets_in(_blob(erased))


def test_minimise_batch_touches_only_the_selected_rows():
    """Pure Arrow (what each task runs): selected rows scrubbed, others unchanged, erased text stays null."""
    import pyarrow as pa

    from pipelines.minimise import _Scrubbers, minimise_batch

    meta_type = pa.map_(pa.string(), pa.string())
    batch = pa.RecordBatch.from_pydict({
        "text": [_pii_sentence(0), _pii_sentence(1), None],
        "url": [f"https://a.example/x?m={EMAIL}"] * 3,
        "metadata": pa.array([[("contact", EMAIL)]] * 3, type=meta_type),
        "n_chars": [1, 2, 3],
    })
    for mode in ("scrubbed", "none"):
        policy = rejected_text_policy(load_config("demo", [f"output.rejected_text={mode}"]))
        out = minimise_batch(policy, _Scrubbers(policy), batch, [True, False, True]).to_pylist()
        assert out[1] == batch.to_pylist()[1]  # not selected: unchanged
        assert out[2]["text"] is None and out[0]["n_chars"] == 1
        assert not _secrets_in(_blob([out[0], out[2]]))
        assert out[0]["url"].startswith("https://a.example/x?")
        assert out[2]["metadata"] == [("contact", "<EMAIL_ADDRESS>")]
        assert (out[0]["text"] is None) == (mode == "none")
        if mode == "scrubbed":
            assert "<EMAIL_ADDRESS>" in out[0]["text"] and "<CREDIT_CARD>" in out[0]["text"]


def test_ner_on_rejected_text_is_opt_in_and_checked_on_the_driver():
    import pyarrow as pa

    from pipelines.minimise import _Scrubbers, minimise_batch
    from pipelines.stages.base import StageConfigError

    assert rejected_text_policy(load_config("demo")).ner is False  # patterns only by default
    with pytest.raises(StageConfigError, match="rejected_text_ner"):
        rejected_text_policy(load_config("demo", ["output.rejected_text_ner=true", "pii.spacy_model=no_such_model"]))
    policy = rejected_text_policy(load_config("demo", ["output.rejected_text_ner=true"]))
    assert policy.ner and policy.info(False)["text"] == "pattern recognizers and NER"
    batch = pa.RecordBatch.from_pydict({"text": ["Yesterday Rupert Quillsby wrote to " + EMAIL + " about the order."]})
    text = minimise_batch(policy, _Scrubbers(policy), batch).column(0)[0].as_py()
    assert "Quillsby" not in text and EMAIL not in text and "<PERSON>" in text
