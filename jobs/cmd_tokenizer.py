"""``corpusforge tokenizer train``: train a byte-level BPE on a deterministic sample of curated text."""
from __future__ import annotations

import argparse
import heapq
import json
import logging
from pathlib import Path

import pyarrow.dataset as ds
import xxhash

from jobs.exitcodes import EXIT_FAILED, EXIT_OK
from pipelines.text.tokenize import TokenizerError, iter_sample_texts, save_tokenizer, train_bpe_tokenizer

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("tokenizer", help="train a tokenizer on curated text")
    sub = p.add_subparsers(dest="tokenizer_command", metavar="ACTION")
    sub.required = True
    t = sub.add_parser("train", help="train a byte-level BPE (special tokens <|endoftext|>, <|bos|>, <|pad|>)")
    t.add_argument("--input", required=True, nargs="+", help="curated Parquet folder(s) or file(s), e.g. OUT/curated")
    t.add_argument("--vocab-size", type=int, required=True, help="vocabulary size, >= 259")
    t.add_argument("--output", required=True, help="where to write tokenizer.json")
    t.add_argument("--text-column", default="text")
    t.add_argument("--sample-docs", type=int, default=200_000,
                   help="documents to train on, chosen by a hash of doc_id (default: 200000)")
    t.add_argument("--max-chars", type=int, default=100_000, help="characters used per document (default: 100000)")
    t.add_argument("--min-frequency", type=int, default=2)
    t.add_argument("--seed", type=int, default=0, help="changes which documents the sample takes")
    t.set_defaults(func=run_train)


def _sample_texts(inputs: list[str], column: str, k: int, seed: int) -> list[str]:
    """The ``k`` documents with the smallest keyed hash of their doc_id (or row position when there is none).

    Bottom-k by hash is a uniform sample that does not depend on file order or partitioning, in bounded
    memory (a heap of k entries).
    """
    paths = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise FileNotFoundError(f"--input {item} does not exist; pass the run's curated/ folder")
        paths += sorted(str(f) for f in p.rglob("*.parquet")) if p.is_dir() else [str(p)]
    if not paths:
        raise FileNotFoundError(f"no Parquet files under {inputs}; pass the run's curated/ folder")
    dataset = ds.dataset(paths, format="parquet")
    names = dataset.schema.names
    if column not in names:
        raise ValueError(f"the input has no column {column!r} (columns: {', '.join(names)}); set --text-column")
    cols = [column] + (["doc_id"] if "doc_id" in names else [])
    heap: list[tuple[int, str, str]] = []  # max-heap via negated hash
    row = 0
    for batch in dataset.to_batches(columns=cols):
        texts = batch.column(column).to_pylist()
        ids = batch.column("doc_id").to_pylist() if "doc_id" in cols else [str(row + i) for i in range(len(texts))]
        row += len(texts)
        for doc_id, text in zip(ids, texts):
            if not text:
                continue
            h = xxhash.xxh64_intdigest(f"{seed}:{doc_id}".encode("utf-8"))
            if len(heap) < k:
                heapq.heappush(heap, (-h, doc_id, text))
            elif -heap[0][0] > h:
                heapq.heapreplace(heap, (-h, doc_id, text))
    return [t for _, _, t in sorted(heap, key=lambda e: (-e[0], e[1]))]


def run_train(args: argparse.Namespace) -> int:
    try:
        texts = _sample_texts(args.input, args.text_column, args.sample_docs, args.seed)
        if not texts:
            raise ValueError("no non-empty text in the input")
        tok = train_bpe_tokenizer(iter_sample_texts(texts, args.max_chars), args.vocab_size, args.min_frequency)
        sha = save_tokenizer(tok, args.output)
    except (FileNotFoundError, ValueError, TokenizerError) as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    print(json.dumps({"output": args.output, "sha256": sha, "vocab_size": tok.get_vocab_size(with_added_tokens=True),
                      "documents": len(texts)}, sort_keys=True))
    return EXIT_OK
