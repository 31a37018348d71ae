"""``corpusforge takedown``: apply erasure / opt-out requests to a dataset store."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from jobs.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pipelines.runtime import build_spark_session
from pipelines.store import DatasetStore, StoreError
from pipelines.takedown import TakedownError, apply_takedowns, load_requests, optout_domain_requests
from pipelines.text.optout import DomainListError, check_domains, read_domain_file
from pipelines.text.pii_offline import offline_extractor

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

--optout-domains FILE takes an opt-out domain list instead (one domain per line, '#' comments; the format of
optout.domains.file, docs/compliance.md): every listed domain becomes the standing request
optout-domain:<domain>, so the domain and its subdomains leave the published versions and every future run.
Both options may be given together.

example:
  {"request_id": "gdpr-2024-0001", "url": "https://example.com/people/jane"}
  {"request_id": "optout-17", "domain": "example.org"}
  corpusforge takedown --store /data/store --requests requests.jsonl
  corpusforge takedown --store /data/store --optout-domains optout-domains.txt
"""


def _requests_of(args: argparse.Namespace) -> list:
    """The validated requests of --requests and --optout-domains (raises TakedownError / DomainListError)."""
    reqs = list(load_requests(args.requests)) if args.requests else []
    if args.optout_domains:
        try:
            entries = read_domain_file(args.optout_domains)
        except OSError as exc:
            raise TakedownError(f"--optout-domains {args.optout_domains}: cannot be read ({exc.strerror})") from None
        domains = check_domains(entries, offline_extractor(), where=f"--optout-domains {args.optout_domains}")
        reqs += optout_domain_requests(domains)
    return reqs


def execute(args: argparse.Namespace) -> int:
    if not args.requests and not args.optout_domains:
        print("corpusforge takedown: give --requests FILE, --optout-domains FILE or both", file=sys.stderr)
        return EXIT_USAGE
    try:
        requests = _requests_of(args)  # validate before starting Spark
    except (TakedownError, DomainListError) as exc:
        print(f"corpusforge takedown: {exc}", file=sys.stderr)
        return EXIT_USAGE
    spark = build_spark_session(app_name="corpusforge-takedown", master=args.master or "local[*]",
                                driver_memory=args.driver_memory)
    try:
        proof = apply_takedowns(spark, DatasetStore(args.store), requests)
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
    p.add_argument("--requests", default=None, metavar="FILE", help="JSON lines of requests")
    p.add_argument("--optout-domains", default=None, metavar="FILE",
                   help="an opt-out domain list (one domain per line): each domain becomes the standing request "
                        "optout-domain:<domain>")
    p.add_argument("--master", default=None, help="Spark master for embedded mode (default local[*])")
    p.add_argument("--driver-memory", default="2g", help="driver heap for embedded mode (default 2g)")
    p.set_defaults(func=execute)
