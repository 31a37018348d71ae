"""Over-redaction on real prose and recall on Faker values for corpusforge's extra recognizers.

For ``NUMBER_SEQUENCE`` and ``STREET_ADDRESS`` (:mod:`pipelines.text.pii_extra`) it prints JSON with:

* on public-domain prose (``webtext/state_union/*.txt`` and ``webtext/genesis/english-kjv.txt`` under
  ``--data``): the number of matches, the share of words inside a match (over-redaction: none of these
  texts holds a phone number or a street address) and the first 15 distinct matched strings;
* on the labeled lines of NeMo Curator's PII test data (``pii/nemo-curator-pii_data``, when present): the
  share of tagged addresses (STREET_ADDRESS) and phone, card and SSN numbers (NUMBER_SEQUENCE) matched at
  least in part;
* on Faker values (locales en_US, en_GB, de_DE, fr_FR, es_ES, it_IT, nl_NL, sv_SE, pl_PL, hu_HU, fixed
  seed): the share of values of which the recognizer matches at least a part, overall and per locale;
  ``street_address()`` for addresses, ``phone_number()`` with at least 7 digits for number sequences.

Each recognizer runs as vanilla Presidio would run it (``PatternRecognizer.analyze`` on the whole text).

Usage::

    python -m benchmarks.pii_extra_overredaction [--data ../shared/data] [--per-locale 300]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Optional

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "sv_SE", "pl_PL", "hu_HU"]
_WORD = re.compile(r"\S+")


def _default_data() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def _prose_files(data: Path) -> list[Path]:
    web = data / "webtext"
    files = sorted((web / "state_union").glob("*.txt"))
    kjv = web / "genesis" / "english-kjv.txt"
    if kjv.is_file():
        files.append(kjv)
    return files


def _spans(rec, text: str) -> list[tuple[int, int]]:
    results = rec.analyze(text, entities=[rec.supported_entities[0]], nlp_artifacts=None)
    return sorted((r.start, r.end) for r in results)


def over_redaction(rec, texts: list[str]) -> dict:
    """Matches, share of words overlapping a match, first 15 distinct matched strings."""
    n_matches = words = matched_words = 0
    examples: list[str] = []
    seconds = 0.0
    for text in texts:
        t0 = time.perf_counter()
        spans = _spans(rec, text)
        seconds += time.perf_counter() - t0
        n_matches += len(spans)
        for s, e in spans:
            value = text[s:e]
            if value not in examples and len(examples) < 15:
                examples.append(value)
        i = 0
        for w in _WORD.finditer(text):
            words += 1
            while i < len(spans) and spans[i][1] <= w.start():
                i += 1
            if i < len(spans) and spans[i][0] < w.end():
                matched_words += 1
    return {
        "matches": n_matches,
        "words": words,
        "matched_words": matched_words,
        "matched_word_share": round(matched_words / words, 6) if words else 0.0,
        "seconds": round(seconds, 3),
        "examples": examples,
    }


def faker_recall(rec, kind: str, per_locale: int, seed: int) -> dict:
    """Share of Faker street addresses (kind='address') or phone numbers (>= 7 digits) matched at least in part."""
    from faker import Faker

    per: dict[str, float] = {}
    misses: dict[str, list[str]] = {}
    hit_total = n_total = 0
    for loc in LOCALES:
        fake = Faker(loc)
        fake.seed_instance(seed)
        hits = n = 0
        missed: list[str] = []
        attempts = 0
        while n < per_locale and attempts < per_locale * 10:
            attempts += 1
            value = fake.street_address() if kind == "address" else fake.phone_number()
            if kind == "phone" and sum(ch.isdigit() for ch in value) < 7:
                continue
            n += 1
            text = f"Our records list {value} for this entry."  # neutral sentence: no context words
            if _spans(rec, text):
                hits += 1
            elif len(missed) < 5:
                missed.append(value)
        per[loc] = round(hits / n, 4) if n else 0.0
        misses[loc] = missed
        hit_total += hits
        n_total += n
    return {"recall": round(hit_total / n_total, 4) if n_total else 0.0, "values": n_total, "per_locale": per,
            "missed_examples": misses}


_TAG = re.compile(r"<(\w+)>(.*?)</\1>")
#: Labeled files of NeMo Curator's PII test data (``pii/nemo-curator-pii_data``) and the entity that should
#: cover each tag.
_LABELED_TAGS = {
    "address": "STREET_ADDRESS",
    "phone_number": "NUMBER_SEQUENCE",
    "credit_card_number": "NUMBER_SEQUENCE",
    "ssn": "NUMBER_SEQUENCE",
}


def labeled_recall(recs: dict, folder: Path) -> Optional[dict]:
    """Share of tagged values (``<address>...</address>``) of which the entity's recognizer matches a part."""
    files = sorted(folder.glob("*.txt"))
    if not files:
        return None
    counts: dict[str, list[int]] = {}
    for path in files:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text, gold, pos = "", [], 0
            for m in _TAG.finditer(line):
                text += line[pos:m.start()]
                gold.append((m.group(1), len(text), len(text) + len(m.group(2))))
                text += m.group(2)
                pos = m.end()
            text += line[pos:]
            for tag, start, end in gold:
                entity = _LABELED_TAGS.get(tag)
                if entity is None:
                    continue
                hit = any(s < end and e > start for s, e in _spans(recs[entity], text))
                c = counts.setdefault(f"{tag}->{entity}", [0, 0])
                c[0] += hit
                c[1] += 1
    return {key: {"recall": round(h / n, 4), "values": n} for key, (h, n) in sorted(counts.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=_default_data(), help="folder holding webtext/ (default: %(default)s)")
    ap.add_argument("--per-locale", type=int, default=300, help="Faker values per locale (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)

    files = _prose_files(args.data)
    if not files:
        print(f"no prose under {args.data}/webtext (state_union/*.txt, genesis/english-kjv.txt): nothing to measure")
        return 0

    from pipelines.text.pii_extra import NumberSequenceRecognizer, StreetAddressRecognizer

    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    report = {
        "prose": {"files": len(files), "characters": sum(len(t) for t in texts)},
        "NUMBER_SEQUENCE": {},
        "STREET_ADDRESS": {},
    }
    recs = {"NUMBER_SEQUENCE": NumberSequenceRecognizer(), "STREET_ADDRESS": StreetAddressRecognizer()}
    for entity, kind in (("NUMBER_SEQUENCE", "phone"), ("STREET_ADDRESS", "address")):
        report[entity]["prose"] = over_redaction(recs[entity], texts)
        report[entity]["faker"] = faker_recall(recs[entity], kind, args.per_locale, args.seed)
    labeled = labeled_recall(recs, args.data / "pii" / "nemo-curator-pii_data")
    if labeled is not None:
        report["labeled_nemo_curator"] = labeled
    out = json.dumps(report, indent=2, ensure_ascii=False)
    print(out)
    if args.out:
        args.out.write_text(out + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
