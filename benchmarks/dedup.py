"""MinHash signature throughput against datasketch at its strongest, and the Spark stage end to end.

Usage::

    python -m benchmarks.dedup                       # quick: 5,000 documents per corpus (2-core machine)
    python -m benchmarks.dedup --size full --json    # 100,000 documents per corpus, JSON figures too
    python -m benchmarks.dedup --end-to-end          # also the near-dedup stage in Spark local mode

``run(size)`` returns the figures as a dict (``make bench`` calls it); the command prints a Markdown table.

Signatures (:func:`bench_signatures`), per core (CPU time of this one process), on three corpora:

* ``real_pages``: real text from ``../shared/data/webtext`` (WARC pages extracted with Resiliparse, Common
  Crawl WET and CCNet text, State of the Union and Genesis cut into pages; English, Chinese, Russian,
  Finnish...), repeated to the size (see :mod:`benchmarks._webtext`); skipped when the folder is absent;
* ``generator``: the synthetic corpus generator's documents (:mod:`benchmarks.corpus`, ten languages);
* ``random_ascii``: :func:`make_near_dup_corpus` (random ASCII words: our ASCII fast path only).

The peer is datasketch at its fastest documented CPU path: ``MinHash.bulk`` (permutations drawn once and
copied per document), ``update_batch`` over the very same shingle hashes with the identity ``hashfunc``
of the parity test (``tests/unit/test_minhash.py``), kept as ``LeanMinHash``. Its shingling and hashing
are done for it, untimed. ``identical`` checks our signatures against it bit for bit. A new ``MinHash``
per document (which redraws the permutations each time) is reported only as a second, labelled row.
The sides run interleaved in one process, best of three rounds each.

Our side runs the implementation that :mod:`pipelines.text.minhash` picks (the compiled kernel when it is
built, else numpy; ``--kernel numpy`` or ``CORPUSFORGE_MINHASH_KERNEL=numpy`` forces the fallback); every
corpus records it as ``kernel``, and ``identical`` holds for both.

The end-to-end row times the near-dedup stage in Spark local mode on :func:`make_near_dup_corpus`; the
comparison with datatrove's MinHash pipeline is ``benchmarks/near_dedup_peer.py``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass
class NearDupCorpus:
    """Generated documents and the near-duplicate pairs planted in them."""

    docs: list[dict] = field(default_factory=list)  # doc_id, source, text
    #: (original doc_id, copy doc_id, true Jaccard of their shingle sets)
    planted: list[tuple[str, str, float]] = field(default_factory=list)


def _doc_id(seed: int, i: int) -> str:
    return hashlib.sha256(f"near-dup-corpus/{seed}/{i}".encode()).hexdigest()[:32]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(_LETTERS) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def _render(words: list[str], rng: random.Random) -> str:
    """Words to text with sentence case and punctuation (normalization removes both)."""
    out, start = [], True
    for i, w in enumerate(words):
        out.append(w.capitalize() if start else w)
        start = False
        if i % 11 == 10:
            out[-1] += rng.choice([".", ".", "!", "?", ";"])
            start = out[-1][-1] in ".!?"
    return " ".join(out) + "."


def _edit(words: list[str], rate: float, vocab: list[str], rng: random.Random) -> list[str]:
    """Replace, insert or delete about ``rate`` of the words."""
    out = list(words)
    for _ in range(max(0, round(rate * len(words)))):
        op = rng.random()
        pos = rng.randrange(len(out))
        if op < 0.6:
            out[pos] = rng.choice(vocab)
        elif op < 0.8:
            out.insert(pos, rng.choice(vocab))
        elif len(out) > 2:
            del out[pos]
    return out


def make_near_dup_corpus(
    n_docs: int,
    seed: int = 0,
    dup_share: float = 0.3,
    ngram: int = 5,
    min_words: int = 60,
    max_words: int = 250,
    vocab_size: int = 5000,
    compute_jaccard: bool = True,
    short_docs: int = 0,
) -> NearDupCorpus:
    """A corpus of random documents in which about ``dup_share`` of the documents are edited copies.

    Each copy is an edit of an original at a rate drawn between 0 and 15% of its words, which spreads
    the true Jaccard similarity of (original, copy) over about 0.3 to 1.0 for 5-word shingles. An
    original gets one to three copies.

    Args:
        n_docs: total documents.
        seed: random seed (the corpus is a pure function of the arguments).
        dup_share: share of the documents that are copies.
        ngram: word shingle size used to compute the true Jaccard of planted pairs.
        min_words: shortest original, in words.
        max_words: longest original, in words.
        vocab_size: distinct words.
        compute_jaccard: compute the true Jaccard of planted pairs (slow for millions of documents).
        short_docs: extra documents with fewer than ``ngram`` words (no shingle).

    Returns:
        A :class:`NearDupCorpus`.
    """
    from pipelines.text.minhash import true_jaccard

    rng = random.Random(seed)
    vocab = _vocabulary(rng, vocab_size)
    corpus = NearDupCorpus()
    n_copies_target = int(n_docs * dup_share)
    i = 0
    copies = 0
    while i < n_docs - short_docs:
        words = [rng.choice(vocab) for _ in range(rng.randint(min_words, max_words))]
        text = _render(words, rng)
        base_id = _doc_id(seed, i)
        corpus.docs.append({"doc_id": base_id, "source": f"src{i % 3}", "text": text})
        i += 1
        if copies < n_copies_target and rng.random() < dup_share / (1 - dup_share) / 2:
            for _ in range(rng.randint(1, 3)):
                if i >= n_docs - short_docs:
                    break
                variant = _render(_edit(words, rng.uniform(0.0, 0.15), vocab, rng), rng)
                vid = _doc_id(seed, i)
                corpus.docs.append({"doc_id": vid, "source": f"src{i % 3}", "text": variant})
                j = true_jaccard(text, variant, "word", ngram) if compute_jaccard else float("nan")
                corpus.planted.append((base_id, vid, j))
                i += 1
                copies += 1
    for _ in range(short_docs):
        corpus.docs.append(
            {
                "doc_id": _doc_id(seed, i),
                "source": "short",
                "text": " ".join(rng.choice(vocab) for _ in range(ngram - 1)),
            }
        )
        i += 1
    rng.shuffle(corpus.docs)
    return corpus


# ---------------------------------------------------------------------- signature throughput
#: Documents per corpus for each documented size ("quick" fits the 2-core development machine).
SIZES = {"quick": 5000, "medium": 20000, "full": 100000}


def _cpu() -> float:
    return time.process_time()


def _ours_text(texts: list[str], num_perm: int, seed: int, ngram: int, batch: int):
    import numpy as np

    from pipelines.text import minhash as mh

    return np.concatenate(
        [mh.signatures(texts[b0 : b0 + batch], "word", ngram, num_perm, seed).signatures
         for b0 in range(0, len(texts), batch)]
    )


def _datasketch_bulk(per_doc: list[list[int]], num_perm: int, seed: int):
    """datasketch's fastest documented CPU path: ``MinHash.bulk`` (one permutation draw, copied per
    document) with ``update_batch`` over the same shingle hashes, stored as ``LeanMinHash``."""
    from datasketch import LeanMinHash, MinHash

    return [LeanMinHash(m) for m in MinHash.bulk(per_doc, num_perm=num_perm, seed=seed, hashfunc=_identity)]


def _identity(h):
    """The hash function of the parity test (tests/unit/test_minhash.py): the shingle hash itself."""
    return h


def _datasketch_per_object(per_doc: list[list[int]], num_perm: int, seed: int):
    """The naive loop: a new ``MinHash`` per document (redraws the permutations every time)."""
    from datasketch import MinHash

    out = []
    for hs in per_doc:
        m = MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity)
        m.update_batch(hs)
        out.append(m)
    return out


def bench_signatures(
    texts: list[str], num_perm: int = 128, seed: int = 1, ngram: int = 5, batch: int = 2048, rounds: int = 3,
    per_object: bool = True,
) -> dict:
    """CPU-time throughput (one process, so one core) of our signatures against datasketch's.

    The sides run interleaved, ``rounds`` times each; every figure is the best round (the least
    disturbed by other processes on a shared machine), and ratios compare figures of the same run.

    * ``ours_text_to_signature``: normalization, shingling, hashing, permutations, minimum.
    * ``ours_from_hashes``: the permutation and minimum step only, from the same shingle hashes that
      datasketch is given (the like-for-like row).
    * ``datasketch_bulk_lean``: :func:`_datasketch_bulk`, given the shingle hashes precomputed (its
      shingling and hashing are not timed: datasketch at its strongest).
    * ``datasketch_per_object`` (second, labelled row): a new ``MinHash`` per document.
    """
    import numpy as np

    from pipelines.text import minhash as mh

    kernel = mh.active_kernel()
    mh.signatures(texts[:batch], "word", ngram, num_perm, seed)  # warm-up: tables, permutation cache
    hashes, owner = mh.shingle_hashes(texts, "word", ngram)
    bounds = np.searchsorted(owner, np.arange(len(texts) + 1))
    per_doc = [hashes[bounds[i] : bounds[i + 1]].tolist() for i in range(len(texts))]
    best: dict[str, float] = {}
    results: dict[str, object] = {}

    def timed(name, fn):
        t0 = _cpu()
        out = fn()
        dt = _cpu() - t0
        best[name] = min(best.get(name, float("inf")), dt)
        results[name] = out

    for _ in range(rounds):
        timed("ours_text_to_signature", lambda: _ours_text(texts, num_perm, seed, ngram, batch))
        timed("datasketch_bulk_lean", lambda: _datasketch_bulk(per_doc, num_perm, seed))
        timed("ours_from_hashes", lambda: mh.signatures_from_hashes(hashes, owner, len(texts), num_perm, seed))
    if per_object:
        timed("datasketch_per_object", lambda: _datasketch_per_object(per_doc, num_perm, seed))
    ours = results["ours_text_to_signature"]
    ds = np.stack([m.hashvalues for m in results["datasketch_bulk_lean"]]).astype(np.uint32)
    identical = bool(np.array_equal(ours, ds)) and bool(np.array_equal(results["ours_from_hashes"], ds))
    rates = {k: len(texts) / v for k, v in best.items()}
    chars = sum(map(len, texts))
    out = {
        "documents": len(texts),
        "mean_chars": round(chars / max(1, len(texts)), 1),
        "non_ascii_documents": sum(1 for t in texts if not t.isascii()),
        "shingles": int(len(hashes)),
        "num_perm": num_perm,
        "ngram": ngram,
        "rounds": rounds,
        "kernel": kernel,
        "docs_per_cpu_s": {k: round(v, 1) for k, v in rates.items()},
        "speedup_text_vs_datasketch_bulk": round(rates["ours_text_to_signature"] / rates["datasketch_bulk_lean"], 2),
        "speedup_from_hashes_vs_datasketch_bulk": round(
            rates["ours_from_hashes"] / rates["datasketch_bulk_lean"], 2
        ),
        "identical": identical,
    }
    if per_object:
        out["speedup_text_vs_datasketch_per_object"] = round(
            rates["ours_text_to_signature"] / rates["datasketch_per_object"], 2
        )
    return out


def generator_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` documents of the synthetic corpus generator (benchmarks/corpus.py; ten languages)."""
    from benchmarks.corpus import generate_corpus, iter_records

    texts: list[str] = []
    size = max(200_000, n * 2500)
    with tempfile.TemporaryDirectory(prefix="cf-bench-sig-") as tmp:
        generate_corpus(tmp, size, seed=seed, files=1, malformed=False)
        for rec in iter_records(tmp):
            texts.append(rec["text"])
    if not texts:
        return []
    return [texts[i % len(texts)] for i in range(n)]


def run(size: str = "quick", num_perm: int = 128, end_to_end: bool = False, **kw) -> dict:
    """The signature benchmark on real pages and on the generator's text (and, optionally, the Spark
    stage end to end); JSON-serialisable figures. ``size``: one of :data:`SIZES`."""
    from benchmarks import _webtext

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    n = int(kw.get("docs") or SIZES[size])
    report: dict = {"size": size, "command": f"python -m benchmarks.dedup --size {size}"}
    real = _webtext.pages_to_size(n)
    if real:
        report["real_pages"] = {"source": _webtext.describe(), **bench_signatures(real, num_perm=num_perm)}
    else:
        report["real_pages"] = {"skipped": "../shared/data/webtext is absent"}
    report["generator"] = bench_signatures(generator_texts(n), num_perm=num_perm)
    report["random_ascii"] = bench_signatures(
        [d["text"] for d in make_near_dup_corpus(n, seed=1, compute_jaccard=False).docs], num_perm=num_perm,
        per_object=False,
    )
    if end_to_end:
        report["end_to_end"] = bench_end_to_end([n], kw.get("master", "local[*]"), kw.get("partitions"))
    report["machine"] = _machine()
    report["table_rows"] = _rows(report)
    return report


def _rows(report: dict) -> list[dict]:
    """Rows for the suite's Markdown table (``benchmarks/run_all.py``)."""
    rows = []
    for key, label in (("real_pages", "real pages"), ("generator", "generator text")):
        r = report.get(key) or {}
        if "docs_per_cpu_s" not in r:
            continue
        d = r["docs_per_cpu_s"]
        rows.append({
            "measure": f"MinHash signatures, {label} ({r['documents']} docs), docs per CPU-s, bit-identical: "
                       f"{r['identical']}, {r.get('kernel', '?')} kernel",
            "corpusforge": f"{d['ours_text_to_signature']:,.0f} (text to signature)",
            "peer": f"datasketch bulk + LeanMinHash, hashes given: {d['datasketch_bulk_lean']:,.0f}",
            "ratio": f"{r['speedup_text_vs_datasketch_bulk']}x",
            "target": "3x (real pages)" if key == "real_pages" else "",
        })
        rows.append({
            "measure": f"  same, permutation + minimum only (same hashes), {label}",
            "corpusforge": f"{d['ours_from_hashes']:,.0f}",
            "peer": f"{d['datasketch_bulk_lean']:,.0f}",
            "ratio": f"{r['speedup_from_hashes_vs_datasketch_bulk']}x",
            "target": "",
        })
        if "datasketch_per_object" in d:
            rows.append({
                "measure": f"  second row: datasketch new MinHash per document, {label}",
                "corpusforge": f"{d['ours_text_to_signature']:,.0f}",
                "peer": f"{d['datasketch_per_object']:,.0f}",
                "ratio": f"{r['speedup_text_vs_datasketch_per_object']}x",
                "target": "",
            })
    return rows


def _machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "note": "CPU time of one process (one core); other processes load the machine, so figures are noisy, "
        "ratios are taken within one interleaved run",
    }


def table(report: dict) -> str:
    """The signature figures as a Markdown table."""
    rows = ["| corpus | docs | kernel | ours text->sig | ours from hashes | datasketch bulk+Lean "
            "| datasketch per-object | ours/bulk | identical |", "|---|---|---|---|---|---|---|---|---|"]
    for key in ("real_pages", "generator", "random_ascii"):
        r = report.get(key) or {}
        if "docs_per_cpu_s" not in r:
            continue
        d = r["docs_per_cpu_s"]
        rows.append(
            f"| {key} | {r['documents']} | {r.get('kernel', '?')} | {d['ours_text_to_signature']:,.0f} "
            f"| {d['ours_from_hashes']:,.0f} "
            f"| {d['datasketch_bulk_lean']:,.0f} | {d.get('datasketch_per_object', float('nan')):,.0f} "
            f"| **{r['speedup_text_vs_datasketch_bulk']}x** | {r['identical']} |"
        )
    return "\n".join(rows) + "\n\n(docs per CPU-second, one core)"


# ---------------------------------------------------------------------- end to end
class _PeakRss:
    """Samples the resident memory of this process and all its descendants (Linux /proc)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree_rss() -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parts = fh.read().rsplit(")", 1)[1].split()
                ppid, pages = int(parts[1]), int(parts[21])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
            rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
        total, stack = 0, [os.getpid()]
        while stack:
            pid = stack.pop()
            total += rss.get(pid, 0)
            stack.extend(children.get(pid, []))
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> "_PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bench_end_to_end(sizes: list[int], master: str, partitions: Optional[int], seed: int = 0) -> list[dict]:
    """Wall time and peak memory of the near-dedup stage on generated corpora of the given sizes."""
    from pipelines.runtime import build_spark_session
    from pipelines.stages.base import RunContext
    from pipelines.stages.near_dedup import NearDedupStage
    from schemas.config import validate_config

    spark = build_spark_session("corpusforge-bench-dedup", master=master, driver_memory="4g", ui=False)
    cores = int(spark.sparkContext.defaultParallelism)
    nparts = partitions or max(4, 2 * cores)
    spark.conf.set("spark.sql.shuffle.partitions", str(nparts))
    cfg = validate_config({"near_dedup": {"enabled": True, "on_giant_cluster": "flag"}})
    results = []
    try:
        # The first run pays for JVM and Python worker warm-up; it is not reported.
        for k, n in enumerate([min(500, sizes[0])] + sizes):
            corpus = make_near_dup_corpus(n, seed=seed, compute_jaccard=False)
            with tempfile.TemporaryDirectory(prefix="cf-bench-dedup-") as tmp:
                src = Path(tmp) / "docs.parquet"
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pylist(corpus.docs)
                table = table.append_column("n_chars", pa.array([len(d["text"]) for d in corpus.docs], pa.int64()))
                pq.write_table(table, src)
                df = spark.read.parquet(str(src)).repartition(nparts)
                ctx = RunContext(
                    spark=spark, config=cfg, run_id=f"warmup-{n}" if k == 0 else f"bench-{n}",
                    staging_dir=Path(tmp) / "staging", work_dir=Path(tmp) / "work", num_partitions=nparts,
                )
                stage = NearDedupStage(cfg.near_dedup, ctx)
                stage.prepare()
                with _PeakRss() as mem:
                    t0 = time.perf_counter()
                    out = stage.apply(df)
                    out.write.parquet(str(Path(tmp) / "out"))
                    wall = time.perf_counter() - t0
                info = ctx.stage_info["near_dedup"]
                if ctx.run_id.startswith("warmup"):
                    continue
                results.append(
                    {
                        "documents": n,
                        "wall_s": round(wall, 2),
                        "docs_per_s": round(n / wall, 1),
                        "peak_rss_mib": round(mem.peak / 2**20, 1),
                        "duplicates": info["duplicates"],
                        "clusters": info["clusters"],
                        "cc_iterations": info["cc_iterations"],
                        "phase_s": info["timings_s"],
                        "planted_copies": len(corpus.planted),
                    }
                )
                log.info("end to end %d docs: %.1fs", n, wall)
    finally:
        spark.stop()
    for prev, cur in zip(results, results[1:]):
        cur["growth_exponent"] = round(
            math.log(cur["wall_s"] / prev["wall_s"]) / math.log(cur["documents"] / prev["documents"]), 2
        )
    return results


def main(argv: Optional[list[str]] = None) -> int:
    """Run the benchmark, print a Markdown table (and the JSON with ``--json``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="quick", choices=sorted(SIZES), help="documents per corpus: %s" % SIZES)
    p.add_argument("--docs", type=int, default=None, help="override the documents per corpus")
    p.add_argument("--num-perm", type=int, default=128)
    p.add_argument("--kernel", choices=("auto", "compiled", "numpy"), default=None,
                   help="MinHash implementation of our side (sets CORPUSFORGE_MINHASH_KERNEL; default: as set, "
                   "else auto: the compiled kernel when built)")
    p.add_argument("--end-to-end", action="store_true", help="also time the Spark stage (local mode)")
    p.add_argument("--master", default="local[*]")
    p.add_argument("--partitions", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the JSON figures too")
    p.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.kernel:
        os.environ["CORPUSFORGE_MINHASH_KERNEL"] = args.kernel
    report = run(args.size, num_perm=args.num_perm, end_to_end=args.end_to_end, docs=args.docs,
                 master=args.master, partitions=args.partitions)
    text = json.dumps(report, indent=2)
    print(table(report))
    if args.json:
        print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
