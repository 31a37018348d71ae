"""Ingest benchmark: ingest + normalize + exact dedup on a generated JSONL corpus, Spark local mode.

    python -m benchmarks.ingest [--size 200MB] [--files 8] [--cores N] [--repeat 2] [--jit auto|quick|full]
                                [--out .bench/ingest] [--conf spark.key=value ...]

Prints JSON: documents, input MB, wall seconds, docs/s, MB/s, MB/s per core (wall), CPU seconds of the
whole process tree and MB per CPU-second (the per-core rate, robust to other load on the machine), and
peak RSS of the whole process tree (driver, JVM, Python workers). Target (issue 2): at least 5 MB/s per core.
The corpus is generated once per size and seed and reused (its generation is not timed). The first run
pays the JVM's warm-up (cold); later runs in the same session are warm. The SparkSession is built the way
`corpusforge run` builds it, JIT mode included (spark.jit), and its start is not timed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.procmem import PeakMemory, tree_cpu_seconds

REPO = Path(__file__).resolve().parents[1]


def ensure_corpus(root: Path, size: str, files: int, seed: int) -> Path:
    d = root / f"corpus-{size}-{files}-{seed}"
    if (d / "manifest.json").exists():
        return d
    if d.exists():
        shutil.rmtree(d)
    subprocess.run([sys.executable, "-m", "benchmarks.corpus", "--out", str(d), "--size", size, "--files", str(files),
                    "--seed", str(seed), "--no-malformed"], check=True, cwd=REPO)
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="200MB")
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", default=str(REPO / ".bench" / "ingest"))
    ap.add_argument("--repeat", type=int, default=2, help="runs in one Spark session (the first pays JIT warm-up)")
    ap.add_argument("--json-out", default=None, help="also write the result JSON here")
    ap.add_argument("--jit", choices=["auto", "quick", "full"], default="auto",
                    help="JIT mode of the JVM, as config spark.jit (auto: what `corpusforge run` would use)")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Spark setting for the benchmark's session (repeatable), e.g. "
                         "spark.driver.extraJavaOptions=-XX:TieredStopAtLevel=1")
    args = ap.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    corpus = ensure_corpus(root, args.size, args.files, args.seed)
    inputs = sorted(str(p) for p in corpus.iterdir() if p.name != "manifest.json")
    in_bytes = sum(os.path.getsize(p) for p in inputs)

    from pipelines.runner import run_pipeline
    from pipelines.runtime import build_spark_session, resolve_jit
    from quality.report import write_report
    from schemas.config import load_config

    # Only ingest + normalize + exact dedup: every other stage is switched off.
    off = [f"{s}.enabled=false" for s in ("language", "quality", "near_dedup", "pii", "bias", "tokenize")]
    cfg = load_config("demo", [f"spark.master=local[{args.cores}]", "spark.driver_memory=4g",
                               "spark.shuffle_partitions=null", "output.num_files=null", *off])
    extra = dict(kv.split("=", 1) for kv in args.conf)
    # The session is built the way `corpusforge run` builds it (JIT mode from the input size).
    master = f"local[{args.cores}]"
    jit = resolve_jit(args.jit, master, in_bytes)
    spark = build_spark_session("corpusforge-bench", master=master, driver_memory="4g", ui=False,
                                extra_conf=extra, jit=jit)
    out = root / "run"
    runs = []
    for attempt in range(args.repeat):
        with PeakMemory() as mem:
            cpu0 = tree_cpu_seconds(os.getpid())
            t0 = time.perf_counter()
            res = run_pipeline(cfg, inputs, str(out), spark=spark, report_writer=write_report)
            wall = time.perf_counter() - t0
            cpu = tree_cpu_seconds(os.getpid()) - cpu0
        c = res.manifest.counts
        mb = in_bytes / 1e6
        t = res.timings or {}
        # The target covers ingest + normalize + exact dedup (and writing the outputs); the
        # report and the removal ledger, which every run also writes, are timed separately.
        core = wall - t.get("report", 0.0) - t.get("ledger", 0.0)
        runs.append({
            "phases_s": t,
            "wall_without_report_and_ledger_s": round(core, 2),
            "mb_per_s_per_core_without_report_and_ledger": round(mb / core / args.cores, 2),
            "run": attempt + 1,
            "jvm": "cold (includes JIT warm-up)" if attempt == 0 else "warm (same session)",
            "wall_s": round(wall, 2),
            "docs_per_s": round(c.records / wall, 1),
            "mb_per_s": round(mb / wall, 2),
            "mb_per_s_per_core": round(mb / wall / args.cores, 2),
            # CPU seconds of the whole process tree (driver, JVM, Python workers): robust to a busy machine
            "cpu_s": round(cpu, 2),
            "mb_per_cpu_s": round(mb / cpu, 2) if cpu > 0 else None,
            "peak_rss_mb": round(mem.peak / 1e6, 1),
        })
    result = {
        "benchmark": "ingest+normalize+exact_dedup",
        "cores": args.cores,
        "input_files": len(inputs),
        "input_mb": round(in_bytes / 1e6, 1),
        "documents": c.records,
        "curated": c.curated,
        "rejected": c.rejected,
        "quarantined": c.quarantined,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "runs": runs,
        "jit": jit,
        "spark_conf": extra,
        "target_mb_per_s_per_core": 5.0,
    }
    spark.stop()
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
