"""Tiny labelled texts and a tiny fastText classifier trained on them, for classifier tests (no Spark)."""
from __future__ import annotations

import random
from pathlib import Path

GOOD_WORDS = ("the river library morning students history careful gardens report museum quiet council "
              "science season village research teacher winter bridge history").split()
BAD_WORDS = ("click buy cheap now free casino bonus win offer deal subscribe cookies accept login "
             "download prize hot limited sale").split()


def texts(words, n, seed, lines=3):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 12))) + "." for _ in range(lines)]
        out.append("\n".join(parts))
    return out


def positives(n=80, seed=1):
    return texts(GOOD_WORDS, n, seed)


def negatives(n=80, seed=2):
    return texts(BAD_WORDS, n, seed)


def train_tiny(path: Path, **kw) -> dict:
    """Train a small model at ``path`` (fast: a small hash table) and return its card."""
    from pipelines.text.classifier import train_classifier  # deferred: test helper, imported by tests that need it

    params = dict(label="hq", epoch=10, dim=8, bucket=20000, seed=3, validation_fraction=0.2)
    params.update(kw)
    return train_classifier(positives(), negatives(), output=path, **params)
