"""Generate the bundled example task file ``pipelines/assets/tasks/demo-cloze.jsonl``.

The items are English sentences made from the demo corpus generator's word lists and sentence patterns
(:mod:`benchmarks.corpus`), with a seed of their own, so they follow the demo corpus's distribution
without being copied from it. Each item is a context (a sentence start) and four continuations: the
grammatical one and three that break the pattern (the right words in reverse order, a phrase of the
wrong kind, a second verb). A model that learned the demo corpus's English picks the grammatical one
well above the 25% chance level; an untrained one does not.

    .venv/bin/python -m benchmarks.demo_tasks --out pipelines/assets/tasks/demo-cloze.jsonl

``tests/unit/test_eval_tasks.py`` regenerates the file and checks that the bundled copy is the same.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from benchmarks.corpus import _Language

DEFAULT_ITEMS = 200
DEFAULT_SEED = 17


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def _reverse(words: str) -> str:
    return " ".join(reversed(words.split(" ")))


def make_items(n: int = DEFAULT_ITEMS, seed: int = DEFAULT_SEED) -> list[dict]:
    """``n`` items, the same for the same ``(n, seed)``."""
    lang = _Language("en")
    rng = random.Random(seed)
    pick = lambda slot: lang.pick(rng, slot)  # noqa: E731
    items = []
    while len(items) < n:
        kind = ("object", "copula")[len(items) % 2]
        if kind == "object":
            verb = pick("verb")
            context = f"{_cap(pick('subj'))} {verb}"
            right = f"{pick('obj')} {pick('trail')}"
            wrong = [_reverse(right), pick("pred"), f"{pick('verb')} {pick('obj')}"]
        else:
            context = f"{_cap(pick('subj'))} was"
            right = pick("pred")
            wrong = [_reverse(right), f"{pick('obj')} {pick('verb')}", f"{pick('p_verb')} {pick('p_obj')}"]
        choices = [right] + wrong
        if len({c.lower() for c in choices}) < len(choices) or right.count(" ") == 0 or " and " in right:
            continue  # a one-word answer reversed is itself, "clean and safe" reversed is still English: redraw
        order = list(range(len(choices)))
        rng.shuffle(order)
        items.append({"id": f"demo-cloze-{len(items):04d}", "context": context,
                      "choices": [f" {choices[i]}." for i in order], "label": order.index(0), "kind": kind})
    return items


def render(items: list[dict]) -> str:
    return "".join(json.dumps(it, ensure_ascii=False, sort_keys=True) + "\n" for it in items)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--items", type=int, default=DEFAULT_ITEMS)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args(argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(render(make_items(args.items, args.seed)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
