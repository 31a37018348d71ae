"""Worker for benchmarks/quality_peer.py, run with the peer venv's Python (imports datatrove, nothing of ours).

    python benchmarks/_datatrove_quality.py DOCS.jsonl ROUNDS

Reads ``{"text": ...}`` lines, applies datatrove's GopherQualityFilter, GopherRepetitionFilter,
C4QualityFilter and FineWebQualityFilter to every document (each filter on the original text: C4's
filter rewrites ``doc.text``, so every filter gets its own copy), and prints one JSON line: the reason
each filter gives per document (null = kept), the best-of-ROUNDS CPU seconds of each filter over all
documents, and of the chain in FineWeb's order (repetition, quality, C4, FineWeb; a document rejected by
one filter skips the rest and C4's rewritten text flows on, as in a datatrove pipeline).

Thresholds are set to corpusforge's defaults where datatrove's differ (C4: 3 sentences, 5 words per line,
the values of the C4 paper's reference code) so that differences come from the rules, not the settings.
"""
from __future__ import annotations

import json
import sys
import time


def main() -> None:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    path, rounds = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh if line.strip()]
    filters = {
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4": C4QualityFilter(min_num_sentences=3, min_words_per_line=5, max_word_length=1000),
        "fineweb": FineWebQualityFilter(),
    }
    for f in filters.values():  # warm-up: tokenizers load lazily
        f.filter(Document(text="Warm up the tokenizer. It loads on first use.", id="w"))

    def verdict(result) -> str | None:
        if result is True:
            return None
        if isinstance(result, tuple):
            return result[1] if not result[0] else None
        return None if result else "rejected"

    reasons: dict[str, list] = {}
    cpu: dict[str, float] = {}
    chain_best = float("inf")
    for _ in range(rounds):
        for name, f in filters.items():
            out = []
            t0 = time.process_time()
            for i, text in enumerate(texts):
                try:
                    out.append(verdict(f.filter(Document(text=text, id=str(i)))))
                except Exception as exc:  # noqa: BLE001 - a peer crash is a verdict of its own
                    out.append(f"error:{type(exc).__name__}")
            cpu[name] = min(cpu.get(name, float("inf")), time.process_time() - t0)
            reasons[name] = out
        order = ("gopher_repetition", "gopher_quality", "c4", "fineweb")
        t0 = time.process_time()
        kept = 0
        for i, text in enumerate(texts):
            doc = Document(text=text, id=str(i))
            for name in order:
                try:
                    if verdict(filters[name].filter(doc)) is not None:
                        break
                except Exception:  # noqa: BLE001
                    break
            else:
                kept += 1
        chain_best = min(chain_best, time.process_time() - t0)
    from importlib.metadata import version

    import datatrove  # noqa: F401

    print(json.dumps({
        "datatrove": version("datatrove"), "spacy": version("spacy"), "documents": len(texts),
        "reasons": reasons, "cpu_s": cpu, "chain_cpu_s": chain_best, "chain_kept": kept,
    }))


if __name__ == "__main__":
    main()
