"""``corpusforge run``: one batch run of the pipeline (also the body of ``jobs/run_pipeline.py``)."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from jobs.exitcodes import EXIT_FAILED, EXIT_GATES_FAILED, EXIT_OK, EXIT_USAGE
from pipelines.readers import InputError
from pipelines.runner import OutputLocationError, run_pipeline
from pipelines.stages.base import StageConfigError
from quality.report import write_report
from schemas.config import ConfigError, load_config

log = logging.getLogger(__name__)

HELP = "run the pipeline over input files and write a run directory"
DESCRIPTION = """\
Run the pipeline over INPUT files (JSONL[.gz|.zst], Parquet, text files, WARC/WET; directories and globs
are expanded; http(s):// and object-store URLs and path lists too, see docs/ingest.md) and write OUTPUT:
run.json, curated/, rejected/, quarantine/. The output appears only when the run is complete (it is built
beside OUTPUT and moved into place); an existing run there is replaced only then. Spark runs embedded in
local mode (spark.master, default local[*]) unless launched with spark-submit, whose --master wins.

examples:
  corpusforge run --config demo --input 'pipelines/assets/demo/*.jsonl*' --output out/demo
  corpusforge run --config web --input raw/ --output out/web \\
      --set quality.enabled=false --set spark.driver_memory=8g
"""


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="FILE",
                   help="YAML config file, or the name of a bundled preset (demo, web, ...)")
    p.add_argument("--input", action="append", required=True, metavar="PATH",
                   help="input file, directory, glob, http(s):// URL, s3:// / gs:// / hdfs:// URL (with the "
                        "matching extra installed), or a path list: @FILE or a *.paths[.gz] file of one input "
                        "per line (docs/ingest.md); repeat for several")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="run directory to write: a path the driver and every executor see (not an object-store "
                        "URI; see docs/cluster.md)")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE", dest="overrides",
                   help="override a config value, e.g. --set ingest.max_doc_chars=200000 (value read as YAML, "
                        "type-checked); repeat for several")
    p.add_argument("--master", default=None,
                   help="Spark master for embedded mode (overrides spark.master); ignored under spark-submit")
    p.add_argument("--previous", default=None, metavar="OUT_PREV",
                   help="an earlier run to compare with: drift figures in the report and drift gates")
    p.add_argument("--run-id", default=None, help="fixed run id (default: timestamp + random suffix)")
    p.add_argument("--robots", default=None, metavar="PATH",
                   help="robots.txt source for the opt-out stage: a folder of robots.txt files named by host, or "
                        "Common Crawl robots.txt WARC files (file, folder or glob); sets optout.robots_txt.source "
                        "and turns the optout section on (docs/compliance.md)")
    p.add_argument("--dedup-index", default=None, metavar="PATH",
                   help="incremental near-dedup index (same as --set near_dedup.index_path=PATH): documents "
                        "near-duplicating ones kept by earlier runs are removed, and this run's kept "
                        "documents are added to it when the run commits")


def execute(args: argparse.Namespace) -> int:
    overrides = list(args.overrides)
    if args.master:
        overrides.append(f"spark.master={args.master}")
    if args.dedup_index:
        overrides.append(f"near_dedup.index_path={args.dedup_index}")
    if getattr(args, "robots", None):
        # JSON is YAML: the path stays one string whatever its characters (a glob may start with '*')
        overrides += ["optout.enabled=true", f"optout.robots_txt.source={json.dumps(args.robots)}"]
    try:
        config = load_config(args.config, overrides)
        result = run_pipeline(config, args.input, args.output, run_id=args.run_id, previous=args.previous,
                              report_writer=write_report)
    except (ConfigError, StageConfigError, FileNotFoundError, InputError, OutputLocationError) as exc:
        print(f"corpusforge run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as exc:  # RunError, the giant-cluster guard, Spark job failures: nothing committed
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"corpusforge run: failed, nothing was committed: {first}", file=sys.stderr)
        return EXIT_FAILED
    c = result.manifest.counts
    summary = {
        "output": str(result.output),
        "run_id": result.manifest.run_id,
        "records": c.records,
        "curated": c.curated,
        "rejected": c.rejected,
        "quarantined": c.quarantined,
        "rejected_by_reason": c.rejected_by_reason,
        "quarantined_by_reason": c.quarantined_by_reason,
        "seconds": result.manifest.duration_s,
        "report": str(result.output / "report" / "report.html"),
        "gates": "passed" if result.gates_passed else "failed",
    }
    failed = [v.gate for v in result.report.failed_gates]
    if failed:
        summary["failed_gates"] = failed
    print(json.dumps(summary, indent=2))
    if not result.gates_passed:
        print("corpusforge run: quality gates failed: " + ", ".join(failed) + " (see the report)", file=sys.stderr)
        return EXIT_GATES_FAILED
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("run", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p)
    p.set_defaults(func=execute)
