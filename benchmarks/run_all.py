"""The benchmark suite in one command: ``make bench`` (or ``python -m benchmarks``).

    python -m benchmarks.run_all [--size quick|full] [--only ingest,loader,...] [--out bench-results.json]
                                 [--timeout 1800] [--write-readme]
    python -m benchmarks.run_all --render bench-results.json [--write-readme]   # the table of a past run

Runs every benchmark of the suite at one documented size, each in its own Python process (a crash,
an out-of-memory kill or a missing optional module costs one row, not the suite), writes every result
to ``--out`` (JSON: machine, date, command, and each benchmark's full figures) and prints one Markdown
table headed by the machine's cores, load average and the date. ``--write-readme`` also replaces the
table between the ``<!-- bench-table:start -->`` and ``<!-- bench-table:end -->`` markers in README.md.

Sizes (``--size``; ``make bench BENCH_SIZE=full``):

========  ==========================================  ==========================================
bench     quick (a 2-core machine, minutes)           full
========  ==========================================  ==========================================
ingest    8 MB JSONL.gz + 4 MB WARC.gz                200 MB JSONL.gz + 200 MB WARC.gz
loader    10M tokens, 8 shards                        200M tokens, 8 shards
minhash   ``benchmarks.dedup`` quick                  ``benchmarks.dedup`` full
near dedup / quality peers: their module's quick / full sizes
pii       ``benchmarks.pii speed --n 2000 --cpu-n 500``  ``benchmarks.pii speed`` (40k texts)
========  ==========================================  ==========================================

A benchmark module that is absent or has no ``run`` function gives a **not run** row with the reason;
one that fails gives a **failed** row with the error's last line. No figure is ever filled in.

A module's ``run(size) -> dict`` may return ``table_rows``: a list of ``{"measure", "corpusforge",
"peer", "ratio", "target"}`` dicts (strings or numbers), which become its rows of the table; otherwise
the row shows where its figures are in the JSON.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parents[1]
README_START = "<!-- bench-table:start -->"
README_END = "<!-- bench-table:end -->"


def _pii_speed(size: str) -> dict:
    """``python -m benchmarks.pii speed`` (its CLI is the interface): the JSON it writes with ``--out``."""
    args = PII_QUICK_ARGS if size == "quick" else []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pii.json"
        cmd = [sys.executable, "-m", "benchmarks.pii", "speed", *args, "--out", str(out)]
        proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"benchmarks.pii speed exited {proc.returncode}: {_last_line(proc.stderr)}")
        return json.loads(out.read_text())


PII_QUICK_ARGS = ["--n", "2000", "--cpu-n", "500"]


@dataclass(frozen=True)
class Bench:
    what: str
    module: str  # imported lazily in the child process; absent -> "not run"
    attr: str  # the function that must exist in it; absent -> "not run"
    command: str  # reproduces the figures; {size} is the suite size (after size_map)
    size_map: dict = field(default_factory=dict)
    call: Optional[Callable[[str], dict]] = None  # how to run it (default: module.attr(size))


SUITE: dict[str, Bench] = {
    "ingest": Bench("`corpusforge run` process start to exit, JSONL.gz and WARC.gz with malformed records",
                    "benchmarks.ingest", "run", "python -m benchmarks.ingest --size {size}", {"full": "200MB"}),
    "loader": Bench("shard loader vs numpy memmap, same timing rules, several shards", "benchmarks.loader", "run",
                    "python -m benchmarks.loader --size {size}"),
    "minhash": Bench("MinHash signatures vs datasketch's fastest path", "benchmarks.dedup", "run",
                     "python -m benchmarks.dedup --size {size}"),
    "near_dedup": Bench("near dedup end to end vs datatrove's MinHash pipeline", "benchmarks.near_dedup_peer", "run",
                        "python -m benchmarks.near_dedup_peer --size {size}"),
    "quality": Bench("quality rules vs datatrove's Gopher, C4 and FineWeb filters", "benchmarks.quality_peer", "run",
                     "python -m benchmarks.quality_peer --size {size}"),
    "pii": Bench("PII scrubbing vs vanilla Presidio and spaCy", "benchmarks.pii", "speed_main",
                 "python -m benchmarks.pii speed {pii_args}", call=_pii_speed),
}


def command_of(name: str, size: str) -> str:
    b = SUITE[name]
    pii_args = " ".join(PII_QUICK_ARGS) if size == "quick" else ""
    return b.command.format(size=b.size_map.get(size, size), pii_args=pii_args).strip()


def _last_line(text: str) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def run_one(name: str, size: str) -> dict:
    """Run one benchmark in this process; ``not run`` when its module or entry function is missing."""
    b = SUITE[name]
    try:
        fn = getattr(importlib.import_module(b.module), b.attr)
    except (ImportError, AttributeError) as exc:
        return {"status": "not run", "reason": f"{type(exc).__name__}: {exc}"}
    t0 = time.perf_counter()
    result = b.call(size) if b.call else fn(b.size_map.get(size, size))
    return {"status": "ok", "seconds": round(time.perf_counter() - t0, 1), "result": result}


def run_isolated(name: str, size: str, timeout: float) -> dict:
    """Run one benchmark in a child Python process and return its record (status, seconds, result)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "one.json"
        cmd = [sys.executable, "-m", "benchmarks.run_all", "--one", name, "--size", size, "--out", str(out)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": "failed", "reason": f"timed out after {timeout:.0f} s"}
        if proc.returncode != 0 or not out.exists():
            return {"status": "failed", "reason": f"exit {proc.returncode}: {_last_line(proc.stderr)}",
                    "seconds": round(time.perf_counter() - t0, 1)}
        return json.loads(out.read_text())


def machine() -> dict:
    return {"cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(), "python": platform.python_version()}


# -- table ---------------------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _ingest_rows(r: dict) -> list[dict]:
    rows = []
    for run in r.get("runs", []):
        warm = run["jvm"].startswith("warm")
        what = f"ingest {run['input']}, {'warm JVM (same session, not a user command)' if warm else 'cold process'}"
        fig = f"{run['mb_per_s_per_core']} MB/s per core ({run['wall_s']} s wall"
        if not warm:
            fig += (f", {run['cpu_s']} CPU s = {run.get('mb_per_cpu_s')} MB per CPU-s, "
                    f"peak RSS {run['peak_rss_mb']:,.0f} MB")
        fig += ")"
        if run.get("malformed_planted_total") is not None:
            fig += (f"; {run['malformed_planted_total']} of {run['response_records_written']} records malformed, "
                    f"{run['quarantined']} quarantined")
            if run.get("expected_quarantine_rows") is not None:
                fig += f" ({run['expected_quarantine_rows']} rows expected)"
        rows.append({"measure": what, "corpusforge": fig, "peer": "—", "ratio": None,
                     "target": f"{r.get('target_mb_per_s_per_core', 5)} MB/s per core"})
    mb = r.get("jsonl_gz_uncompressed_mb")
    if rows and mb:
        rows[0]["measure"] += f" ({mb} MB uncompressed)"
    return rows


def _loader_rows(r: dict) -> list[dict]:
    mm = r["memmap"]
    rows = []
    for s in r.get("shard_loader", []):
        ratio = round(s["tokens_per_s"] / mm["tokens_per_s"], 3) if mm["tokens_per_s"] else None
        rows.append({"measure": f"loader, {r['tokens'] / 1e6:g}M tokens in {r['shards']} shards, "
                                f"{s['workers']} DataLoader workers (first batch and hashing timed)",
                     "corpusforge": f"{s['tokens_per_s'] / 1e6:.2f}M tokens/s "
                                    f"({s['tokens_per_s_per_worker'] / 1e6:.2f}M per worker)"
                                    + (f"; steady state, start-up excluded: "
                                       f"{s['steady_tokens_per_s_per_worker'] / 1e6:.2f}M per worker"
                                       if s.get("steady_tokens_per_s_per_worker") else ""),
                     "peer": f"memmap {mm['tokens_per_s'] / 1e6:.2f}M tokens/s", "ratio": ratio,
                     "target": "0.5x memmap, 5M tokens/s per worker"})
    return rows


def _minhash_rows(r: dict) -> list[dict]:
    rows = []
    for key in ("real_pages", "generator", "random_ascii"):
        x = r.get(key) or {}
        d = x.get("docs_per_cpu_s")
        if not d:
            continue
        rows.append({"measure": f"MinHash signatures, {key.replace('_', ' ')} ({x.get('documents')} docs, 1 core)",
                     "corpusforge": f"{d.get('ours_text_to_signature', 0):,.0f} docs/CPU-s",
                     "peer": f"datasketch bulk+LeanMinHash {d.get('datasketch_bulk_lean', 0):,.0f}",
                     "ratio": x.get("speedup_text_vs_datasketch_bulk"),
                     "target": "3x, bit-identical" + (" (identical)" if x.get("identical") else " (NOT identical)")})
        if d.get("datasketch_per_object"):
            rows.append({"measure": f"MinHash, {key.replace('_', ' ')}: datasketch one MinHash per document "
                                    "(second row, weaker peer)",
                         "corpusforge": f"{d['ours_text_to_signature']:,.0f} docs/CPU-s",
                         "peer": f"{d['datasketch_per_object']:,.0f}",
                         "ratio": round(d["ours_text_to_signature"] / d["datasketch_per_object"], 2),
                         "target": "—"})
    return rows


def _pii_rows(r: dict) -> list[dict]:
    return [{"measure": f"PII {x['measure']}: {x['corpusforge']}", "corpusforge": f"{x['corpusforge_s']} s",
             "peer": f"{x['vanilla']} {x['vanilla_s']} s", "ratio": x.get("speedup"), "target": f"{x['target']:g}x"}
            for x in r.get("summary", [])]


ROWS: dict[str, Callable[[dict], list[dict]]] = {
    "ingest": _ingest_rows, "loader": _loader_rows, "minhash": _minhash_rows, "pii": _pii_rows,
}


def table_rows(name: str, record: dict) -> list[dict]:
    what = SUITE[name].what
    if record.get("status") != "ok":
        return [{"measure": f"{name}: {what}", "corpusforge": f"**{record.get('status')}**: {record.get('reason')}",
                 "peer": "—", "ratio": None, "target": "—"}]
    result = record["result"]
    rows = result.get("table_rows")
    if rows is None and name in ROWS:
        try:
            rows = ROWS[name](result)
        except (KeyError, TypeError, ZeroDivisionError) as exc:
            rows = [{"measure": f"{name}: {what}", "corpusforge": f"figures in bench-results.json (table: {exc!r})",
                     "peer": "—", "ratio": None, "target": "—"}]
    if not rows:
        rows = [{"measure": f"{name}: {what}", "corpusforge": f"figures in bench-results.json under `{name}`",
                 "peer": "—", "ratio": None, "target": "—"}]
    return rows


def markdown(results: dict) -> str:
    m = results["machine"]
    end = results.get("load_average_at_end")
    head = (f"{results['date']}, `{results['command']}` (size `{results['size']}`): {m['cores']} cores, "
            f"load average {' / '.join(str(x) for x in m['load_average'])} (1/5/15 min) at the start, "
            + (f"{' / '.join(str(x) for x in end)} at the end." if end else "the run did not finish."))
    lines = [head, "", "| benchmark | measure | corpusforge | peer | ratio | target | reproduce |",
             "|---|---|---|---|---|---|---|"]
    records = dict(results["benchmarks"])
    for name in results.get("planned", []):
        records.setdefault(name, {"status": "not run", "reason": "the suite stopped before this benchmark"})
    for name, record in records.items():
        cmd = record.get("command") or ""
        for row in table_rows(name, record):
            ratio = row.get("ratio")
            ratio_s = f"**{_fmt(ratio)}x**" if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) \
                else _fmt(ratio)
            lines.append(f"| {name} | {row['measure']} | {_fmt(row['corpusforge'])} | {_fmt(row['peer'])} "
                         f"| {ratio_s} | {_fmt(row['target'])} | `{cmd}` |")
    return "\n".join(lines) + "\n"


def write_readme(table: str, readme: Path = REPO / "README.md") -> None:
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{readme} has no {README_START} ... {README_END} markers")
    a = text.index(README_START) + len(README_START)
    b = text.index(README_END)
    readme.write_text(text[:a] + "\n" + table + text[b:])


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=["quick", "full"], default=os.environ.get("BENCH_SIZE", "quick"))
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(SUITE)}")
    ap.add_argument("--out", default="bench-results.json")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark before it counts as failed")
    ap.add_argument("--write-readme", action="store_true", help="replace README.md's table with this run's")
    ap.add_argument("--render", metavar="RESULTS_JSON", default=None,
                    help="print (and with --write-readme, paste) the table of an earlier run's results; runs nothing")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one benchmark in this process
    args = ap.parse_args(argv)
    if args.one:
        record = run_one(args.one, args.size)
        record["command"] = command_of(args.one, args.size)
        Path(args.out).write_text(json.dumps(record, indent=2, default=str) + "\n")
        return 0
    if args.render:
        table = markdown(json.loads(Path(args.render).read_text()))
        print(table)
        if args.write_readme:
            write_readme(table)
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(SUITE)
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {list(SUITE)}")
    cmd = "make bench" + (f" BENCH_SIZE={args.size}" if args.size != "quick" else "")
    if args.only:
        cmd += f" BENCH_ARGS='--only {args.only}'"
    results: dict = {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "command": cmd,
                     "size": args.size, "machine": machine(), "planned": names, "benchmarks": {}}
    for name in names:
        print(f"[bench] {name} ({args.size}) ...", file=sys.stderr, flush=True)
        record = run_isolated(name, args.size, args.timeout)
        record.setdefault("command", command_of(name, args.size))
        results["benchmarks"][name] = record
        print(f"[bench] {name}: {record.get('status')} {record.get('reason', '')}".rstrip(), file=sys.stderr,
              flush=True)
        Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")  # partial results survive
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = markdown(results)
    print(table)
    if args.write_readme:
        write_readme(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
