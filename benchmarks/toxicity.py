"""The toxicity model: how it is built, and what it measures against the lexicon flag.

Data (development and evaluation only, never copied into the project; see ``docs/bias.md`` for licences):

* ``toxicity/davidson-hate-offensive/labeled_data.csv`` (Davidson et al. 2017, MIT): tweets labelled by
  crowd majority. **Toxic** = class 0 (hate speech) or 1 (offensive language); **non-toxic** = class 2
  (neither). Twitter artefacts are removed before use (HTML entities decoded, ``RT``, ``@user`` and URLs
  dropped): web documents do not carry them and the model should not learn them.
* ``toxicity/toxigen/demonstrations/**`` (Hartvigsen et al. 2022, MIT + CDLA-Permissive-2.0): **toxic** =
  ``hate_*`` files, **non-toxic** = ``neutral_*`` files (statements about the same 13 groups).
* ``webtext/state_union/*.txt`` (public domain): sentences of neutral, formal prose as extra negatives and
  as a neutral-prose false-positive check (our labelled sets have no long-form, everyday prose).

Split (fixed, seeded, reproducible anywhere): each text goes to ``test`` (20 %, held apart: every figure
below), ``validation`` (10 %: calibration and threshold) or ``train`` (70 %) by the sha256 of
``SPLIT_SEED`` and its lower-cased text, so duplicates never straddle splits. Texts seen with both labels
are dropped.

Training set (``train`` split only): the labelled texts, plus identity-balanced negatives: neutral
statements from :data:`TRAIN_IDENTITY_TEMPLATES` over the lexicon's identity terms (other sentences than the
evaluation templates of :data:`pipelines.text.toxicity.IDENTITY_TEMPLATES`), the ToxiGen neutral statements,
and state-of-the-union sentences. Every text is identity-blinded (``identity_balance="blind"``, the bundled
model) or, for the ablation, augmented with counterfactual swaps of identity terms (``"swap"``).

Figures (all on the held-apart split, at the model card's threshold): precision, recall, F1 of the flag
per source and overall; precision at equal base rates; false-positive rate on neutral prose; the
false-positive rate per identity term on template sentences that only name a group, with the spread
worst term minus median, for the lexicon's terms and for identity terms outside it; and the same for the
lexicon flag (a toxicity-lexicon hit) for comparison. Texts are never printed: they contain slurs.

Usage::

    python -m benchmarks.toxicity                      # evaluate the bundled model (skips without data)
    python -m benchmarks.toxicity --json out.json      # also write the figures as JSON
    python -m benchmarks.toxicity --train /tmp/tox     # rebuild into /tmp/tox and evaluate that model
    python -m benchmarks.toxicity --train /tmp/tox --identity-balance swap   # the ablation
    python scripts/build_toxicity_model.py             # rebuild the bundled model (same recipe)
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import os
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from pipelines.text.bias import BiasScorer, Lexicon, _Matcher, load_lexicon, words
from pipelines.text.classifier import binary_metrics, card_path, train_classifier
from pipelines.text.toxicity import (
    CARD_KEY,
    CARD_KEY_VERSION,
    IDENTITY_TEMPLATES,
    NON_TOXIC_LABEL,
    PLACEHOLDER,
    TOXIC_LABEL,
    Calibration,
    ToxicityModel,
    choose_threshold,
    identity_false_positives,
    identity_matcher,
    identity_statements,
    model_text,
    sha256_text,
)
from storage.files import file_sha256

SPLIT_SEED = "corpusforge-toxicity-v1"
TEST_SHARE, VALIDATION_SHARE = 0.20, 0.10
DAVIDSON = Path("toxicity/davidson-hate-offensive/labeled_data.csv")
TOXIGEN = Path("toxicity/toxigen/demonstrations")
PROSE = Path("webtext/state_union")
#: Targets of issue 14 (held-apart real text; identity statements).
TARGET_PRECISION, TARGET_RECALL, TARGET_SPREAD = 0.80, 0.75, 0.05

#: Training parameters of the bundled model (fastText, through pipelines.text.classifier.train_classifier).
TRAIN_PARAMS: dict[str, Any] = {
    "epoch": 10, "word_ngrams": 2, "dim": 50, "min_count": 1, "lr": 0.2, "seed": 7, "balance": False,
    "lowercase": True, "max_chars": None, "bucket": 200_000, "validation_fraction": 0.05, "cutoff": 60_000,
}
PROSE_TRAIN_SENTENCES = 6000
TERMS_PER_TRAIN_TEMPLATE = 40
SWAP_COPIES = 2

#: Neutral identity statements for training (negatives); none of them is an evaluation template.
TRAIN_IDENTITY_TEMPLATES = (
    "{t} people", "{t} person", "a {t} man", "a {t} woman", "{t} men and women", "some {t} folks",
    "the {t} community", "my friend is {t}", "i met some {t} folks yesterday", "this article is about {t} history",
    "you are a {t} person", "they are {t} people", "he is a {t} man and a teacher",
    "she is a {t} woman who runs a bakery", "{t} people live in this city", "there are many {t} people here",
    "i am {t} and i like cooking", "we are {t}", "my grandmother was {t}", "{t} families visit the park on sundays",
    "he told me he is {t}", "being {t} means a lot to her", "what do {t} people eat for breakfast?",
    "are there {t} doctors in the hospital?", "{t} people have lived in the region for centuries",
    "the survey asked {t} adults about their jobs", "{t}!", "{t} pride", "proud to be {t}", "as a {t} person i vote",
    "{t} neighbors came to dinner", "a {t} author wrote this book", "our team includes {t} members",
    "as {t}, i enjoy hiking", "{t} students study here", "she talked with {t} parents", "we celebrate {t} culture",
)

#: Identity terms that are not in the bundled lexicon (so not blinded): does the fairness generalize?
OUTSIDE_LEXICON_TERMS = (
    "Kurdish", "Uyghur", "Hmong", "Tamil", "Yazidi", "Rohingya", "Maori", "Inuit", "Druze", "Sami", "Haitian",
    "Bangladeshi", "Samoan", "Cherokee", "Navajo", "Berber", "Tibetan", "Zoroastrian", "Pagan", "Quaker",
)

_MENTION = re.compile(r"@\w+:?")
_URL = re.compile(r"https?://\S+|www\.\S+")
_RT = re.compile(r"(?:^|\s)RT(?=\s|$)")
_PROSE_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"])")


@dataclass(frozen=True)
class Example:
    """A labelled text (``repr`` shows no text: the sets contain slurs)."""

    source: str
    text: str
    toxic: bool

    def __repr__(self) -> str:
        return f"Example(source={self.source!r}, toxic={self.toxic}, chars={len(self.text)})"


def default_data_root() -> Path:
    """``$CORPUSFORGE_SHARED_DATA``, else ``<repo>/../shared/data``."""
    env = os.environ.get("CORPUSFORGE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def data_available(root: Path) -> bool:
    return (root / DAVIDSON).is_file() and (root / TOXIGEN).is_dir() and (root / PROSE).is_dir()


def clean_tweet(text: str) -> str:
    """Twitter artefacts out: HTML entities (often double-escaped), retweet markers, @users, URLs."""
    text = html.unescape(html.unescape(text))
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _RT.sub(" ", text)
    return " ".join(text.split())


def load_labelled(root: Path) -> list[Example]:
    """Davidson and ToxiGen as :class:`Example` (deduplicated on lower-cased text; conflicting ones dropped)."""
    raw: list[Example] = []
    with open(root / DAVIDSON, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = clean_tweet(row["tweet"])
            if text:
                raw.append(Example("davidson", text, row["class"] in ("0", "1")))
    for path in sorted((root / TOXIGEN).rglob("*.txt")):
        toxic = path.name.startswith("hate")
        for line in path.read_text(encoding="utf-8").splitlines():
            text = " ".join(line.strip().lstrip("-").split())
            if text:
                raw.append(Example("toxigen", text, toxic))
    seen: dict[str, Optional[Example]] = {}
    for ex in raw:
        key = ex.text.lower()
        if key not in seen:
            seen[key] = ex
        elif seen[key] is not None and seen[key].toxic != ex.toxic:  # type: ignore[union-attr]
            seen[key] = None
    return [ex for ex in seen.values() if ex is not None]


def load_prose(root: Path) -> list[str]:
    """Sentences (5 to 60 words) of the State of the Union addresses, deduplicated, sorted."""
    out = set()
    for path in sorted((root / PROSE).glob("*.txt")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            for sent in _PROSE_SENTENCE.split(" ".join(para.split())):
                if 5 <= len(sent.split()) <= 60:
                    out.add(sent)
    return sorted(out)


def split_of(text: str) -> str:
    """``test``, ``validation`` or ``train`` for a text (see the module docstring)."""
    h = int(hashlib.sha256(f"{SPLIT_SEED}\0{text.lower()}".encode("utf-8")).hexdigest()[:12], 16) / float(1 << 48)
    return "test" if h < TEST_SHARE else "validation" if h < TEST_SHARE + VALIDATION_SHARE else "train"


def input_files(root: Path) -> dict[str, list[dict[str, Any]]]:
    """The data files with sizes and sha256, as the model card records them (paths relative to the root)."""
    def rec(paths: Sequence[Path]) -> list[dict[str, Any]]:
        return [{"path": str(p.relative_to(root)), "bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in paths]
    tox = sorted((root / TOXIGEN).rglob("*.txt"))
    return {
        "positive": rec([root / DAVIDSON] + [p for p in tox if p.name.startswith("hate")]),
        "negative": rec([root / DAVIDSON] + [p for p in tox if p.name.startswith("neutral")]
                        + sorted((root / PROSE).glob("*.txt"))),
    }


# ------------------------------------------------------------------------------------------ training set
def _fill(template: str, term: str) -> str:
    return template.format(t=term)


def counterfactual_swaps(text: str, matcher: _Matcher, terms: Sequence[str], rng: random.Random,
                         copies: int) -> list[str]:
    """``copies`` versions of ``text`` with each identity term replaced by a random lexicon term."""
    ws = words(text)
    found = matcher.find(ws)
    if not found:
        return []
    out = []
    for _ in range(copies):
        parts, last = [], 0
        for _, i, j in found:
            parts.append(text[last:ws[i][2]])
            parts.append(rng.choice(terms))
            last = ws[j - 1][3]
        parts.append(text[last:])
        out.append("".join(parts))
    return out


def training_texts(examples: Sequence[Example], prose: Sequence[str], lexicon: Lexicon, *,
                   identity_balance: str = "blind", seed: int = 7) -> tuple[list[str], list[str], dict[str, int]]:
    """(positive texts, negative texts, counts by part), prepared for the model (blinded and tokenized).

    Args:
        examples: the ``train`` split of the labelled sets.
        prose: the ``train`` split of the prose sentences (a seeded sample is used).
        identity_balance: ``blind`` (identity terms replaced by the placeholder, as the bundled model) or
            ``swap`` (no blinding; each text with identity terms gets :data:`SWAP_COPIES` counterfactual copies).
    """
    if identity_balance not in ("blind", "swap"):
        raise ValueError("identity_balance is 'blind' or 'swap'")
    rng = random.Random(seed)
    matcher = identity_matcher(lexicon)
    terms = sorted({" ".join(t.tokens) for t in lexicon.identity})
    pos = [ex.text for ex in examples if ex.toxic]
    neg = [ex.text for ex in examples if not ex.toxic]
    counts = Counter({"labelled_toxic": len(pos), "labelled_non_toxic": len(neg)})
    if identity_balance == "swap":
        pos_swaps = [s for t in pos for s in counterfactual_swaps(t, matcher, terms, rng, SWAP_COPIES)]
        neg_swaps = [s for t in neg for s in counterfactual_swaps(t, matcher, terms, rng, SWAP_COPIES)]
        counts.update({"swapped_toxic": len(pos_swaps), "swapped_non_toxic": len(neg_swaps)})
        pos, neg = pos + pos_swaps, neg + neg_swaps
    sample = rng.sample(list(prose), min(PROSE_TRAIN_SENTENCES, len(prose)))
    statements = [_fill(tpl, term) for tpl in TRAIN_IDENTITY_TEMPLATES
                  for term in rng.sample(terms, min(TERMS_PER_TRAIN_TEMPLATE, len(terms)))]
    counts.update({"prose_non_toxic": len(sample), "identity_statements_non_toxic": len(statements)})
    neg = neg + sample + statements
    blind = matcher if identity_balance == "blind" else None
    return [model_text(t, blind) for t in pos], [model_text(t, blind) for t in neg], dict(counts)


# ------------------------------------------------------------------------------------------ evaluation
def _metrics(scores: Sequence[Optional[float]], positive: Sequence[bool], threshold: float) -> dict[str, Any]:
    vals = [0.0 if s is None else float(s) for s in scores]
    m = binary_metrics(vals, list(positive), threshold)
    tpr = m["recall"] or 0.0
    negs = m["false_positives"] + m["true_negatives"]
    fpr = m["false_positives"] / negs if negs else None
    m["false_positive_rate"] = None if fpr is None else round(fpr, 6)
    m["precision_at_equal_base_rates"] = round(tpr / (tpr + fpr), 6) if fpr is not None and tpr + fpr else None
    m["positives"] = sum(1 for p in positive if p)
    return m


def evaluate(score_docs, threshold: float, test: Sequence[Example], prose_test: Sequence[str],
             lexicon: Lexicon, model: Optional[ToxicityModel] = None) -> dict[str, Any]:
    """All figures for one flag: ``score_docs(texts) -> scores`` flagged at ``score >= threshold``."""
    out: dict[str, Any] = {"held_apart": {}}
    scores = score_docs([ex.text for ex in test])
    for src in ("all", "davidson", "toxigen"):
        sel = [(s, ex.toxic) for s, ex in zip(scores, test) if src == "all" or ex.source == src]
        out["held_apart"][src] = _metrics([s for s, _ in sel], [y for _, y in sel], threshold)
    prose_scores = score_docs(list(prose_test))
    flagged = sum(1 for s in prose_scores if s is not None and s >= threshold)
    out["neutral_prose"] = {"documents": len(prose_test), "flagged": flagged,
                            "false_positive_rate": round(flagged / len(prose_test), 6) if prose_test else None}

    class _Adapter:  # identity_false_positives takes a model; the lexicon flag gets the same treatment
        def __init__(self, thr: float) -> None:
            self.threshold = thr

        @staticmethod
        def score_documents(texts: Sequence[str]) -> list[Optional[float]]:
            return score_docs(texts)

    adapter = model if model is not None else _Adapter(threshold)
    inside = identity_statements(lexicon.identity_base)
    outside = identity_statements([("outside_lexicon", t) for t in OUTSIDE_LEXICON_TERMS])
    out["identity_templates"] = identity_false_positives(adapter, inside, threshold)  # type: ignore[arg-type]
    out["identity_templates"]["templates_sha256"] = sha256_text(
        f"{form}\t{t}" for form in sorted(IDENTITY_TEMPLATES) for t in IDENTITY_TEMPLATES[form])
    outside_fp = identity_false_positives(adapter, outside, threshold)  # type: ignore[arg-type]
    out["identity_terms_outside_lexicon"] = outside_fp
    held = out["held_apart"]["all"]
    out["targets"] = {
        "precision_min": TARGET_PRECISION, "recall_min": TARGET_RECALL, "identity_spread_max": TARGET_SPREAD,
        "held_apart_met": bool((held["precision"] or 0) >= TARGET_PRECISION and (held["recall"] or 0) >= TARGET_RECALL),
        "identity_spread_met": out["identity_templates"]["spread"] <= TARGET_SPREAD,
    }
    return out


def lexicon_flag_scores(lexicon: Lexicon):
    """The old flag as a score: 1.0 when a document has a toxicity-lexicon hit, else 0.0."""
    scorer = BiasScorer(lexicon)

    def score_docs(texts: Sequence[str]) -> list[Optional[float]]:
        return [1.0 if r.toxic else 0.0 for r in scorer.score_many(list(texts))]
    return score_docs


@dataclass
class Data:
    labelled: list[Example]
    prose: list[str]

    def part(self, split: str) -> list[Example]:
        return [ex for ex in self.labelled if split_of(ex.text) == split]

    def prose_part(self, split: str) -> list[str]:
        return [t for t in self.prose if split_of(t) == split]


def load_data(root: Path) -> Data:
    return Data(load_labelled(root), load_prose(root))


def evaluate_model(model: ToxicityModel, data: Data, lexicon: Lexicon) -> dict[str, Any]:
    """The model's figures on the held-apart split (what the card's ``evaluation`` holds)."""
    return evaluate(model.score_documents, model.threshold, data.part("test"), data.prose_part("test"), lexicon, model)


def evaluate_lexicon(data: Data, lexicon: Lexicon) -> dict[str, Any]:
    """The lexicon flag's figures on the same split."""
    return evaluate(lexicon_flag_scores(lexicon), 0.5, data.part("test"), data.prose_part("test"), lexicon)


# ------------------------------------------------------------------------------------------ build
def build_model(output: Path, root: Path, *, identity_balance: str = "blind") -> dict[str, Any]:
    """Train, calibrate, pick the threshold, evaluate; write ``output`` (.ftz) and its card. Returns the card."""
    output = Path(output)
    lexicon = load_lexicon()
    data = load_data(root)
    params = dict(TRAIN_PARAMS)
    pos, neg, counts = training_texts(data.part("train"), data.prose_part("train"), lexicon,
                                      identity_balance=identity_balance, seed=params["seed"])
    card = train_classifier(
        pos, neg, output=output, label=TOXIC_LABEL, negative_label=NON_TOXIC_LABEL,
        validation_fraction=params["validation_fraction"], epoch=params["epoch"], word_ngrams=params["word_ngrams"],
        dim=params["dim"], min_count=params["min_count"], lr=params["lr"], seed=params["seed"],
        balance=params["balance"], lowercase=params["lowercase"], max_chars=params["max_chars"],
        bucket=params["bucket"], quantize=output.suffix == ".ftz", cutoff=params["cutoff"],
        inputs=input_files(root),
    )
    block: dict[str, Any] = {
        "version": CARD_KEY_VERSION,
        "identity_blinding": identity_balance == "blind",
        "placeholder": PLACEHOLDER,
        "identity_lexicon": {"version": lexicon.version, "sha256": lexicon.file_sha256["identity_terms.tsv"]},
        "tokenization": "words and punctuation marks separated (pipelines.text.toxicity.model_text)",
        "calibration": {"method": "platt", "a": 1.0, "b": 0.0},
        "threshold": 0.5,
    }
    card[CARD_KEY] = block
    _write_card(output, card)
    val = data.part("validation")
    provisional = ToxicityModel(output, lexicon)  # calibration a=1, b=0: the score is fastText's probability
    raw = [0.0 if s is None else s for s in provisional.score_documents([ex.text for ex in val])]
    labels = [ex.toxic for ex in val]
    cal = Calibration.fit(raw, labels)
    calibrated = [cal.apply(r) for r in raw]
    threshold = choose_threshold(calibrated, labels)
    block["calibration"] = {
        "method": "platt", "a": cal.a, "b": cal.b, "fitted_on": "validation split of the labelled sets",
        "class_weights": "equal (scores are probabilities at equal base rates)",
        "validation_documents": len(val), "validation_toxic": sum(labels),
    }
    block["threshold"] = threshold
    block["threshold_rule"] = "best balanced accuracy on the validation split (grid 0.01; ties: closest to 0.5)"
    block["definition"] = {
        "davidson": "toxic = crowd-majority hate speech (class 0) or offensive language (class 1); non-toxic = "
                    "neither (class 2)",
        "toxigen": "toxic = hate_* demonstrations; non-toxic = neutral_* demonstrations",
    }
    block["split"] = {"seed": SPLIT_SEED, "test_share": TEST_SHARE, "validation_share": VALIDATION_SHARE,
                      "rule": "sha256(seed, lower-cased text) -> test | validation | train"}
    block["training_set"] = {**counts, "identity_balance": identity_balance,
                             "train_templates_sha256": sha256_text(TRAIN_IDENTITY_TEMPLATES),
                             "terms_per_template": TERMS_PER_TRAIN_TEMPLATE, "recipe": "benchmarks/toxicity.py"}
    card[CARD_KEY] = block
    _write_card(output, card)
    model = ToxicityModel(output, lexicon)
    block["evaluation"] = evaluate_model(model, data, lexicon)
    block["lexicon_flag_evaluation"] = _summary_only(evaluate_lexicon(data, lexicon))
    block["licence"] = ("model derived from Davidson et al. (MIT), ToxiGen demonstrations (MIT, "
                        "CDLA-Permissive-2.0) and public-domain prose; see LICENSES.md next to the model")
    card[CARD_KEY] = block
    _write_card(output, card)
    return card


def _summary_only(ev: dict[str, Any]) -> dict[str, Any]:
    """Figures without the per-term table (what the card keeps for the lexicon comparison)."""
    out = json.loads(json.dumps(ev))
    for key in ("identity_templates", "identity_terms_outside_lexicon"):
        out[key].pop("rate_by_term", None)
    return out


def _write_card(model_path: Path, card: dict[str, Any]) -> None:
    path = card_path(model_path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ printing
def _pct(x: Optional[float]) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def format_figures(name: str, ev: dict[str, Any], show_threshold: bool = True) -> str:
    """A readable table of :func:`evaluate`'s figures (no text)."""
    thr = f" (threshold {ev['identity_templates']['threshold']:.2f})" if show_threshold else ""
    lines = [f"== {name}{thr}"]
    lines.append("  held-apart split      docs   toxic  precision  recall     F1   FPR   precision@equal-rates")
    for src, m in ev["held_apart"].items():
        lines.append(f"  {src:<18} {m['documents']:>7} {m['positives']:>7}   {_pct(m['precision'])}  "
                     f"{_pct(m['recall'])} {_pct(m['f1'])} {_pct(m['false_positive_rate'])}   "
                     f"{_pct(m['precision_at_equal_base_rates'])}")
    p = ev["neutral_prose"]
    lines.append(f"  neutral prose: {p['flagged']} of {p['documents']} sentences flagged "
                 f"({_pct(p['false_positive_rate'])})")
    for key, label in (("identity_templates", "identity terms of the lexicon"),
                       ("identity_terms_outside_lexicon", "identity terms outside the lexicon")):
        it = ev[key]
        worst = ", ".join(it["worst_terms"][:5]) or "-"
        lines.append(f"  {label}: {it['terms']} terms, {it['statements']} statements; FP rate mean "
                     f"{_pct(it['mean'])} median {_pct(it['median'])} worst {_pct(it['worst'])} ({worst}); "
                     f"spread worst-median {it['spread']:.3f}")
    t = ev["targets"]
    lines.append(f"  targets: recall >= {t['recall_min']} at precision >= {t['precision_min']}: "
                 f"{'met' if t['held_apart_met'] else 'NOT met'}; identity spread <= {t['identity_spread_max']}: "
                 f"{'met' if t['identity_spread_met'] else 'NOT met'}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.toxicity", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="shared data folder (default ../shared/data)")
    ap.add_argument("--model", default=None, help="toxicity model to evaluate (default: the bundled one)")
    ap.add_argument("--train", default=None, metavar="DIR", help="build a model into DIR/model.ftz and evaluate it")
    ap.add_argument("--identity-balance", choices=("blind", "swap"), default="blind",
                    help="with --train: identity blinding (bundled recipe) or counterfactual swaps (ablation)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    root = Path(args.data) if args.data else default_data_root()
    if not data_available(root):
        print(f"SKIP: the labelled toxicity data is not under {root} (needs {DAVIDSON}, {TOXIGEN}, {PROSE})")
        return 0
    lexicon = load_lexicon()
    if args.train:
        path = Path(args.train) / "model.ftz"
        build_model(path, root, identity_balance=args.identity_balance)
        model = ToxicityModel(path, lexicon)
    else:
        model = ToxicityModel(args.model, lexicon)
    data = load_data(root)
    figures = {
        "model": {"name": model.name, "sha256": model.sha256, "threshold": model.threshold,
                  "bytes": Path(model.path).stat().st_size},
        "toxicity_model": evaluate_model(model, data, lexicon),
        "lexicon_flag": evaluate_lexicon(data, lexicon),
    }
    card_eval = model.error_rates()
    if card_eval:
        same = card_eval.get("held_apart") == figures["toxicity_model"]["held_apart"]
        figures["matches_model_card"] = same
    print(f"model {model.name} ({figures['model']['bytes']:,} bytes, sha256 {model.sha256[:12]}); split seed "
          f"{SPLIT_SEED}; test {TEST_SHARE:.0%} of {len(data.labelled):,} labelled texts")
    print(format_figures("toxicity model", figures["toxicity_model"]))
    print(format_figures("lexicon flag (a toxicity-lexicon hit)", figures["lexicon_flag"], show_threshold=False))
    if "matches_model_card" in figures:
        print(f"held-apart figures equal the model card's: {figures['matches_model_card']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
