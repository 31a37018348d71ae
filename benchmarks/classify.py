"""Throughput of the classify stage's per-batch work against a plain fastText predict loop, per core.

* plain: a loop over the same texts that replaces newlines with spaces (fastText's ``predict`` refuses a
  newline), calls fastText's per-text prediction with all labels, exactly what ``model.predict(text, k=-1)``
  does before it builds numpy arrays (that last step fails under numpy 2, see pipelines/text/classifier.py),
  and picks the label's probability. The same methodology as the language-ID figure of benchmarks.filters.
* stage: the stage's batch function (``ClassifyStage.process_arrow``: Arrow batch in, batch with the scores
  out), on the raw texts, so it also pays for text preparation, Arrow conversion and the batch prediction.
  Target: at least 0.8x the plain loop's documents per second.

Texts are generated web-like documents from :mod:`benchmarks.corpus` (prose in ten languages, junk pages).
The model is the bundled demo classifier unless ``--model``/``--label`` name another (e.g. DCLM's released
``.bin``). Both run in this process on one core (what one Spark Python worker does) and are measured in CPU
time of the process, so the figures hold per core on a shared machine; each is the best of ``--repeat`` runs,
the two sides measured in turn within each round.
``--spark`` also times the stage end to end through Spark in local[1] (wall clock). Prints one JSON object.

    python -m benchmarks.classify --size 4MB
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402

from benchmarks.corpus import generate_corpus, iter_records  # noqa: E402
from pipelines.stages.classify import SCORES, ClassifyStage  # noqa: E402
from pipelines.text.assets import resolve_asset  # noqa: E402
from pipelines.text.classifier import FastTextClassifier  # noqa: E402
from schemas.config.classify import ClassifySection  # noqa: E402
from storage.files import file_sha256  # noqa: E402

DEMO_MODEL = "pipelines/assets/classify/demo_quality.ftz"
BATCH_ROWS = 10_000  # Spark's default spark.sql.execution.arrow.maxRecordsPerBatch


def _best_interleaved(fns: list[Callable[[], object]], repeat: int) -> list[tuple[float, object]]:
    """Best CPU time of each function over ``repeat`` rounds, the functions run in turn within a round, so
    that a change of load on a shared machine affects both sides alike."""
    best = [float("inf")] * len(fns)
    outs: list[object] = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.process_time()
            outs[i] = fn()
            best[i] = min(best[i], time.process_time() - t0)
    return list(zip(best, outs))


def _texts(size: str, seed: int) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="corpusforge-bench-classify-") as tmp:
        manifest = generate_corpus(tmp, size, seed=seed, files=1, malformed=False)
        return [r["text"] for r in iter_records(tmp, manifest)]


def run(size: str, seed: int, repeat: int, model_path: str, label: str, spark: bool) -> dict:
    texts = _texts(size, seed)
    path = str(resolve_asset(model_path))
    clf = FastTextClassifier(path, label)
    n = len(texts)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)

    f, target = clf.model.f, clf.label

    def plain() -> list[float]:
        out = []
        for t in texts:
            preds = f.predict(t.replace("\n", " ") + "\n", -1, 0.0, "strict")
            out.append(next((p for p, lab in preds if lab == target), 0.0))
        return out

    section = ClassifySection(enabled=True, models=[{"name": "bench", "path": path, "label": label, "min_score": 0.5}])
    stage_model = ClassifyStage.load((section, (("bench", path, file_sha256(path)),)))
    batches = [pa.RecordBatch.from_pydict({"doc_id": [str(i) for i in range(s, min(n, s + BATCH_ROWS))],
                                           "text": texts[s:s + BATCH_ROWS]}) for s in range(0, n, BATCH_ROWS)]

    def stage() -> list[float]:
        out: list[float] = []
        for b in batches:
            col = ClassifyStage.process_arrow(stage_model, b).column(SCORES).to_pylist()
            out.extend(row[0] for row in col)
        return out

    (t_plain, plain_scores), (t_stage, stage_scores) = _best_interleaved([plain, stage], repeat)
    if plain_scores != stage_scores:
        raise SystemExit("the stage's scores differ from the plain loop's: this is a bug")
    report = {
        "benchmark": "classify",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "corpus": {"generator": "benchmarks.corpus", "size": size, "seed": seed, "documents": n, "bytes": n_bytes},
        "model": {"path": model_path, "label": clf.label, "bytes": os.path.getsize(path)},
        "repeat": repeat,
        "plain_loop": {"cpu_s": round(t_plain, 4), "docs_per_s": round(n / t_plain, 1),
                       "mb_per_s": round(n_bytes / t_plain / 1e6, 3)},
        "stage_batches": {"cpu_s": round(t_stage, 4), "docs_per_s": round(n / t_stage, 1),
                          "mb_per_s": round(n_bytes / t_stage / 1e6, 3)},
        "stage_vs_plain": round(t_plain / t_stage, 3),
        "target": ">= 0.8",
        "scores_identical": True,
    }
    if spark:
        report["spark_local1"] = _spark(texts, path, label, n_bytes)
    return report


def _spark(texts: list[str], path: str, label: str, n_bytes: int) -> dict:
    from pipelines.runtime import build_spark_session
    from pipelines.stages.base import RunContext
    from schemas.config import load_config

    session = build_spark_session(app_name="bench-classify", master="local[1]", driver_memory="2g",
                                  shuffle_partitions=1, ui=False)
    try:
        models = json.dumps([{"name": "bench", "path": path, "label": label, "min_score": 0.5}])
        cfg = load_config(None, ["classify.enabled=true", f"classify.models={models}"])
        with tempfile.TemporaryDirectory() as tmp:
            ctx = RunContext(spark=session, config=cfg, run_id="bench", staging_dir=Path(tmp), work_dir=Path(tmp),
                             num_partitions=1)
            df = session.createDataFrame([(str(i), t) for i, t in enumerate(texts)], "doc_id string, text string")
            df = df.repartition(1).cache()
            df.count()
            stage = ClassifyStage(cfg.classify, ctx)
            stage.ensure_prepared()
            t0 = time.time()
            stage.apply(df).write.format("noop").mode("overwrite").save()
            wall = time.time() - t0
        return {"wall_s": round(wall, 3), "docs_per_s": round(len(texts) / wall, 1),
                "mb_per_s": round(n_bytes / wall / 1e6, 3)}
    finally:
        session.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="4MB", help="generated corpus size (default 4MB)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure; the best is reported")
    parser.add_argument("--model", default=DEMO_MODEL, help="fastText model (default: the bundled demo classifier)")
    parser.add_argument("--label", default="__label__hq", help="the label scored (default: __label__hq)")
    parser.add_argument("--spark", action="store_true", help="also time the stage through Spark in local[1]")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    report = run(args.size, args.seed, args.repeat, args.model, args.label, args.spark)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
