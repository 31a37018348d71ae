"""The training loop: :func:`train` sets up (:func:`_setup`) and runs the steps (:func:`_loop`).

One process per device. Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DDP (NCCL on
CUDA, gloo on CPU) and every rank streams its own share of the shards; the dataset gives every rank the
same number of batches, so no rank waits forever for another at the end of an epoch.

Per step: ``grad_accum`` micro-batches (DDP syncs gradients only on the last), bf16 autocast on CUDA,
gradient clipping, AdamW with linear warmup and cosine decay. Rank 0 writes ``metrics.jsonl`` (one JSON
object per logged step: step, loss, lr, tokens_per_s, data_wait; eval rows: eval_loss, perplexity) and
atomic checkpoints (model, optimizer, scheduler, step, dataset position, RNG); ``resume`` continues from
the latest checkpoint exactly where the data stream stopped.

With ``cfg.mix`` the data is a mixture of shard streams (:mod:`train.mixture`): validated before the first
step, its realized token shares logged (``mix_shares``) and its record kept in every checkpoint.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from storage.files import atomic_write_text
from storage.shards import ShardIndex
from train.allocator import tune_malloc
from train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from train.config import TrainConfig
from train.dataset import ShardDataset, ShardLoader, load_index
from train.mixture import MixtureDataset, MixtureLoader, describe_mixture_change
from train.model import GPT, ModelConfig, model_config_from

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


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
        return {"lr": self.lr, "min_lr": self.min_lr, "warmup": self.warmup, "total": self.total,
                "step_count": self.step_count}

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
            kept = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                    if ln.strip() and json.loads(ln).get("step", 0) <= resume_step]
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


def _holdout_shards(cfg: TrainConfig, n_shards: int) -> int:
    """Shards held out for evaluation: the configured number, else 5% (at least 1 when there are 2 or more)."""
    if cfg.holdout_shards is not None:
        return cfg.holdout_shards
    return max(1, round(0.05 * n_shards)) if n_shards >= 2 else 0


@dataclass
class _Data:
    """The shards and the streams read from them."""

    index: ShardIndex
    folder: Path
    holdout: int
    loader: ShardLoader | MixtureLoader
    eval_ds: Optional[ShardDataset]
    mixture: Optional[dict[str, Any]] = None  # the mixture record (streams, weights, shard hashes) under --mix


def _build_mixture_data(cfg: TrainConfig, rank: int, world: int, device: torch.device) -> _Data:
    """The mixed training stream of this rank (``--mix``) and the mixture's ``eval`` source, if it names one.

    Everything that can be wrong with the mixture is refused here, before any training step.
    """
    if cfg.holdout_shards:
        log.warning("--holdout-shards applies to --shards only; a mixture evaluates on its 'eval' source")
    ds = MixtureDataset(cfg.mix, cfg.seq_len, cfg.batch_size, rank=rank, world_size=world, seed=cfg.seed,
                        shuffle_buffer=cfg.shuffle_buffer, verify=cfg.verify)
    loader = MixtureLoader(ds, num_workers=cfg.num_workers, pin_memory=device.type == "cuda")
    total, need = loader.steps_per_epoch(), cfg.steps * cfg.grad_accum
    if total is not None and total < need:
        raise ValueError(
            f"the mixture ends after {total // cfg.grad_accum} steps (on_exhausted={ds.spec.on_exhausted}, "
            f"max_epochs of {', '.join(s.name for s in ds.streams if s.spec.max_epochs)}), but --steps is "
            f"{cfg.steps}; raise max_epochs, use on_exhausted: renormalize, or lower --steps")
    for s, w in zip(ds.streams, ds.weights):
        log.info("stream %s: weight %.4f, %d rows, %d tokens per epoch%s", s.name, w, s.kept_rows, s.stream_tokens,
                 f", at most {s.spec.max_epochs} epoch(s)" if s.spec.max_epochs else "")
    eval_ds = None
    if ds.spec.eval:
        eval_ds = ShardDataset(ds.spec.eval, cfg.seq_len, cfg.batch_size, rank=rank, world_size=world, shuffle=False,
                               verify=cfg.verify, max_batches=cfg.eval_batches,
                               expected_tokenizer_sha256=ds.index.tokenizer_sha256)
        if eval_ds.batches_per_slot() == 0:
            log.warning("the mixture's eval source holds less than one batch per rank: evaluation is off")
            eval_ds = None
    else:
        log.info("the mixture names no eval source: evaluation is off")
    return _Data(index=ds.index, folder=ds.folder, holdout=0, loader=loader, eval_ds=eval_ds, mixture=ds.record())


def _build_data(cfg: TrainConfig, rank: int, world: int, device: torch.device) -> _Data:
    """The training stream of this rank and, when shards are held out, the evaluation set."""
    if cfg.mix is not None:
        return _build_mixture_data(cfg, rank, world, device)
    index, folder = load_index(cfg.shards)
    holdout = _holdout_shards(cfg, len(index.shards))
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
    return _Data(index=index, folder=folder, holdout=holdout, loader=loader, eval_ds=eval_ds)


def _build_model(cfg: TrainConfig, index: ShardIndex,
                 device: torch.device) -> tuple[ModelConfig, GPT, torch.optim.Optimizer, WarmupCosine]:
    """The model (its vocabulary fitted to the shards), AdamW and the learning-rate schedule."""
    mcfg = model_config_from(cfg.model)
    if mcfg.vocab_size and mcfg.vocab_size < index.vocab_size:
        raise ValueError(
            f"model vocab_size {mcfg.vocab_size} is smaller than the shards' vocabulary {index.vocab_size}")
    mcfg = mcfg.model_copy(update={"vocab_size": mcfg.vocab_size or index.vocab_size,
                                   "max_seq_len": max(mcfg.max_seq_len, cfg.seq_len)})
    torch.manual_seed(cfg.seed)
    model = GPT(mcfg).to(device)
    optimizer = torch.optim.AdamW(
        model.optimizer_groups(cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
        fused=device.type == "cuda",
    )
    sched = WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.steps)
    return mcfg, model, optimizer, sched


def _read_tokenizer_json(data: _Data) -> Optional[str]:
    """The tokenizer shipped with the shards, stored in every checkpoint (None when there is none)."""
    if not data.index.tokenizer_file:
        return None
    tok_path = data.folder / data.index.tokenizer_file
    if not tok_path.is_file():
        return None
    return tok_path.read_bytes().decode("utf-8")  # no newline translation: same sha256


def _wrap(model: GPT, cfg: TrainConfig, world: int, device: torch.device):
    """The module the loop runs (compiled, DDP-wrapped as configured) and its autocast context factory."""
    net: torch.nn.Module = model
    if cfg.compile:
        net = torch.compile(net)
    if world > 1:
        net = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)
    if device.type == "cuda":
        autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        autocast = contextlib.nullcontext
    return net, autocast


@dataclass
class _Run:
    """Everything one training run works with, built by :func:`_setup` (``tokens_seen`` advances per step)."""

    cfg: TrainConfig
    out: Path
    rank: int
    world: int
    device: torch.device
    data: _Data
    mcfg: ModelConfig
    model: GPT
    net: torch.nn.Module
    autocast: Any
    optimizer: torch.optim.Optimizer
    sched: WarmupCosine
    tokenizer_json: Optional[str]
    start_step: int = 0
    tokens_seen: int = 0
    metrics: Optional[MetricsWriter] = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _resume(run: _Run) -> None:
    """Load the latest checkpoint when ``--resume`` asks for it; refuse to overwrite one otherwise."""
    cfg, out = run.cfg, run.out
    ckpt_path = latest_checkpoint(out)
    if ckpt_path is not None and not cfg.resume:
        raise FileExistsError(f"{out} already holds checkpoints; pass --resume to continue, or choose another --out")
    if cfg.resume and ckpt_path is not None:
        ck = load_checkpoint(ckpt_path, map_location=run.device)
        if ck["model_config"] != run.mcfg.model_dump():
            raise ValueError(f"{ckpt_path} was trained with model {ck['model_config']}, not "
                             f"{run.mcfg.model_dump()}; use the same --model")
        run.model.load_state_dict(ck["model"])
        run.optimizer.load_state_dict(ck["optimizer"])
        run.sched.load_state_dict(ck["scheduler"])
        changes = describe_mixture_change(ck.get("mixture"), run.data.mixture)
        if changes and (not cfg.allow_mixture_change or ck.get("mixture") is None or run.data.mixture is None):
            hint = ("pass --allow-mixture-change to continue with the new mixture" if ck.get("mixture") is not None
                    and run.data.mixture is not None else "resume with the data source the checkpoint was trained on")
            raise ValueError(f"{ckpt_path} was trained on another mixture ({'; '.join(changes)}); {hint}")
        old_tok = (ck.get("dataset") or {}).get("tokenizer_sha256")
        if run.data.mixture is not None and old_tok and old_tok != run.data.index.tokenizer_sha256:
            raise ValueError(f"{ckpt_path} was trained on tokens of tokenizer {old_tok}, the mixture has "
                             f"{run.data.index.tokenizer_sha256}; a model cannot continue on another tokenizer")
        if changes:
            log.warning("mixture changed since %s (%s): continuing with the new one", ckpt_path, "; ".join(changes))
        if run.data.mixture is not None:
            run.data.loader.load_state_dict(ck["data"], allow_mixture_change=cfg.allow_mixture_change)
        else:
            run.data.loader.load_state_dict(ck["data"])
        torch.set_rng_state(ck["rng_cpu"])
        run.start_step, run.tokens_seen = int(ck["step"]), int(ck["tokens_seen"])
        log.info("resumed from %s at step %d", ckpt_path, run.start_step)
    elif cfg.resume:
        log.info("--resume: no checkpoint in %s yet, starting from step 0", out)


def _write_run_info(run: _Run) -> None:
    """Rank 0: ``train.json`` (configuration, model size, dataset identity) and a log line."""
    if not run.is_main:
        return
    index = run.data.index
    atomic_write_text(run.out / "train.json", json.dumps({
        "train_config": run.cfg.model_dump(), "model_config": run.mcfg.model_dump(),
        "parameters": run.model.num_parameters(), "world_size": run.world, "device": str(run.device),
        "dataset_version": index.dataset_version, "tokenizer_sha256": index.tokenizer_sha256,
        "holdout_shards": run.data.holdout, "mixture": run.data.mixture,
    }, indent=2, sort_keys=True) + "\n")
    log.info("model %d parameters, %d rank(s) on %s, %s steps/epoch per rank",
             run.model.num_parameters(), run.world, run.device, run.data.loader.steps_per_epoch() or "unlimited")


def _setup(cfg: TrainConfig) -> _Run:
    """Devices, data, model, optimizer, resumed state, metrics file and train.json."""
    rank, world, _local, device = _setup_distributed(cfg.device)
    out = Path(cfg.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    data = _build_data(cfg, rank, world, device)
    mcfg, model, optimizer, sched = _build_model(cfg, data.index, device)
    run = _Run(cfg=cfg, out=out, rank=rank, world=world, device=device, data=data, mcfg=mcfg, model=model,
               net=model, autocast=contextlib.nullcontext, optimizer=optimizer, sched=sched, tokenizer_json=None)
    _resume(run)
    run.tokenizer_json = _read_tokenizer_json(data)
    run.net, run.autocast = _wrap(model, cfg, world, device)
    run.metrics = MetricsWriter(out / METRICS_FILE, run.is_main, run.start_step if cfg.resume else None)
    _write_run_info(run)
    return run


def _checkpoint(run: _Run, step: int) -> Optional[Path]:
    """Rank 0: an atomic checkpoint of everything needed to resume at ``step``."""
    if not run.is_main:
        return None
    index = run.data.index
    return save_checkpoint(run.out, step, {
        "model": _unwrap(run.net).state_dict(), "optimizer": run.optimizer.state_dict(),
        "scheduler": run.sched.state_dict(), "data": run.data.loader.state_dict(), "tokens_seen": run.tokens_seen,
        "rng_cpu": torch.get_rng_state(), "model_config": run.mcfg.model_dump(), "train_config": run.cfg.model_dump(),
        "dataset": {"dataset_version": index.dataset_version, "tokenizer_sha256": index.tokenizer_sha256,
                    "eos_id": index.eos_id, "vocab_size": index.vocab_size},
        "tokenizer_json": run.tokenizer_json, "mixture": run.data.mixture,
    }, keep=run.cfg.keep_checkpoints)


@dataclass
class _Meter:
    """Loss and throughput since the last logged step."""

    t_last: float
    tok_last: int
    wait: float = 0.0
    loss_sum: float = 0.0
    loss_n: int = 0


def _optimizer_step(run: _Run, it, meter: _Meter) -> None:
    """``grad_accum`` micro-batches (DDP syncs on the last), clipping and one optimizer step."""
    cfg, device = run.cfg, run.device
    step_loss = torch.zeros((), device=device)
    for micro in range(cfg.grad_accum):
        t0 = time.perf_counter()
        x, y = next(it)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        meter.wait += time.perf_counter() - t0
        sync = run.world == 1 or micro == cfg.grad_accum - 1
        with (contextlib.nullcontext() if sync else run.net.no_sync()), run.autocast():
            _, loss = run.net(x, y)
        (loss / cfg.grad_accum).backward()
        step_loss += loss.detach() / cfg.grad_accum
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(run.net.parameters(), cfg.grad_clip)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    run.tokens_seen += cfg.batch_size * cfg.seq_len * cfg.grad_accum * run.world
    meter.loss_sum += float(step_loss.item())
    meter.loss_n += 1


def _log_step(run: _Run, step: int, lr: float, meter: _Meter, tty: bool) -> float:
    """Write the metrics row of ``step`` (mean loss over all ranks), reset the meter; returns the loss."""
    now = time.perf_counter()
    elapsed = max(now - meter.t_last, 1e-9)
    loss = _all_mean(meter.loss_sum / meter.loss_n, run.device, run.world)
    row = {"step": step, "loss": round(loss, 6), "lr": lr,
           "tokens_per_s": round((run.tokens_seen - meter.tok_last) / elapsed, 1),
           "data_wait": round(meter.wait / elapsed, 4), "tokens": run.tokens_seen, "world_size": run.world}
    if isinstance(run.data.loader, MixtureLoader):  # realized token share per stream since step 1
        row["mix_shares"] = {name: v["share"] for name, v in run.data.loader.shares().items()}
    run.metrics.write(row)
    if run.is_main:
        msg = (f"step {step}/{run.cfg.steps} loss {loss:.4f} lr {lr:.2e} "
               f"{row['tokens_per_s'] / 1000:.1f}k tok/s data-wait {100 * row['data_wait']:.0f}%")
        if tty:
            print("\r" + msg, end="", file=sys.stderr, flush=True)
        log.info(msg)
    meter.t_last, meter.tok_last, meter.wait, meter.loss_sum, meter.loss_n = now, run.tokens_seen, 0.0, 0.0, 0
    return loss


def _eval_step(run: _Run, step: int, meter: _Meter) -> None:
    """Evaluate on the held-out shards and write the eval row."""
    eval_loss = _evaluate(run.net, run.data.eval_ds, run.device, run.autocast, run.world)
    perplexity = math.exp(min(eval_loss, 50))
    run.metrics.write({"step": step, "eval_loss": round(eval_loss, 6), "perplexity": round(perplexity, 4)})
    if run.is_main:
        log.info("step %d eval_loss %.4f perplexity %.2f", step, eval_loss, perplexity)
    meter.t_last = time.perf_counter()  # evaluation time is not training throughput


def _loop(run: _Run) -> tuple[float, Optional[Path]]:
    """Steps ``start_step + 1 .. steps`` with logging, evaluation and checkpoints; last loss and checkpoint."""
    cfg = run.cfg
    run.net.train()
    it = iter(run.data.loader)
    last_loss, last_ckpt = float("nan"), None
    meter = _Meter(t_last=time.perf_counter(), tok_last=run.tokens_seen)
    tty = sys.stderr.isatty() and run.is_main
    for step in range(run.start_step + 1, cfg.steps + 1):
        lr = run.sched.step(run.optimizer)
        _optimizer_step(run, it, meter)
        if step % cfg.log_every == 0 or step == cfg.steps:
            last_loss = _log_step(run, step, lr, meter, tty)
        if run.data.eval_ds is not None and ((cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps):
            _eval_step(run, step, meter)
        if (cfg.ckpt_every and step % cfg.ckpt_every == 0) or step == cfg.steps:
            last_ckpt = _checkpoint(run, step)
            if run.world > 1:
                dist.barrier()
    if tty:
        print(file=sys.stderr)
    return last_loss, last_ckpt


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train a GPT on the shards named by ``cfg`` and return a summary (steps, last loss, checkpoint)."""
    tune_malloc()  # reuse freed step buffers instead of fresh mmap'd pages every step (train/allocator.py)
    run = _setup(cfg)
    last_loss, last_ckpt = _loop(run)
    summary = {"steps": cfg.steps, "start_step": run.start_step, "loss": last_loss, "tokens": run.tokens_seen,
               "checkpoint": str(last_ckpt) if last_ckpt else None, "world_size": run.world}
    if isinstance(run.data.loader, MixtureLoader):
        summary["mixture"] = run.data.loader.shares()
        run.metrics.write({"step": cfg.steps, "mixture": summary["mixture"]})
        if run.is_main:
            for name, v in summary["mixture"].items():
                log.info("stream %s: %d tokens, share %.4f (weight %.4f)", name, v["tokens"], v["share"], v["weight"])
    if run.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
    return summary
