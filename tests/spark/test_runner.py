"""The runner on planted data: exact accounting, exact dedup, quarantine, determinism, atomic commit."""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import runner as runner_mod
from pipelines.runner import RunError, run_pipeline
from pipelines.text.ids import make_doc_id
from quality.report import write_report
from schemas.config import load_config


def _line(**kw) -> bytes:
    return json.dumps(kw).encode() + b"\n"


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("planted") / "web"
    root.mkdir()
    dup_text = "This exact paragraph appears three times in the corpus."
    (root / "a.jsonl").write_bytes(
        _line(id="a1", text="Alpha document one.", url="https://a.example/1", lang="en")
        + _line(id="a2", text=dup_text)
        + b'{"id": "broken", "text": \n'
        + _line(id="a3", text=dup_text)
        + _line(id="a1", text="Same id as the first record: a duplicate source id.")
        + _line(id="a4", text="Alpha document four.")
    )
    (root / "b.jsonl.gz").write_bytes(gzip.compress(
        _line(id="b1", text=dup_text) + b"[1, 2]\n" + _line(id="b2", text="Beta document two.")))
    pq.write_table(pa.table({"id": ["c1", "c2"], "text": ["Gamma one.", "Gamma two."]}), root / "c.parquet")
    body = b"Delta page text."
    (root / "d.warc").write_bytes(
        b"WARC/1.0\r\nWARC-Type: warcinfo\r\nContent-Length: 4\r\n\r\ninfo\r\n\r\n"
        b"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: http://d.example/\r\nWARC-Record-ID: <urn:uuid:d1>\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body + b"\r\n\r\n")
    return root


#: The runner's own behaviour is tested with ingest and exact dedup only; stages have their own tests.
CORE = [f"{s}.enabled=false"
        for s in ("language", "quality", "classify", "decontaminate", "near_dedup", "pii", "bias", "tokenize")]


def _cfg(*overrides):
    return load_config("demo", CORE + list(overrides))


def _read(out: Path, table: str):
    return pq.read_table(out / table).to_pylist()


def _file_hashes(out: Path) -> dict[str, str]:
    res = {}
    for table in ("curated", "rejected", "quarantine"):
        for f in sorted((out / table).glob("*.parquet")):
            res[f"{table}/{f.name}"] = hashlib.sha256(f.read_bytes()).hexdigest()
    return res


@pytest.fixture(scope="module")
def first_run(spark, planted, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "out"
    res = run_pipeline(_cfg(), [str(planted)], str(out), spark=spark, report_writer=write_report)
    return out, res.manifest


def test_layout_and_manifest(first_run, planted):
    out, m = first_run
    assert sorted(p.name for p in out.iterdir()) == ["curated", "ledger", "quarantine", "rejected", "report",
                                                     "run.json"]
    on_disk = json.loads((out / "run.json").read_text())
    assert on_disk["run_id"] == m.run_id and on_disk["config_sha256"] == _cfg().sha256()
    assert on_disk["config"]["ingest"]["text_field"] == "text"
    by_name = {Path(i["path"]).name: i for i in on_disk["inputs"]}
    assert set(by_name) == {"a.jsonl", "b.jsonl.gz", "c.parquet", "d.warc"}
    for name, info in by_name.items():
        data = (planted / name).read_bytes()
        assert info["sha256"] == hashlib.sha256(data).hexdigest() and info["bytes"] == len(data)
    assert on_disk["library_versions"]["pyspark"]
    assert not list(out.parent.glob(".out.*")), "no staging or old directories left behind"


def test_exact_accounting_per_file(first_run):
    out, m = first_run
    per = {Path(i.path).name: i for i in m.inputs}
    # a.jsonl: 6 records: a1, a2, a3(dup of a2's text), a1-again (duplicate id), a4, broken JSON
    assert (per["a.jsonl"].records, per["a.jsonl"].quarantined) == (6, 2)
    assert per["b.jsonl.gz"].records == 3 and per["b.jsonl.gz"].quarantined == 1
    assert per["c.parquet"].records == 2 and per["c.parquet"].curated == 2
    assert per["d.warc"].records == 1 and per["d.warc"].skipped == {"warc:warcinfo": 1}
    for i in m.inputs:
        assert i.records == i.curated + i.rejected + i.quarantined
    curated, rejected, quarantine = _read(out, "curated"), _read(out, "rejected"), _read(out, "quarantine")
    assert m.counts.curated == len(curated) and m.counts.rejected == len(rejected)
    assert m.counts.quarantined == len(quarantine) == 3
    assert m.counts.records == len(curated) + len(rejected) + len(quarantine) == 12


def test_quarantine_reasons(first_run):
    out, m = first_run
    reasons = sorted(q["reason"] for q in _read(out, "quarantine"))
    assert reasons.count("ingest:malformed_json") == 1
    assert reasons.count("ingest:not_an_object") == 1
    assert reasons.count("ingest:duplicate_source_id") == 1
    dup = [q for q in _read(out, "quarantine") if q["reason"] == "ingest:duplicate_source_id"][0]
    assert "a.jsonl@0" in dup["detail"], "names the record that was kept"


def test_exact_dedup_keeps_lowest_doc_id(first_run):
    out, m = first_run
    dup_ids = {make_doc_id("web", i) for i in ("a2", "a3", "b1")}
    survivor = min(dup_ids)
    curated = {r["doc_id"]: r for r in _read(out, "curated")}
    rejected = {r["doc_id"]: r for r in _read(out, "rejected")}
    assert survivor in curated and curated[survivor]["exact_dup_count"] == 3
    assert set(rejected) == dup_ids - {survivor}
    for r in rejected.values():
        assert r["drop_reason"] == "exact_dedup:duplicate" and r["exact_dup_of"] == survivor
    assert m.counts.rejected_by_reason == {"exact_dedup:duplicate": 2}


def test_curated_columns_and_provenance(first_run):
    out, _ = first_run
    rows = {r["source_id"]: r for r in _read(out, "curated")}
    a1 = rows["a1"]
    assert a1["doc_id"] == make_doc_id("web", "a1") and a1["source"] == "web"
    assert a1["url"] == "https://a.example/1" and a1["source_offset"] == 0
    assert dict(a1["metadata"]) == {"lang": "en"}
    assert a1["content_sha256"] == hashlib.sha256(b"Alpha document one.").hexdigest()
    assert rows["<urn:uuid:d1>"]["url"] == "http://d.example/"
    ids = [r["doc_id"] for r in _read(out, "curated")]
    assert ids == sorted(ids), "sorted by doc_id within the file"


def test_same_rows_and_bytes_whatever_the_input_order_and_partitions(spark, planted, first_run, tmp_path):
    out1, _ = first_run
    files = sorted(str(p) for p in planted.iterdir())
    out2 = tmp_path / "out2"
    run_pipeline(_cfg("spark.shuffle_partitions=7", "ingest.source=web"), list(reversed(files)), str(out2), spark=spark)
    assert _read(out1, "curated") == _read(out2, "curated")
    assert _file_hashes(out1) == _file_hashes(out2), "byte-identical Parquet files"
    spark.conf.set("spark.sql.shuffle.partitions", "4")


def test_tag_mode_keeps_everything(spark, planted, tmp_path):
    out = tmp_path / "tag"
    m = run_pipeline(_cfg("exact_dedup.mode=tag"), [str(planted)], str(out), spark=spark).manifest
    assert m.counts.rejected == 0 and m.counts.curated == 9
    tagged = [r for r in _read(out, "curated") if r["exact_dedup_reason"]]
    assert len(tagged) == 2 and all(r["exact_dedup_reason"] == "exact_dedup:duplicate" for r in tagged)


def test_failed_run_leaves_previous_output_untouched(spark, planted, tmp_path, monkeypatch):
    out = tmp_path / "keep"
    run_pipeline(_cfg(), [str(planted)], str(out), spark=spark)
    before = (out / "run.json").read_bytes(), _file_hashes(out)

    real = runner_mod.write_table

    def failing(df, path, *a, **kw):
        if path.name == "quarantine":
            raise RuntimeError("simulated crash while writing")
        return real(df, path, *a, **kw)

    monkeypatch.setattr(runner_mod, "write_table", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_pipeline(_cfg(), [str(planted)], str(out), spark=spark)
    assert ((out / "run.json").read_bytes(), _file_hashes(out)) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".keep")] == [], "staging removed"


def test_rerun_with_the_id_of_a_killed_run_replaces_its_leftover_staging(spark, planted, tmp_path):
    out = tmp_path / "again"
    leftover = tmp_path / ".again.tmp-fixed-id"
    (leftover / "_work" / "ingest").mkdir(parents=True)  # what a driver killed mid-run leaves behind
    (leftover / "_work" / "ingest" / "split-000000.parquet").write_bytes(b"half written")
    m = run_pipeline(_cfg(), [str(planted)], str(out), spark=spark, run_id="fixed-id").manifest
    assert m.run_id == "fixed-id" and m.counts.curated == 7
    assert not leftover.exists()


def test_refuses_to_replace_a_directory_that_is_not_a_run(spark, planted, tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="not a corpusforge run"):
        run_pipeline(_cfg(), [str(planted)], str(out), spark=spark)
    assert (out / "notes.txt").read_text() == "mine"


def test_missing_input_is_a_clear_error(spark, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_pipeline(_cfg(), [str(tmp_path / "nope")], str(tmp_path / "o"), spark=spark)


def test_takedown_requests_apply_at_ingest_and_reach_the_ledger(spark, planted, tmp_path):
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        json.dumps({"request_id": "r-1", "doc_id": make_doc_id("web", "a4")}) + "\n"
        + json.dumps({"request_id": "r-2", "domain": "a.example"}) + "\n")
    out = tmp_path / "td"
    m = run_pipeline(_cfg(), [str(planted)], str(out), spark=spark, takedown_requests=str(requests)).manifest
    rejected = {r["source_id"]: r for r in _read(out, "rejected")}
    assert rejected["a4"]["drop_reason"].startswith("takedown:") and rejected["a4"]["text"] is None
    assert rejected["a1"]["drop_reason"].startswith("takedown:") and rejected["a1"]["text"] is None
    assert {r["source_id"] for r in _read(out, "curated")}.isdisjoint({"a1", "a4"})
    assert sum(v for k, v in m.counts.rejected_by_reason.items() if k.startswith("takedown:")) == 2
    ledger = pq.read_table(out / "ledger" / "removals").to_pylist()
    erased = [r for r in ledger if str(r.get("stage")) == "takedown"]
    assert {r["doc_id"] for r in erased} == {make_doc_id("web", "a1"), make_doc_id("web", "a4")}
    assert all("text" not in r for r in ledger), "the ledger holds no text"


def test_same_relative_path_under_one_source_is_warned_and_quarantined_not_lost(spark, tmp_path, caplog):
    """Two --input directories with the same file name and ingest.source set: positional ids clash."""
    for d in ("day1", "day2"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "part.jsonl").write_bytes(_line(text=f"A document of {d} without an id."))
    out = tmp_path / "out"
    with caplog.at_level("WARNING", logger="pipelines.runner"):
        res = run_pipeline(_cfg("ingest.source=web"), [str(tmp_path / "day1"), str(tmp_path / "day2")], str(out),
                           spark=spark)
    assert any("share source and relative path" in r.getMessage() for r in caplog.records)
    c = res.manifest.counts
    assert (c.records, c.curated, c.quarantined) == (2, 1, 1)
    assert c.quarantined_by_reason == {"ingest:duplicate_source_id": 1}


def test_clean_input_gets_an_empty_quarantine_table_with_its_schema(spark, tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "a.jsonl").write_bytes(_line(id="x1", text="Clean one.") + _line(id="x2", text="Clean two."))
    out = tmp_path / "out"
    res = run_pipeline(_cfg(), [str(tmp_path / "web")], str(out), spark=spark)
    assert res.manifest.counts.quarantined == 0 and res.manifest.outputs["quarantine"]["files"] == 1
    q = pq.read_table(out / "quarantine")
    assert q.num_rows == 0
    assert q.column_names == ["source", "source_file", "source_offset", "offset_unit", "reason", "detail",
                              "raw_sha256", "raw_bytes", "raw_prefix"]
    assert spark.read.parquet(str(out / "quarantine")).count() == 0
