"""Throughput and memory of the decontaminate stage, on a generated corpus and generated evaluation items.

* Throughput: the stage's batch function (``DecontaminateStage.process_arrow``: Arrow batch in, batch
  with the decontam columns out: normalization, token and n-gram hashing, lookups, item ids) over the
  corpus, against ``--items`` evaluation items (default 10,000), with the exact index and with the Bloom
  index. Measured in CPU seconds of this process (one core, what one Spark Python worker does), so the
  MB/s-per-core figures hold on a shared machine; best of ``--repeat``. Target: >= 5 MB/s per core.
* Recall check: ``--plant`` items are inserted into corpus documents (question alone or question and
  answer); the benchmark fails when one of them is not found or a clean document is flagged.
* Memory: the index of ``--memory-items`` items (default 100,000): exact table bytes, Bloom filter bytes,
  and the resident-memory growth of building it; and the lookup cost of an exact table against a Bloom
  filter at growing key counts (what ``bloom_above_ngrams`` is chosen from).

Prints one JSON object::

    python -m benchmarks.decontaminate --size 30MB
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from benchmarks.corpus import generate_corpus, iter_records  # noqa: E402
from pipelines.stages.decontaminate import DecontaminateStage  # noqa: E402
from pipelines.text.decontam import BloomFilter, EvalSetData, Matcher, build_index  # noqa: E402

_NAMES = ("Natalia", "Tom", "Amara", "Kenji", "Lucia", "Omar", "Priya", "Jonas", "Mei", "Sven")
_THINGS = ("clips", "apples", "marbles", "tickets", "books", "stamps", "pencils", "shells", "cards", "coins")


def make_items(n: int, vocab: list[str], seed: int) -> list[tuple[str, str]]:
    """``n`` (question, answer) pairs: word problems with random slots and corpus-vocabulary context."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        name, thing = rng.choice(_NAMES), rng.choice(_THINGS)
        a, b = rng.randint(2, 999), rng.randint(2, 999)
        context = " ".join(rng.choice(vocab) for _ in range(rng.randint(10, 60)))
        q = (f"{context}. {name} had {a} {thing} and bought {b} more at the {rng.choice(vocab)} market. "
             f"How many {thing} does {name} have now?")
        ans = f"{name} has {a} + {b} = {a + b} {thing}. The answer is {a + b}."
        out.append((q, ans))
    return out


def _batches(texts: list[str], rows: int) -> list[pa.RecordBatch]:
    return [pa.RecordBatch.from_pydict({"doc_id": [str(i) for i in range(lo, min(lo + rows, len(texts)))],
                                        "text": texts[lo: lo + rows]}) for lo in range(0, len(texts), rows)]


def _throughput(matcher: Matcher, batches: list[pa.RecordBatch], n_bytes: int, repeat: int) -> dict:
    best = float("inf")
    flagged = 0
    for _ in range(repeat):
        t0 = time.process_time()
        flagged = 0
        for rb in batches:
            out = DecontaminateStage.process_arrow(matcher, rb)
            col = out.column(out.schema.get_field_index("decontaminate_reason"))
            flagged += len(col) - col.null_count
            cand = out.column(out.schema.get_field_index("_decontam_candidates"))
            flagged += sum(1 for v in cand.to_pylist() if v)
        best = min(best, time.process_time() - t0)
    return {"cpu_seconds": round(best, 3), "mb_per_s_per_core": round(n_bytes / 1e6 / best, 2),
            "docs_per_s_per_core": round(sum(len(b) for b in batches) / best), "docs_with_hits": flagged}


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _lookup_sweep(sizes: list[int], queries: int = 2_000_000) -> list[dict]:
    rng = np.random.default_rng(1)
    q = rng.integers(0, 2**63, queries, dtype=np.int64).view(np.uint64)
    out = []
    for n in sizes:
        keys = np.sort(rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint64))
        t0 = time.process_time()
        pos = np.minimum(np.searchsorted(keys, q), n - 1)
        _ = keys[pos] == q
        table_ns = (time.process_time() - t0) / queries * 1e9
        pre = BloomFilter(keys, 0.01)  # the exact mode's prefilter
        t0 = time.process_time()
        cand = np.flatnonzero(pre.contains(q))
        pos = np.minimum(np.searchsorted(keys, q[cand]), n - 1)
        _ = keys[pos] == q[cand]
        exact_ns = (time.process_time() - t0) / queries * 1e9
        bf = BloomFilter(keys, 0.001)
        t0 = time.process_time()
        bf.contains(q)
        bloom_ns = (time.process_time() - t0) / queries * 1e9
        out.append({"keys": n, "exact_table_mb": round(keys.nbytes * 2 / 1e6, 1),
                    "prefilter_mb": round(pre.nbytes / 1e6, 1), "bloom_mb": round(bf.nbytes / 1e6, 1),
                    "sorted_table_only_ns_per_lookup": round(table_ns, 1),
                    "exact_mode_ns_per_lookup": round(exact_ns, 1), "bloom_ns_per_lookup": round(bloom_ns, 1)})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="30MB", help="generated corpus size (default 30MB)")
    ap.add_argument("--corpus", help="use this generated corpus folder instead of a temporary one")
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--plant", type=int, default=200, help="items planted into documents (recall check)")
    ap.add_argument("--batch-rows", type=int, default=2_000, help="documents per Arrow batch")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--memory-items", type=int, default=100_000)
    ap.add_argument("--sweep", default="1000000,4000000,16000000", help="key counts of the lookup sweep ('' = off)")
    args = ap.parse_args(argv)

    tmp = None
    corpus = Path(args.corpus) if args.corpus else None
    if corpus is None:
        tmp = tempfile.TemporaryDirectory(prefix="cf-decontam-")
        corpus = Path(tmp.name)
        generate_corpus(corpus, args.size, seed=7, files=1, malformed=False)
    texts = [r["text"] for r in iter_records(corpus)]
    vocab = sorted({w for t in texts[:500] for w in t.split() if w.isalpha()})
    items = make_items(args.items, vocab, seed=11)
    rng = random.Random(5)
    planted = rng.sample(range(len(texts)), min(args.plant, len(texts)))
    for k, d in enumerate(planted):
        q, a = items[k * (len(items) // max(1, len(planted)))]
        mid = len(texts[d]) // 2
        cut = texts[d].rfind(" ", 0, mid) + 1
        texts[d] = texts[d][:cut] + (q if k % 2 else f"{q}\n{a}") + " " + texts[d][cut:]
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    data = EvalSetData("bench", [f"b{i}" for i in range(len(items))], [f"{q}\n{a}" for q, a in items], {}, "")

    t0 = time.process_time()
    index = build_index([data], ngram=13)
    build_s = time.process_time() - t0
    batches = _batches(texts, args.batch_rows)
    exact_index = index.for_workers(False, 0.001)
    exact = _throughput(Matcher(exact_index), batches, n_bytes, args.repeat)
    bloom_index = index.for_workers(True, 0.001)
    bloom = _throughput(Matcher(bloom_index), batches, n_bytes, args.repeat)
    found = Matcher(exact_index).match([texts[d] for d in planted])
    missed = sum(1 for r in found if r.reason is None)
    clean = [texts[i] for i in range(len(texts)) if i not in set(planted)]
    false_flags = sum(1 for r in Matcher(exact_index).match(clean) if r.reason is not None)

    result = {
        "benchmark": "decontaminate",
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "corpus": {"docs": len(texts), "mb": round(n_bytes / 1e6, 2)},
        "eval_items": args.items, "distinct_ngrams": index.n_keys,
        "index_build_cpu_s": round(build_s, 2), "exact_index_mb": round(index.exact_nbytes() / 1e6, 2),
        "exact_prefilter_mb": round(exact_index.prefilter.nbytes / 1e6, 2),
        "bloom_index_mb": round(bloom_index.bloom.nbytes / 1e6, 2), "bloom_fpr": round(bloom_index.bloom.fpr, 6),
        "exact": exact, "bloom": bloom,
        "planted": len(planted), "planted_missed": missed, "clean_docs_flagged": false_flags,
        "target_mb_per_s_per_core": 5.0,
    }
    if args.memory_items:
        mem_items = make_items(args.memory_items, vocab, seed=13)
        rss0 = _rss()
        t0 = time.process_time()
        big = build_index([EvalSetData("mem", [f"m{i}" for i in range(len(mem_items))],
                                       [f"{q}\n{a}" for q, a in mem_items], {}, "")], ngram=13)
        mem_build = time.process_time() - t0
        bf = big.for_workers(True, 0.001).bloom
        result["memory"] = {
            "items": args.memory_items, "mean_item_tokens": round(sum(
                len((q + " " + a).split()) for q, a in mem_items[:2000]) / min(2000, len(mem_items)), 1),
            "distinct_ngrams": big.n_keys, "exact_index_mb": round(big.exact_nbytes() / 1e6, 1),
            "bloom_mb_at_0.001": round(bf.nbytes / 1e6, 1), "build_cpu_s": round(mem_build, 1),
            "driver_peak_rss_growth_mb": round((_rss() - rss0) / 1e6, 1),
        }
    if args.sweep:
        result["lookup_sweep"] = _lookup_sweep([int(x) for x in args.sweep.split(",") if x])
    print(json.dumps(result, indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 1 if missed or false_flags else 0


if __name__ == "__main__":
    sys.exit(main())
