"""Ablation logic without training: statistics and verdicts, held-out slices, dataset checks, plans."""
from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

import pytest

from train.ablation import (
    AblationConfig,
    AblationError,
    TextDataset,
    _write_plan,
    check_datasets,
    hold_out_slice,
    remove_overlap,
    summarize,
    write_text_shards,
)
from train.ablation_report import loss_chart, render

TOKENIZER = Path(__file__).resolve().parents[2] / "pipelines" / "assets" / "tokenizers" / "demo-bpe-4k.json"


def _sha(t: str) -> str:
    return hashlib.sha256(t.encode("utf-8")).hexdigest()


def _ds(name: str, texts: list[str]) -> TextDataset:
    ids = [f"{name}{i}" for i in range(len(texts))]
    return TextDataset(name, f"/{name}", ids, list(texts), [_sha(t) for t in texts])


def _run(bpb: float, acc: float) -> dict:
    return {"text": {"bits_per_byte": bpb, "perplexity": 2 ** bpb, "loss": bpb}, "tasks": {"acc": acc, "acc_norm": acc}}


def test_summary_gives_mean_sample_sd_and_verdicts_against_the_seed_spread():
    runs = {"a": [_run(1.00, 0.50), _run(1.02, 0.60)], "b": [_run(1.20, 0.52), _run(1.21, 0.58)]}
    per, comps = summarize(runs)
    s = per["a"]["bits_per_byte"]
    assert s["mean"] == pytest.approx(1.01) and s["sd"] == pytest.approx(statistics.stdev([1.0, 1.02]))
    by = {c["metric"]: c for c in comps}
    # bpb: |1.01 - 1.205| = 0.195 > 2 * max(0.0141, 0.0071): exceeds, and lower bpb is better
    assert by["bits_per_byte"]["difference"] == pytest.approx(-0.195)
    assert by["bits_per_byte"]["seed_spread"] == pytest.approx(statistics.stdev([1.0, 1.02]))
    assert by["bits_per_byte"]["exceeds_seed_spread"] is True and by["bits_per_byte"]["better"] == "a"
    # acc: |0.55 - 0.55| = 0 within the spread
    assert by["acc"]["exceeds_seed_spread"] is False and by["acc"]["better"] is None
    # one seed: no spread, no verdict
    _, single = summarize({"a": [_run(1.0, 0.5)], "b": [_run(2.0, 0.4)]})
    assert all(c["exceeds_seed_spread"] is None for c in single)


def test_held_out_slice_leaves_the_source_and_exact_copies_elsewhere_only():
    a = _ds("a", [f"document number {i}" for i in range(200)])
    b = _ds("b", [f"other text {i}" for i in range(50)] + a.texts[:40])
    held, info = hold_out_slice([a, b], "a", 0.1)
    in_slice = {t for t in held}
    assert 5 < len(held) < 40  # about 10% of 200
    assert not in_slice & set(a.texts) and not in_slice & set(b.texts)
    assert len(a.texts) == 200 - len(held)
    assert info["removed_from_training"] == {"a": len(held), "b": len(in_slice & {f"document number {i}"
                                                                                 for i in range(40)})}
    assert all(t.startswith("other text") for t in b.texts[:50]) and len(b.texts) >= 50
    assert "removed from every dataset" in info["note"]
    with pytest.raises(AblationError, match="not one of the datasets"):
        hold_out_slice([a, b], "c", 0.1)
    with pytest.raises(AblationError, match=r"must be in \(0, 0.5\]"):
        hold_out_slice([a, b], "a", 0.9)
    with pytest.raises(AblationError, match="holds no document"):
        hold_out_slice([_ds("x", ["one"]), b], "x", 1e-9)


def test_remove_overlap_counts_per_dataset():
    a, b = _ds("a", ["x", "y", "z"]), _ds("b", ["y", "w"])
    assert remove_overlap([a, b], {_sha("y"), _sha("q")}) == {"a": 1, "b": 1}
    assert a.texts == ["x", "z"] and a.removed == {"copy of a held-out document": 1}


def test_text_shards_are_written_once_and_checked(tmp_path):
    texts = [f"The council approved the budget number {i} last week." for i in range(30)]
    cfg = AblationConfig(tokens=1000, seq_len=16, batch_size=2)
    a = write_text_shards(_ds("a", texts), tmp_path / "a", TOKENIZER)
    index_a = json.loads((a / "index.json").read_text())
    assert index_a["total_rows"] == 30 and index_a["eos_appended"] and (a / "tokenizer.json").is_file()
    mtime = (a / "index.json").stat().st_mtime_ns
    write_text_shards(_ds("a", texts), tmp_path / "a", TOKENIZER)  # same documents: reused
    assert (a / "index.json").stat().st_mtime_ns == mtime
    b = write_text_shards(_ds("b", texts[:3]), tmp_path / "b", TOKENIZER)
    info = check_datasets({"a": str(a), "b": str(b)}, cfg)
    assert info["a"]["documents"] == 30 and info["a"]["epochs"] == pytest.approx(
        cfg.steps * 32 / index_a["total_tokens"], rel=1e-2)
    with pytest.raises(AblationError, match="at least two datasets"):
        check_datasets({"a": str(a)}, cfg)
    with pytest.raises(AblationError, match="less than one batch"):
        check_datasets({"a": str(a), "b": str(b)}, AblationConfig(tokens=1000, seq_len=256, batch_size=8))
    with pytest.raises(AblationError, match="dataset 'c'"):
        check_datasets({"a": str(a), "c": str(tmp_path / "missing")}, cfg)
    with pytest.raises(AblationError, match="no document left"):
        write_text_shards(_ds("e", []), tmp_path / "e", TOKENIZER)


def test_a_changed_plan_is_refused_and_the_same_plan_resumes(tmp_path):
    _write_plan(tmp_path, {"config": {"tokens": 1}, "eval_text_sha256": "x"})
    _write_plan(tmp_path, {"config": {"tokens": 1}, "eval_text_sha256": "x"})
    with pytest.raises(AblationError, match="differs in: config"):
        _write_plan(tmp_path, {"config": {"tokens": 2}, "eval_text_sha256": "x"})


def test_steps_round_the_budget_up_to_whole_steps():
    cfg = AblationConfig(tokens=1_000_000, seq_len=256, batch_size=8)
    assert cfg.steps == 489 and cfg.train_config("s", "o", 3).seed == 3
    tc = cfg.train_config("s", "o", 0)
    assert tc.holdout_shards == 0 and tc.resume and tc.ckpt_every == 97 and tc.log_every == 4


def test_report_escapes_names_and_draws_one_line_per_run():
    svg = loss_chart({"a<b": [[[0, 5.0], [100, 4.0]], [[0, 5.1], [100, 4.2]]], "c": [[[0, 6.0], [100, 5.0]]]})
    assert svg.count("<polyline") == 3 and "a&lt;b" in svg and "a<b" not in svg
    runs = {"x<y": [{**_run(1.0, 0.5), "seed": 0}], "z": [{**_run(1.1, 0.4), "seed": 0}]}
    result = {"config": AblationConfig(tokens=10).model_dump(), "runs": runs,
              "tokens_per_model": 2048, "steps": 1, "datasets": {n: {"documents": 1, "tokens": 9, "epochs": 1.0,
                                                                   "dataset_version": "v", "path": "/p",
                                                                   "tokenizer_sha256": "0" * 64}
                                                               for n in ("x<y", "z")},
              "eval_text": None, "tasks": None, "notes": ["<script>"]}
    result["summary"], result["comparisons"] = summarize(result["runs"])
    page = render(result)
    assert "<script>" not in page and "&lt;script&gt;" in page and "x&lt;y" in page
    assert "undecided" in page
