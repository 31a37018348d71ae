"""``corpusforge summary``: the public summary of training content and the dataset card of a dataset."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jobs.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from quality.card import write_compliance_documents
from quality.summary import TOP_DOMAIN_RULES, ProviderInfo, SummaryError, gather_run, gather_store

HELP = "write the public summary of training content (AI Act template) and the dataset card"
DESCRIPTION = """\
Write, into --out DIR:
  training-content-summary.md / .json / .html   the AI Office's template of July 2025 (general information,
                                                list of data sources, data processing aspects), filled from
                                                what the runs recorded, exact figures in an appendix
  dataset-card.md / .html                       a datasheet (motivation, composition, collection,
                                                preprocessing, uses, distribution, maintenance, limitations
                                                and bias indicators)

The figures come from a published store version (--store, default CURRENT; --version picks another) or
from one run directory (--run). Every run must have its report (report/report.json; `corpusforge report
OUT` renders it). What the data cannot tell (provider, model, measures taken elsewhere, the card's
motivation and uses) comes from --provider-info, a small YAML file (docs/compliance.md lists its fields);
the documents say which fields were supplied by hand and which are still to complete. The same inputs
give byte-identical files. The documents report what the pipeline saw; they are not legal advice.

exit codes: 0 written; 1 the store or run cannot be summarised; 2 usage error.

examples:
  corpusforge summary --store /data/store --out compliance/ --provider-info provider.yaml
  corpusforge summary --store /data/store --version v000003 --out compliance/ --top-domains sme
  corpusforge summary --run out/demo --out out/demo/compliance
"""


def execute(args: argparse.Namespace) -> int:
    if bool(args.store) == bool(args.run):
        print("corpusforge summary: give exactly one of --store STORE or --run OUT", file=sys.stderr)
        return EXIT_USAGE
    if args.version and not args.store:
        print("corpusforge summary: --version needs --store", file=sys.stderr)
        return EXIT_USAGE
    try:
        info = ProviderInfo.from_file(Path(args.provider_info) if args.provider_info else None)
    except SummaryError as exc:
        print(f"corpusforge summary: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        ev = gather_store(Path(args.store), args.version) if args.store else gather_run(Path(args.run))
        paths = write_compliance_documents(ev, Path(args.out), info, args.top_domains)
    except SummaryError as exc:
        print(f"corpusforge summary: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps({"version": ev.version, "runs": [r.run_id for r in ev.runs],
                      "files": sorted(str(p) for p in paths.values())}, indent=2))
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("summary", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", metavar="STORE", default=None, help="a dataset store (the --store of nightly)")
    p.add_argument("--version", metavar="vN", default=None, help="the store version (default: CURRENT)")
    p.add_argument("--run", metavar="OUT", default=None, help="one run directory instead of a store version")
    p.add_argument("--out", metavar="DIR", required=True, help="folder the documents are written to")
    p.add_argument("--provider-info", metavar="FILE", default=None,
                   help="YAML with the fields the data cannot tell (provider, model, measures; card: ...)")
    p.add_argument("--top-domains", choices=sorted(TOP_DOMAIN_RULES), default="10pct",
                   help="top-domain rule of the template's section 2.3: 10pct (top 10%% of domains by content "
                        "size, default) or sme (top 5%% or 1,000 domains, whichever is lower)")
    p.set_defaults(func=execute)
