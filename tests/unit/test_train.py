"""Training in miniature: tokenizer -> shards -> 30 steps with a falling loss -> resume -> sample; exact
resume; a two-process DDP run on CPU (gloo); the command-line entry points."""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import train.trainer as trainer_module
from pipelines.text.tokenize import EOS_TOKEN, encode_documents, load_tokenizer
from storage.shards import ShardWriter
from tests.conftest import REPO_ROOT
from train.checkpoint import latest_checkpoint, load_checkpoint
from train.sampling import load_sampler
from train.trainer import TrainConfig, WarmupCosine, train

ANIMALS = ["cat", "dog", "fox", "owl", "bee", "cow", "hen", "elk"]
VERBS = ["sees", "likes", "chases", "finds", "follows"]
PLACES = ["the park", "the barn", "a tall tree", "the river", "the old mill"]


def _docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(
            f"The {rng.choice(ANIMALS)} {rng.choice(VERBS)} the {rng.choice(ANIMALS)} near {rng.choice(PLACES)}."
            for _ in range(rng.randint(2, 6))
        )
        for _ in range(n)
    ]


def _cli(module_names, argv) -> int:
    """Run our sub-commands through a parser built like jobs.cli (whose module list the lead maintains)."""
    import importlib

    parser = argparse.ArgumentParser(prog="corpusforge")
    sub = parser.add_subparsers(dest="command")
    for name in module_names:
        importlib.import_module(name).register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A curated-like Parquet table, a tokenizer trained on it by the CLI, and uneven shards."""
    root = tmp_path_factory.mktemp("mini")
    docs = _docs(360)
    curated = root / "curated"
    curated.mkdir()
    table = pa.table({"doc_id": [f"{i:06d}" for i in range(len(docs))], "text": docs,
                      "source": ["synthetic"] * len(docs)})
    pq.write_table(table.slice(0, 200), curated / "part-0.parquet")
    pq.write_table(table.slice(200), curated / "part-1.parquet")
    tok_path = root / "tok.json"
    assert _cli(["jobs.cmd_tokenizer"], ["tokenizer", "train", "--input", str(curated), "--vocab-size", "400",
                                         "--output", str(tok_path), "--min-frequency", "1"]) == 0
    tok = load_tokenizer(tok_path)
    eos = tok.token_id(EOS_TOKEN)
    offsets, values = encode_documents(tok, docs, eos_id=eos)
    shards = root / "shards"
    with ShardWriter(shards, vocab_size=tok.vocab_size, tokenizer_sha256=tok.sha256, eos_id=eos, eos_appended=True,
                     dataset_version="mini-1", target_shard_bytes=6000, row_group_bytes=1500,
                     tokenizer_file=tok_path) as w:
        for i, _ in enumerate(docs):
            w.write_document(f"{i:06d}", values[offsets[i]:offsets[i + 1]], "synthetic", "en")
    assert len(w.index.shards) >= 4 and len({s.tokens for s in w.index.shards}) > 1  # uneven
    return {"root": root, "shards": shards, "tok": tok_path, "docs": docs}


def _cfg(corpus, out, **kw) -> TrainConfig:
    base = dict(shards=str(corpus["shards"]), out=str(out), steps=30, seq_len=32, batch_size=8, model="tiny",
                lr=3e-3, min_lr=3e-4, warmup_steps=3, log_every=5, eval_every=15, eval_batches=2, ckpt_every=10,
                holdout_shards=1)
    base.update(kw)
    return TrainConfig(**base)


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_module_is_this_repository():
    assert Path(trainer_module.__file__).resolve().is_relative_to(REPO_ROOT)


def test_warmup_cosine_schedule():
    s = WarmupCosine(1.0, 0.1, warmup=4, total=14)
    lrs = [s.lr_at(i) for i in range(15)]
    assert lrs[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:])) and abs(lrs[14] - 0.1) < 1e-9


def test_thirty_steps_loss_falls_then_resume_and_sample(corpus, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "ck"
    summary = train(_cfg(corpus, out))
    rows = _rows(out)
    losses = [r["loss"] for r in rows if "loss" in r]
    assert [r["step"] for r in rows if "loss" in r] == [5, 10, 15, 20, 25, 30]
    assert losses[-1] < 0.7 * losses[0]
    assert all({"lr", "tokens_per_s", "data_wait"} <= r.keys() for r in rows if "loss" in r)
    evals = [r for r in rows if "eval_loss" in r]
    assert [r["step"] for r in evals] == [15, 30] and evals[-1]["eval_loss"] < evals[0]["eval_loss"] + 0.5
    perplexity = evals[-1]["perplexity"]
    assert abs(perplexity - torch.tensor(evals[-1]["eval_loss"]).exp().item()) < 1e-2 * perplexity
    assert summary["checkpoint"].endswith("ckpt-00000030.pt")

    # without --resume an existing run is never overwritten
    with pytest.raises(FileExistsError, match="--resume"):
        train(_cfg(corpus, out, steps=35))
    resumed = train(_cfg(corpus, out, steps=35, resume=True))
    assert resumed["start_step"] == 30
    steps = [r["step"] for r in _rows(out) if "loss" in r]
    assert steps == [5, 10, 15, 20, 25, 30, 35]
    ck = load_checkpoint(out)
    assert ck["step"] == 35 and ck["data"]["batches"] + ck["data"]["epoch"] > 0

    sampler = load_sampler(out)
    text = sampler.generate("The cat", max_new_tokens=12, temperature=0.0)
    assert isinstance(text, str) and text.strip()
    words = set(" ".join(corpus["docs"]).replace(".", " ").split())
    assert any(w in words for w in text.replace(".", " ").split())  # it learned the corpus's words


def test_resume_is_exact(corpus, tmp_path):
    torch.set_num_threads(1)
    straight = tmp_path / "a"
    train(_cfg(corpus, straight, steps=12, ckpt_every=6, eval_every=0, log_every=2))
    interrupted = tmp_path / "b"
    train(_cfg(corpus, interrupted, steps=12, ckpt_every=6, eval_every=0, log_every=2))
    # simulate a crash after step 6: the step-12 checkpoint never happened
    (interrupted / "ckpt-00000012.pt").unlink()
    (interrupted / "latest").write_text("ckpt-00000006.pt\n")
    train(_cfg(corpus, interrupted, steps=12, ckpt_every=6, eval_every=0, log_every=2, resume=True))
    a, b = load_checkpoint(straight), load_checkpoint(interrupted)
    assert a["step"] == b["step"] == 12
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["data"] == b["data"]
    la = [(r["step"], r["loss"]) for r in _rows(straight) if "loss" in r]
    lb = [(r["step"], r["loss"]) for r in _rows(interrupted) if "loss" in r]
    assert la == lb


def test_checkpoint_loads_with_weights_only(corpus, tmp_path):
    out = tmp_path / "ck"
    train(_cfg(corpus, out, steps=2, ckpt_every=1, keep_checkpoints=1, eval_every=0))
    path = latest_checkpoint(out)
    assert path.name == "ckpt-00000002.pt" and not (out / "ckpt-00000001.pt").exists()
    data = torch.load(path, weights_only=True)  # raises if anything but tensors and plain data is inside
    assert data["model_config"]["vocab_size"] == load_tokenizer(corpus["tok"]).vocab_size
    assert isinstance(data["tokenizer_json"], str)


def test_ddp_two_processes_gloo(corpus, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "train",
           "--shards", str(corpus["shards"]), "--out", str(out), "--steps", "4", "--seq-len", "32", "--batch-size", "4",
           "--model", "tiny", "--log-every", "2", "--eval-every", "0", "--eval-batches", "1", "--holdout-shards", "1",
           "--device", "cpu"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(out)
    assert [r["step"] for r in rows if "loss" in r] == [2, 4]
    assert all(r["world_size"] == 2 for r in rows if "loss" in r)
    assert [r for r in rows if "loss" in r][-1]["tokens"] == 4 * 4 * 32 * 2  # both ranks' tokens counted
    assert [r for r in rows if "eval_loss" in r]  # evaluation ran on both ranks (all_reduce) at the end
    ck = load_checkpoint(out)
    assert ck["step"] == 4 and ck["data"]["world_size"] == 2


def test_cli_train_shards_verify_and_sample(corpus, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = _cli(["jobs.cmd_train"], ["train", "--shards", str(corpus["shards"]), "--out", str(out), "--steps", "3",
                                   "--seq-len", "16", "--batch-size", "2", "--model", "tiny", "--eval-every", "0",
                                   "--holdout-shards", "1", "--eval-batches", "1"])
    assert rc == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 3
    assert _cli(["jobs.cmd_shards"], ["shards", "verify", str(corpus["shards"])]) == 0
    assert capsys.readouterr().out.startswith("OK ")
    assert _cli(["jobs.cmd_sample"], ["sample", "--checkpoint", str(out), "--prompt", "The dog",
                                      "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.startswith("The dog")
    rc = _cli(["jobs.cmd_train"], ["train", "--shards", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])
    assert rc == 1


def test_python_dash_m_train_help():
    proc = subprocess.run([sys.executable, "-m", "train", "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), timeout=60)
    assert proc.returncode == 0 and "--shards" in proc.stdout and "--resume" in proc.stdout
