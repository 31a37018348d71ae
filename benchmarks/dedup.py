"""Near-dedup benchmark: signature throughput against datasketch, and the Spark stage end to end.

Usage::

    python -m benchmarks.dedup --docs 10000            # small: what a laptop check runs
    python -m benchmarks.dedup --docs 100000,1000000   # full figures (several sizes: growth)

Prints one JSON object:

* ``signatures``: documents per second on one core for (a) this project's vectorized path, text to
  signature; (b) datasketch ``MinHash.update_batch`` fed the very same shingle hashes (permutation and
  minimum only: datasketch's fastest use) and (c) datasketch's usual path (shingle strings hashed with
  its default sha1 through ``update_batch``); ``identical`` says whether (a) equals (b) bit for bit.
* ``end_to_end``: per size, wall time and peak memory (resident set of the whole process tree:
  driver, JVM, Python workers) of the near-dedup stage in Spark local mode, and the growth exponent
  between consecutive sizes (1.0 = linear).

The corpus is generated here (:func:`make_near_dup_corpus`): random-vocabulary documents with planted
near-duplicates of known Jaccard similarity, reproducible from a seed.
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
def bench_signatures(texts: list[str], num_perm: int = 128, seed: int = 1, ngram: int = 5, batch: int = 2048) -> dict:
    """Documents per second of the three signature paths on one core (see the module docstring)."""
    import numpy as np
    from datasketch import MinHash

    from pipelines.text import minhash as mh

    mh.signatures(texts[:batch], "word", ngram, num_perm, seed)  # warm-up: power tables, caches
    t0 = time.perf_counter()
    sigs = []
    for b0 in range(0, len(texts), batch):
        sigs.append(mh.signatures(texts[b0 : b0 + batch], "word", ngram, num_perm, seed).signatures)
    ours_s = time.perf_counter() - t0
    ours = np.concatenate(sigs)

    hashes, owner = mh.shingle_hashes(texts, "word", ngram)
    bounds = np.searchsorted(owner, np.arange(len(texts) + 1))
    per_doc = [hashes[bounds[i] : bounds[i + 1]].tolist() for i in range(len(texts))]
    identity = lambda h: h  # noqa: E731 - datasketch takes a callable
    t0 = time.perf_counter()
    ds = np.empty((len(texts), num_perm), dtype=np.uint32)
    for i, hs in enumerate(per_doc):
        m = MinHash(num_perm=num_perm, seed=seed, hashfunc=identity)
        m.update_batch(hs)
        ds[i] = m.hashvalues
    ds_s = time.perf_counter() - t0

    sample = texts[: max(1, min(len(texts), 2000))]
    t0 = time.perf_counter()
    for t in sample:
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch([s.encode("utf-8") for s in mh.shingle_strings(t, "word", ngram)])
    ds_sha1_rate = len(sample) / (time.perf_counter() - t0)

    ours_rate = len(texts) / ours_s
    ds_rate = len(texts) / ds_s
    return {
        "documents": len(texts),
        "num_perm": num_perm,
        "ours_docs_per_s": round(ours_rate, 1),
        "datasketch_update_batch_same_hashes_docs_per_s": round(ds_rate, 1),
        "datasketch_default_sha1_docs_per_s": round(ds_sha1_rate, 1),
        "speedup_vs_update_batch_same_hashes": round(ours_rate / ds_rate, 2),
        "speedup_vs_default_sha1": round(ours_rate / ds_sha1_rate, 2),
        "identical": bool(np.array_equal(ours, ds)),
    }


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
    """Run the benchmark and print its figures as JSON."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", default="10000", help="comma-separated corpus sizes for the end-to-end run")
    p.add_argument(
        "--signature-docs", type=int, default=None,
        help="documents for the signature benchmark (default: smallest --docs, at most 20000)",
    )
    p.add_argument("--num-perm", type=int, default=128)
    p.add_argument("--master", default="local[*]")
    p.add_argument("--partitions", type=int, default=None)
    p.add_argument("--skip-spark", action="store_true", help="only the signature benchmark")
    p.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sizes = sorted(int(x) for x in args.docs.split(",") if x.strip())
    n_sig = args.signature_docs or min(sizes[0], 20000)
    texts = [d["text"] for d in make_near_dup_corpus(n_sig, seed=1, compute_jaccard=False).docs]
    report = {"signatures": bench_signatures(texts, num_perm=args.num_perm)}
    if not args.skip_spark:
        report["end_to_end"] = bench_end_to_end(sizes, args.master, args.partitions)
    report["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
