"""The what-if replays thresholds over a run's stored signals and reproduces the run's own keep rate.

The run directory is laid out as the runner writes it (run.json with the resolved config, curated/ and
rejected/ Parquet with the quality columns exactly as the quality stage's batch function produces them).
"""
from __future__ import annotations

import argparse
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs import cmd_whatif
from pipelines.stages.quality import QualityStage
from pipelines.text.quality import QualityEvaluator
from pipelines.whatif import WhatIfError, run_whatif
from schemas.config import load_config

EN = [
    "The council met on Tuesday evening to discuss the new cycling lanes along the river.",
    "Several residents said that the lanes would make the morning commute much safer for children.",
    "Others worried that the narrower road would slow down buses during the busiest hours of the day.",
    "After a long debate the members agreed to test the plan for six months and then review it.",
]
DE = [
    "Der Rat traf sich am Dienstagabend, um über die neuen Radwege entlang des Flusses zu sprechen.",
    "Mehrere Anwohner sagten, dass die Wege den Schulweg für die Kinder viel sicherer machen würden.",
    "Andere fürchteten, dass die schmalere Straße die Busse in den vollen Stunden bremsen würde.",
    "Nach einer langen Debatte beschloss der Rat, den Plan sechs Monate zu testen und dann zu prüfen.",
]


def _docs():
    docs = []
    for i in range(4):
        docs.append((f"en-good-{i}", "\n".join(EN[i:] + EN[:i]), "en"))
        docs.append((f"en-short-{i}", EN[i] + " " + EN[(i + 1) % 4] + " It was late. Everyone left.", "en"))
        docs.append((f"de-good-{i}", "\n".join(DE[i:] + DE[:i]), "de"))
        docs.append((f"de-short-{i}", DE[i] + " Es war spät. Alle gingen nach Hause.", "de"))
    docs.append(("lorem", "\n".join(EN) + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", "en"))
    docs.append(("dups", "\n".join(EN + ["Read more about it."] * 6), "en"))
    return docs


def _write_run(tmp_path, overrides=(), mode="drop"):
    cfg = load_config(None, ["quality.enabled=true", f"quality.mode={mode}", "language.enabled=true", *overrides])
    docs = _docs()
    batch = pa.RecordBatch.from_pydict(
        {"doc_id": [d[0] for d in docs], "text": [d[1] for d in docs], "lang": [d[2] for d in docs]}
    )
    out = QualityStage.process_arrow(QualityEvaluator(cfg.quality), batch).to_pydict()
    n = len(docs)
    out["drop_reason"] = [None] * n
    if mode == "drop":
        out["drop_reason"] = list(out["quality_reason"])
    # One kept document removed later by another stage (it has signals), and one removed before quality.
    out["drop_reason"][0] = "near_dedup:duplicate"
    table = pa.table(out)
    extra = pa.table({**{k: [None] for k in table.column_names}, "doc_id": ["fr-0"], "text": ["Bonjour à tous."],
                      "lang": ["fr"], "drop_reason": ["language:not_kept"]}, schema=table.schema)
    table = pa.concat_tables([table, extra])
    is_rejected = pa.array([r is not None for r in table["drop_reason"].to_pylist()])
    run = tmp_path / "out"
    for name, mask in (("curated", pa.compute.invert(is_rejected)), ("rejected", is_rejected)):
        (run / name).mkdir(parents=True)
        part = table.filter(mask)
        if name == "curated":
            part = part.drop_columns(["drop_reason"])
        pq.write_table(part.slice(0, 10), run / name / "part-00000.parquet")
        pq.write_table(part.slice(10), run / name / "part-00001.parquet")
        (run / name / ".part-00000.parquet.crc").write_bytes(b"crc")
    (run / "run.json").write_text(json.dumps({"run_id": "r1", "config": cfg.resolved_dict()}))
    return run, table, cfg


def _expected_pass(cfg_quality, docs):
    ev = QualityEvaluator(cfg_quality)
    return sum(1 for _, text, lang in docs if ev.evaluate(text, lang)[1] is None)


def test_reproduces_the_runs_keep_rate(tmp_path):
    run, table, cfg = _write_run(tmp_path)
    report = run_whatif(run)
    reasons = table["quality_reason"].to_pylist()[:-1]
    run_rate = sum(r is None for r in reasons) / len(reasons)
    assert report["replay_matches_run"] is True
    assert report["documents"] == len(_docs()) + 1
    assert report["run"]["quality"]["evaluated"] == len(_docs())
    assert report["run"]["quality"]["keep_rate"] == pytest.approx(run_rate)
    assert report["whatif"]["quality"] == report["run"]["quality"]
    assert report["changed"] == {"newly_rejected": 0, "newly_kept": 0}
    curated = sum(1 for d in table["drop_reason"].to_pylist() if d is None)
    assert report["overall"]["run_kept"] == curated == report["overall"]["estimated_kept"]
    # The run's own thresholds given explicitly reproduce it too.
    same = run_whatif(run, ["quality.gopher_short_doc=50", "quality.c4_min_sentences=3"])
    assert same["whatif"]["quality"] == report["run"]["quality"]
    assert 0 < run_rate < 1 and report["run"]["quality"]["by_rule"]["gopher_short_doc"] == 8


def test_new_thresholds_change_keep_rates(tmp_path):
    run, _, cfg = _write_run(tmp_path)
    report = run_whatif(run, ["quality.gopher_short_doc=20", "quality.c4_lorem_ipsum=false"], by_lang=True)
    new_section = cfg.quality.model_copy(update={"gopher_short_doc": 20.0, "c4_lorem_ipsum": False})
    expected = _expected_pass(new_section, _docs())
    assert report["whatif"]["quality"]["passed"] == expected
    assert report["changed"]["newly_kept"] == expected - report["run"]["quality"]["passed"]
    assert report["changed"]["newly_rejected"] == 0
    assert report["overall"]["estimated_kept"] == report["overall"]["run_kept"] + report["changed"]["newly_kept"]
    assert set(report["by_lang"]) == {"en", "de"}
    stricter = run_whatif(run, ["quality.gopher_short_doc=100"])
    assert stricter["changed"]["newly_rejected"] > 0
    assert stricter["whatif"]["quality"]["keep_rate"] < stricter["run"]["quality"]["keep_rate"]


def test_per_language_overrides(tmp_path):
    run, _, cfg = _write_run(tmp_path)
    report = run_whatif(run, ["quality.languages.deu.gopher_short_doc=10"])
    assert report["changed"]["newly_kept"] == 4  # the four short German documents
    assert report["whatif"]["quality"]["by_rule"]["gopher_short_doc"] == 4  # the English ones remain


def test_tag_mode_run(tmp_path):
    run, table, _ = _write_run(tmp_path, mode="tag")
    report = run_whatif(run)
    assert report["replay_matches_run"] is True and report["quality_mode"] == "tag"
    loose = run_whatif(run, ["quality.gopher_short_doc=10"])
    assert loose["whatif"]["quality"]["keep_rate"] > loose["run"]["quality"]["keep_rate"]
    assert loose["overall"]["estimated_kept"] == loose["overall"]["run_kept"]


def test_run_thresholds_from_run_json_are_used(tmp_path):
    run, _, _ = _write_run(tmp_path, overrides=["quality.gopher_short_doc=10"])
    report = run_whatif(run)
    assert report["replay_matches_run"] is True
    assert "gopher_short_doc" not in report["run"]["quality"]["by_rule"]


@pytest.mark.parametrize(
    "override,match",
    [
        ("language.min_score=0.5", "quality"),
        ("quality.signals.short_line_chars=10", "re-run"),
        ("quality.mode=tag", "not one"),
        ("quality.gopher_shortdoc=1", "gopher_shortdoc"),
        ("quality.gopher_short_doc=-1", "gopher_short_doc"),
    ],
)
def test_rejected_overrides(tmp_path, override, match):
    run, _, _ = _write_run(tmp_path)
    with pytest.raises(WhatIfError, match=match):
        run_whatif(run, [override])


def test_run_from_an_older_version_lists_missing_signals(tmp_path, caplog):
    # Runs written before the stop-word rule counted distinct words store the occurrence count q_stop_words.
    run, _, _ = _write_run(tmp_path)
    assert run_whatif(run)["missing_signals"] == []
    for part in sorted(run.glob("*/part-*.parquet")):
        t = pq.read_table(part)
        names = ["q_stop_words" if c == "q_distinct_stop_words" else c for c in t.column_names]
        pq.write_table(t.rename_columns(names), part)
    with caplog.at_level("WARNING", logger="pipelines.whatif"):
        report = run_whatif(run)
    assert report["missing_signals"] == ["q_distinct_stop_words"]
    assert "gopher_stop_words" in caplog.text and "q_distinct_stop_words" in caplog.text
    assert "gopher_stop_words" not in report["whatif"]["quality"]["by_rule"]  # skipped, as for a null signal


def test_not_a_run(tmp_path):
    with pytest.raises(WhatIfError, match="run.json"):
        run_whatif(tmp_path)


def _cli(argv):
    parser = argparse.ArgumentParser()
    cmd_whatif.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli(tmp_path, capsys):
    run, _, _ = _write_run(tmp_path)
    assert _cli(["whatif", "--run", str(run), "--set", "quality.gopher_short_doc=20"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["changed"]["newly_kept"] > 0
    dest = tmp_path / "r" / "whatif.json"
    assert _cli(["whatif", "--run", str(run), "--json", str(dest)]) == 0
    assert json.loads(dest.read_text())["replay_matches_run"] is True
    assert _cli(["whatif", "--run", str(tmp_path / "nope")]) == 2
    assert "run.json" in capsys.readouterr().err
