"""Throughput of the language-ID and quality stages' per-batch work, on generated web-like text.

* Language ID: the stage's batch function (Arrow batch in, batch with lang columns out: text extraction,
  newline handling, prediction, label normalization, keep/score decision, Arrow building) against a plain
  fastText predict loop over the same texts (newlines replaced, as fastText requires). Target: >= 0.8x.
* Quality: the full rule set (every signal of every family, rules applied) through the stage's batch
  function, in docs/s and MB/s of UTF-8 text on one core. Target: >= 2 MB/s per core.

Both run in one process on one core (what one Spark Python worker does) and are measured in CPU time of
this process, so "per core" figures hold on a shared machine; ``--spark`` also times the Spark stages end
to end in local[1] mode (wall clock). Each figure is the best of ``--repeat`` runs. Prints one JSON object.

    python -m benchmarks.filters --docs 2000
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402

from pipelines.stages.language import LanguageStage  # noqa: E402
from pipelines.stages.quality import QualityStage  # noqa: E402
from pipelines.text.lid import LanguageIdentifier, LanguagePolicy, load_model  # noqa: E402
from pipelines.text.quality import QualityEvaluator  # noqa: E402
from schemas.config.language import LanguageSection  # noqa: E402
from schemas.config.quality import QualitySection  # noqa: E402

# A small vocabulary for generated prose (Zipf-weighted), and typical web boilerplate.
_VOCAB = (
    "the of and to a in is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there been one all we their has would when if so what no more out up said about "
    "into them can only other time new some could these two may first then do any like my now over such our "
    "man me even most made after also did many before must through back years where much your way well down "
    "should because each just those people how too little state good very make world still own see men work "
    "long get here between both life being under never day same another know while last might us great old "
    "year off come since against go came right used take three city council river market school water house "
    "small public report early season local family history garden station morning weather project museum "
    "village health music library service students railway program evening harbour festival community"
).split()
_BOILER = [
    "Home | About | Contact | Blog",
    "Share this article",
    "Posted by admin",
    "Read more",
    "This website uses cookies to improve your experience.",
    "All rights reserved.",
    "Subscribe to our newsletter",
    "Tags: news, local, events",
]


def generate_docs(n: int, seed: int = 0) -> list[str]:
    """Deterministic web-like documents: prose paragraphs, boilerplate lines, some repeats (~3 KB mean)."""
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) for i in range(len(_VOCAB))]
    docs = []
    for _ in range(n):
        target = int(min(60_000, max(200, rng.lognormvariate(math.log(2500), 0.8))))
        lines: list[str] = []
        if rng.random() < 0.6:
            lines.append(rng.choice(_BOILER))
        size = 0
        while size < target:
            k = rng.randint(6, 22)
            words = rng.choices(_VOCAB, weights, k=k)
            sentence = " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])
            if rng.random() < 0.5 and lines:
                lines[-1] += " " + sentence
            else:
                lines.append(sentence)
            if rng.random() < 0.05:
                lines.append(rng.choice(_BOILER))
            if rng.random() < 0.08:
                lines.append("")
            size += len(sentence) + 1
        if rng.random() < 0.5:
            lines.append(rng.choice(_BOILER))
        docs.append("\n".join(lines))
    return docs


def _best(fn: Callable[[], None], repeat: int) -> float:
    """Best CPU time of this process over ``repeat`` runs: per-core cost, robust to a busy machine."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _batches(texts: list[str], size: int = 2048) -> list[pa.RecordBatch]:
    return [
        pa.RecordBatch.from_pydict(
            {"doc_id": [str(i + j) for j in range(len(texts[i : i + size]))], "text": texts[i : i + size]}
        )
        for i in range(0, len(texts), size)
    ]


def bench_lid(texts: list[str], repeat: int) -> dict:
    model = load_model()
    f = model._f  # the C++ binding: the plain loop a user would write (fastText's predict + "\n")

    def plain() -> None:
        for t in texts:
            f.predict(t.replace("\n", " ") + "\n", 1, 0.0, "strict")

    section = LanguageSection(enabled=True)
    identifier, policy = LanguageIdentifier.from_section(section), LanguagePolicy.from_section(section)
    batches = _batches(texts)

    def stage() -> None:
        for b in batches:
            LanguageStage.process_arrow((identifier, policy), b)

    # Interleaved, so that load from other processes on the machine hits both sides alike.
    t_plain = t_stage = float("inf")
    for _ in range(repeat):
        t_plain = min(t_plain, _best(plain, 1))
        t_stage = min(t_stage, _best(stage, 1))
    return {
        "docs": len(texts),
        "plain_fasttext_docs_per_cpu_s": round(len(texts) / t_plain, 1),
        "stage_batch_docs_per_cpu_s": round(len(texts) / t_stage, 1),
        "ratio_stage_to_plain": round(t_plain / t_stage, 3),
        "target_ratio": 0.8,
    }


def bench_quality(texts: list[str], repeat: int) -> dict:
    evaluator = QualityEvaluator(QualitySection(enabled=True))
    batches = _batches(texts)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)

    def stage() -> None:
        for b in batches:
            QualityStage.process_arrow(evaluator, b)

    t = _best(stage, repeat)
    _, reasons = evaluator.evaluate_many(texts)
    passed = sum(r is None for r in reasons)
    return {
        "docs": len(texts),
        "mb": round(n_bytes / 1e6, 3),
        "mean_doc_bytes": round(n_bytes / len(texts)),
        "docs_per_cpu_s": round(len(texts) / t, 1),
        "mb_per_cpu_s": round(n_bytes / t / 1e6, 3),
        "target_mb_per_cpu_s": 2.0,
        "pass_rate": round(passed / len(texts), 3),
    }


def bench_spark(texts: list[str]) -> dict:
    """End-to-end Spark stages in local[1] (includes JVM <-> Python transfer and Spark overheads)."""
    from pipelines.runtime import build_spark_session
    from pipelines.stages.base import RunContext
    from pipelines.stages.language import LanguageStage
    from pipelines.stages.quality import QualityStage
    from schemas.config import load_config

    spark = build_spark_session(master="local[1]", driver_memory="2g", shuffle_partitions=1, ui=False)
    cfg = load_config(None, ["language.enabled=true", "quality.enabled=true"])
    ctx = RunContext(spark=spark, config=cfg, run_id="bench", staging_dir=Path("/tmp/cf-bench"),
                     work_dir=Path("/tmp/cf-bench-w"), num_partitions=1)
    df = spark.createDataFrame([(str(i), t) for i, t in enumerate(texts)], "doc_id string, text string").cache()
    df.count()
    out = {}
    for name, stage in (("language", LanguageStage(cfg.language, ctx)), ("quality", QualityStage(cfg.quality, ctx))):
        stage.prepare()
        result = stage.apply(df)
        result.write.format("noop").mode("overwrite").save()  # warm-up: worker start, model load
        t0 = time.perf_counter()
        result.write.format("noop").mode("overwrite").save()
        out[f"{name}_spark_local1_docs_per_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
    spark.stop()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000, help="documents to generate (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the best is reported")
    parser.add_argument("--spark", action="store_true", help="also time the Spark stages in local[1]")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    texts = generate_docs(args.docs, args.seed)
    report = {
        "benchmark": "filters",
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "language_id": bench_lid(texts, args.repeat),
        "quality": bench_quality(texts, args.repeat),
    }
    if args.spark:
        report["spark"] = bench_spark(texts)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
