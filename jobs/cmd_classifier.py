"""``corpusforge classifier train|eval``: train a fastText document classifier, or measure one.

Examples::

    # our kept data against the raw crawl, in one command
    corpusforge classifier train --positive out/curated --negative raw/ --output models/hq.bin --balance

    # precision, recall, F1 and ROC AUC of a model on labelled documents
    corpusforge classifier eval --model models/hq.bin --label hq --positive ref/ --negative crawl/

The model card (``model.json`` next to ``model.bin``) records the inputs with their sha256, the sample
counts, the parameters, the validation figures and the library versions. See docs/classify.md.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from jobs.exitcodes import EXIT_OK, EXIT_USAGE
from pipelines.classifier_data import evaluate_paths, train_from_paths
from pipelines.text.classifier import ClassifierModelError, ClassifierTrainingError, card_path

log = logging.getLogger(__name__)

_PATH_HELP = ("a file, folder or glob the readers accept (JSONL[.gz|.zst], Parquet, text, WARC/WET), e.g. a "
              "run's curated/ or rejected/ folder; repeatable")


def _inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--positive", required=True, action="append", metavar="PATH",
                   help="documents of the class to score (label --label): " + _PATH_HELP)
    p.add_argument("--negative", required=True, action="append", metavar="PATH",
                   help="documents of the other class: " + _PATH_HELP)
    p.add_argument("--format", default="auto", choices=["auto", "jsonl", "parquet", "text", "warc", "wet"],
                   help="input format (default: from each file's extension)")
    p.add_argument("--text-field", default="text", help="JSONL field or Parquet column with the text (default: text)")
    p.add_argument("--max-docs", type=int, default=None, metavar="N",
                   help="read at most N documents per side, in file order (default: all)")
    p.add_argument("--lowercase", action="store_true", help="lower-case texts (the stage must then set lowercase)")
    p.add_argument("--max-chars", type=int, default=None, metavar="N",
                   help="use the first N characters of each document (the stage must then set max_chars)")


def register(subparsers) -> None:
    """Add the ``classifier`` sub-command with ``train`` and ``eval``."""
    p = subparsers.add_parser("classifier", help="train or evaluate a fastText document classifier")
    sub = p.add_subparsers(dest="classifier_command", metavar="ACTION")
    sub.required = True

    t = sub.add_parser(
        "train",
        help="train a binary fastText classifier and write its model card",
        description="Train a supervised fastText classifier, positive (--label) against negative documents, "
        "deterministically (seeded split, balancing and line order; fastText with thread=1). Writes the model "
        "(.bin; .ftz = quantized) and its card (same name, .json) with validation precision, recall, F1 and "
        "ROC AUC. Use the model in the classify stage (docs/classify.md).",
    )
    _inputs(t)
    t.add_argument("--output", required=True, metavar="MODEL", help="model file to write (.bin, or .ftz to quantize)")
    t.add_argument("--label", default="hq", help="positive label, with or without __label__ (default: hq)")
    t.add_argument("--negative-label", default="other", help="negative label (default: other)")
    t.add_argument("--validation-fraction", type=float, default=0.1,
                   help="share of each class held apart for the card's figures (default: 0.1; 0 = none)")
    t.add_argument("--epoch", type=int, default=5, help="fastText epochs (default: 5)")
    t.add_argument("--word-ngrams", type=int, default=2, help="fastText word n-grams (default: 2)")
    t.add_argument("--dim", type=int, default=64, help="embedding size (default: 64)")
    t.add_argument("--min-count", type=int, default=1, help="minimal word count (default: 1)")
    t.add_argument("--lr", type=float, default=0.1, help="learning rate (default: 0.1)")
    t.add_argument("--bucket", type=int, default=2_000_000,
                   help="hash buckets for word n-grams (default: 2000000; the model's size scales with it)")
    t.add_argument("--cutoff", type=int, default=0,
                   help="with .ftz: keep only the N most important words and n-grams (default: 0 = all)")
    t.add_argument("--seed", type=int, default=0, help="seeds the split, balancing, line order and fastText")
    t.add_argument("--balance", action="store_true",
                   help="down-sample the larger class to the size of the smaller one (seeded)")
    t.set_defaults(func=run_train)

    e = sub.add_parser(
        "eval",
        help="precision, recall, F1 and ROC AUC of a classifier on labelled documents",
        description="Score labelled documents with a fastText classifier (prepared as the classify stage does) "
        "and print precision, recall, F1 (at --threshold) and ROC AUC as JSON.",
    )
    e.add_argument("--model", required=True, help="fastText model file (.bin or .ftz)")
    e.add_argument("--label", required=True, help="the label whose probability is the score")
    e.add_argument("--threshold", type=float, default=0.5, help="decision threshold (default: 0.5)")
    _inputs(e)
    e.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    """Train, write the model and its card, print a summary."""
    try:
        card = train_from_paths(
            args.positive, args.negative, output=args.output, fmt=args.format, text_field=args.text_field,
            max_docs=args.max_docs, label=args.label, negative_label=args.negative_label,
            validation_fraction=args.validation_fraction, epoch=args.epoch, word_ngrams=args.word_ngrams,
            dim=args.dim, min_count=args.min_count, lr=args.lr, bucket=args.bucket, cutoff=args.cutoff,
            seed=args.seed, balance=args.balance, lowercase=args.lowercase, max_chars=args.max_chars,
        )
    except (ClassifierTrainingError, ClassifierModelError) as exc:
        print(f"corpusforge classifier train: {exc}", file=sys.stderr)
        return EXIT_USAGE
    val = card.get("validation") or {}
    s = card["samples"]
    print(f"wrote {args.output} ({card['model']['bytes']} bytes, sha256 {card['model']['sha256'][:12]}) and "
          f"{card_path(args.output)}")
    print(f"trained on {s['positive']['train']} positive + {s['negative']['train']} negative documents; "
          f"validation ({s['positive']['validation']} + {s['negative']['validation']}): precision "
          f"{val.get('precision')}, recall {val.get('recall')}, F1 {val.get('f1')}, ROC AUC {val.get('roc_auc')}")
    return EXIT_OK


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate and print the JSON report."""
    try:
        report = evaluate_paths(args.model, args.label, args.positive, args.negative, fmt=args.format,
                                text_field=args.text_field, max_docs=args.max_docs, lowercase=args.lowercase,
                                max_chars=args.max_chars, threshold=args.threshold)
    except (ClassifierTrainingError, ClassifierModelError) as exc:
        print(f"corpusforge classifier eval: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report, indent=2))
    return EXIT_OK
