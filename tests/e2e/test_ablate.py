"""``corpusforge ablate`` and ``corpusforge eval`` end to end on two tiny datasets (seconds on CPU).

One ablation (2 datasets x 2 seeds, a few steps of the tiny model) is run once per module; the tests
check its report (numbers, held-out slice removed from both datasets, the HTML in headless Chromium),
resuming after a simulated kill, the refusal of a changed plan, ``corpusforge eval`` on one of its
checkpoints (eval.json, determinism) and the bad-input refusals of both commands.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from jobs.cli import main
from tests.e2e.test_report_e2e import CHROMIUM, _Browser, _decode_png
from train.ablation_report import SERIES_COLORS

REPO = Path(__file__).resolve().parents[2]
TOKENIZER = REPO / "pipelines" / "assets" / "tokenizers" / "demo-bpe-4k.json"
BUNDLED_TASKS = REPO / "pipelines" / "assets" / "tasks" / "demo-cloze.jsonl"

SUBJ = ["the city council", "our company", "the new mayor", "a local bakery", "the hospital", "the museum"]
VERB = ["approved", "opened", "tested", "presented", "repaired", "described"]
OBJ = ["a new bicycle lane", "the annual budget", "the old bridge", "a weekly newsletter", "the city park"]
TRAIL = ["last week", "on Monday", "after a long debate", "in the city center", "this year"]


def _sentence(rng: random.Random) -> str:
    s = f"{rng.choice(SUBJ)} {rng.choice(VERB)} {rng.choice(OBJ)} {rng.choice(TRAIL)}."
    return s[0].upper() + s[1:]


def _write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
                    encoding="utf-8")
    return path


def _datasets(root: Path) -> tuple[Path, Path]:
    rng = random.Random(5)
    clean = [" ".join(_sentence(rng) for _ in range(8)) for _ in range(60)]
    noisy = ["".join(rng.choice("qxzjk vw#") for _ in range(300)) for _ in range(60)]
    shared = clean[:10]  # the same documents in both: a held-out copy must leave both datasets
    return _write_jsonl(root / "clean.jsonl", clean), _write_jsonl(root / "noisy.jsonl", noisy + shared)


def _tasks(root: Path, n: int = 24) -> Path:
    """The first ``n`` items of the bundled task file (all 200 cost seconds per model on a loaded CPU)."""
    lines = BUNDLED_TASKS.read_text(encoding="utf-8").splitlines()[:n]
    path = root / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ablate(clean: Path, noisy: Path, out: Path, *extra: str) -> int:
    return main(["--log-level", "WARNING", "ablate", "--data", f"clean={clean}", "--data", f"noisy={noisy}",
                 "--tokenizer", str(TOKENIZER), "--tokens", "1024", "--seq-len", "32", "--batch-size", "4",
                 "--seeds", "2", "--eval-fraction", "0.2", "--eval-from", "clean", "--tasks", str(_tasks(out.parent)),
                 "--device", "cpu", "--checkpoints", "2", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablate")
    clean, noisy = _datasets(root)
    out = root / "out"
    assert _ablate(clean, noisy, out) == 0
    return clean, noisy, out, json.loads((out / "ablation.json").read_text(encoding="utf-8"))


def test_ablation_trains_every_dataset_and_seed_with_the_same_budget(ablation):
    _, _, out, res = ablation
    assert res["steps"] == 8 and res["tokens_per_model"] == 8 * 4 * 32
    assert set(res["runs"]) == {"clean", "noisy"}
    for name, runs in res["runs"].items():
        assert [r["seed"] for r in runs] == [0, 1]
        for r in runs:
            assert r["tokens"] == 1024 and r["steps"] == 8
            assert r["text"]["documents"] == res["eval_text"]["documents"] > 0
            assert r["text"]["bits_per_byte"] > 0 and r["tasks"]["items"] == 24
            assert r["loss_curve"] and r["loss_curve"][-1][0] == 1024
            assert (out / "runs" / name / f"seed-{r['seed']}" / "eval.json").is_file()
    # same seed, same initialization and data order policy: the two seeds of one dataset differ
    assert res["runs"]["clean"][0]["text"]["nll_nats"] != res["runs"]["clean"][1]["text"]["nll_nats"]
    s = res["summary"]["clean"]["bits_per_byte"]
    assert s["n"] == 2 and s["sd"] is not None and s["min"] <= s["mean"] <= s["max"]
    comp = {(c["metric"]): c for c in res["comparisons"]}
    assert comp["bits_per_byte"]["exceeds_seed_spread"] in (True, False)
    assert comp["bits_per_byte"]["difference"] == pytest.approx(
        s["mean"] - res["summary"]["noisy"]["bits_per_byte"]["mean"])


def test_held_out_slice_is_removed_from_every_dataset(ablation):
    clean, _, out, res = ablation
    ev = res["eval_text"]
    assert ev["kind"] == "slice" and ev["from"] == "clean"
    removed = ev["removed_from_training"]
    assert removed["clean"] == ev["documents"]
    # the 10 documents shared by both: those in clean's slice left the noisy dataset too, nothing else did
    clean_texts = [json.loads(ln)["text"] for ln in clean.read_text(encoding="utf-8").splitlines()]
    in_slice = [t for t in clean_texts[:10]
                if int(hashlib.sha256(t.encode("utf-8")).hexdigest()[:16], 16) / 2**64 < 0.2]
    assert removed["noisy"] == len(in_slice) > 0
    assert res["data_preparation"]["noisy"]["removed"] == {"held-out slice": removed["noisy"]}
    assert res["datasets"]["clean"]["documents"] == 60 - removed["clean"]
    assert "removed from every dataset" in ev["note"]
    assert "removed from every dataset" in (out / "ablation.html").read_text(encoding="utf-8")


def test_a_killed_ablation_resumes_from_finished_runs_and_checkpoints(ablation, tmp_path):
    clean, noisy, out, res = ablation
    copy = tmp_path / "copy"
    os.system(f"cp -r '{out}' '{copy}'")
    # killed after the last run's checkpoint, before its evaluation and the report
    (copy / "runs" / "noisy" / "seed-1" / "eval.json").unlink()
    (copy / "ablation.json").unlink()
    kept = (copy / "runs" / "clean" / "seed-0" / "eval.json").read_text(encoding="utf-8")
    assert _ablate(clean, noisy, copy) == 0
    again = json.loads((copy / "ablation.json").read_text(encoding="utf-8"))
    assert (copy / "runs" / "clean" / "seed-0" / "eval.json").read_text(encoding="utf-8") == kept
    redone = again["runs"]["noisy"][1]
    assert redone["resumed_from"] and redone["resumed_from"].endswith("ckpt-00000008.pt")
    # the resumed model is the same model: the same figures as before the kill
    assert redone["text"]["nll_nats"] == res["runs"]["noisy"][1]["text"]["nll_nats"]
    assert again["summary"] == res["summary"]
    # another budget in the same folder is refused before any training
    assert _ablate(clean, noisy, copy, "--lr", "0.002") == 1


def test_eval_command_writes_eval_json_and_is_deterministic(ablation, tmp_path, capsys):
    clean, _, out, res = ablation
    ckpt = out / "runs" / "clean" / "seed-0"
    outs = []
    for i in range(2):
        path = tmp_path / f"eval{i}.json"
        assert main(["eval", "--checkpoint", str(ckpt), "--text", str(clean), "--tasks", str(_tasks(tmp_path)),
                     "--device", "cpu", "--out", str(path)]) == 0
        outs.append(json.loads(path.read_text(encoding="utf-8")))
    printed = capsys.readouterr().out
    assert "bits per byte" in printed and "acc_norm" in printed
    a, b = outs
    assert a["text"]["nll_nats"] == b["text"]["nll_nats"] and a["tasks"] == b["tasks"]
    t = a["text"]
    assert t["documents"] == 60 and t["context"] == 32 and t["stride"] == 16
    assert t["bits_per_byte"] == pytest.approx(t["nll_nats"] / (np.log(2) * t["bytes"]))
    assert t["perplexity"] == pytest.approx(np.exp(t["loss"]), rel=1e-4)
    assert a["model"]["step"] == 8 and a["tasks"]["items"] == 24 and a["tasks"]["sha256"]
    # the ablation scored the same model on the same task file: the same accuracy
    assert a["tasks"]["acc"] == res["runs"]["clean"][0]["tasks"]["acc"]


def test_eval_refuses_text_without_usable_documents_and_bad_tasks(ablation, tmp_path, caplog):
    clean, _, out, _ = ablation
    ckpt = str(out / "runs" / "clean" / "seed-0")
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": ""}\n{"no_text": 1}\nnot json\n', encoding="utf-8")
    assert main(["eval", "--checkpoint", ckpt, "--text", str(empty), "--device", "cpu"]) == 1
    assert "holds no usable document (3 record(s) quarantined" in caplog.text
    bad = tmp_path / "tasks.jsonl"
    bad.write_text(json.dumps({"id": "x", "context": "a", "choices": [" b", " c"], "label": 3}) + "\n")
    # the task file is checked before the model is loaded: a missing checkpoint is not reached
    assert main(["eval", "--checkpoint", str(tmp_path / "none"), "--tasks", str(bad)]) == 1
    assert "label 3 is out of range for 2 choices" in caplog.text
    assert main(["eval", "--checkpoint", ckpt]) == 2
    assert main(["eval", "--checkpoint", str(bad), "--text", str(empty)]) == 1  # read first: no usable document
    assert main(["eval", "--checkpoint", str(bad), "--tasks", "demo-cloze"]) == 1
    assert "is not a corpusforge checkpoint" in caplog.text
    assert main(["eval", "--checkpoint", ckpt, "--tasks", "demo-cloze", "--stride", "99"]) == 0  # no text: unused
    assert main(["eval", "--checkpoint", ckpt, "--text", str(clean), "--stride", "99"]) == 1
    assert "--stride 99 must be between 1 and the context length 32" in caplog.text


def test_ablate_refuses_bad_input_before_training(ablation, tmp_path, caplog):
    clean, noisy, out, _ = ablation
    target = tmp_path / "never"
    bad = tmp_path / "tasks.jsonl"
    bad.write_text(json.dumps({"id": "x", "context": "a", "choices": [" b", " c"], "label": 2}) + "\n")
    args = ["ablate", "--data", f"a={clean}", "--data", f"b={noisy}", "--tokenizer", str(TOKENIZER), "--tokens",
            "1024", "--seq-len", "32", "--batch-size", "4", "--device", "cpu", "--out", str(target)]
    assert main([*args, "--tasks", str(bad)]) == 1
    assert "label 2 is out of range" in caplog.text
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": "   "}\n', encoding="utf-8")
    assert main([*args, "--eval-text", str(empty)]) == 1
    assert "no usable document" in caplog.text
    assert main([*args, "--tasks", "demo-cloze", "--model", "nosuch"]) == 1
    assert "neither a preset" in caplog.text
    assert not (target / "runs").exists()
    # two datasets tokenized with different tokenizers: both hashes are named
    other_tok = tmp_path / "tok.json"
    other_tok.write_text(TOKENIZER.read_text(encoding="utf-8").replace('"<|pad|>"', '"<|pad2|>"', 1),
                         encoding="utf-8")
    folder_a, folder_b = out / "data" / "clean", tmp_path / "b-shards"
    os.system(f"cp -r '{out / 'data' / 'noisy'}' '{folder_b}'")
    index = json.loads((folder_b / "index.json").read_text())
    index["tokenizer_sha256"] = "f" * 64
    (folder_b / "index.json").write_text(json.dumps(index))
    assert main(["ablate", "--data", f"a={folder_a}", "--data", f"b={folder_b}", "--tokens", "1024", "--seq-len",
                 "32", "--batch-size", "4", "--tasks", "demo-cloze", "--device", "cpu", "--out", str(target)]) == 1
    assert "different tokenizers" in caplog.text and "f" * 64 in caplog.text
    one = ["ablate", "--data", f"a={clean}", "--tokens", "10", "--tasks", "demo-cloze", "--out", str(target)]
    assert main(one) == 2  # a single dataset is a usage error


_CHART_JS = """JSON.stringify(Array.from(document.querySelectorAll('svg.chart')).map(e => {
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  return {id: e.dataset.chart, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
          visible: s.visibility === 'visible' && s.display !== 'none',
          lines: e.querySelectorAll('polyline.series').length};
}))"""


def test_ablation_report_renders_in_headless_chromium(ablation, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"headless Chromium not found at {CHROMIUM}: run scripts/install_chromium.sh (Debian's "
                    "`chromium` package) or set CORPUSFORGE_CHROMIUM to a Chromium binary")
    _, _, out, _ = ablation
    page = out / "ablation.html"
    browser = _Browser(tmp_path / "chromium-profile")
    try:
        sid = browser.new_page()
        browser.call("Page.navigate", {"url": page.resolve().as_uri()}, session=sid)
        browser.wait_for("Page.loadEventFired")
        charts = json.loads(browser.call("Runtime.evaluate", {"expression": _CHART_JS, "returnByValue": True},
                                         session=sid)["result"]["value"])
        assert len(charts) == 1 and charts[0]["id"] == "loss-curves" and charts[0]["lines"] == 4
        c = charts[0]
        assert c["visible"] and c["w"] > 300 and c["h"] > 150
        shot = browser.call("Page.captureScreenshot", {
            "format": "png", "clip": {"x": c["x"], "y": c["y"], "width": c["w"], "height": c["h"], "scale": 1},
            "captureBeyondViewport": True}, session=sid)
        img = _decode_png(base64.b64decode(shot["data"]))[..., :3].astype(np.int16)
        text = browser.call("Runtime.evaluate", {"expression": "document.body.innerText", "returnByValue": True},
                            session=sid)["result"]["value"]
        events = list(browser.events)
    finally:
        browser.close()
    for color in SERIES_COLORS[:2]:  # one line colour per dataset, both drawn
        rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
        assert (np.abs(img - rgb).max(axis=2) <= 40).sum() >= 30, f"no line of colour {color} is visible"
    for needle in ("bits per byte", "clean", "noisy", "exceed", "Training loss"):
        assert needle in text
    errors = [e for e in events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert not errors, errors
    requests = {e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"}
    assert requests == {page.resolve().as_uri()}
