"""``corpusforge report``: (re-)render a run's data-quality report from its stored data and check its gates."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from jobs.exitcodes import EXIT_FAILED, EXIT_GATES_FAILED, EXIT_OK, EXIT_USAGE
from pipelines.runtime import build_spark_session
from quality.gates import gates_from_config
from quality.metrics import read_manifest
from quality.report import write_report
from schemas.config import ConfigError, apply_overrides, load_config
from schemas.config.gates import GatesSection

log = logging.getLogger(__name__)

HELP = "write a run's data-quality report (report.json + report.html) and check its quality gates"
DESCRIPTION = """\
Re-render OUT/report/report.json and OUT/report/report.html from what the run OUT wrote (run.json,
curated/, rejected/, quarantine/, shards/), and check the quality gates. The gates are those of the run's
own configuration (the `gates` section recorded in run.json) unless --config names another configuration;
--set gates.KEY=VALUE overrides single thresholds. With --previous, drift figures and drift gates compare
against an earlier run.

exit codes: 0 report written and every gate passed (or gates disabled); 3 report written but a gate
failed; 1 the report could not be written; 2 usage or configuration error.

examples:
  corpusforge report out/demo
  corpusforge report out/2024-06-02 --previous out/2024-06-01 --set gates.max_language_drift=0.05
"""


def _load_gates(args: argparse.Namespace, run_dir: Path):
    """The gates section to check: from --config or run.json, with --set gates.* overrides applied."""
    if args.config:
        cfg = load_config(args.config).model_dump(mode="json")
        if "gates" not in cfg:
            raise ConfigError(
                "this version of corpusforge has no `gates` section in its configuration model; remove --config "
                "to use the gates recorded in run.json"
            )
        base = cfg["gates"]
    else:
        base = gates_from_config(read_manifest(run_dir).config).model_dump(mode="json")
    overrides = []
    for item in args.overrides:
        key = item.split("=", 1)[0].strip()
        if not key.startswith("gates."):
            raise ConfigError(f"--set {key}: only gates.* keys can be set here (e.g. --set gates.min_keep_rate=0.5)")
        overrides.append(item.strip()[len("gates."):])
    data = apply_overrides(base, overrides)
    try:
        return GatesSection.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"invalid gates configuration: {exc}") from None


def execute(args: argparse.Namespace) -> int:
    run_dir = Path(args.output)
    if args.examples < 0:
        print("corpusforge report: --examples must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    if not (run_dir / "run.json").is_file():
        print(f"corpusforge report: {run_dir} is not a finished corpusforge run (no run.json); point at the "
              f"--output directory of a run", file=sys.stderr)
        return EXIT_USAGE
    if args.previous and not (Path(args.previous) / "run.json").is_file():
        print(f"corpusforge report: --previous {args.previous} is not a finished corpusforge run (no run.json)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        gates = _load_gates(args, run_dir)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"corpusforge report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    spark = None
    if args.master:
        spark = build_spark_session(app_name="corpusforge-report", master=args.master, ui=False)
    try:
        result = write_report(run_dir, spark=spark, previous=Path(args.previous) if args.previous else None,
                              gates=gates, examples_per_reason=args.examples)
    except (FileNotFoundError, ValueError) as exc:
        print(f"corpusforge report: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    r = result.report
    summary = {
        "run_id": r.run.run_id,
        "report": str(result.json_path),
        "html": str(result.html_path),
        "records": r.accounting.records_in,
        "curated": r.accounting.kept,
        "rejected": r.accounting.removed,
        "quarantined": r.accounting.quarantined,
        "gates": "disabled" if not r.gates.enabled else ("passed" if result.gates_passed else "failed"),
        "failed_gates": [
            {"gate": v.gate, "value": v.value, "op": v.op, "threshold": v.threshold, "detail": v.detail}
            for v in result.failed_gates
        ],
    }
    print(json.dumps(summary, indent=2))
    if not result.gates_passed:
        print(f"corpusforge report: quality gates failed: {', '.join(v.gate for v in result.failed_gates)}",
              file=sys.stderr)
        return EXIT_GATES_FAILED
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("report", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output", metavar="OUT", help="the run directory (the --output of `corpusforge run`)")
    p.add_argument("--previous", metavar="OUT_PREV", default=None, help="an earlier run to measure drift against")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="take the gates from this configuration (file or bundled preset) instead of run.json")
    p.add_argument("--set", action="append", default=[], metavar="gates.KEY=VALUE", dest="overrides",
                   help="override a gate, e.g. --set gates.min_keep_rate=0.6 (value read as YAML); repeat for several")
    p.add_argument("--examples", type=int, default=3, metavar="N",
                   help="removed documents shown per reason, scrubbed and truncated (default 3; 0 for none)")
    p.add_argument("--master", default=None, help="Spark master (default: the active session or local[*])")
    p.set_defaults(func=execute)
