"""Ingest benchmark: the wall time of a user's ``corpusforge run`` process, from start to exit.

    python -m benchmarks.ingest [--size 8MB] [--warc-size 4MB] [--files 4] [--cores N]
                                [--malformed-share 0.03] [--no-warm] [--out .bench/ingest] [--json-out F]

What is timed (the figure a user sees): ``corpusforge run --config demo`` started as a separate process
with every stage after exact dedup switched off (ingest + normalize + exact dedup, the outputs, the
report and the removal ledger), from ``Popen`` to the process's exit: interpreter and JVM start, Spark
session, the run, and shutdown. Two inputs:

* **compressed JSONL**: the corpus generator's text (``benchmarks.corpus``) as ``.jsonl.gz`` part files;
* **WARC**: the same documents as gzipped WARC ``response`` records with HTML bodies (main-text extraction
  runs), a ``warcinfo`` record per file, and about ``--malformed-share`` of the records malformed in four
  ways (Content-Length too short, too long or missing; a record without its version line; the last
  record of each file clipped mid-body). The run's quarantine count is printed next to what was planted.

CPU seconds are the sum over the process tree (driver, JVM, Python workers) sampled from /proc every
0.2 s, each process at its last sample (a process that lives less than one interval is missed), and peak
RSS is that tree's largest sampled sum. ``MB/s per core`` divides the *uncompressed* input by wall time
and by the cores given to Spark (``--cores``, default all of this machine's).

``--warm`` (default on) adds one figure labelled **warm**: the same JSONL run repeated in one Python
process whose SparkSession (and JVM) is already up and has done the same run once; it is not what a
user's command sees, and is reported only beside the cold figure. Corpus generation is not timed; the
corpus is cached under ``--out`` per size and seed. Target (issue 2): 5 MB/s per core.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from benchmarks.procmem import TreeSampler

REPO = Path(__file__).resolve().parents[1]
#: every stage after exact dedup is switched off: what is measured is ingest + normalize + exact dedup
OFF_STAGES = ("language", "quality", "classify", "decontaminate", "near_dedup", "pii", "bias", "tokenize")
#: the malformed-record kinds the WARC corpus plants, with the quarantine reason each must produce
MALFORMED_KINDS = {
    "content_length_short": "ingest:warc_bad_content_length",
    "content_length_long": "ingest:warc_bad_content_length",
    "content_length_missing": "ingest:warc_malformed_record",
    "no_version_line": "ingest:warc_malformed_record",
    "clipped_last_record": "ingest:warc_truncated_record",
}


def parse_size(size: str) -> int:
    s = size.strip().upper()
    for unit, mult in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3), ("B", 1)):
        if s.endswith(unit):
            return int(float(s[: -len(unit)]) * mult)
    return int(s)


def ensure_jsonl(root: Path, size: str, files: int, seed: int) -> Path:
    """The generator's corpus as gzipped JSONL part files (cached; generation is not timed)."""
    d = root / f"jsonl-gz-{size}-{files}-{seed}"
    if (d / "manifest.json").exists():
        return d
    if d.exists():
        shutil.rmtree(d)
    subprocess.run([sys.executable, "-m", "benchmarks.corpus", "--out", str(d), "--size", size, "--files", str(files),
                    "--seed", str(seed), "--compression", "gz", "--no-malformed"], check=True, cwd=REPO,
                   stdout=sys.stderr)
    return d


def _warc_record(rtype: str, body: bytes, uri: Optional[str], rid: int, content_type: str,
                 clen: Optional[int] = None, version: bool = True) -> bytes:
    head = [b"WARC/1.0"] if version else []
    head += [f"WARC-Type: {rtype}".encode(), f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{rid:012d}>".encode(),
             b"WARC-Date: 2026-11-01T00:00:00Z"]
    if uri:
        head.append(f"WARC-Target-URI: {uri}".encode())
    head.append(f"Content-Type: {content_type}".encode())
    if clen != -1:
        head.append(f"Content-Length: {len(body) if clen is None else clen}".encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body + b"\r\n\r\n"


def _html(doc: dict) -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in doc["text"].replace("<", "&lt;").split("\n") if p.strip())
    page = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{doc.get('domain', '')}</title></head>"
            f"<body><nav><a href=\"/\">Home</a> <a href=\"/about\">About</a></nav><article>{paras}</article>"
            "<footer>Copyright</footer></body></html>").encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " + \
        str(len(page)).encode() + b"\r\n\r\n" + page


def ensure_warc(root: Path, size: str, files: int, seed: int, malformed_share: float) -> tuple[Path, dict]:
    """Gzipped WARC files (one gzip member per record) built from the generator's documents, with planted
    malformed records; returns the folder and what was planted (``kinds``: ``{kind: count}``)."""
    d = root / f"warc-v2-{size}-{files}-{seed}-{malformed_share}"
    planted_file = d / "planted.json"
    if planted_file.exists():
        return d, json.loads(planted_file.read_text())
    if d.exists():
        shutil.rmtree(d)
    src = ensure_jsonl(root, size, files, seed)
    d.mkdir(parents=True)
    rng = random.Random(seed)
    planted = {k: 0 for k in MALFORMED_KINDS}
    kinds = [k for k in MALFORMED_KINDS if k != "clipped_last_record"]
    rid = 0
    responses = 0
    merged = 0  # malformed records directly followed by one without its version line: one quarantine row
    for part in sorted(src.glob("*.jsonl.gz")):
        out = d / part.name.replace(".jsonl.gz", ".warc.gz")
        records = []
        rid += 1
        records.append(_warc_record("warcinfo", b"software: corpusforge-bench\r\nformat: WARC/1.0\r\n", None, rid,
                                    "application/warc-fields"))
        previous_bad = False
        with gzip.open(part, "rt", encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                rid += 1
                responses += 1
                body = _html(doc)
                ctype = "application/http; msgtype=response"
                if rng.random() < malformed_share:
                    kind = rng.choice(kinds)
                    planted[kind] += 1
                    merged += previous_bad and kind == "no_version_line"
                    previous_bad = True
                    clen = {"content_length_short": len(body) - 40, "content_length_long": len(body) + 40,
                            "content_length_missing": -1}.get(kind)
                    records.append(_warc_record("response", body, doc.get("url"), rid, ctype, clen=clen,
                                                version=kind != "no_version_line"))
                else:
                    previous_bad = False
                    records.append(_warc_record("response", body, doc.get("url"), rid, ctype))
        # the last record of the file is clipped mid-body, as a crawl cut off by a full disk leaves it
        records[-1] = records[-1][: len(records[-1]) // 2]
        planted["clipped_last_record"] += 1
        with open(out, "wb") as fh:
            for rec in records:
                fh.write(gzip.compress(rec, mtime=0))
    # A record without its version line right after a malformed one cannot be told apart from the rest of
    # that record (nothing marks where it starts): the reader skips both to the next "WARC/" line and
    # reports them as one quarantine row whose raw_bytes cover both.
    result = {"kinds": planted, "response_records": responses,
              "expected_reasons": {k: MALFORMED_KINDS[k] for k in planted},
              "expected_quarantine_rows": sum(planted.values()) - merged}
    planted_file.write_text(json.dumps(result, indent=2) + "\n")
    return d, result


def _uncompressed_bytes(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        with gzip.open(p, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
    return total


def cold_run(inputs: str, out: Path, cores: int, label: str, in_mb: float) -> dict:
    """One ``corpusforge run`` process on the glob ``inputs``, timed from start to exit."""
    if out.exists():
        shutil.rmtree(out)
    exe = shutil.which("corpusforge", path=str(Path(sys.executable).parent)) or "corpusforge"
    cmd = [exe, "run", "--config", "demo", "--input", inputs, "--output", str(out),
           "--master", f"local[{cores}]", "--set", "spark.driver_memory=4g",
           *[a for s in OFF_STAGES for a in ("--set", f"{s}.enabled=false")]]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with TreeSampler(proc.pid, interval=0.2) as tree:
        _, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = err.decode(errors="replace")[-3000:]
        raise RuntimeError(f"corpusforge run on {label} exited {proc.returncode}: {tail}")
    run = json.loads((out / "run.json").read_text())
    counts = run.get("counts") or {}
    return {
        "input": label,
        "jvm": "cold: one `corpusforge run` process from start to exit (JVM start included)",
        "wall_s": round(wall, 2),
        "mb_per_s_per_core": round(in_mb / wall / cores, 3),
        "cpu_s": round(tree.cpu_s, 2),
        "mb_per_cpu_s": round(in_mb / tree.cpu_s, 3) if tree.cpu_s else None,
        "peak_rss_mb": round(tree.peak_rss / 1e6, 1),
        "records": counts.get("records"),
        "curated": counts.get("curated"),
        "quarantined": counts.get("quarantined"),
        "quarantined_by_reason": counts.get("quarantined_by_reason"),
        "command": " ".join(cmd[:1] + [Path(c).name if c == exe else c for c in cmd[1:]]),
    }


def warm_run(inputs: Path, out: Path, cores: int, in_mb: float) -> dict:
    """The same run twice in one process with its SparkSession up; the second is the warm figure."""
    from pipelines.runner import run_pipeline  # deferred: Spark is imported only for the warm figure
    from pipelines.runtime import build_spark_session, resolve_jit
    from quality.report import write_report
    from schemas.config import load_config

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    cfg = load_config("demo", [f"spark.master=local[{cores}]", "spark.driver_memory=4g",
                               *[f"{s}.enabled=false" for s in OFF_STAGES]])
    master = f"local[{cores}]"
    files = sorted(str(p) for p in inputs.glob("*.jsonl.gz"))
    jit = resolve_jit("auto", master, int(in_mb * 1e6))
    spark = build_spark_session("corpusforge-bench", master=master, driver_memory="4g", ui=False, jit=jit)
    try:
        walls = []
        for _ in range(2):
            if out.exists():
                shutil.rmtree(out)
            t0 = time.perf_counter()
            run_pipeline(cfg, files, str(out), spark=spark, report_writer=write_report)
            walls.append(time.perf_counter() - t0)
    finally:
        spark.stop()
    return {"input": "jsonl.gz", "jvm": "warm: second run in one process, SparkSession already up (not a user's "
            "command)", "wall_s": round(walls[1], 2), "first_run_in_session_s": round(walls[0], 2),
            "mb_per_s_per_core": round(in_mb / walls[1] / cores, 3)}


def run(size: str = "quick", cores: Optional[int] = None, warc_size: Optional[str] = None, files: int = 4,
        seed: int = 1, malformed_share: float = 0.03, warm: bool = True, out: Optional[str] = None) -> dict:
    """Run the benchmark and return its figures (``size``: ``quick`` = 8 MB JSONL / 4 MB WARC, or e.g. ``200MB``)."""
    jsonl_size = "8MB" if size == "quick" else size
    warc_size = warc_size or ("4MB" if size == "quick" else jsonl_size)
    cores = cores or os.cpu_count() or 2
    root = Path(out or REPO / ".bench" / "ingest")
    root.mkdir(parents=True, exist_ok=True)
    jsonl = ensure_jsonl(root, jsonl_size, files, seed)
    warc, planted = ensure_warc(root, warc_size, files, seed, malformed_share)
    j_mb = _uncompressed_bytes(sorted(jsonl.glob("*.jsonl.gz"))) / 1e6
    w_mb = _uncompressed_bytes(sorted(warc.glob("*.warc.gz"))) / 1e6
    runs = [cold_run(str(jsonl / "*.jsonl.gz"), root / "run-jsonl", cores, "jsonl.gz", j_mb),
            cold_run(str(warc / "*.warc.gz"), root / "run-warc", cores, "warc.gz", w_mb)]
    runs[1]["response_records_written"] = planted["response_records"]
    runs[1]["malformed_planted"] = planted["kinds"]
    runs[1]["malformed_planted_total"] = sum(planted["kinds"].values())
    runs[1]["malformed_share"] = round(sum(planted["kinds"].values()) / planted["response_records"], 4)
    runs[1]["expected_quarantine_rows"] = planted["expected_quarantine_rows"]
    if warm:
        runs.append(warm_run(jsonl, root / "run-warm", cores, j_mb))
    return {
        "benchmark": "ingest: `corpusforge run` (ingest + normalize + exact dedup + outputs, report, ledger)",
        "size": size,
        "cores": cores,
        "jsonl_gz_uncompressed_mb": round(j_mb, 1),
        "jsonl_gz_compressed_mb": round(sum(p.stat().st_size for p in jsonl.glob("*.jsonl.gz")) / 1e6, 1),
        "warc_uncompressed_mb": round(w_mb, 1),
        "input_files": files,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "runs": runs,
        "target_mb_per_s_per_core": 5.0,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="quick", help="uncompressed JSONL size (quick = 8MB; e.g. 200MB)")
    ap.add_argument("--warc-size", default=None, help="WARC corpus size (default: 4MB for quick, else --size)")
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--malformed-share", type=float, default=0.03, help="share of malformed WARC records")
    ap.add_argument("--no-warm", dest="warm", action="store_false", help="skip the warm (same-session) figure")
    ap.add_argument("--out", default=str(REPO / ".bench" / "ingest"))
    ap.add_argument("--json-out", default=None, help="also write the result JSON here")
    args = ap.parse_args(argv)
    result = run(args.size, cores=args.cores, warc_size=args.warc_size, files=args.files, seed=args.seed,
                 malformed_share=args.malformed_share, warm=args.warm, out=args.out)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
