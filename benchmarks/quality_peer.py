"""Quality rules against datatrove's Gopher, C4 and FineWeb filters: throughput per core and agreement.

Usage::

    python -m benchmarks.quality_peer                 # quick: the real English pages + 1,000 generated ones
    python -m benchmarks.quality_peer --size full     # 4,000 generated English documents besides the real ones
    python -m benchmarks.quality_peer --json          # the JSON figures too (disagreement classes included)

``run(size)`` returns the figures as a dict (``make bench`` calls it); the command prints Markdown tables.

Documents: every English page of ``../shared/data/webtext`` (CCNet text, State of the Union and Genesis in
English cut into pages, ASCII WARC pages; see :mod:`benchmarks._webtext`) plus English documents of the
synthetic generator (:mod:`benchmarks.corpus`). Each side sees the same texts.

Ours: :class:`pipelines.text.quality.QualityEvaluator` with the default ``quality`` section (language
``en``): every signal of every family for every document, then the rules. A family rejects a document
when any of its rules fails.

datatrove (installed into a separate venv by :mod:`benchmarks._peer_venv`; never a project dependency):
``GopherQualityFilter``, ``GopherRepetitionFilter``, ``C4QualityFilter`` (set to the C4 reference code's 3
sentences and 5 words per line, as ours) and ``FineWebQualityFilter``, run by
``benchmarks/_datatrove_quality.py``: every filter on every document for the agreement table, and the
chain in FineWeb's order with early exit (a rejected document skips the later filters: the peer at its
cheapest) for the throughput ratio.

Timing: CPU seconds of the filtering loop in each process (one core each; imports, reading and start-up
excluded on both sides), best of ``rounds`` (2 at the quick size, else 3); our rounds and the peer's
runs alternate so that both see the same machine load. Figures on a shared machine are noisy; the
ratio is the figure to read.
Disagreement classes (our failing rule x datatrove's reason) are explained in docs/quality_rules.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Generated English documents added to the real pages, per size.
SIZES = {"quick": 1000, "medium": 2000, "full": 4000}
FAMILIES = ("gopher_quality", "gopher_repetition", "c4", "fineweb")


def english_documents(n_generated: int, seed: int = 0) -> list[tuple[str, str]]:
    """(origin, text): the real English pages, then ``n_generated`` English documents of the generator."""
    from benchmarks import _webtext
    from benchmarks.corpus import generate_corpus, iter_records, load_manifest

    docs: list[tuple[str, str]] = []
    for origin, text in _webtext.real_pages():
        if origin in ("cc-text", "state_union") or (origin in ("warc", "wet") and text.isascii()):
            docs.append((f"real:{origin}", text))
        elif origin == "genesis" and text.isascii() and " the " in text:
            docs.append(("real:genesis", text))
    if n_generated:
        with tempfile.TemporaryDirectory(prefix="cf-bench-quality-") as tmp:
            generate_corpus(tmp, max(400_000, n_generated * 6000), seed=seed, files=1, malformed=False)
            manifest = load_manifest(tmp)
            english = set(manifest["languages"].get("en", []))
            got = 0
            for rec in iter_records(tmp, manifest):
                if rec["id"] not in english:
                    continue
                docs.append(("generator", rec["text"]))
                got += 1
                if got >= n_generated:
                    break
    return docs


def _family_verdicts(evaluator, signals_cols: dict, n: int) -> dict[str, list[Optional[str]]]:
    """Per family, the first failing rule of that family per document (None = the family keeps it)."""
    from pipelines.text.quality import first_failing_rule
    from schemas.config.quality import QUALITY_RULES

    family_of = {spec.name: spec.family for spec in QUALITY_RULES}
    compiled = evaluator.rules_for(evaluator.section.effective_language("en"))
    per_family = {f: tuple(r for r in compiled if family_of[r[0]] == f) for f in FAMILIES}
    out: dict[str, list[Optional[str]]] = {f: [] for f in FAMILIES}
    names = list(signals_cols)
    for i in range(n):
        sig = {k: signals_cols[k][i] for k in names}
        for f, rules in per_family.items():
            out[f].append(first_failing_rule(sig, rules) if sig["q_words"] is not None else "error")
    return out


def run(size: str = "quick", rounds: Optional[int] = None, **kw) -> dict:
    """Throughput and agreement figures (JSON-serialisable). ``size``: one of :data:`SIZES`."""
    from benchmarks import _peer_venv
    from pipelines.text.quality import QualityEvaluator
    from schemas.config.quality import QualitySection

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    rounds = rounds or (2 if size == "quick" else 3)
    docs = english_documents(int(kw.get("generated") or SIZES[size]))
    texts = [t for _, t in docs]
    origins = [o for o, _ in docs]
    evaluator = QualityEvaluator(QualitySection())
    langs = ["en"] * len(texts)
    evaluator.evaluate_many(texts[:50], langs[:50])  # warm-up
    _peer_venv.ensure(log=lambda m: print(m, file=sys.stderr))
    ours_best = float("inf")
    peer: dict = {}
    peer_best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cf-bench-quality-") as tmp:
        path = Path(tmp) / "docs.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for t in texts:
                fh.write(json.dumps({"text": t}) + "\n")
        for _ in range(rounds):
            t0 = time.process_time()
            cols, reasons = evaluator.evaluate_many(texts, langs)
            ours_best = min(ours_best, time.process_time() - t0)
            peer = _peer_venv.run_worker("_datatrove_quality.py", [str(path), "1"])
            for k, v in peer["cpu_s"].items():
                peer_best[k] = min(peer_best.get(k, float("inf")), v)
            peer_best["chain"] = min(peer_best.get("chain", float("inf")), peer["chain_cpu_s"])
    ours = _family_verdicts(evaluator, cols, len(texts))
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    agreement: dict[str, dict] = {}
    for f in FAMILIES:
        theirs = peer["reasons"][f]
        table = Counter()
        classes: Counter = Counter()
        by_origin: Counter = Counter()
        for o_r, p_r, origin in zip(ours[f], theirs, origins):
            key = ("reject" if o_r else "keep", "reject" if p_r else "keep")
            table[key] += 1
            if key[0] != key[1]:
                classes[f"ours:{o_r or 'keep'} / datatrove:{p_r or 'keep'}"] += 1
                by_origin[origin] += 1
        n = len(texts)
        agreement[f] = {
            "both_keep": table[("keep", "keep")],
            "both_reject": table[("reject", "reject")],
            "only_ours_rejects": table[("reject", "keep")],
            "only_datatrove_rejects": table[("keep", "reject")],
            "agreement": round((table[("keep", "keep")] + table[("reject", "reject")]) / n, 4),
            "disagreement_classes": dict(classes.most_common()),
            "disagreements_by_origin": dict(by_origin.most_common()),
        }
    ours_rate = len(texts) / ours_best
    report = {
        "size": size,
        "command": f"python -m benchmarks.quality_peer --size {size}",
        "documents": len(texts),
        "documents_by_origin": dict(Counter(origins)),
        "megabytes": round(mb, 2),
        "datatrove_version": peer.get("datatrove"),
        "spacy_version": peer.get("spacy"),
        "rounds": rounds,
        "cpu_s": {"ours_all_rules": round(ours_best, 3),
                  **{f"datatrove_{k}": round(v, 3) for k, v in peer_best.items()}},
        "docs_per_cpu_s": {
            "ours_all_rules": round(ours_rate, 1),
            "datatrove_chain": round(len(texts) / peer_best["chain"], 1),
            "datatrove_all_filters": round(len(texts) / sum(peer_best[f] for f in FAMILIES), 1),
        },
        "mb_per_cpu_s_ours": round(mb / ours_best, 2),
        "speedup_vs_datatrove_chain": round(peer_best["chain"] / ours_best, 2),
        "speedup_vs_datatrove_all_filters": round(sum(peer_best[f] for f in FAMILIES) / ours_best, 2),
        "agreement": agreement,
        "machine": {
            "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "note": "CPU time of one process per side (one core); shared machine, noisy; ratios from one "
                    "interleaved run",
        },
    }
    report["table_rows"] = [
        {
            "measure": f"quality rules, {len(texts)} English docs, docs per CPU-s",
            "corpusforge": f"{report['docs_per_cpu_s']['ours_all_rules']:,.0f}",
            "peer": f"datatrove {peer.get('datatrove')} Gopher+C4+FineWeb chain: "
                    f"{report['docs_per_cpu_s']['datatrove_chain']:,.0f}",
            "ratio": f"{report['speedup_vs_datatrove_chain']}x",
            "target": "5x",
        },
        {
            "measure": "quality rules, per-document agreement with datatrove (docs/quality_rules.md)",
            "corpusforge": ", ".join(f"{f} {a['agreement']:.1%}" for f, a in agreement.items()),
            "peer": "",
            "ratio": "",
            "target": "99% or explained",
        },
    ]
    return report


def table(report: dict) -> str:
    """Markdown tables: throughput, then the confusion table per family."""
    d = report["docs_per_cpu_s"]
    lines = [
        "| side | docs per CPU-second | ratio |", "|---|---|---|",
        f"| corpusforge (all rules, all documents) | {d['ours_all_rules']:,.0f} | 1 |",
        f"| datatrove chain (FineWeb order, early exit) | {d['datatrove_chain']:,.0f} "
        f"| ours **{report['speedup_vs_datatrove_chain']}x** |",
        f"| datatrove (every filter, every document) | {d['datatrove_all_filters']:,.0f} "
        f"| ours {report['speedup_vs_datatrove_all_filters']}x |",
        "",
        "| family | both keep | both reject | only ours rejects | only datatrove rejects | agreement |",
        "|---|---|---|---|---|---|",
    ]
    for f, a in report["agreement"].items():
        lines.append(f"| {f} | {a['both_keep']} | {a['both_reject']} | {a['only_ours_rejects']} "
                     f"| {a['only_datatrove_rejects']} | {a['agreement']:.2%} |")
    lines.append(f"\n{report['documents']} English documents ({report['megabytes']} MB): "
                 f"{report['documents_by_origin']}; datatrove {report['datatrove_version']}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    from benchmarks._cli import add_output_options, emit

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="quick", choices=sorted(SIZES), help="generated documents: %s" % SIZES)
    p.add_argument("--generated", type=int, default=None, help="override the generated documents")
    p.add_argument("--rounds", type=int, default=None, help="best of (default: 2 at quick size, else 3)")
    add_output_options(p)
    args = p.parse_args(argv)
    report = run(args.size, rounds=args.rounds, generated=args.generated)
    return emit(report, table, args.json, args.output)


if __name__ == "__main__":
    sys.exit(main())
