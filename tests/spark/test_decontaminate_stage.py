"""The decontaminate stage on Spark: exact and Bloom modes, drop and tag, reasons, columns, run.json, report."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.runner import run_pipeline
from pipelines.stages.base import RunContext, StageConfigError
from pipelines.stages.decontaminate import PUBLIC_COLUMNS, DecontaminateStage
from quality.report import write_report
from schemas.config import load_config, validate_config
from tests.unit.test_decontam import filler, problem

Q1, A1 = problem("Natalia", 48, 24, "clips", "April", "May")
Q2, A2 = problem("Tom", 17, 5, "marbles", "June", "July")
Q1_SIBLING, A1_SIBLING = problem("Natalia", 31, 12, "clips", "August", "September")
TRIVIA = "Which planet in the solar system is the largest?"  # 9 tokens: a short item
ZH = "中华人民共和国的首都是北京，它也是全国的政治和文化中心。"


@pytest.fixture(scope="module")
def eval_files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    gsm = root / "gsm.jsonl"
    gsm.write_text("\n".join(json.dumps({"id": f"gsm-{i}", "question": q, "answer": a})
                             for i, (q, a) in enumerate([(Q1, A1), (Q2, A2)])) + "\n{broken\n", encoding="utf-8")
    trivia = root / "trivia.txt"
    trivia.write_text(f"{TRIVIA}\n{ZH}\nParis\n", encoding="utf-8")
    return {"gsm": gsm, "trivia": trivia}


DOCS = [
    ("d-qa", "web", f"{filler(1, 800)} {Q1} {A1} {filler(2, 800)}"),
    ("d-q", "web", f"{filler(3, 800)}\n{Q2}\n{filler(4, 800)}"),
    ("d-sibling", "web", f"{filler(5, 800)} {Q1_SIBLING} {A1_SIBLING} {filler(6, 800)}"),
    ("d-trivia", "books", f"{filler(7, 300)} which planet in the Solar System is the largest {filler(8, 300)}"),
    ("d-zh", "books", "今天我们学习地理。" + ZH + "下课后大家去吃饭。"),
    ("d-both", "books", f"{TRIVIA} {Q1}"),
    ("d-clean", "web", filler(9, 2000)),
]


def _section(eval_files, **kw):
    sets = [{"name": "gsm", "path": str(eval_files["gsm"]), "fields": ["question", "answer"], "id_field": "id"},
            {"name": "trivia", "path": str(eval_files["trivia"])}]
    return validate_config({"decontaminate": {"enabled": True, "sets": sets, **kw}})


def _run_stage(spark, tmp_path, cfg):
    ctx = RunContext(spark=spark, config=cfg, run_id="t", staging_dir=tmp_path / "o", work_dir=tmp_path / "w",
                     num_partitions=2)
    stage = DecontaminateStage(cfg.decontaminate, ctx)
    stage.ensure_prepared()
    df = spark.createDataFrame(DOCS, "doc_id string, source string, text string").repartition(3)
    out = stage.apply(df)
    return {r["doc_id"]: r.asDict() for r in out.collect()}, out.columns, ctx


@pytest.mark.parametrize("bloom", [False, True], ids=["exact", "bloom"])
def test_stage_flags_planted_items_with_reasons_and_item_ids(spark, tmp_path, eval_files, bloom):
    cfg = _section(eval_files, **({"bloom_above_ngrams": 0, "bloom_fpr": 0.01} if bloom else {}))
    rows, columns, ctx = _run_stage(spark, tmp_path, cfg)
    assert columns[-len(PUBLIC_COLUMNS):] == list(PUBLIC_COLUMNS)  # internal Bloom columns never leak out
    assert columns[:3] == ["doc_id", "source", "text"]
    assert rows["d-qa"]["decontaminate_reason"] == "decontaminate:gsm"
    assert rows["d-qa"]["decontam_items"] == ["gsm:gsm-0"] and rows["d-qa"]["decontam_sets"] == ["gsm"]
    assert rows["d-qa"]["decontam_ngrams"] > rows["d-q"]["decontam_ngrams"] > 0
    assert rows["d-q"]["decontaminate_reason"] == "decontaminate:gsm" and rows["d-q"]["decontam_items"] == ["gsm:gsm-1"]
    assert rows["d-trivia"]["decontaminate_reason"] == "decontaminate:trivia"
    assert rows["d-trivia"]["decontam_items"] == ["trivia:trivia.txt:1"]
    assert rows["d-zh"]["decontaminate_reason"] == "decontaminate:trivia"
    assert rows["d-zh"]["decontam_items"] == ["trivia:trivia.txt:2"]
    # first set in config order names the reason; both sets and items are listed
    assert rows["d-both"]["decontaminate_reason"] == "decontaminate:gsm"
    assert rows["d-both"]["decontam_sets"] == ["gsm", "trivia"]
    for clean in ("d-sibling", "d-clean"):
        assert rows[clean]["decontaminate_reason"] is None
        assert rows[clean]["decontam_ngrams"] == 0 and rows[clean]["decontam_items"] == []
    info = ctx.stage_info["decontaminate"]
    assert info["index"]["kind"] == ("bloom" if bloom else "exact")
    sets = {s["name"]: s for s in info["sets"]}
    assert sets["gsm"]["sha256"] == hashlib.sha256(eval_files["gsm"].read_bytes()).hexdigest()
    assert sets["gsm"]["skipped_records"] == {"malformed_json": 1} and sets["gsm"]["items"] == 2
    assert sets["trivia"]["short_items_matched_whole"] == 1 and sets["trivia"]["short_items_skipped"] == 1
    assert ctx.assets["decontaminate:trivia"]["sha256"] == hashlib.sha256(eval_files["trivia"].read_bytes()).hexdigest()


def test_missing_or_empty_set_fails_before_data_moves(spark, tmp_path, eval_files):
    cfg = validate_config({"decontaminate": {"enabled": True, "sets": [
        {"name": "gone", "path": str(tmp_path / "nope.jsonl"), "fields": ["q"]}]}})
    ctx = RunContext(spark=spark, config=cfg, run_id="t", staging_dir=tmp_path / "o", work_dir=tmp_path / "w",
                     num_partitions=2)
    with pytest.raises(StageConfigError, match="'gone'.*does not exist"):
        DecontaminateStage(cfg.decontaminate, ctx).ensure_prepared()
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    cfg = validate_config({"decontaminate": {"enabled": True, "sets": [{"name": "e", "path": str(empty)}]}})
    with pytest.raises(StageConfigError, match="no usable item"):
        DecontaminateStage(cfg.decontaminate, ctx).ensure_prepared()


CORE_OFF = [f"{s}.enabled=false" for s in ("language", "quality", "classify", "near_dedup", "pii", "bias",
                                             "tokenize")]


@pytest.mark.parametrize("mode", ["drop", "tag"])
def test_pipeline_run_json_and_report_section(spark, tmp_path, eval_files, mode):
    src = tmp_path / "in" / "web"
    src.mkdir(parents=True)
    (src / "docs.jsonl").write_text("\n".join(json.dumps({"id": d, "text": t}) for d, _, t in DOCS) + "\n",
                                    encoding="utf-8")
    sets = (f"[{{name: gsm, path: '{eval_files['gsm']}', fields: [question, answer], id_field: id}}, "
            f"{{name: trivia, path: '{eval_files['trivia']}'}}]")
    cfg = load_config("demo", CORE_OFF + ["decontaminate.enabled=true", f"decontaminate.mode={mode}",
                                          f"decontaminate.sets={sets}"])
    out = tmp_path / "out"
    m = run_pipeline(cfg, [str(src)], str(out), spark=spark, report_writer=write_report).manifest
    run = json.loads((out / "run.json").read_text())
    sets_info = {s["name"]: s for s in run["stage_info"]["decontaminate"]["sets"]}
    assert sets_info["gsm"]["sha256"] == hashlib.sha256(eval_files["gsm"].read_bytes()).hexdigest()
    assert sets_info["trivia"]["sha256"] == hashlib.sha256(eval_files["trivia"].read_bytes()).hexdigest()
    assert run["assets"]["decontaminate:gsm"]["sha256"] == sets_info["gsm"]["sha256"]
    curated = {r["source_id"]: r for r in pq.read_table(out / "curated").to_pylist()}
    rejected = {r["source_id"]: r for r in pq.read_table(out / "rejected").to_pylist()}
    flagged = {"d-qa", "d-q", "d-trivia", "d-zh", "d-both"}
    if mode == "drop":
        assert set(rejected) == flagged and set(curated) == {"d-sibling", "d-clean"}
        assert rejected["d-zh"]["drop_reason"] == "decontaminate:trivia"
        assert m.counts.rejected == 5
    else:
        assert not rejected and set(curated) == {d for d, _, _ in DOCS}
        assert curated["d-qa"]["decontaminate_reason"] == "decontaminate:gsm"
    report = json.loads((out / "report" / "report.json").read_text())
    c = report["contamination"]
    assert c["mode"] == mode and c["docs_scanned"] == 7 and c["docs_matched"] == 5 and c["ngram"] == 13
    by = {s["name"]: s for s in c["sets"]}
    assert by["gsm"]["docs_matched"] == 3 and by["gsm"]["items_matched"] == 2 and by["gsm"]["items_matched_share"] == 1
    assert by["trivia"]["docs_matched"] == 3 and by["trivia"]["items"] == 3 and by["trivia"]["items_matched"] == 2
    assert by["gsm"]["docs_removed"] == (3 if mode == "drop" else 0)
    assert by["trivia"]["docs_removed"] == (2 if mode == "drop" else 0)  # d-both's reason names gsm
    for name in ("gsm", "trivia"):  # one source here (the input folder's name)
        assert {k: v["docs_matched"] for k, v in by[name]["by_source"].items()} == {"web": 3}
        assert by[name]["by_source"]["web"]["items_matched"] == 2
    html = (out / "report" / "report.html").read_text()
    assert 'id="contamination"' in html and sets_info["gsm"]["sha256"] in html
