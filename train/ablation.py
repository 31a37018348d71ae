"""Data ablations: train the same small model on each dataset with the same budget, compare held-out metrics.

For every dataset and seed a model is trained from scratch with the same model, tokenizer, token budget,
learning-rate schedule and batch-order policy (the seed drives both the initialization and the data
order, so seed ``k`` of every dataset starts from the same weights); every model is then evaluated on
the same held-out text (bits per byte, perplexity) and tasks (acc, acc_norm). The summary gives each
dataset's mean and spread over seeds and says, for each pair of datasets, whether the difference of
the means exceeds the seed-to-seed spread (``|mean_a - mean_b| > 2 * max(sd_a, sd_b)``, with sample
standard deviations; undecided with a single seed). This is FineWeb's and DCLM's method, at the scale
a laptop can afford.

Layout of ``--out`` (everything written atomically, so a killed ablation resumes where it stopped)::

    ablation-plan.json         what is compared (a rerun with another plan is refused)
    data/NAME/                 token shards of text datasets (index.json last = the commit point)
    runs/NAME/seed-K/          the trainer's folder (metrics.jsonl, ckpt-*.pt, train.json)
    runs/NAME/seed-K/eval.json the model's evaluation (present = this run is finished)
    ablation.json, ablation.html

The held-out text must not overlap the training data. Text datasets are read by the caller (the CLI
uses the pipeline's readers) and given here as documents; exact copies of held-out documents (by
content hash) are removed from every text dataset before tokenizing, and when the held-out text is a
slice of the data (:func:`hold_out_slice`), the slice is removed from every dataset. The report says
which of these happened.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from storage.files import atomic_write_text, file_sha256
from storage.shards import INDEX_FILE, ShardError, ShardWriter
from storage.tokenizer import EOS_TOKEN, load_tokenizer
from train.ablation_report import render
from train.checkpoint import latest_checkpoint
from train.config import TrainConfig
from train.dataset import ShardDataset, load_index
from train.eval import EvalInputError, encode, evaluate_texts, load_eval_model
from train.model import model_config_from
from train.tasks import TaskItem, score_tasks
from train.trainer import METRICS_FILE, train

log = logging.getLogger(__name__)

PLAN_FILE = "ablation-plan.json"
RESULT_FILE = "ablation.json"
EVAL_FILE = "eval.json"
ABLATION_FORMAT = 1


class AblationError(ValueError):
    """An ablation that cannot start or continue; the message names what is wrong and how to fix it."""


class AblationConfig(BaseModel):
    """What every model of an ablation shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: int = Field(gt=0, description="training tokens per model (rounded up to whole steps)")
    model: str = "tiny"
    seeds: int = Field(1, ge=1, description="models per dataset, seeds 0..seeds-1")
    seq_len: int = Field(256, gt=0)
    batch_size: int = Field(8, gt=0)
    lr: float = Field(1e-3, gt=0)
    min_lr: float = Field(1e-4, ge=0)
    warmup_steps: Optional[int] = Field(None, ge=0, description="default: 5% of the steps, at most 100")
    weight_decay: float = Field(0.1, ge=0)
    log_every: Optional[int] = Field(None, gt=0, description="metrics row every N steps; default: steps/100")
    checkpoints: int = Field(5, ge=1, description="checkpoints per run (resume points)")
    num_workers: int = Field(0, ge=0)
    device: str = "auto"
    eval_stride: Optional[int] = Field(None, gt=0)
    eval_batch_size: int = Field(8, gt=0)

    @property
    def tokens_per_step(self) -> int:
        return self.seq_len * self.batch_size

    @property
    def steps(self) -> int:
        return -(-self.tokens // self.tokens_per_step)

    def train_config(self, shards: str | Path, out: str | Path, seed: int) -> TrainConfig:
        steps = self.steps
        warmup = self.warmup_steps if self.warmup_steps is not None else min(100, max(1, steps // 20))
        return TrainConfig(
            shards=str(shards), out=str(out), steps=steps, seq_len=self.seq_len, batch_size=self.batch_size,
            model=self.model, lr=self.lr, min_lr=min(self.min_lr, self.lr), warmup_steps=min(warmup, steps),
            weight_decay=self.weight_decay, seed=seed, eval_every=0, holdout_shards=0,
            log_every=self.log_every or max(1, steps // 100),
            ckpt_every=max(1, steps // self.checkpoints), keep_checkpoints=1, num_workers=self.num_workers,
            device=self.device, resume=True,
        )


# --------------------------------------------------------------------------- documents and held-out text
@dataclass
class TextDataset:
    """A dataset given as documents (parallel lists), before tokenization."""

    name: str
    path: str
    doc_ids: list[str]
    texts: list[str]
    hashes: list[str]  # sha256 of each text (the pipeline's content_sha256)
    removed: dict[str, int] = field(default_factory=dict)  # why documents were taken out, for the report

    def keep(self, mask: Sequence[bool], reason: str) -> None:
        dropped = len(self.texts) - sum(mask)
        if dropped:
            self.removed[reason] = self.removed.get(reason, 0) + dropped
        self.doc_ids = [d for d, k in zip(self.doc_ids, mask) if k]
        self.texts = [t for t, k in zip(self.texts, mask) if k]
        self.hashes = [h for h, k in zip(self.hashes, mask) if k]


def _in_slice(content_hash: str, fraction: float) -> bool:
    return int(content_hash[:16], 16) / float(1 << 64) < fraction


def hold_out_slice(datasets: Sequence[TextDataset], source: str, fraction: float) -> tuple[list[str], dict[str, Any]]:
    """Take a held-out slice of dataset ``source`` and remove it from every dataset.

    A document of ``source`` belongs to the slice when the hash of its text falls below ``fraction`` (a
    function of the text alone, so the slice does not depend on file order). The slice leaves
    ``source``, and exact copies of its documents leave every other dataset (near duplicates stay: the
    report says so); the other datasets keep all their other documents.

    Returns:
        The held-out texts and a description for the report.

    Raises:
        AblationError: unknown ``source``, a fraction outside (0, 0.5], or an empty slice.
    """
    names = [d.name for d in datasets]
    if source not in names:
        raise AblationError(f"--eval-from {source!r} is not one of the datasets ({', '.join(names)})")
    if not 0 < fraction <= 0.5:
        raise AblationError(f"--eval-fraction {fraction} must be in (0, 0.5]")
    src = datasets[names.index(source)]
    held_hashes = {h for h in src.hashes if _in_slice(h, fraction)}
    held = [t for t, h in zip(src.texts, src.hashes) if h in held_hashes]
    if not held:
        raise AblationError(f"the {fraction:.1%} slice of {source!r} holds no document ({len(src.texts)} in all); "
                            f"raise --eval-fraction or pass --eval-text")
    removed = {}
    for d in datasets:
        before = len(d.texts)
        d.keep([h not in held_hashes for h in d.hashes], "held-out slice")
        removed[d.name] = before - len(d.texts)
    info = {"kind": "slice", "from": source, "fraction": fraction, "documents": len(held),
            "removed_from_training": removed,
            "note": f"a {fraction:.1%} slice of {source!r} (by content hash, {len(held)} documents) was held out and "
                    f"removed from every dataset before training (exact copies; near duplicates may remain)"}
    return held, info


def remove_overlap(datasets: Sequence[TextDataset], eval_hashes: set[str]) -> dict[str, int]:
    """Remove exact copies of held-out documents from every text dataset; counts per dataset."""
    removed = {}
    for d in datasets:
        before = len(d.texts)
        d.keep([h not in eval_hashes for h in d.hashes], "copy of a held-out document")
        removed[d.name] = before - len(d.texts)
    return removed


def _docs_digest(hashes: Sequence[str], doc_ids: Sequence[str]) -> str:
    h = hashlib.sha256()
    for d, c in sorted(zip(doc_ids, hashes)):
        h.update(f"{d}\t{c}\n".encode("utf-8"))
    return h.hexdigest()


def write_text_shards(dataset: TextDataset, folder: Path, tokenizer_path: str | Path) -> Path:
    """Tokenize a text dataset into a shard folder (EOS appended, rows sorted by doc_id), once.

    The folder's ``dataset_version`` names the documents and the tokenizer; an existing folder with the
    same version is reused (resume), any other is rewritten.

    Raises:
        AblationError: a dataset without documents, or a tokenizer without the EOS token.
    """
    if not dataset.texts:
        raise AblationError(f"dataset {dataset.name!r} ({dataset.path}) has no document left to train on")
    tok = load_tokenizer(tokenizer_path)
    version = f"ablation-{dataset.name}-{_docs_digest(dataset.hashes, dataset.doc_ids)[:16]}-{tok.sha256[:12]}"
    index_path = folder / INDEX_FILE
    if index_path.is_file():
        try:
            if json.loads(index_path.read_text(encoding="utf-8")).get("dataset_version") == version:
                return folder
        except (OSError, ValueError):
            pass
    eos_id = tok.token_id(EOS_TOKEN, "EOS token")
    order = sorted(range(len(dataset.texts)), key=lambda i: dataset.doc_ids[i])
    dtype = np.uint16 if tok.vocab_size <= 65536 else np.uint32
    with ShardWriter(folder, vocab_size=tok.vocab_size, tokenizer_sha256=tok.sha256, eos_id=eos_id,
                     eos_appended=True, dataset_version=version, row_group_bytes=256 * 1024,
                     target_shard_bytes=64 * 1024 * 1024, tokenizer_file=tokenizer_path, overwrite=True) as w:
        for start in range(0, len(order), 4096):  # bounded memory: 4096 documents encoded at a time
            chunk = order[start:start + 4096]
            ids = encode(tok, [dataset.texts[i] for i in chunk])
            w.write_table(pa.table({
                "doc_id": pa.array([dataset.doc_ids[i] for i in chunk], pa.string()),
                "input_ids": pa.array([np.append(x, eos_id).astype(dtype) for x in ids],
                                      pa.list_(pa.uint16() if dtype == np.uint16 else pa.uint32())),
                "source": pa.array([dataset.name] * len(chunk), pa.string()),
            }))
    log.info("dataset %s: %d documents tokenized into %s", dataset.name, len(order), folder)
    return folder


# --------------------------------------------------------------------------- checks before training
def check_datasets(datasets: dict[str, str], cfg: AblationConfig) -> dict[str, dict[str, Any]]:
    """Validate the shard folders of an ablation before any training; their identities for the plan.

    Raises:
        AblationError: fewer than two datasets, different tokenizers (both hashes named), a vocabulary
            larger than the model's, or a dataset too small for one batch.
    """
    if len(datasets) < 2:
        raise AblationError("an ablation compares at least two datasets: give --data NAME=PATH twice or more")
    info: dict[str, dict[str, Any]] = {}
    first: Optional[tuple[str, str]] = None
    mcfg = model_config_from(cfg.model)
    for name, folder in datasets.items():
        try:
            index, resolved = load_index(folder)
        except (ShardError, FileNotFoundError) as exc:
            raise AblationError(f"dataset {name!r}: {exc}") from None
        if first is None:
            first = (name, index.tokenizer_sha256)
        elif index.tokenizer_sha256 != first[1]:
            raise AblationError(
                f"datasets {first[0]!r} and {name!r} were tokenized with different tokenizers "
                f"({first[1]} vs {index.tokenizer_sha256}); an ablation needs one tokenizer: re-tokenize one")
        if mcfg.vocab_size and index.vocab_size > mcfg.vocab_size:
            raise AblationError(f"dataset {name!r} has a vocabulary of {index.vocab_size}, larger than the model's "
                                f"{mcfg.vocab_size}; use a model without a fixed vocab_size")
        ds = ShardDataset(resolved, cfg.seq_len, cfg.batch_size, shuffle=False, verify="size")
        if ds.batches_per_slot() < 1:
            raise AblationError(f"dataset {name!r} holds {index.total_tokens} tokens, less than one batch of "
                                f"{cfg.tokens_per_step}; lower --seq-len/--batch-size or give more data")
        info[name] = {"path": str(resolved), "dataset_version": index.dataset_version,
                      "tokenizer_sha256": index.tokenizer_sha256, "vocab_size": index.vocab_size,
                      "documents": index.total_rows, "tokens": index.total_tokens,
                      "index_sha256": file_sha256(resolved / INDEX_FILE),
                      "epochs": round(cfg.steps * cfg.tokens_per_step / max(index.total_tokens, 1), 3)}
    return info


def _write_plan(out: Path, plan: dict[str, Any]) -> None:
    path = out / PLAN_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != plan:
            keys = sorted(k for k in set(old) | set(plan) if old.get(k) != plan.get(k))
            raise AblationError(f"{out} holds an ablation with another plan (differs in: {', '.join(keys)}); "
                                f"rerun with the same options to resume it, or choose another --out")
        return
    atomic_write_text(path, json.dumps(plan, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- running
def _loss_curve(run_dir: Path) -> list[list[float]]:
    curve = []
    path = run_dir / METRICS_FILE
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if "loss" in row and "tokens" in row:
                    curve.append([int(row["tokens"]), float(row["loss"])])
    return curve


def _run_one(name: str, shards: str, seed: int, cfg: AblationConfig, out: Path, eval_texts: Optional[list[str]],
             tasks: Optional[Sequence[TaskItem]]) -> dict[str, Any]:
    run_dir = out / "runs" / name / f"seed-{seed}"
    done = run_dir / EVAL_FILE
    if done.is_file():
        log.info("%s seed %d: finished earlier, reusing %s", name, seed, done)
        return json.loads(done.read_text(encoding="utf-8"))
    resumed_from = latest_checkpoint(run_dir)
    t0 = time.perf_counter()
    summary = train(cfg.train_config(shards, run_dir, seed))
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    em = load_eval_model(run_dir, cfg.device)
    result: dict[str, Any] = {"dataset": name, "seed": seed, "steps": cfg.steps, "tokens": summary["tokens"],
                              "final_train_loss": summary["loss"], "checkpoint": em.info["checkpoint"],
                              "resumed_from": str(resumed_from) if resumed_from else None,
                              "device": em.info["device"], "parameters": em.info["parameters"],
                              "train_seconds": round(train_s, 3)}
    trained = summary["steps"] - summary["start_step"]
    if trained > 0:
        result["train_tokens_per_s"] = round(trained * cfg.tokens_per_step / max(train_s, 1e-9), 1)
    if eval_texts is not None:
        result["text"] = evaluate_texts(em, eval_texts, stride=cfg.eval_stride, batch_size=cfg.eval_batch_size,
                                        context=cfg.seq_len).to_dict()
    if tasks is not None:
        result["tasks"] = score_tasks(em, tasks, batch_size=cfg.eval_batch_size)
    result["eval_seconds"] = round(time.perf_counter() - t1, 3)
    result["loss_curve"] = _loss_curve(run_dir)
    if result["loss_curve"]:  # also right when the run had finished training before a kill
        result["final_train_loss"] = result["loss_curve"][-1][1]
    atomic_write_text(done, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def _stats(values: Sequence[float]) -> dict[str, Any]:
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return {"n": 0}
    return {"n": len(vals), "mean": statistics.fmean(vals), "sd": statistics.stdev(vals) if len(vals) > 1 else None,
            "min": min(vals), "max": max(vals), "values": vals}


#: Metrics compared between datasets: (key in a run's result, path, lower is better)
METRICS = {
    "bits_per_byte": (("text", "bits_per_byte"), True),
    "perplexity": (("text", "perplexity"), True),
    "loss": (("text", "loss"), True),
    "acc": (("tasks", "acc"), False),
    "acc_norm": (("tasks", "acc_norm"), False),
}


def _get(run: dict[str, Any], path: tuple[str, str]) -> Optional[float]:
    part = run.get(path[0])
    return None if not part else part.get(path[1])


def summarize(runs: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Per-dataset statistics of every metric and the pairwise comparisons against the seed spread."""
    per_dataset = {name: {m: _stats([_get(r, path) for r in rs]) for m, (path, _) in METRICS.items()}
                   for name, rs in runs.items()}
    comparisons = []
    names = list(runs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for metric, (_, lower_better) in METRICS.items():
                sa, sb = per_dataset[a][metric], per_dataset[b][metric]
                if not sa.get("n") or not sb.get("n"):
                    continue
                diff = sa["mean"] - sb["mean"]
                sds = [s for s in (sa["sd"], sb["sd"]) if s is not None]
                spread = max(sds) if len(sds) == 2 else None
                exceeds = None if spread is None else abs(diff) > 2 * spread
                better = None if diff == 0 else (a if (diff < 0) == lower_better else b)
                comparisons.append({"a": a, "b": b, "metric": metric, "mean_a": sa["mean"], "mean_b": sb["mean"],
                                    "difference": diff, "seed_spread": spread, "exceeds_seed_spread": exceeds,
                                    "better": better})
    return per_dataset, comparisons


def run_ablation(datasets: dict[str, str], cfg: AblationConfig, out: str | Path, *,
                 eval_texts: Optional[list[str]] = None, eval_info: Optional[dict[str, Any]] = None,
                 tasks: Optional[Sequence[TaskItem]] = None, tasks_info: Optional[dict[str, Any]] = None,
                 notes: Sequence[str] = (), data_info: Optional[dict[str, Any]] = None,
                 render_html: Optional[Callable[[dict[str, Any]], str]] = None) -> dict[str, Any]:
    """Train and evaluate every (dataset, seed), write ablation.json (and ablation.html), return the result.

    Args:
        datasets: name -> shard folder (or store); all made with one tokenizer.
        cfg: what every model shares.
        out: the ablation folder (resumable: finished runs are reused, unfinished ones resume).
        eval_texts: held-out documents; every model is scored on them.
        eval_info: where the held-out text comes from (for the report).
        tasks: multiple-choice items every model is scored on.
        tasks_info: which task file (for the report).
        notes: sentences for the report (e.g. what was removed from the datasets).
        data_info: per dataset, how its shards were made (for the report).
        render_html: ``result -> HTML``; default :func:`train.ablation_report.render`.

    Raises:
        AblationError: bad datasets or a changed plan (before any training), no held-out text nor tasks.
    """
    if eval_texts is None and tasks is None:
        raise AblationError("nothing to compare on: give --eval-text (or --eval-fraction) and/or --tasks")
    if eval_texts is not None and not any(eval_texts):
        raise AblationError("the held-out text holds no usable document")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    identities = check_datasets(datasets, cfg)
    eval_digest = None
    if eval_texts is not None:
        h = hashlib.sha256()
        for t in eval_texts:
            h.update(hashlib.sha256(t.encode("utf-8")).digest())
        eval_digest = h.hexdigest()
    plan = {"format": ABLATION_FORMAT, "config": cfg.model_dump(),
            "datasets": {n: {k: v for k, v in i.items() if k in ("dataset_version", "index_sha256",
                                                                  "tokenizer_sha256")}
                         for n, i in identities.items()},
            "eval_text_sha256": eval_digest,
            "tasks_sha256": (tasks_info or {}).get("sha256") if tasks is not None else None}
    _write_plan(out, plan)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in datasets}
    for seed in range(cfg.seeds):
        for name, folder in datasets.items():
            log.info("ablation: dataset %s, seed %d (%d steps of %d tokens)", name, seed, cfg.steps,
                     cfg.tokens_per_step)
            runs[name].append(_run_one(name, identities[name]["path"], seed, cfg, out, eval_texts, tasks))
    per_dataset, comparisons = summarize(runs)
    result = {
        "format": ABLATION_FORMAT, "config": cfg.model_dump(), "steps": cfg.steps,
        "tokens_per_model": cfg.steps * cfg.tokens_per_step, "datasets": identities,
        "data_preparation": data_info or {}, "eval_text": eval_info, "tasks": tasks_info if tasks is not None else None,
        "notes": list(notes), "runs": runs, "summary": per_dataset, "comparisons": comparisons,
        "seconds_this_invocation": round(time.perf_counter() - t0, 3),
    }
    atomic_write_text(out / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True) + "\n")
    atomic_write_text(out / "ablation.html", (render_html or render)(result))
    return result


__all__ = [
    "AblationConfig", "AblationError", "EvalInputError", "TextDataset", "check_datasets", "hold_out_slice",
    "remove_overlap", "run_ablation", "summarize", "write_text_shards",
]
