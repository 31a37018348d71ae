"""Training on a mixture: ``corpusforge train --mix``, shares in metrics.jsonl and the summary, the mixture in
the checkpoint, exact resume, a changed mixture refused on resume, and bad input refused before step 1."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from storage.shards import ShardWriter
from tests.conftest import REPO_ROOT
from train.checkpoint import load_checkpoint
from train.config import TrainConfig
from train.trainer import train

VOCAB = 256
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


def _write(folder: Path, n_docs: int, lo: int, hi: int, seed: int, vocab: int = VOCAB, tok: str = "ef" * 32) -> Path:
    """Documents of ids drawn from ``[lo, hi)``: each stream has its own id range (and so its own statistics)."""
    rng = np.random.default_rng(seed)
    with ShardWriter(folder, vocab_size=vocab, tokenizer_sha256=tok, eos_id=vocab - 1, eos_appended=True,
                     dataset_version=folder.name, target_shard_bytes=3000, row_group_bytes=800) as w:
        for i in range(n_docs):
            ids = np.append(rng.integers(lo, hi, size=int(rng.integers(20, 60))), vocab - 1)
            w.write_document(f"d{i:05d}", ids, "src", "en" if i % 3 else "de")
    return folder


@pytest.fixture(scope="module")
def mixdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixtrain")
    _write(root / "web", 300, 0, 120, 1)
    _write(root / "books", 150, 120, 250, 2)
    _write(root / "heldout", 60, 0, 250, 3)
    mix = {"streams": [{"name": "web", "path": "web", "weight": 0.75},
                       {"name": "books", "path": "books", "weight": 0.25, "filter": {"lang": "en"}}],
           "eval": "heldout"}
    (root / "mix.yaml").write_text(yaml.safe_dump(mix))
    return root


def _cfg(mixdir, out, **kw) -> TrainConfig:
    base = dict(mix=str(mixdir / "mix.yaml"), out=str(out), steps=12, seq_len=16, batch_size=4, model="tiny",
                lr=3e-3, warmup_steps=2, log_every=3, eval_every=0, eval_batches=2, ckpt_every=6, seed=5,
                num_workers=0)
    base.update(kw)
    return TrainConfig(**base)


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_mixture_trains_records_shares_and_resumes_exactly(mixdir, tmp_path):
    torch.set_num_threads(1)
    straight = tmp_path / "a"
    summary = train(_cfg(mixdir, straight))
    assert set(summary["mixture"]) == {"web", "books"}
    assert summary["mixture"]["web"]["tokens"] + summary["mixture"]["books"]["tokens"] == summary["tokens"]
    assert abs(summary["mixture"]["web"]["share"] - 0.75) <= 1 / 48 + 1e-9  # 48 windows: within one window
    rows = _rows(straight)
    logged = [r for r in rows if "loss" in r]
    assert all(set(r["mix_shares"]) == {"web", "books"} for r in logged)
    assert rows[-1]["mixture"] == summary["mixture"]
    assert [r for r in rows if "eval_loss" in r]  # the mixture's eval source is used
    ck = load_checkpoint(straight)
    rec = ck["mixture"]
    assert [s["name"] for s in rec["streams"]] == ["web", "books"]
    assert rec["streams"][1]["filter"] == {"lang": ["en"]} and len(rec["streams"][0]["shards"]) >= 2
    assert all(len(h) == 64 for s in rec["streams"] for h in s["shards"])
    assert json.loads((straight / "train.json").read_text())["mixture"]["streams"][0]["weight"] == 0.75

    interrupted = tmp_path / "b"
    train(_cfg(mixdir, interrupted, num_workers=2))
    (interrupted / "ckpt-00000012.pt").unlink()
    (interrupted / "latest").write_text("ckpt-00000006.pt\n")
    train(_cfg(mixdir, interrupted, num_workers=2, resume=True))
    c = load_checkpoint(interrupted)
    # the slots depend on num_workers, so the reference is a straight run with the same 2 workers
    straight2 = tmp_path / "c"
    train(_cfg(mixdir, straight2, num_workers=2))
    d = load_checkpoint(straight2)
    for k in c["model"]:
        assert torch.equal(c["model"][k], d["model"][k]), k
    assert c["data"] == d["data"]


def test_a_changed_mixture_is_refused_on_resume_unless_allowed(mixdir, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "ck"
    train(_cfg(mixdir, out, steps=4, ckpt_every=4))
    changed = yaml.safe_load((mixdir / "mix.yaml").read_text())
    changed["streams"][0]["weight"] = 0.5
    (mixdir / "mix2.yaml").write_text(yaml.safe_dump(changed))
    with pytest.raises(ValueError, match=r"another mixture \(stream 'books': share changed 0.25 -> 0.333333333; "
                                         r"stream 'web': share changed 0.75 -> 0.666666667\).*"
                                         r"--allow-mixture-change"):
        train(_cfg(mixdir, out, steps=6, resume=True, mix=str(mixdir / "mix2.yaml")))
    with pytest.raises(ValueError, match="single shard source"):
        train(TrainConfig(shards=str(mixdir / "web"), out=str(out), steps=6, seq_len=16, batch_size=4, model="tiny",
                          resume=True, seed=5))
    other_tok = _write(tmp_path / "retok", 100, 0, 250, 9, tok="12" * 32)
    with pytest.raises(ValueError, match="another tokenizer"):
        train(_cfg(mixdir, out, steps=6, resume=True, mix=[{"path": str(other_tok), "weight": 1}],
                   allow_mixture_change=True))
    summary = train(_cfg(mixdir, out, steps=6, resume=True, mix=str(mixdir / "mix2.yaml"), allow_mixture_change=True))
    assert summary["start_step"] == 4 and load_checkpoint(out)["mixture"]["streams"][0]["weight"] == 0.5


def test_bad_input_is_refused_before_training(mixdir, tmp_path):
    model = tmp_path / "model.yaml"
    model.write_text(yaml.safe_dump({"n_layer": 1, "n_head": 1, "d_model": 16, "vocab_size": 100}))
    with pytest.raises(ValueError, match="vocab_size 100 is smaller than the shards' vocabulary 256"):
        train(_cfg(mixdir, tmp_path / "v", model=str(model)))
    with pytest.raises(ValueError, match="matches no row"):
        train(_cfg(mixdir, tmp_path / "f", mix={"streams": [{"path": str(mixdir / "web"), "weight": 1,
                                                              "filter": {"source": "nowhere"}}]}))
    finite = {"streams": [{"path": str(mixdir / "books"), "weight": 1, "max_epochs": 1}], "on_exhausted": "stop"}
    with pytest.raises(ValueError, match=r"the mixture ends after \d+ steps.*--steps is 100000"):
        train(_cfg(mixdir, tmp_path / "s", mix=finite, steps=100000))
    assert not (tmp_path / "v" / "metrics.jsonl").exists() and not list((tmp_path / "s").glob("ckpt-*"))
    with pytest.raises(ValueError, match="exactly one data source"):
        TrainConfig(out="x", shards="a", mix="b.yaml")


def _cli(argv) -> int:
    import jobs.cmd_train as cmd

    parser = argparse.ArgumentParser(prog="corpusforge")
    cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_train_mix(mixdir, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = _cli(["train", "--mix", str(mixdir / "mix.yaml"), "--out", str(out), "--steps", "3", "--seq-len", "16",
               "--batch-size", "2", "--model", "tiny", "--eval-every", "0", "--eval-batches", "1"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary["mixture"]) == {"web", "books"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump([{"path": str(mixdir / "web"), "weight": -1}]))
    assert _cli(["train", "--mix", str(bad), "--out", str(tmp_path / "x")]) == 1
    with pytest.raises(SystemExit):  # --shards and --mix together
        _cli(["train", "--mix", str(bad), "--shards", str(mixdir / "web"), "--out", str(tmp_path / "y")])


def test_python_dash_m_train_help_lists_mix():
    proc = subprocess.run([sys.executable, "-m", "train", "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), timeout=60)
    assert proc.returncode == 0 and "--mix" in proc.stdout and "--allow-mixture-change" in proc.stdout


def test_ddp_two_processes_on_a_mixture(mixdir, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "train",
           "--mix", str(mixdir / "mix.yaml"), "--out", str(out), "--steps", "4", "--seq-len", "16", "--batch-size",
           "4", "--model", "tiny", "--log-every", "2", "--eval-every", "0", "--eval-batches", "1", "--device", "cpu"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(out)
    final = rows[-1]["mixture"]
    assert sum(v["tokens"] for v in final.values()) == 4 * 4 * 16 * 2  # both ranks' tokens
    assert abs(final["web"]["share"] - 0.75) <= 1 / 16 + 1e-9 and [r for r in rows if "eval_loss" in r]
    assert load_checkpoint(out)["data"]["world_size"] == 2
