"""The PII parity harness: vanilla Presidio and corpusforge's scrubber on the same texts, value by value.

Vanilla is Presidio as its documentation runs it: ``AnalyzerEngine()`` with its default registry and
default NLP configuration (with the same spaCy model as ours), ``analyze(text, language="en")`` with the
default score threshold, then ``AnonymizerEngine().anonymize`` with the default operator. corpusforge is
:class:`pipelines.text.pii.PiiScrubber`, the code the Spark stage runs, configured by a ``pii`` section.

A gold value *leaks* when its exact string is still in the output (the definition of the issue that
asked for this harness). For every value one side removes and the other keeps, the harness says why on
our side:

* ``not in our entity set``: vanilla removed it through a detection of a type we do not scrub (the
  vanilla type is named), e.g. a phone number vanilla removes as ``US_DRIVER_LICENSE``;
* ``score threshold``: we detected it, below the score threshold;
* ``region pre-filter``: found when our pattern recognizers run over the whole text instead of the
  pre-filtered regions (a pre-filter bug: must never happen);
* ``chunk boundary``: the text was cut for NER and the whole-text NER finds it;
* ``ner span differs``: vanilla's spaCy pipeline (with parser sentence boundaries) labels it with a type
  we scrub and our ner-only pipeline does not;
* ``recognizer missing``: vanilla found it with a type we run and none of our recognizers did;
* ``ours only``: removed by us and kept by vanilla (no reason needed: we scrub more).

Values are never written to the output of real-data sets (``--examples`` applies to the generated sets only).
"""
from __future__ import annotations

import importlib.resources as res
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

EXPLAINED = (
    "not in our entity set",
    "score threshold",
    "chunk boundary",
    "ner span differs",
)
#: Reasons that are defects when they occur (the harness's test fails on them).
UNEXPLAINED = ("region pre-filter", "recognizer missing", "other")


def vanilla_engines(model: str):
    """Vanilla Presidio: ``AnalyzerEngine`` with Presidio's default registry and default NLP configuration
    (spaCy model swapped for ``model``), and ``AnonymizerEngine``."""
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    from pipelines.text.pii_offline import make_tldextract_offline

    make_tldextract_offline()  # vanilla too: otherwise it waits on the network for the suffix list
    conf = yaml.safe_load(res.files("presidio_analyzer").joinpath("conf/default.yaml").read_text())
    conf["models"] = [{"lang_code": "en", "model_name": model}]
    analyzer = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine())
    return analyzer, AnonymizerEngine()


def run_vanilla(texts: Sequence[str], model: str) -> tuple[list[list], list[str], float]:
    """Detections, anonymized texts and seconds (engine start-up excluded) of vanilla Presidio."""
    analyzer, anonymizer = vanilla_engines(model)
    analyzer.analyze("warm-up text from Paris", language="en")
    dets, outs = [], []
    t0 = time.perf_counter()
    for t in texts:
        r = analyzer.analyze(t, language="en")
        dets.append(r)
        outs.append(anonymizer.anonymize(text=t, analyzer_results=r).text)
    return dets, outs, time.perf_counter() - t0


@dataclass
class Ours:
    """corpusforge's scrubber plus the variants the diagnosis needs."""

    section: object
    model: str
    scrubber: object = None
    whole_text: object = None  # pattern recognizers without pre-filters, NER without chunking

    def __post_init__(self) -> None:
        from pipelines.text.pii import PiiScrubber
        from pipelines.text.pii_ner import load_ner_pipeline

        nlp = load_ner_pipeline(self.model, self.section.ner_sentences) if self.section.ner else None
        self.scrubber = PiiScrubber(self.section, nlp=nlp)
        big = self.section.model_copy(update={"chunk_chars": 900_000})
        self.whole_text = PiiScrubber(big, nlp=nlp, use_prefilters=False)

    def run(self, texts: Sequence[str], langs: Optional[Sequence[Optional[str]]] = None):
        t0 = time.perf_counter()
        res = []
        for i in range(0, len(texts), 1024):
            res.extend(
                self.scrubber.scrub_batch(texts[i : i + 1024], langs[i : i + 1024] if langs else None,
                                          return_spans=True)
            )
        return res, time.perf_counter() - t0


def _uncovered_occurrence(text: str, s: int, e: int, spans: Sequence[tuple[str, int, int]]) -> tuple[int, int]:
    """The first occurrence of ``text[s:e]`` in ``text`` that no span of ``spans`` overlaps (else ``(s, e)``)."""
    value = text[s:e]
    pos = text.find(value)
    while pos >= 0:
        end = pos + len(value)
        if not any(a < end and pos < b for _t, a, b in spans):
            return pos, end
        pos = text.find(value, pos + 1)
    return s, e


def _covers(spans: Iterable[tuple[str, int, int]], s: int, e: int) -> list[str]:
    return sorted({t for t, a, b in spans if a < e and s < b})


def diagnose(ours: Ours, text: str, s: int, e: int, vanilla_types: list[str], lang: Optional[str] = None) -> str:
    """Why our scrubber kept the value at ``text[s:e]`` that vanilla removed (see the module docstring)."""
    active = set(ours.scrubber.entities)
    if vanilla_types and not set(vanilla_types) & active:
        return "not in our entity set"
    raw = ours.scrubber.raw_hits_batch([text], [lang])[0]
    if isinstance(raw, list) and any(h.start < e and s < h.end for h in raw):
        final = ours.scrubber.finalize(text, raw)
        if not any(r.start < e and s < r.end for r in final):
            return "score threshold"
    whole = ours.whole_text.detect_batch([text], [lang])[0]
    if isinstance(whole, list) and any(r.start < e and s < r.end for r in whole):
        if len(text) > ours.section.chunk_chars:
            return "chunk boundary"
        return "region pre-filter"
    from schemas.config.pii import NER_ENTITIES

    if set(vanilla_types) & active & set(NER_ENTITIES):
        return "ner span differs"
    if set(vanilla_types) & active:
        return "recognizer missing"
    return "other"


@dataclass
class TypeTally:
    gold: int = 0
    leaked: Counter = field(default_factory=Counter)  # system -> leaked values


def compare(
    docs: Sequence,
    systems: dict[str, list[str]],
    ours_for_diag: Optional[Ours] = None,
    ours_results: Optional[list] = None,
    vanilla_dets: Optional[list[list]] = None,
    diag_system: str = "corpusforge",
    examples: int = 0,
) -> dict:
    """Per-type leak rate and non-PII words kept for every system; differences between vanilla and
    ``diag_system`` with reasons.

    Args:
        docs: :class:`benchmarks.pii_corpora.EvalDoc` objects.
        systems: system name -> scrubbed texts (same order as ``docs``); must contain ``vanilla``.
        ours_for_diag / ours_results / vanilla_dets: to explain differences (optional).
        examples: per (type, reason), how many example values to include (synthetic sets only).
    """
    from benchmarks.pii_corpora import leaked, non_pii_words_kept

    tallies: dict[str, TypeTally] = defaultdict(TypeTally)
    words = {name: [0, 0] for name in systems}
    diffs: Counter = Counter()
    ex: dict[str, list] = defaultdict(list)
    for i, doc in enumerate(docs):
        per_sys = {name: leaked(doc, outs[i]) for name, outs in systems.items()}
        for name, outs in systems.items():
            kept, total = non_pii_words_kept(doc, outs[i])
            words[name][0] += kept
            words[name][1] += total
        for j, (s, e, typ) in enumerate(doc.gold):
            t = tallies[typ]
            t.gold += 1
            for name in systems:
                if per_sys[name][j][1]:
                    t.leaked[name] += 1
            if "vanilla" not in systems or diag_system not in systems:
                continue
            v_leak, o_leak = per_sys["vanilla"][j][1], per_sys[diag_system][j][1]
            if v_leak == o_leak:
                continue
            if v_leak and not o_leak:
                reason = "ours only"
            elif ours_for_diag is not None and vanilla_dets is not None:
                # A value leaks when any occurrence of it is left: diagnose the first occurrence ours left.
                s, e = _uncovered_occurrence(doc.text, s, e, (ours_results[i].spans or []) if ours_results else [])
                vtypes = _covers(((r.entity_type, r.start, r.end) for r in vanilla_dets[i]), s, e)
                reason = diagnose(ours_for_diag, doc.text, s, e, vtypes)
                if reason == "not in our entity set":
                    reason = f"not in our entity set (vanilla: {'+'.join(vtypes)})"
            else:
                reason = "undiagnosed"
            diffs[(typ, reason)] += 1
            if examples and len(ex[f"{typ} | {reason}"]) < examples:
                ours_spans = (ours_results[i].spans or []) if ours_results else []
                ex[f"{typ} | {reason}"].append({
                    "value": doc.text[s:e],
                    "context": doc.text[max(0, s - 60) : e + 60],
                    "vanilla": [
                        (r.entity_type, doc.text[r.start : r.end], round(r.score, 2))
                        for r in (vanilla_dets[i] if vanilla_dets else [])
                        if r.start < e and s < r.end
                    ],
                    "ours": [(t_, doc.text[a:b]) for t_, a, b in ours_spans if a < e and s < b],
                })
    per_type = {}
    for typ in sorted(tallies):
        t = tallies[typ]
        per_type[typ] = {"gold": t.gold, **{f"leak_{n}": round(t.leaked[n] / t.gold, 4) for n in systems}}
    total_gold = sum(t.gold for t in tallies.values())
    out = {
        "docs": len(docs),
        "gold_values": total_gold,
        "per_type": per_type,
        "leak_all_types": {n: round(sum(t.leaked[n] for t in tallies.values()) / max(1, total_gold), 4)
                           for n in systems},
        "non_pii_words_kept": {n: round(k / max(1, tot), 4) for n, (k, tot) in words.items()},
        "differences": {f"{typ} | {reason}": n for (typ, reason), n in sorted(diffs.items())},
        "unexplained": sum(n for (typ, reason), n in diffs.items()
                           if reason.split(" (")[0] in UNEXPLAINED),
    }
    if examples:
        out["examples"] = dict(ex)
    return out


def claimed_leak_check(result: dict, system: str, claimed: Iterable[str], slack: float = 0.0) -> dict[str, tuple]:
    """Types in ``claimed`` where ``system`` leaks more than vanilla (+ ``slack``): type -> (ours, vanilla)."""
    bad = {}
    for typ in claimed:
        row = result["per_type"].get(typ)
        if row and row[f"leak_{system}"] > row["leak_vanilla"] + slack:
            bad[typ] = (row[f"leak_{system}"], row["leak_vanilla"])
    return bad
