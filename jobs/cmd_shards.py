"""``corpusforge shards verify DIR``: check a shard folder against its index.json and list every problem."""
from __future__ import annotations

import argparse
import json
import logging

from jobs.exitcodes import EXIT_FAILED, EXIT_OK
from storage.files import file_sha256
from storage.shards import ShardError, verify_shards

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("shards", help="inspect tokenized shard folders")
    sub = p.add_subparsers(dest="shards_command", metavar="ACTION")
    sub.required = True
    v = sub.add_parser("verify", help="check sizes, sha256, schema, tokenizer, counts; exit 1 on any problem")
    v.add_argument("dir", help="shard folder (OUT/shards) or dataset store (with CURRENT)")
    v.add_argument("--level", choices=["size", "hash", "deep"], default="deep",
                   help="size: sizes and footers; hash: + sha256; deep (default): + token counts and id ranges")
    v.add_argument("--tokenizer", help="a tokenizer.json the shards must have been made with")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    try:
        expected = file_sha256(args.tokenizer) if args.tokenizer else None
        report = verify_shards(args.dir, expected_tokenizer_sha256=expected, level=args.level)
    except (OSError, ShardError) as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    elif report.ok:
        idx = report.index
        print(f"OK {report.folder}: {len(idx.shards)} shards, {idx.total_rows} documents, {idx.total_tokens} tokens "
              f"(dataset {idx.dataset_version}, tokenizer {idx.tokenizer_sha256[:12]})")
    else:
        print(f"FAILED {report.folder}: {len(report.problems)} problem(s)")
        for p in report.problems:
            print(f"  {p}")
    return EXIT_OK if report.ok else EXIT_FAILED
