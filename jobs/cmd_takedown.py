"""``corpusforge takedown``: apply erasure / opt-out requests to a dataset store."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from jobs.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pipelines.runtime import build_spark_session
from pipelines.store import DatasetStore, StoreError
from pipelines.takedown import TakedownError, apply_takedowns, load_requests

log = logging.getLogger(__name__)

HELP = "apply erasure requests (JSON lines) to the published data and to every future run"
DESCRIPTION = """\
Apply erasure and opt-out requests to STORE. FILE holds one JSON object per line with a request_id and
exactly one of doc_id, url, url_prefix, domain, content_sha256 (of the normalized text: see
'corpusforge hash-text'). The requests join the store's standing list (applied at ingest of every future
nightly run); the shards that hold matched documents are rewritten into a new version (every other shard
is unchanged) and CURRENT is switched; the near-dedup index forgets them; older versions that held them
are withdrawn and the run folders are purged. STORE/ledger/takedowns.jsonl records request id, matched
doc_ids, affected versions and time; STORE/takedown/summary.json is the proof-of-deletion summary.
Rerunning the same file changes nothing.

example:
  {"request_id": "gdpr-2024-0001", "url": "https://example.com/people/jane"}
  {"request_id": "optout-17", "domain": "example.org"}
  corpusforge takedown --store /data/store --requests requests.jsonl
"""


def execute(args: argparse.Namespace) -> int:
    try:
        load_requests(args.requests)  # validate before starting Spark
    except TakedownError as exc:
        print(f"corpusforge takedown: {exc}", file=sys.stderr)
        return EXIT_USAGE
    spark = build_spark_session(app_name="corpusforge-takedown", master=args.master or "local[*]",
                                driver_memory=args.driver_memory)
    try:
        proof = apply_takedowns(spark, DatasetStore(args.store), args.requests)
    except TakedownError as exc:
        print(f"corpusforge takedown: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except StoreError as exc:
        print(f"corpusforge takedown: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(proof, indent=2, sort_keys=True))
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("takedown", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True, metavar="STORE", help="the dataset store")
    p.add_argument("--requests", required=True, metavar="FILE", help="JSON lines of requests")
    p.add_argument("--master", default=None, help="Spark master for embedded mode (default local[*])")
    p.add_argument("--driver-memory", default="2g", help="driver heap for embedded mode (default 2g)")
    p.set_defaults(func=execute)
