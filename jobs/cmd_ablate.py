"""``corpusforge ablate``: the same small model trained on each dataset with the same budget, compared.

Wiring only: datasets given as text (raw files, a run folder) are read here with the pipeline's readers
and handed to :mod:`train.ablation`, which tokenizes them, trains, evaluates and writes the report.
"""
from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from jobs.cmd_eval import Documents, read_documents, resolve_tasks
from jobs.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from storage.files import file_sha256
from storage.shards import INDEX_FILE, TOKENIZER_FILE, ShardError, resolve_index_path

log = logging.getLogger(__name__)

HELP = "data ablation: train the same small model on each dataset, compare held-out bpb and task accuracy"
DESCRIPTION = """\
For every dataset and seed, train a model from scratch with the same model, tokenizer, token budget,
schedule and batch-order policy; evaluate every model on the same held-out text and tasks; write
ablation.json and ablation.html (loss curves, final bits per byte, perplexity and task accuracy, mean
and spread over seeds, and whether the difference between datasets exceeds the seed-to-seed spread).

A dataset (--data NAME=PATH) is a shard folder or dataset store (used as it is), a run folder (its
curated/ documents) or raw inputs the readers take (JSONL, Parquet, text, WARC...). Text datasets are
tokenized with --tokenizer (default: the tokenizer.json of the first run folder's or shard folder's
shards). The held-out text (--eval-text) must not be training data: exact copies of its documents are
removed from every text dataset; with --eval-fraction a slice of one dataset is held out instead and
removed from every dataset. Rerunning the same command resumes a killed ablation. See docs/eval.md.

example (the demo corpus, raw against curated):
  make demo
  corpusforge ablate --data raw='pipelines/assets/demo/*.jsonl*' --data curated=demo-out \\
      --tokens 1000000 --model tiny --seeds 2 --eval-fraction 0.1 --eval-from curated \\
      --tasks demo-cloze --out ablation-demo
"""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _parse_data(specs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not path:
            raise ValueError(f"--data {spec!r}: expected NAME=PATH")
        if not _NAME.match(name):
            raise ValueError(f"--data {spec!r}: NAME must be letters, digits, '.', '_' or '-' (at most 64)")
        if name in out:
            raise ValueError(f"--data: the name {name!r} is given twice")
        out[name] = path
    if len(out) < 2:
        raise ValueError("an ablation compares at least two datasets: give --data NAME=PATH twice or more")
    return out


def _is_shards(path: str) -> bool:
    p = Path(path)
    if p.is_file() and p.name == INDEX_FILE:
        return True
    try:
        return p.is_dir() and resolve_index_path(p).is_file()
    except ShardError:
        return True  # a broken store: let the shard checks name the problem


def _default_tokenizer(data: dict[str, str]) -> Optional[str]:
    """The tokenizer.json shipped with the first run folder's or shard folder's shards."""
    for path in data.values():
        p = Path(path)
        for folder in ((p / "shards") if (p / "run.json").is_file() else None,
                       resolve_index_path(p).parent if _is_shards(path) else None):
            if folder is not None and (folder / TOKENIZER_FILE).is_file():
                return str(folder / TOKENIZER_FILE)
    return None


def _text_dataset(name: str, docs: Documents):
    from train.ablation import TextDataset  # deferred: imports torch

    return TextDataset(name=name, path=docs.path, doc_ids=list(docs.doc_ids), texts=list(docs.texts),
                       hashes=list(docs.content_sha256))


def run(args: argparse.Namespace) -> int:
    # deferred: torch takes about a second to import; `corpusforge --help` must not pay it
    from train.ablation import (
        AblationConfig,
        AblationError,
        hold_out_slice,
        remove_overlap,
        run_ablation,
        write_text_shards,
    )
    from train.tasks import load_tasks  # deferred: imports torch

    try:
        data = _parse_data(args.data)
        if args.eval_text and args.eval_fraction:
            raise ValueError("give --eval-text or --eval-fraction, not both")
        if not (args.eval_text or args.eval_fraction or args.tasks):
            raise ValueError("nothing to evaluate on: give --eval-text, --eval-fraction or --tasks")
        cfg = AblationConfig(tokens=args.tokens, model=args.model, seeds=args.seeds, seq_len=args.seq_len,
                             batch_size=args.batch_size, lr=args.lr, device=args.device, num_workers=args.num_workers,
                             checkpoints=args.checkpoints, **({"min_lr": args.min_lr} if args.min_lr is not None
                                                              else {}))
    except (ValueError, ValidationError) as exc:
        print(f"corpusforge ablate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out)
    try:
        # 1. read and check everything before any training
        task_path = resolve_tasks(args.tasks) if args.tasks else None
        tasks = load_tasks(task_path) if task_path else None
        text_sets, shard_sets = {}, {}
        for name, path in data.items():
            if _is_shards(path):
                shard_sets[name] = path
            else:
                text_sets[name] = _text_dataset(name, read_documents(path))
        notes: list[str] = []
        eval_texts, eval_info = None, None
        if args.eval_fraction:
            if shard_sets:
                raise AblationError(f"--eval-fraction needs text datasets; {', '.join(shard_sets)} are shard "
                                    f"folders: pass --eval-text, or the run folders instead of their shards")
            source = args.eval_from or next(iter(data))
            eval_texts, eval_info = hold_out_slice(list(text_sets.values()), source, args.eval_fraction)
        elif args.eval_text:
            held = read_documents(args.eval_text)
            eval_texts = held.texts
            removed = remove_overlap(list(text_sets.values()), set(held.content_sha256))
            eval_info = {"kind": "file", **held.summary(), "removed_from_training": removed,
                         "note": f"{args.eval_text} (passed by the user, drawn from neither dataset)"}
            if any(removed.values()):
                notes.append("exact copies of held-out documents were removed before training: "
                             + ", ".join(f"{k} {v}" for k, v in removed.items()))
            if shard_sets:
                notes.append(f"overlap with the held-out text was not checked for {', '.join(shard_sets)} "
                             f"(shard folders hold token ids, not text)")
        tokenizer = args.tokenizer or (_default_tokenizer(data) if text_sets else None)
        if text_sets and not tokenizer:
            raise AblationError("the text datasets need a tokenizer: pass --tokenizer tokenizer.json (or a run "
                                "folder whose shards/ holds one)")
        # 2. tokenize the text datasets (reused on resume when the documents and tokenizer are the same)
        folders: dict[str, str] = {}
        prep: dict[str, Any] = {}
        for name, path in data.items():
            if name in text_sets:
                ds = text_sets[name]
                folders[name] = str(write_text_shards(ds, out / "data" / name, tokenizer))
                prep[name] = {"source": path, "tokenized_with": str(tokenizer), "removed": ds.removed}
            else:
                folders[name] = path
                prep[name] = {"source": path}
        # 3. train, evaluate, report
        result = run_ablation(folders, cfg, out, eval_texts=eval_texts, eval_info=eval_info, tasks=tasks,
                              tasks_info={"name": args.tasks, "file": str(task_path), "items": len(tasks),
                                          "sha256": file_sha256(task_path)} if tasks else None,
                              notes=notes, data_info=prep)
    except (OSError, ValueError) as exc:  # DocumentError, EvalInputError, ShardError, AblationError, a bad --model
        log.error("%s", exc)
        return EXIT_FAILED
    _print_summary(result)
    print(f"written {out / 'ablation.json'} and {out / 'ablation.html'}")
    return EXIT_OK


def _print_summary(result: dict[str, Any]) -> None:
    rows = [("dataset", "bits/byte", "perplexity", "acc", "acc_norm")]
    for name, s in result["summary"].items():
        def f(m: str, d: int) -> str:
            st = s[m]
            if not st.get("n"):
                return "-"
            return f"{st['mean']:.{d}f}" + (f"±{st['sd']:.{d}f}" if st.get("sd") is not None else "")
        rows.append((name, f("bits_per_byte", 4), f("perplexity", 2), f("acc", 3), f("acc_norm", 3)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    for c in result["comparisons"]:
        if c["metric"] in ("bits_per_byte", "acc"):
            verdict = {None: "undecided (one seed)", True: f"yes ({c['better']} better)",
                       False: "no (within seed spread)"}[c["exceeds_seed_spread"]]
            print(f"{c['a']} - {c['b']} {c['metric']}: {c['difference']:+.4f}; exceeds seed spread: {verdict}")


def register(subparsers) -> None:
    p = subparsers.add_parser("ablate", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append", required=True, metavar="NAME=PATH",
                   help="a dataset: shard folder/store, run folder or raw inputs (give two or more)")
    p.add_argument("--tokens", type=int, required=True, help="training tokens per model (rounded up to whole steps)")
    p.add_argument("--model", default="tiny",
                   help="model preset (tiny, small, base, gpt2-124m) or YAML (default: tiny)")
    p.add_argument("--seeds", type=int, default=1, help="models per dataset, seeds 0..K-1 (default: 1; use >= 2 to "
                                                        "measure the seed spread)")
    p.add_argument("--eval-text", help="held-out documents (files the readers take, or a run folder)")
    p.add_argument("--eval-fraction", type=float, help="hold out this fraction of --eval-from's documents instead "
                                                       "(removed from every dataset before training)")
    p.add_argument("--eval-from", help="the dataset --eval-fraction slices (default: the first --data)")
    p.add_argument("--tasks", help="multiple-choice task JSONL, or a bundled name (demo-cloze)")
    p.add_argument("--out", required=True, help="ablation folder (rerun the same command to resume)")
    p.add_argument("--tokenizer", help="tokenizer.json for text datasets (default: the first run/shard folder's)")
    p.add_argument("--seq-len", type=int, default=256, help="tokens per training window (default: 256)")
    p.add_argument("--batch-size", type=int, default=8, help="windows per step (default: 8)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    p.add_argument("--min-lr", type=float, default=None, help="final learning rate (default: 1e-4)")
    p.add_argument("--checkpoints", type=int, default=5, help="checkpoints per run, the resume points (default: 5)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (default: 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.set_defaults(func=run)

