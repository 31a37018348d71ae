"""The training loop: read it top to bottom in :func:`train`.

One process per device. Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DDP (NCCL on
CUDA, gloo on CPU) and every rank streams its own share of the shards; the dataset gives every rank the
same number of batches, so no rank waits forever for another at the end of an epoch.

Per step: ``grad_accum`` micro-batches (DDP syncs gradients only on the last), bf16 autocast on CUDA,
gradient clipping, AdamW with linear warmup and cosine decay. Rank 0 writes ``metrics.jsonl`` (one JSON
object per logged step: step, loss, lr, tokens_per_s, data_wait; eval rows: eval_loss, perplexity) and
atomic checkpoints (model, optimizer, scheduler, step, dataset position, RNG); ``resume`` continues from
the latest checkpoint exactly where the data stream stopped.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Literal, Optional

import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict, Field

from storage.files import atomic_write_text
from train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from train.dataset import ShardDataset, ShardLoader, load_index
from train.model import GPT, model_config_from

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


class TrainConfig(BaseModel):
    """Everything a training run is configured by (the CLI flags map onto these fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shards: str = Field(description="Shard folder, dataset store (with CURRENT) or index.json")
    out: str = Field(description="Checkpoint folder (metrics.jsonl, ckpt-*.pt)")
    steps: int = Field(1000, gt=0)
    seq_len: int = Field(256, gt=0)
    batch_size: int = Field(8, gt=0, description="Windows per micro-batch per rank")
    grad_accum: int = Field(1, gt=0)
    model: str = "small"
    lr: float = Field(3e-4, gt=0)
    min_lr: float = Field(3e-5, ge=0)
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = Field(1.0, ge=0, description="0 disables clipping")
    seed: int = 0
    eval_every: int = Field(200, ge=0, description="0: evaluate only at the end")
    eval_batches: int = Field(20, gt=0)
    holdout_shards: Optional[int] = Field(None, ge=0, description="Default: 5% of the shards, at least 1 when >= 2")
    log_every: int = Field(10, gt=0)
    ckpt_every: int = Field(200, ge=0, description="0: checkpoint only at the end")
    keep_checkpoints: int = Field(2, ge=1)
    num_workers: int = Field(0, ge=0)
    shuffle_buffer: int = Field(1024, gt=0)
    verify: Literal["hash", "size", "none"] = "hash"
    compile: bool = False
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    resume: bool = False


class WarmupCosine:
    """Learning rate: linear warmup to ``lr``, then cosine decay to ``min_lr`` at ``total`` steps."""

    def __init__(self, lr: float, min_lr: float, warmup: int, total: int) -> None:
        self.lr, self.min_lr, self.warmup, self.total = lr, min_lr, warmup, total
        self.step_count = 0

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (self.lr - self.min_lr)

    def step(self, optimizer: torch.optim.Optimizer) -> float:
        lr = self.lr_at(self.step_count)
        for group in optimizer.param_groups:
            group["lr"] = lr
        self.step_count += 1
        return lr

    def state_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "min_lr": self.min_lr, "warmup": self.warmup, "total": self.total, "step_count": self.step_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])


def _setup_distributed(device_opt: str) -> tuple[int, int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_opt == "auto":
        use_cuda = torch.cuda.is_available()
        device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    else:
        device = torch.device(device_opt)
        if device.type == "cuda" and device.index is None:
            device = torch.device(f"cuda:{local_rank}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was requested but CUDA is not available; use --device cpu")
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank, world, local_rank, device


def _all_mean(value: float, device: torch.device, world: int) -> float:
    if world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / world


def _unwrap(model: torch.nn.Module) -> GPT:
    m = model.module if hasattr(model, "module") else model
    return getattr(m, "_orig_mod", m)


class MetricsWriter:
    """Appends JSON rows to metrics.jsonl (rank 0 only); on resume drops rows past the resumed step."""

    def __init__(self, path: Path, enabled: bool, resume_step: Optional[int]) -> None:
        self.path, self.enabled = path, enabled
        if not enabled:
            return
        if resume_step is not None and path.exists():
            kept = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and json.loads(ln).get("step", 0) <= resume_step]
            atomic_write_text(path, "".join(ln + "\n" for ln in kept))
        elif path.exists():
            path.unlink()

    def write(self, row: dict[str, Any]) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, sort_keys=True) + "\n")


def _evaluate(model, eval_ds: ShardDataset, device, autocast, world: int) -> float:
    model.eval()
    total, n = 0.0, 0
    eval_ds.set_epoch(0)
    with torch.no_grad():
        for x, y in ShardLoader(eval_ds, epochs=1):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast():
                _, loss = model(x, y)
            total += float(loss.item())
            n += 1
    model.train()
    return _all_mean(total / max(n, 1), device, world)


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train a GPT on the shards named by ``cfg`` and return a summary (steps, last loss, checkpoint)."""
    rank, world, _local, device = _setup_distributed(cfg.device)
    is_main = rank == 0
    out = Path(cfg.out)
    if is_main:
        out.mkdir(parents=True, exist_ok=True)

    # ---- data
    index, folder = load_index(cfg.shards)
    n_shards = len(index.shards)
    holdout = cfg.holdout_shards if cfg.holdout_shards is not None else (max(1, round(0.05 * n_shards)) if n_shards >= 2 else 0)
    train_ds = ShardDataset(
        folder, cfg.seq_len, cfg.batch_size, rank=rank, world_size=world, seed=cfg.seed, shuffle=True,
        shuffle_buffer=cfg.shuffle_buffer, verify=cfg.verify, split="train" if holdout else "all",
        holdout_shards=holdout,
    )
    loader = ShardLoader(train_ds, num_workers=cfg.num_workers, pin_memory=device.type == "cuda")
    eval_ds = None
    if holdout:
        eval_ds = ShardDataset(
            folder, cfg.seq_len, cfg.batch_size, rank=rank, world_size=world, shuffle=False, verify=cfg.verify,
            split="eval", holdout_shards=holdout, max_batches=cfg.eval_batches,
        )
        if eval_ds.batches_per_slot() == 0:
            log.warning("the %d held-out shard(s) hold less than one batch per rank: evaluation is off", holdout)
            eval_ds = None
    elif cfg.holdout_shards is None:
        log.warning("only one shard: no held-out split, evaluation is off (write smaller shards to get one)")
    else:
        log.info("holdout_shards=0: evaluation is off")

    # ---- model and optimizer
    mcfg = model_config_from(cfg.model)
    if mcfg.vocab_size and mcfg.vocab_size < index.vocab_size:
        raise ValueError(f"model vocab_size {mcfg.vocab_size} is smaller than the shards' vocabulary {index.vocab_size}")
    mcfg = mcfg.model_copy(update={"vocab_size": mcfg.vocab_size or index.vocab_size, "max_seq_len": max(mcfg.max_seq_len, cfg.seq_len)})
    torch.manual_seed(cfg.seed)
    model = GPT(mcfg).to(device)
    optimizer = torch.optim.AdamW(
        model.optimizer_groups(cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
        fused=device.type == "cuda",
    )
    sched = WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.steps)

    # ---- resume
    start_step, tokens_seen = 0, 0
    ckpt_path = latest_checkpoint(out)
    if ckpt_path is not None and not cfg.resume:
        raise FileExistsError(f"{out} already holds checkpoints; pass --resume to continue, or choose another --out")
    if cfg.resume and ckpt_path is not None:
        ck = load_checkpoint(ckpt_path, map_location=device)
        if ck["model_config"] != mcfg.model_dump():
            raise ValueError(f"{ckpt_path} was trained with model {ck['model_config']}, not {mcfg.model_dump()}; use the same --model")
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        loader.load_state_dict(ck["data"])
        torch.set_rng_state(ck["rng_cpu"])
        start_step, tokens_seen = int(ck["step"]), int(ck["tokens_seen"])
        log.info("resumed from %s at step %d", ckpt_path, start_step)
    elif cfg.resume:
        log.info("--resume: no checkpoint in %s yet, starting from step 0", out)

    tokenizer_json = None
    if index.tokenizer_file:
        tok_path = folder / index.tokenizer_file
        if tok_path.is_file():
            tokenizer_json = tok_path.read_bytes().decode("utf-8")  # no newline translation: same sha256

    net: torch.nn.Module = model
    if cfg.compile:
        net = torch.compile(net)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)
    if device.type == "cuda":
        autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        autocast = contextlib.nullcontext

    metrics = MetricsWriter(out / METRICS_FILE, is_main, start_step if cfg.resume else None)
    if is_main:
        atomic_write_text(out / "train.json", json.dumps({
            "train_config": cfg.model_dump(), "model_config": mcfg.model_dump(), "parameters": model.num_parameters(),
            "world_size": world, "device": str(device), "dataset_version": index.dataset_version,
            "tokenizer_sha256": index.tokenizer_sha256, "holdout_shards": holdout,
        }, indent=2, sort_keys=True) + "\n")
        log.info("model %d parameters, %d rank(s) on %s, %d steps/epoch per rank",
                 model.num_parameters(), world, device, loader.steps_per_epoch())

    def checkpoint(step: int) -> Optional[Path]:
        if not is_main:
            return None
        return save_checkpoint(out, step, {
            "model": _unwrap(net).state_dict(), "optimizer": optimizer.state_dict(), "scheduler": sched.state_dict(),
            "data": loader.state_dict(), "tokens_seen": tokens_seen, "rng_cpu": torch.get_rng_state(),
            "model_config": mcfg.model_dump(), "train_config": cfg.model_dump(),
            "dataset": {"dataset_version": index.dataset_version, "tokenizer_sha256": index.tokenizer_sha256,
                        "eos_id": index.eos_id, "vocab_size": index.vocab_size},
            "tokenizer_json": tokenizer_json,
        }, keep=cfg.keep_checkpoints)

    # ---- the loop
    net.train()
    it = iter(loader)
    tokens_per_step = cfg.batch_size * cfg.seq_len * cfg.grad_accum * world
    last_loss, last_ckpt = float("nan"), None
    t_last, tok_last, wait = time.perf_counter(), tokens_seen, 0.0
    loss_sum, loss_n = 0.0, 0
    tty = sys.stderr.isatty() and is_main
    for step in range(start_step + 1, cfg.steps + 1):
        lr = sched.step(optimizer)
        step_loss = torch.zeros((), device=device)
        for micro in range(cfg.grad_accum):
            t0 = time.perf_counter()
            x, y = next(it)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            wait += time.perf_counter() - t0
            sync = world == 1 or micro == cfg.grad_accum - 1
            with (contextlib.nullcontext() if sync else net.no_sync()), autocast():
                _, loss = net(x, y)
            (loss / cfg.grad_accum).backward()
            step_loss += loss.detach() / cfg.grad_accum
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens_seen += tokens_per_step
        loss_sum += float(step_loss.item())
        loss_n += 1

        if step % cfg.log_every == 0 or step == cfg.steps:
            now = time.perf_counter()
            elapsed = max(now - t_last, 1e-9)
            last_loss = _all_mean(loss_sum / loss_n, device, world)
            row = {"step": step, "loss": round(last_loss, 6), "lr": lr,
                   "tokens_per_s": round((tokens_seen - tok_last) / elapsed, 1),
                   "data_wait": round(wait / elapsed, 4), "tokens": tokens_seen, "world_size": world}
            metrics.write(row)
            if is_main:
                msg = (f"step {step}/{cfg.steps} loss {last_loss:.4f} lr {lr:.2e} "
                       f"{row['tokens_per_s'] / 1000:.1f}k tok/s data-wait {100 * row['data_wait']:.0f}%")
                if tty:
                    print("\r" + msg, end="", file=sys.stderr, flush=True)
                log.info(msg)
            t_last, tok_last, wait, loss_sum, loss_n = now, tokens_seen, 0.0, 0.0, 0
        if eval_ds is not None and ((cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps):
            eval_loss = _evaluate(net, eval_ds, device, autocast, world)
            metrics.write({"step": step, "eval_loss": round(eval_loss, 6), "perplexity": round(math.exp(min(eval_loss, 50)), 4)})
            if is_main:
                log.info("step %d eval_loss %.4f perplexity %.2f", step, eval_loss, math.exp(min(eval_loss, 50)))
            t_last = time.perf_counter()  # evaluation time is not training throughput
        if (cfg.ckpt_every and step % cfg.ckpt_every == 0) or step == cfg.steps:
            last_ckpt = checkpoint(step)
            if world > 1:
                dist.barrier()
    if tty:
        print(file=sys.stderr)
    summary = {"steps": cfg.steps, "start_step": start_step, "loss": last_loss, "tokens": tokens_seen,
               "checkpoint": str(last_ckpt) if last_ckpt else None, "world_size": world}
    if world > 1 and dist.is_initialized():
        dist.destroy_process_group()
    return summary
