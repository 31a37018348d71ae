"""``corpusforge eval``: loss, perplexity and bits per byte of a checkpoint on held-out text, plus tasks.

The documents are read here, with the pipeline's readers (the trainer package reads no raw text), and
handed to :mod:`train.eval` as strings; the maths is there and in :mod:`train.tasks` (docs/eval.md).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import pickle
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pyarrow.dataset as pads

from jobs.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pipelines.readers import InputError, expand_inputs, plan_splits, read_split
from pipelines.text.assets import materialize
from schemas.config import IngestSection
from storage.files import atomic_write_text
from storage.shards import INDEX_FILE

log = logging.getLogger(__name__)

#: Bundled task files, by the name ``--tasks`` accepts instead of a path.
BUNDLED_TASKS = {"demo-cloze": "assets/tasks/demo-cloze.jsonl"}

HELP = "evaluate a checkpoint: loss, perplexity, bits per byte on text; multiple-choice tasks"
DESCRIPTION = """\
Score a trained checkpoint on held-out documents (loss, perplexity and bits per byte, with the number of
documents, tokens and bytes) and, with --tasks, on multiple-choice tasks (acc, acc_norm), as
lm-evaluation-harness scores them. Writes eval.json and prints a table. Runs on the GPU (bf16 autocast)
when there is one, else on CPU; the same inputs give the same figures. See docs/eval.md.

--text takes anything `corpusforge run --input` takes (JSONL[.gz|.zst], Parquet, text files, WARC/WET,
folders, globs) or a run folder (its curated/ documents). Records the readers quarantine are counted in
eval.json, never scored.

examples:
  corpusforge eval --checkpoint ckpt/ --text heldout.jsonl --out eval.json
  corpusforge eval --checkpoint ckpt/ckpt-00001000.pt --text demo-out --tasks demo-cloze
"""


class DocumentError(ValueError):
    """Evaluation text that cannot be read as documents; the message says how to fix it."""


@dataclass
class Documents:
    """Documents read from one ``--text``/``--data`` argument."""

    path: str
    kind: str  # "run" (a run folder's curated/) or "files" (read by the ingest readers)
    doc_ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    content_sha256: list[str] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "documents": len(self.texts),
                "quarantined": dict(sorted(self.quarantined.items()))}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and (path / "run.json").is_file() and (path / "curated").is_dir()


def read_documents(path: str) -> Documents:
    """The non-empty documents of a run folder's ``curated/`` or of inputs the ingest readers take.

    Raises:
        FileNotFoundError: nothing at ``path``.
        DocumentError: a shard folder (token ids, no text), or no usable document at all.
    """
    p = Path(path)
    if p.is_dir() and ((p / INDEX_FILE).is_file() or (p / "CURRENT").is_file()):
        raise DocumentError(f"{path} is a shard folder (token ids, not text); pass the run folder or the raw files")
    docs = Documents(path=str(path), kind="run" if is_run_folder(p) else "files")
    if docs.kind == "run":
        files = sorted(str(f) for f in (p / "curated").rglob("*.parquet"))
        if files:
            dataset = pads.dataset(files, format="parquet")
            cols = [c for c in ("doc_id", "text", "content_sha256") if c in dataset.schema.names]
            if "text" not in cols:
                raise DocumentError(f"{p / 'curated'} has no text column; is it a corpusforge run folder?")
            for batch in dataset.to_batches(columns=cols):
                data = batch.to_pydict()
                for i, text in enumerate(data["text"]):
                    if text:
                        docs.texts.append(text)
                        docs.doc_ids.append(data["doc_id"][i] if "doc_id" in data else f"{p.name}:{len(docs.texts)}")
                        docs.content_sha256.append(data.get("content_sha256", [None] * len(data["text"]))[i]
                                                   or _sha(text))
                    else:
                        docs.quarantined["empty_text"] = docs.quarantined.get("empty_text", 0) + 1
    else:
        section = IngestSection()
        reasons: Counter = Counter()
        try:
            files = expand_inputs([str(path)], section.format, section.source)
        except InputError as exc:
            raise DocumentError(str(exc)) from None
        for split in plan_splits(files, section.split_bytes):
            for row in read_split(split, section):
                if row["kind"] == "doc" and row.get("text"):
                    docs.texts.append(row["text"])
                    docs.doc_ids.append(row["doc_id"])
                    docs.content_sha256.append(row.get("content_sha256") or _sha(row["text"]))
                elif row["kind"] in ("doc", "quarantine"):
                    reasons[row.get("reason") or "ingest:empty_text"] += 1
        docs.quarantined = dict(reasons)
    if not docs.texts:
        extra = f" ({sum(docs.quarantined.values())} record(s) quarantined: " \
                f"{', '.join(f'{k} {v}' for k, v in sorted(docs.quarantined.items()))})" if docs.quarantined else ""
        raise DocumentError(f"{path} holds no usable document{extra}; pass files with non-empty text")
    if docs.quarantined:
        log.warning("%s: %d record(s) not scored (quarantined by the readers): %s", path,
                    sum(docs.quarantined.values()), dict(sorted(docs.quarantined.items())))
    return docs


def resolve_tasks(spec: str) -> Path:
    """A task file path, or the bundled file of that name (``demo-cloze``)."""
    if spec in BUNDLED_TASKS:
        return materialize(BUNDLED_TASKS[spec])
    return Path(spec)


def format_table(result: dict[str, Any]) -> str:
    """The printed summary of an eval.json."""
    rows = []
    t = result.get("text")
    if t:
        rows += [("documents", f"{t['documents']}"), ("tokens", f"{t['tokens']}"), ("bytes", f"{t['bytes']}"),
                 ("loss (nats/token)", f"{t['loss']:.4f}"), ("perplexity", f"{t['perplexity']:.2f}"),
                 ("bits per byte", f"{t['bits_per_byte']:.4f}")]
    k = result.get("tasks")
    if k:
        rows += [("task items", f"{k['items']}"), ("acc", f"{k['acc']:.4f}"), ("acc_norm", f"{k['acc_norm']:.4f}"),
                 ("chance", f"{k['chance']:.4f}")]
    width = max(len(a) for a, _ in rows) if rows else 0
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def evaluate(checkpoint: str, text: Optional[str], tasks: Optional[str], *, device: str = "auto",
             tokenizer: Optional[str] = None, stride: Optional[int] = None, context: Optional[int] = None,
             batch_size: int = 8, keep_items: bool = False, documents: Optional[Documents] = None,
             em=None) -> dict[str, Any]:
    """Everything ``corpusforge eval`` writes to eval.json (also used by ``corpusforge ablate``)."""
    # deferred: torch takes about a second to import; `corpusforge --help` must not pay it
    from train.eval import evaluate_texts, load_eval_model
    from train.tasks import load_tasks, score_tasks  # deferred: imports torch

    t0 = time.perf_counter()
    # everything the user gave is read and checked before the model is loaded
    docs = documents if documents is not None else (read_documents(text) if text else None)
    task_path = resolve_tasks(tasks) if tasks else None
    items = load_tasks(task_path) if task_path else None
    if em is None:
        em = load_eval_model(checkpoint, device, tokenizer)
    result: dict[str, Any] = {"model": em.info}
    if docs is not None:
        metrics = evaluate_texts(em, docs.texts, stride=stride, batch_size=batch_size, context=context)
        result["text"] = {**docs.summary(), **metrics.to_dict()}
    if items is not None:
        result["tasks"] = {"name": tasks, **score_tasks(em, items, batch_size=batch_size, keep_items=keep_items,
                                                        path=task_path)}
    result["seconds"] = round(time.perf_counter() - t0, 3)
    return result


def run(args: argparse.Namespace) -> int:
    if not args.text and not args.tasks:
        print("corpusforge eval: give --text, --tasks or both", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = evaluate(args.checkpoint, args.text, args.tasks, device=args.device, tokenizer=args.tokenizer,
                          stride=args.stride, context=args.context, batch_size=args.batch_size,
                          keep_items=args.per_item)
    except (OSError, pickle.UnpicklingError, ValueError) as exc:  # DocumentError, EvalInputError, ShardError...
        log.error("%s", exc)
        return EXIT_FAILED
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(format_table(result))
    if args.out:
        print(f"written {args.out}")
    return EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a ckpt-*.pt file or a training --out folder (its latest)")
    p.add_argument("--text", help="held-out documents: files/folders/globs the readers take, or a run folder")
    p.add_argument("--tasks", help="multiple-choice JSONL {id, context, choices, label}, or a bundled name "
                                   f"({', '.join(BUNDLED_TASKS)})")
    p.add_argument("--out", help="where to write eval.json (default: print only)")
    p.add_argument("--stride", type=int, default=None,
                   help="sliding-window stride in tokens for documents longer than the context "
                        "(default: context/2; = context for disjoint windows)")
    p.add_argument("--context", type=int, default=None,
                   help="window length in tokens (default: the --seq-len the model was trained with)")
    p.add_argument("--batch-size", type=int, default=8, help="windows per forward pass (default: 8)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--tokenizer", help="tokenizer.json, only for checkpoints that hold none")
    p.add_argument("--per-item", action="store_true", help="add each task item's log-likelihoods to eval.json")
    p.set_defaults(func=run)
