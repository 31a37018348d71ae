"""The report on a hand-planted run directory: every count is the one the plant implies.

The run directory is written here directly (run.json, curated/, rejected/, quarantine/, shards/) with the
columns every stage writes, including near dedup, PII and bias, so that the figures of all of them are
checked against numbers worked out by hand from the plant (see the docstring of ``_plant``).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs import cmd_report
from quality.report import write_report
from schemas.columns import DROP_REASON
from schemas.config import STAGE_SECTIONS, load_config
from schemas.config.gates import GatesSection
from schemas.manifest import Counts, InputFileRecord, RunManifest
from schemas.report import Report
from storage.shards import ShardEntry, ShardIndex

MAP = pa.map_(pa.string(), pa.int64())
SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("source", pa.string()), ("source_id", pa.string()), ("source_file", pa.string()),
    ("source_offset", pa.int64()), ("url", pa.string()), ("text", pa.string()),
    ("metadata", pa.map_(pa.string(), pa.string())), ("content_sha256", pa.string()), ("n_chars", pa.int64()),
    ("n_bytes", pa.int64()), ("truncated", pa.bool_()),
    ("exact_dup_count", pa.int32()), ("exact_dup_of", pa.string()), ("exact_dedup_reason", pa.string()),
    ("lang", pa.string()), ("lang_score", pa.float64()), ("language_reason", pa.string()),
    ("q_words", pa.int64()), ("q_symbol_ratio", pa.float64()), ("quality_reason", pa.string()),
    ("dup_cluster_id", pa.string()), ("dup_cluster_size", pa.int32()), ("dup_giant_cluster", pa.bool_()),
    ("near_dedup_reason", pa.string()),
    ("pii_counts", MAP), ("pii_residual_counts", MAP), ("pii_density", pa.float64()), ("pii_reason", pa.string()),
    ("bias_identity_counts", MAP), ("bias_pronoun_counts", MAP), ("bias_toxic_hits", pa.int64()),
    ("bias_group_toxic", pa.bool_()), ("bias_n_words", pa.int64()), ("bias_flags", pa.list_(pa.string())),
    ("bias_reason", pa.string()),
])
QSCHEMA = pa.schema([
    ("source", pa.string()), ("source_file", pa.string()), ("source_offset", pa.int64()), ("offset_unit", pa.string()),
    ("reason", pa.string()), ("detail", pa.string()), ("raw_sha256", pa.string()), ("raw_bytes", pa.int64()),
    ("raw_prefix", pa.string()),
])
#: Planted in a rejected document's text: must never reach the report.
SECRET_NAME, SECRET_PHONE = "Zebediah Quornfeld", "555-867-5309"
SHAPE = '{"xx": "xxx-9999", "xxxx": "Xxxx xx'


def _doc(doc_id, source, file, **kw):
    row = {f.name: None for f in SCHEMA}
    text = kw.pop("text", f"Planted text of {doc_id}.")
    row.update(doc_id=doc_id, source=source, source_id=doc_id, source_file=file, source_offset=0, text=text,
               content_sha256=hashlib.sha256(text.encode()).hexdigest(), truncated=False, exact_dup_count=1)
    row.update(kw)
    return row


def _plant(root: Path, variant: str = "current") -> Path:
    """Write a run directory under ``root`` (named like the runner's staging directory).

    Two inputs: web/a.jsonl (13 records: c0-c5 kept; r0, r1, l0, n0, n1 rejected; 2 quarantined) and
    forum/b.jsonl (10 records: c6-c9 kept; r2, l1, n2, n3, p0 rejected; 1 quarantined).
    Stages: exact_dedup (r0, r1 copies of c0; r2 of c1), language (l0 not kept, l1 low score), quality in
    tag mode (c8, c9, n0 flagged), near_dedup (cluster c2 = {c2, n0, n1, n2}, cluster c3 = {c3, n3}),
    pii (p0 too much PII; PII in c0, c1, c5; residual phone in c1), bias, tokenize.
    The ``previous`` variant differs in c5, c6 being German and l1 being ``language:not_kept``.
    """
    in_dir = root / "inputs"
    a, b = str(in_dir / "web" / "a.jsonl"), str(in_dir / "forum" / "b.jsonl")
    run_id = f"RUN-{variant}"
    out = root / f".out.tmp-{run_id}"
    de = {"c7", "c8", "c9"} | ({"c5", "c6"} if variant == "previous" else set())
    curated = []
    for i in range(10):
        d = f"c{i}"
        curated.append(_doc(
            d, "web" if i < 6 else "forum", a if i < 6 else b, n_chars=1000 + 100 * i, n_bytes=1000 + 100 * i,
            exact_dup_count={0: 3, 1: 2}.get(i, 1), lang="de" if d in de else "en", lang_score=0.9,
            q_words=100 + 20 * i, q_symbol_ratio=0.01 * i,
            quality_reason="quality:gopher_short_doc" if i in (8, 9) else None,
            dup_cluster_id=d, dup_cluster_size={2: 4, 3: 2}.get(i, 1), dup_giant_cluster=False,
            pii_counts={0: [("EMAIL_ADDRESS", 2)], 1: [("PERSON", 1), ("PHONE_NUMBER", 1)],
                        5: [("PERSON", 3)]}.get(i, []),
            pii_residual_counts=[("PHONE_NUMBER", 1)] if i == 1 else [], pii_density=0.01 * i,
            bias_identity_counts={0: [("gender", 2)], 1: [("religion", 1)]}.get(i, []),
            bias_pronoun_counts=[("female", 1), ("male", 3)] if i == 0 else [],
            bias_toxic_hits={1: 1, 2: 2}.get(i, 0), bias_group_toxic=i == 1, bias_n_words=100 + 20 * i,
            bias_flags={0: ["identity_mention"], 1: ["group_targeted_toxicity", "identity_mention", "toxicity"],
                        2: ["toxicity"]}.get(i, []),
        ))
    secret = f"Please call {SECRET_NAME} on {SECRET_PHONE} today."
    rej = []
    for d, src, f, of in (("r0", "web", a, "c0"), ("r1", "web", a, "c0"), ("r2", "forum", b, "c1")):
        rej.append(_doc(d, src, f, n_chars=50, n_bytes=50, text=secret, exact_dup_count=3 if of == "c0" else 2,
                        exact_dup_of=of, exact_dedup_reason="exact_dedup:duplicate",
                        drop_reason="exact_dedup:duplicate"))
    l1_reason = "language:not_kept" if variant == "previous" else "language:low_score"
    rej.append(_doc("l0", "web", a, n_chars=60, n_bytes=60, lang="fr", lang_score=0.95,
                    language_reason="language:not_kept", drop_reason="language:not_kept"))
    rej.append(_doc("l1", "forum", b, n_chars=70, n_bytes=70, lang="en", lang_score=0.3, language_reason=l1_reason,
                    drop_reason=l1_reason))
    for d, src, f, words, cluster in (("n0", "web", a, 50, "c2"), ("n1", "web", a, 60, "c2"),
                                      ("n2", "forum", b, 70, "c2"), ("n3", "forum", b, 80, "c3")):
        rej.append(_doc(d, src, f, n_chars=500, n_bytes=500, lang="en", lang_score=0.9, q_words=words,
                        q_symbol_ratio=0.0, quality_reason="quality:gopher_short_doc" if d == "n0" else None,
                        dup_cluster_id=cluster, dup_cluster_size=4 if cluster == "c2" else 2, dup_giant_cluster=False,
                        near_dedup_reason="near_dedup:duplicate", drop_reason="near_dedup:duplicate"))
    rej.append(_doc("p0", "forum", b, n_chars=800, n_bytes=800, lang="de", lang_score=0.9, q_words=90,
                    q_symbol_ratio=0.0, dup_cluster_id="p0", dup_cluster_size=1, dup_giant_cluster=False,
                    pii_counts=[("EMAIL_ADDRESS", 5), ("PERSON", 20)], pii_residual_counts=[("EMAIL_ADDRESS", 1)],
                    pii_density=0.5, pii_reason="pii:too_much_pii", drop_reason="pii:too_much_pii"))
    quarantine = [
        dict(source="web", source_file=a, source_offset=10, offset_unit="byte", reason="ingest:malformed_json",
             detail="JSON syntax error", raw_sha256="0" * 64, raw_bytes=40, raw_prefix=SHAPE),
        dict(source="web", source_file=a, source_offset=20, offset_unit="byte", reason="ingest:malformed_json",
             detail="JSON syntax error", raw_sha256="1" * 64, raw_bytes=41, raw_prefix=SHAPE),
        # Not a shape: whatever a reader wrote there is scrubbed before it is shown.
        dict(source="forum", source_file=b, source_offset=5, offset_unit="byte", reason="ingest:invalid_utf8",
             detail=None, raw_sha256="2" * 64, raw_bytes=14, raw_prefix=f"{SECRET_NAME} {SECRET_PHONE}"),
    ]
    for name, rows, schema in (("curated", curated, SCHEMA),
                               ("rejected", rej, SCHEMA.append(pa.field(DROP_REASON, pa.string()))),
                               ("quarantine", quarantine, QSCHEMA)):
        (out / name).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), out / name / "part-00000.parquet")

    shards = out / "shards"
    shards.mkdir()
    tokens = [10 + i for i in range(10)]
    shard = pa.table({"doc_id": [r["doc_id"] for r in curated],
                      "input_ids": pa.array([[1] * t for t in tokens], pa.list_(pa.uint16())),
                      "n_tokens": pa.array(tokens, pa.int32()), "source": [r["source"] for r in curated],
                      "lang": [r["lang"] for r in curated]})
    pq.write_table(shard, shards / "shard-00000.parquet")
    data = (shards / "shard-00000.parquet").read_bytes()
    index = ShardIndex(dataset_version=run_id, tokenizer_sha256="a" * 64, vocab_size=100, token_dtype="uint16",
                       eos_id=0, eos_appended=True, total_rows=10, total_tokens=sum(tokens),
                       shards=[ShardEntry(path="shard-00000.parquet", rows=10, tokens=sum(tokens), bytes=len(data),
                                          sha256=hashlib.sha256(data).hexdigest())])
    (shards / "index.json").write_text(index.to_json())

    config = load_config("demo", ["near_dedup.enabled=true", "pii.enabled=true", "bias.enabled=true",
                                  "quality.mode=tag"]).resolved_dict()
    # What the runner records once PipelineConfig has the gates section.
    config["gates"] = {"min_keep_rate": 0.4, "max_quarantine_rate": 0.2, "max_residual_pii_rate": 0.2,
                       "max_dup_cluster_share": 0.5, "signals": [{"signal": "q_words", "stat": "mean", "min": 150}]}
    rejected_by_reason: dict[str, int] = {}
    for r in rej:
        rejected_by_reason[r[DROP_REASON]] = rejected_by_reason.get(r[DROP_REASON], 0) + 1
    inputs = [
        InputFileRecord(path=a, rel_path="a.jsonl", source="web", format="jsonl", compression=None, bytes=1234,
                        sha256="b" * 64, records=13, curated=6, rejected=5, quarantined=2),
        InputFileRecord(path=b, rel_path="b.jsonl", source="forum", format="jsonl", compression=None, bytes=999,
                        sha256="c" * 64, records=10, curated=4, rejected=5, quarantined=1),
    ]
    manifest = RunManifest(
        run_id=run_id, started_at="2024-06-01T00:00:00+00:00", finished_at="2024-06-01T00:01:00+00:00",
        duration_s=60.0, status="complete", config=config, config_sha256=("d" if variant == "current" else "e") * 64,
        code_version={"package": None, "git_commit": "f" * 40}, library_versions={"pyspark": "4.3.0"},
        spark={"master": "local[2]", "version": "4.3.0"},
        assets={"tokenizer": {"path": str(out / "shards" / "tokenizer.json"), "sha256": "a" * 64}},
        inputs=inputs,
        counts=Counts(records=23, curated=10, rejected=10, quarantined=3, curated_bytes=14500,
                      rejected_by_reason=rejected_by_reason,
                      quarantined_by_reason={"ingest:invalid_utf8": 1, "ingest:malformed_json": 2},
                      skipped_by_reason={}, by_source={}),
        stages=[{"name": n, "mode": m, "seconds": 1.0} for n, m in (
            ("exact_dedup", "drop"), ("language", "drop"), ("quality", "tag"), ("near_dedup", "drop"), ("pii", "drop"),
            ("bias", "drop"), ("tokenize", "write"))],
        stage_info={"near_dedup": {"params": {"threshold": 0.8, "bands": 16, "rows": 8},
                                   "checkpoint_dir": str(out / "_work" / "near_dedup")},
                    "pii": {"operator": "replace", "active_entities": ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"]},
                    "bias": {"lexicon_version": "1.0.0", "axes": ["gender", "religion"]}},
        outputs={},
    )
    (out / "run.json").write_text(json.dumps(manifest.model_dump(mode="json"), indent=2))
    return out


@pytest.fixture(scope="module")
def planted(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    current = _plant(root / "cur")
    previous = _plant(root / "prev", "previous")
    result = write_report(current, spark=spark)
    return current, previous, result


def test_accounting_sources_and_inputs(planted):
    _, _, res = planted
    r = res.report
    a = r.accounting
    assert (a.records_in, a.kept, a.removed, a.quarantined) == (23, 10, 10, 3)
    assert a.balanced and a.matches_manifest and not a.unbalanced_files
    assert {k: (s.records, s.curated, s.rejected, s.quarantined, s.keep_rate) for k, s in r.sources.items()} == {
        "forum": (10, 4, 5, 1, 0.4), "web": (13, 6, 5, 2, 0.461538)}
    assert r.sources["forum"].rejected_by_reason == {"exact_dedup:duplicate": 1, "language:low_score": 1,
                                                     "near_dedup:duplicate": 2, "pii:too_much_pii": 1}
    assert [(i.rel_path, i.records, i.curated, i.rejected, i.quarantined) for i in r.inputs] == [
        ("a.jsonl", 13, 6, 5, 2), ("b.jsonl", 10, 4, 5, 1)]
    o = r.outputs
    assert (o.curated_docs, o.curated_bytes, o.tokens, o.shards, o.shard_rows) == (10, 14500, 145, 1, 10)
    assert o.tokens_by_lang == {"de": 54, "en": 91} and o.tokens_by_source == {"forum": 70, "web": 75}


def test_funnel_removals_and_quarantine(planted):
    r = planted[2].report
    assert [(s.step, s.mode, s.docs_in, s.removed, s.docs_out, s.flagged) for s in r.funnel] == [
        ("ingest", "read", 23, 3, 20, 0), ("exact_dedup", "drop", 20, 3, 17, 0), ("language", "drop", 17, 2, 15, 0),
        ("quality", "tag", 15, 0, 15, 3), ("near_dedup", "drop", 15, 4, 11, 0), ("pii", "drop", 11, 1, 10, 0),
        ("bias", "drop", 10, 0, 10, 0), ("tokenize", "write", 10, 0, 10, 0)]
    assert [(x.reason, x.count, x.rate) for x in r.removals] == [
        ("near_dedup:duplicate", 4, 0.173913), ("exact_dedup:duplicate", 3, 0.130435),
        ("language:low_score", 1, 0.0434783), ("language:not_kept", 1, 0.0434783), ("pii:too_much_pii", 1, 0.0434783)]
    assert [(x.reason, x.count) for x in r.quarantine] == [("ingest:malformed_json", 2), ("ingest:invalid_utf8", 1)]
    assert r.stages_not_run == ["optout", "classify", "decontaminate"]  # the planted run.json lists no such stage


def test_examples_are_scrubbed_and_deterministic(planted):
    r = planted[2].report
    assert {k: [e.doc_id for e in v] for k, v in r.examples.items()} == {
        "exact_dedup:duplicate": ["r0", "r1", "r2"], "language:low_score": ["l1"], "language:not_kept": ["l0"],
        "near_dedup:duplicate": ["n0", "n1", "n2"], "pii:too_much_pii": ["p0"]}
    assert r.examples["exact_dedup:duplicate"][0].text == "Please call [X] [X] on [id] today."
    q = r.quarantine_examples
    assert [(e.file, e.offset, e.shape) for e in q["ingest:malformed_json"]] == [("a.jsonl", 10, SHAPE),
                                                                                 ("a.jsonl", 20, SHAPE)]
    assert q["ingest:invalid_utf8"][0].shape == "[X] [X] [id]"


def test_languages_and_signal_distributions(planted):
    r = planted[2].report
    assert [(x.lang, x.curated_docs, x.curated_share, x.rejected_docs) for x in r.languages.rows] == [
        ("en", 7, 0.7, 5), ("de", 3, 0.3, 1), ("fr", 0, 0.0, 1)]
    assert r.languages.evaluated_docs == 17 and r.languages.mix == {"en": 0.7, "de": 0.3}
    stats = {(s.signal, s.scope): s for s in r.signals.stats}
    w = stats[("q_words", "all")]
    assert (w.count, w.nulls, w.min, w.max, w.mean) == (15, 5, 50, 280, 150)
    w = stats[("q_words", "curated")]
    assert (w.count, w.nulls, w.min, w.max, w.mean) == (10, 0, 100, 280, 190)
    h = {x.signal: x for x in r.signals.histograms}["q_words"]
    assert h.scale == "linear" and h.edges[0] == 50 and h.edges[-1] == 280 and len(h.edges) == 21
    assert h.removed == [2, 1, 1, 1] + [0] * 16
    assert h.kept == [1 if i in (4, 6, 7, 9, 11, 13, 14, 16, 18, 19) else 0 for i in range(20)]
    assert sum(h.kept) + sum(h.removed) == w.count + 5


def test_duplicates(planted):
    d = planted[2].report.duplicates
    e = d.exact
    assert (e.groups, e.documents_in_groups, e.duplicates_removed) == (2, 5, 3)
    assert [(b.size, b.clusters) for b in e.group_sizes] == [(2, 1), (3, 1)]
    assert [(c.cluster_id, c.size) for c in e.largest_groups] == [("c0", 3), ("c1", 2)]
    n = d.near
    assert (n.evaluated_docs, n.clusters, n.documents_in_clusters, n.duplicates_removed) == (15, 2, 6, 4)
    assert (n.largest_cluster, n.largest_cluster_share, n.giant_clusters) == (4, 0.266667, 0)
    assert [(b.size, b.clusters, b.documents) for b in n.clusters_by_size] == [(2, 1, 2), (4, 1, 4)]
    assert [(c.cluster_id, c.size, c.removed, c.sources) for c in n.largest_clusters] == [
        ("c2", 4, 3, {"forum": 1, "web": 3}), ("c3", 2, 1, {"forum": 1, "web": 1})]
    assert n.params == {"threshold": 0.8, "bands": 16, "rows": 8}


def test_pii_and_bias(planted):
    r = planted[2].report
    p = r.pii
    assert (p.operator, p.docs_scanned, p.docs_with_pii, p.pii_doc_rate) == ("replace", 11, 4, 0.363636)
    assert p.spans_by_entity == {"EMAIL_ADDRESS": 7, "PERSON": 24, "PHONE_NUMBER": 1}
    assert p.docs_by_entity == {"EMAIL_ADDRESS": 2, "PERSON": 3, "PHONE_NUMBER": 1}
    assert (p.curated_docs_scanned, p.residual_docs, p.residual_rate) == (10, 1, 0.1)
    assert p.residual_spans_by_entity == {"PHONE_NUMBER": 1} and p.removed_by_reason == {"pii:too_much_pii": 1}
    b = r.bias
    assert (b.docs, b.lexicon_version, b.axes) == (10, "1.0.0", ["gender", "religion"])
    assert b.flags == {"group_targeted_toxicity": 1, "identity_mention": 2, "toxicity": 2}
    overall = b.aggregates["overall"]
    assert (overall["docs"], overall["toxic_doc_rate"], overall["group_toxic_doc_rate"]) == (10, 0.2, 0.1)
    assert overall["axis_doc_rate"] == {"gender": 0.1, "religion": 0.1}
    assert overall["pronoun_male_share"] == 0.75
    assert set(b.aggregates["by_source"]) == {"forum", "web"} and set(b.aggregates["by_lang"]) == {"de", "en"}


def test_gates_from_run_json_pass_with_values(planted):
    res = planted[2]
    assert res.gates_passed
    got = {v.gate: (v.value, v.status) for v in res.verdicts}
    assert got == {
        "accounting": (23.0, "pass"), "min_keep_rate": (0.434783, "pass"), "max_quarantine_rate": (0.130435, "pass"),
        "max_residual_pii_rate": (0.1, "pass"), "max_dup_cluster_share": (0.266667, "pass"),
        "signal:curated:q_words:mean:min": (190.0, "pass")}


def test_report_files_are_self_contained_and_leak_nothing(planted):
    out, _, res = planted
    text = res.json_path.read_text(encoding="utf-8")
    page = res.html_path.read_text(encoding="utf-8")
    assert Report.model_validate_json(text).accounting.kept == 10
    final = out.parent / "out"  # the name the staging directory is committed under
    for s in (str(out), str(final), str(out.resolve()), SECRET_NAME, "Zebediah", "Quornfeld", SECRET_PHONE, "8675309"):
        assert s not in text and s not in page, s
    # The staging-path strings of stage_info and assets were made relative to the run.
    assert res.report.provenance.stage_info["near_dedup"]["checkpoint_dir"] == "./_work/near_dedup"
    assert res.report.provenance.assets["tokenizer"]["path"] == "./shards/tokenizer.json"
    low = page.lower()
    assert "<script" not in low and "http://" not in low.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in low and "@import" not in low and "url(" not in low
    assert "default-src 'none'" in page
    # Every chart the page holds has at least one bar, and the expected charts are there.
    charts = page.count('<svg class="chart"')
    assert charts == page.count("data-chart=") and charts >= 10
    for cid in ("funnel", "removals", "quarantine", "languages", "hist-q_words", "dup-clusters", "pii-entities",
                "bias-axes", "bias-flags"):
        seg = page.split(f'data-chart="{cid}"', 1)[1].split("</svg>", 1)[0]
        assert 'class="bar"' in seg, cid


def test_rerender_is_byte_identical(planted, spark):
    out, _, res = planted
    before = (res.json_path.read_bytes(), res.html_path.read_bytes())
    again = write_report(out, spark=spark)
    assert (again.json_path.read_bytes(), again.html_path.read_bytes()) == before


def _cli(argv):
    import argparse

    p = argparse.ArgumentParser()
    cmd_report.register(p.add_subparsers())
    args = p.parse_args(["report"] + argv)
    return args.func(args)


def test_drift_against_previous_from_its_report_and_from_its_data(planted, spark, tmp_path):
    out, prev, _ = planted
    write_report(prev, spark=spark)
    stored = write_report(out, spark=spark, previous=prev).report.drift
    assert stored.previous_run_id == "RUN-previous" and stored.config_changed
    assert stored.language_tvd == 0.2
    assert [(c.key, c.previous, c.current) for c in stored.language_changes] == [("de", 0.5, 0.3), ("en", 0.5, 0.7)]
    top = stored.max_removal_rate_change
    assert (top.key, top.previous, top.current, top.delta) == ("language:low_score", 0.0, 0.0434783, 0.0434783)
    assert stored.keep_rate.delta == 0.0
    # Without the previous report the same figures come from its data.
    prev_copy = tmp_path / "prev"
    shutil.copytree(prev, prev_copy)
    shutil.rmtree(prev_copy / "report")
    recomputed = write_report(out, spark=spark, previous=prev_copy).report.drift
    assert recomputed == stored


def test_cli_exit_codes(planted, spark, capsys):
    out, prev, _ = planted
    assert _cli([str(out), "--set", "gates.min_keep_rate=0.5"]) == 3
    captured = capsys.readouterr()
    assert "min_keep_rate" in captured.err
    assert json.loads((out / "report" / "report.json").read_text())["gates"]["passed"] is False
    assert _cli([str(out), "--previous", str(prev), "--set", "gates.max_language_drift=0.1"]) == 3
    assert _cli([str(out), "--previous", str(prev), "--set", "gates.max_language_drift=0.25"]) == 0
    # A drift gate without a previous run is skipped by default, and fails when asked to.
    assert _cli([str(out), "--set", "gates.max_language_drift=0.1"]) == 0
    assert _cli([str(out), "--set", "gates.max_language_drift=0.1", "--set", "gates.on_missing_previous=fail"]) == 3
    assert _cli([str(out), "--set", "quality.enabled=false"]) == 2
    assert _cli([str(out / "curated")]) == 2


def test_a_run_with_no_stage_and_nothing_removed(spark, tmp_path):
    """Ingest only: empty rejected/ and quarantine/, no stage columns, no shards; the report says what ran."""
    out = tmp_path / "bare"
    doc_schema = pa.schema([f for f in SCHEMA if f.name in (
        "doc_id", "source", "source_id", "source_file", "source_offset", "url", "text", "metadata", "content_sha256",
        "n_chars", "n_bytes", "truncated")])
    f = str(tmp_path / "in" / "x.txt")
    rows = [_doc(f"d{i}", "x", f, n_chars=10 * (i + 1), n_bytes=10 * (i + 1)) for i in range(3)]
    for name, data, schema in (("curated", rows, doc_schema),
                               ("rejected", [], doc_schema.append(pa.field(DROP_REASON, pa.string()))),
                               ("quarantine", [], QSCHEMA)):
        (out / name).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist([{k: r[k] for k in schema.names} for r in data], schema=schema),
                       out / name / "part-00000.parquet")
    config = load_config("demo", ["exact_dedup.enabled=false", "language.enabled=false", "quality.enabled=false",
                                  "bias.enabled=false", "pii.enabled=false", "tokenize.enabled=false"]).resolved_dict()
    manifest = RunManifest(
        run_id="RUN-bare", started_at="t0", finished_at="t1", duration_s=1.0, status="complete", config=config,
        config_sha256="d" * 64, code_version={}, library_versions={}, spark={}, assets={},
        inputs=[InputFileRecord(path=f, rel_path="x.txt", source="x", format="text", compression=None, bytes=60,
                                sha256="b" * 64, records=3, curated=3, rejected=0, quarantined=0)],
        counts=Counts(records=3, curated=3, rejected=0, quarantined=0, curated_bytes=60, rejected_by_reason={},
                      quarantined_by_reason={}, skipped_by_reason={}, by_source={}),
        stages=[], stage_info={}, outputs={})
    (out / "run.json").write_text(json.dumps(manifest.model_dump(mode="json")))
    res = write_report(out, spark=spark, gates=GatesSection(min_keep_rate=0.9, max_residual_pii_rate=0.01))
    r = res.report
    assert (r.accounting.records_in, r.accounting.kept, r.accounting.removed, r.accounting.balanced) == (3, 3, 0, True)
    assert [(s.step, s.docs_in, s.docs_out) for s in r.funnel] == [("ingest", 3, 3)]
    assert r.stages_run == [] and r.stages_not_run == [s for s in STAGE_SECTIONS if s != "ingest"]
    assert r.removals == [] and r.examples == {} and r.languages is None and r.pii is None and r.bias is None
    assert r.duplicates.exact is None and r.duplicates.near is None and r.outputs.tokens is None
    assert [h.signal for h in r.signals.histograms] == ["n_chars"]
    assert {v.gate: v.status for v in res.verdicts} == {"accounting": "pass", "max_residual_pii_rate": "fail",
                                                       "min_keep_rate": "pass"}
    page = res.html_path.read_text(encoding="utf-8")
    assert "The pii stage did not run" in page and "No document was removed" in page
    assert page.count('<svg class="chart"') == 2  # the funnel and the n_chars histogram

