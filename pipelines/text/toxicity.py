"""A learned, calibrated toxicity score for the ``bias`` stage (pure Python; no Spark here).

The model is a supervised fastText classifier trained by the project's own training path
(:func:`pipelines.text.classifier.train_classifier`; the bundled one by ``scripts/build_toxicity_model.py``),
with a model card (``model.json`` next to the model) whose ``toxicity`` block says how to use it:

* **Text preparation.** Identity terms of the lexicon are replaced by one placeholder word (*identity
  blinding*, :func:`blind_identity`), words and punctuation marks are separated (fastText splits on
  whitespace only, so ``idiot!`` and ``idiot`` would otherwise be different words), then the classifier's
  own preparation applies (lower-casing, length cap, one line; :func:`pipelines.text.classifier.prepare_text`).
  Blinding makes the score exactly invariant to swapping one lexicon identity term for another: a neutral
  sentence that names a group scores the same whatever the group, which is the counterfactual-fairness
  property that swap augmentation only approximates. Slurs are not identity terms and are not blinded.
* **Calibration.** fastText's probability is mapped through a logistic (Platt) calibration fitted on a
  validation split with both classes weighted equally: the score estimates the probability that a text is
  toxic *at equal base rates*. At a base rate ``pi`` the posterior odds are the score's odds times
  ``pi / (1 - pi)``.
* **Threshold.** The ``toxicity`` flag is ``score >= threshold``; the card's threshold was chosen on the
  validation split (see ``docs/bias.md``) and ``bias.toxicity_threshold`` overrides it.
* **Documents.** A document is scored sentence by sentence (:func:`pipelines.text.bias.sentence_ends`, the
  sentence rule of the lexicon indicators); its score is that of its most toxic sentence, so one toxic
  sentence in a long page is not averaged away.

The identity-statement templates (:data:`IDENTITY_TEMPLATES`) build the fairness check of the card and the
benchmark: sentences that only name an identity group ("I am a gay person.", "Muslim people live here.").
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import regex

from pipelines.text.assets import asset_spec, bundled, bundled_name, resolve_asset
from pipelines.text.bias import Lexicon, Term, _Matcher, load_lexicon, sentence_ends, words
from pipelines.text.classifier import (
    ClassifierModelError,
    load_classifier,
    prepare_text,
    read_card,
)
from schemas.config.bias import DEFAULT_TOXICITY_MODEL
from storage.files import file_sha256

log = logging.getLogger(__name__)

#: The bundled model (a name under ``pipelines/``: resolved in each machine's copy of the package).
DEFAULT_MODEL_PATH = DEFAULT_TOXICITY_MODEL
TOXIC_LABEL = "__label__toxic"
NON_TOXIC_LABEL = "__label__nontoxic"
#: The word that replaces every lexicon identity term before the model sees a text.
PLACEHOLDER = "xidentityx"
#: The key of the model card that carries what this module needs (and the measured error rates).
CARD_KEY = "toxicity"
CARD_KEY_VERSION = 1

# Words (letters and digits with inner apostrophes) and single punctuation marks or symbols.
_TOKEN = regex.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|[^\w\s]")
_EPS = 1e-6


class ToxicityModelError(RuntimeError):
    """The toxicity model or its card cannot be used; the message says how to fix it."""


# ------------------------------------------------------------------------------------------ preparation
def identity_matcher(lexicon: Lexicon) -> _Matcher:
    """A matcher of the lexicon's identity terms *without* their context constraints, for blinding.

    ``black`` is blinded in ``black car`` too and ``Polish`` in ``polish the silver``: for a toxicity score
    a neutral placeholder costs nothing there, while a missed identity sense would let the group's name
    sway the score.
    """
    return _Matcher(Term(tokens=t.tokens, label=t.label) for t in lexicon.identity)


def blind_identity(text: str, matcher: _Matcher) -> str:
    """``text`` with every identity term (possessive included) replaced by :data:`PLACEHOLDER`."""
    ws = words(text)
    found = matcher.find(ws)
    if not found:
        return text
    out, last = [], 0
    for _, i, j in found:
        out.append(text[last:ws[i][2]])
        out.append(f" {PLACEHOLDER} ")
        last = ws[j - 1][3]
    out.append(text[last:])
    return "".join(out)


def model_text(text: str, matcher: Optional[_Matcher]) -> str:
    """Text blinded by ``matcher`` (None: not blinded), words and punctuation separated by single spaces."""
    return " ".join(_TOKEN.findall(blind_identity(text, matcher) if matcher is not None else text))


# ------------------------------------------------------------------------------------------ calibration
def _logit(p: float) -> float:
    p = min(max(float(p), _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Calibration:
    """Platt calibration: ``score = sigmoid(a * logit(p) + b)`` of fastText's probability ``p``."""

    a: float
    b: float

    def apply(self, raw: float) -> float:
        """The calibrated score of a raw fastText probability."""
        return _sigmoid(self.a * _logit(raw) + self.b)

    @classmethod
    def fit(cls, raw: Sequence[float], positive: Sequence[bool], iterations: int = 100) -> "Calibration":
        """Fit ``a, b`` by weighted logistic regression (Newton steps), both classes weighing the same.

        Targets are Platt's smoothed labels (``(n+1)/(n+2)`` and ``1/(m+2)``) so that a separable validation
        set does not push the slope to infinity.

        Raises:
            ValueError: one class only.
        """
        n_pos = sum(1 for p in positive if p)
        n_neg = len(positive) - n_pos
        if not n_pos or not n_neg:
            raise ValueError("calibration needs validation examples of both classes")
        t_pos, t_neg = (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0)
        w_pos, w_neg = len(positive) / (2.0 * n_pos), len(positive) / (2.0 * n_neg)
        zs = [_logit(r) for r in raw]
        data = [(z, w_pos if y else w_neg, t_pos if y else t_neg) for z, y in zip(zs, positive)]

        def loss(a: float, b: float) -> float:
            total = 0.0
            for z, w, t in data:
                u = a * z + b
                # -[t log p + (1-t) log(1-p)] with p = sigmoid(u), computed stably
                total += w * (max(u, 0.0) - u * t + math.log1p(math.exp(-abs(u))))
            return total

        a, b = 1.0, 0.0
        current = loss(a, b)
        for _ in range(iterations):
            g_a = g_b = h_aa = h_ab = h_bb = 0.0
            for z, w, t in data:
                p = _sigmoid(a * z + b)
                d, v = w * (p - t), w * p * (1.0 - p)
                g_a += d * z
                g_b += d
                h_aa += v * z * z
                h_ab += v * z
                h_bb += v
            h_aa += 1e-9
            h_bb += 1e-9
            det = h_aa * h_bb - h_ab * h_ab
            if det <= 0:
                break
            da = (h_bb * g_a - h_ab * g_b) / det
            db = (h_aa * g_b - h_ab * g_a) / det
            step = 1.0
            while step > 1e-6:  # backtracking: a Newton step may overshoot where probabilities saturate
                cand = loss(a - step * da, b - step * db)
                if cand <= current:
                    break
                step /= 2.0
            else:
                break
            a, b = a - step * da, b - step * db
            improved = current - cand
            current = cand
            if improved < 1e-12:
                break
        return cls(round(a, 8), round(b, 8))


def choose_threshold(scores: Sequence[float], positive: Sequence[bool], grid_step: float = 0.01) -> float:
    """The threshold (on a grid) with the best balanced accuracy ``(TPR + TNR) / 2``; ties: closest to 0.5.

    Balanced accuracy does not depend on the validation set's base rate (our labelled sets are mostly toxic;
    real corpora mostly not), so the flag is not tuned to a mix of classes that production will not see.

    Raises:
        ValueError: one class only.
    """
    n_pos = sum(1 for p in positive if p)
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        raise ValueError("choosing a threshold needs validation examples of both classes")
    best: Optional[tuple[float, float, float]] = None
    for k in range(1, int(round(1.0 / grid_step))):
        thr = round(k * grid_step, 6)
        tp = sum(1 for s, p in zip(scores, positive) if p and s >= thr)
        tn = sum(1 for s, p in zip(scores, positive) if not p and s < thr)
        key = (round((tp / n_pos + tn / n_neg) / 2.0, 12), -abs(thr - 0.5), thr)
        if best is None or key > best:
            best = key
    assert best is not None
    return best[2]


# ------------------------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class ToxicityCard:
    """What the ``toxicity`` block of a model card says (see :func:`read_toxicity_card`)."""

    label: str
    lowercase: bool
    max_chars: Optional[int]
    calibration: Calibration
    threshold: float
    blinding: bool
    raw: dict[str, Any]


def read_toxicity_card(model_path: Union[str, Path], card: Optional[dict[str, Any]] = None) -> ToxicityCard:
    """The usable parts of the card next to ``model_path`` (or of ``card``, already read).

    Raises:
        ToxicityModelError: no card, or a card without a valid ``toxicity`` block.
    """
    if card is None:
        card = read_card(model_path)
    where = Path(model_path).with_suffix(".json").name
    if card is None:
        raise ToxicityModelError(
            f"the toxicity model {Path(model_path).name} has no readable model card ({where} next to it); train "
            "it with scripts/build_toxicity_model.py, which writes the card with the calibration and threshold"
        )
    block = card.get(CARD_KEY)
    try:
        cal = block["calibration"]
        return ToxicityCard(
            label=str(card["model"]["label"]),
            lowercase=bool(card["preparation"]["lowercase"]),
            max_chars=card["preparation"].get("max_chars"),
            calibration=Calibration(float(cal["a"]), float(cal["b"])),
            threshold=float(block["threshold"]),
            blinding=bool(block.get("identity_blinding", True)),
            raw=card,
        )
    except (KeyError, TypeError, ValueError):
        raise ToxicityModelError(
            f"the model card {where} has no valid '{CARD_KEY}' block (calibration a/b, threshold); it is not a "
            "toxicity model built by scripts/build_toxicity_model.py"
        ) from None


class ToxicityModel:
    """A loaded toxicity model: preparation, calibrated scores, sentence and document scoring.

    Args:
        path: model file, or a bundled name such as :data:`DEFAULT_MODEL_PATH` (the default).
        lexicon: identity terms to blind (default: the bundled lexicon; the bias stage passes its own).
        threshold: the flag threshold (default: the card's).

    Raises:
        ToxicityModelError: missing model, missing or invalid card, a model without the card's label.
    """

    def __init__(self, path: Union[str, Path, None] = None, lexicon: Optional[Lexicon] = None,
                 threshold: Optional[float] = None) -> None:
        spec = str(path) if path is not None else DEFAULT_MODEL_PATH
        real = resolve_asset(spec)
        if not real.is_file():
            raise ToxicityModelError(
                f"bias.toxicity_model_path: no file at {real}; point it to a toxicity model built by "
                "scripts/build_toxicity_model.py (with its .json card next to it), remove the key to use the "
                "bundled model, or set bias.toxicity_model: false for lexicon-only indicators"
            )
        self.name = asset_spec(spec)
        self.path = str(real)
        card_bytes = _card_bytes(spec, real)
        card = _parse_card(card_bytes)
        self.card = read_toxicity_card(real, card)
        try:
            self.classifier = load_classifier(self.path, self.card.label)
        except ClassifierModelError as exc:
            raise ToxicityModelError(str(exc)) from None
        self.sha256 = file_sha256(real)
        described = (self.card.raw.get("model") or {}).get("sha256")
        if described and described != self.sha256:
            raise ToxicityModelError(
                f"the model card next to {Path(real).name} describes another model file (sha256 {described[:12]}, "
                f"file {self.sha256[:12]}); rebuild the model and its card together (scripts/build_toxicity_model.py)"
            )
        self.card_sha256 = hashlib.sha256(card_bytes).hexdigest() if card_bytes is not None else None
        self.threshold = float(self.card.threshold if threshold is None else threshold)
        self.lexicon = lexicon if lexicon is not None else load_lexicon()
        self._matcher = identity_matcher(self.lexicon) if self.card.blinding else None

    def prepare(self, text: str) -> str:
        """The exact line the model reads for ``text`` (blinded, tokenized, classifier preparation)."""
        return prepare_text(model_text(text, self._matcher), lowercase=self.card.lowercase,
                            max_chars=self.card.max_chars)

    def raw_scores(self, texts: Sequence[str]) -> list[Optional[float]]:
        """fastText's uncalibrated probability of the toxic label per text (None: nothing to score)."""
        prepared = [self.prepare(t) if t else "" for t in texts]
        idx = [i for i, p in enumerate(prepared) if p]
        out: list[Optional[float]] = [None] * len(prepared)
        for i, s in zip(idx, self.classifier.predict_prepared([prepared[i] for i in idx])):
            out[i] = s
        return out

    def score_texts(self, texts: Sequence[str]) -> list[Optional[float]]:
        """The calibrated score of each text taken as one unit (None: nothing to score)."""
        cal = self.card.calibration
        return [None if r is None else cal.apply(r) for r in self.raw_scores(texts)]

    def score_sentences(self, items: Sequence[tuple[str, Sequence[int]]]) -> list[list[Optional[float]]]:
        """Calibrated scores of the sentences of each ``(text, sentence ends)``, in one batch prediction."""
        units: list[str] = []
        counts: list[int] = []
        for text, ends in items:
            start = 0
            for end in ends:
                units.append(text[start:end])
                start = end
            counts.append(len(ends))
        flat = self.score_texts(units)
        out, pos = [], 0
        for n in counts:
            out.append(flat[pos:pos + n])
            pos += n
        return out

    def score_documents(self, texts: Sequence[Optional[str]]) -> list[Optional[float]]:
        """Each document's score: that of its most toxic sentence (None for an empty text)."""
        present = [(i, t) for i, t in enumerate(texts) if t]
        scored = self.score_sentences([(t, sentence_ends(t)) for _, t in present])
        out: list[Optional[float]] = [None] * len(texts)
        for (i, _), sentence_scores in zip(present, scored):
            known = [s for s in sentence_scores if s is not None]
            out[i] = max(known) if known else None
        return out

    def error_rates(self) -> dict[str, Any]:
        """The measured figures the card records (``toxicity.evaluation``), in full."""
        return dict(self.card.raw.get(CARD_KEY, {}).get("evaluation") or {})

    def summary(self) -> dict[str, Any]:
        """What run.json records about the model and the report shows: name, hashes, threshold and the
        card's measured error rates (:func:`card_error_rates`), never anything hard-coded."""
        return {
            "path": self.name,
            "sha256": self.sha256,
            "card_sha256": self.card_sha256,
            "threshold": self.threshold,
            "card_threshold": self.card.threshold,
            "identity_blinding": self.card.blinding,
            "error_rates": card_error_rates(self.card.raw),
        }


def _pick(m: Optional[dict[str, Any]], keys: Sequence[str]) -> Optional[dict[str, Any]]:
    return None if not m else {k: m.get(k) for k in keys}


def card_error_rates(card: dict[str, Any]) -> dict[str, Any]:
    """The compact error rates of a toxicity model card (the model's and the lexicon flag's, same split).

    Returns ``{}`` for a card without an evaluation.
    """
    block = card.get(CARD_KEY) or {}
    out: dict[str, Any] = {}
    for key, ev in (("model", block.get("evaluation")), ("lexicon_flag", block.get("lexicon_flag_evaluation"))):
        if not ev:
            continue
        held = ev.get("held_apart") or {}
        out[key] = {
            "held_apart": {src: _pick(m, ("documents", "positives", "precision", "recall", "f1",
                                          "false_positive_rate", "precision_at_equal_base_rates"))
                           for src, m in sorted(held.items())},
            "neutral_prose_false_positive_rate": (ev.get("neutral_prose") or {}).get("false_positive_rate"),
            "identity_templates": _pick(ev.get("identity_templates"),
                                        ("threshold", "terms", "statements", "mean", "median", "worst", "spread")),
            "identity_terms_outside_lexicon": _pick(ev.get("identity_terms_outside_lexicon"),
                                                    ("terms", "statements", "mean", "median", "worst", "spread")),
        }
    if out:
        split = block.get("split") or {}
        out["measured_on"] = (f"held-apart split (seed {split.get('seed')}, {split.get('test_share')} of the "
                              "labelled sets) at the card's threshold; see docs/bias.md")
    return out


def _card_bytes(spec: str, real: Path) -> Optional[bytes]:
    """The card's bytes: the bundled ``.json`` next to a bundled model (also inside a zip, where the model
    itself is extracted alone), else the file next to the model; None when there is none."""
    name = bundled_name(spec)
    try:
        if name is not None:
            res = bundled(str(Path(name).with_suffix(".json")))
            return res.read_bytes() if res.is_file() else None
        path = Path(real).with_suffix(".json")
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def _parse_card(data: Optional[bytes]) -> Optional[dict[str, Any]]:
    if data is None:
        return None
    try:
        card = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return card if isinstance(card, dict) else None


_CACHE: dict[tuple[str, str, Optional[float]], ToxicityModel] = {}
_LOCK = threading.Lock()


def load_toxicity_model(path: Union[str, Path, None] = None, lexicon: Optional[Lexicon] = None,
                        threshold: Optional[float] = None) -> ToxicityModel:
    """A :class:`ToxicityModel`, loaded once per process for a (path, lexicon, threshold)."""
    lex = lexicon if lexicon is not None else load_lexicon()
    key = (str(path or DEFAULT_MODEL_PATH), lex.sha256, threshold)
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = _CACHE[key] = ToxicityModel(path, lex, threshold)
            log.info("loaded toxicity model %s (threshold %.2f)", model.name, model.threshold)
    return model


# ------------------------------------------------------------------------------------------ identity templates
#: Evaluation templates by grammatical form of the identity term: ``{t}`` is the term, ``{a}`` its article
#: (``a``/``an``); a template that starts with ``{t}`` or ``{a}`` is capitalized. The training templates of
#: the build script are different sentences.
IDENTITY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "adjective": (
        "I am {a} {t} person.", "{t} people live here.", "My neighbor is {t}.", "I am {t}.", "We are {t}.",
        "{t} people are welcome here.", "The {t} family moved in next door.", "Being {t} is part of who I am.",
        "Our teacher is {t}.", "I grew up with {t} friends.", "There are {t} people in my town.",
        "My cousin is {t}.", "{t} people work at the hospital.", "I know many {t} people.",
        "{a} {t} person wrote this story.", "Most of my coworkers are {t}.", "{t} people vote in every election.",
        "The club welcomes {t} members.", "We had lunch with {a} {t} colleague.", "My best friend is {t}.",
        "{t} students study at this school.", "She is {a} {t} engineer.", "He is {a} {t} nurse.",
        "The {t} community held a picnic.",
    ),
    "noun": (
        "I am {a} {t}.", "{a} {t} lives here.", "My neighbor is {a} {t}.", "{a} {t} is welcome here.",
        "Our teacher is {a} {t}.", "I grew up next to {a} {t}.", "There is {a} {t} in my book club.",
        "My cousin is {a} {t}.", "{a} {t} works at the hospital.", "I know {a} {t} from school.",
        "{a} {t} wrote this story.", "One of my coworkers is {a} {t}.", "{a} {t} voted in the election.",
        "The club welcomed {a} {t} today.", "We had lunch with {a} {t}.", "My best friend is {a} {t}.",
        "Being {a} {t} is part of who I am.", "{a} {t} asked for directions.", "I talked to {a} {t} on the bus.",
        "{a} {t} moved in next door.", "She met {a} {t} at the library.", "{a} {t} studies at this school.",
        "He is {a} {t} and a nurse.", "{a} {t} planted a garden.",
    ),
    "group": (
        "{t} live here.", "{t} are welcome here.", "I know many {t}.", "{t} work at the hospital.",
        "{t} vote in every election.", "There are {t} in my town.", "I grew up with {t}.",
        "The club welcomes {t}.", "{t} wrote these stories.", "We had lunch with {t}.",
        "{t} study at this school.", "{t} planted a garden.", "My neighbors are {t}.", "We are {t}.",
        "Our teachers are {t}.", "Most of my coworkers are {t}.", "{t} moved in next door.",
        "{t} asked for directions.", "I talked to {t} on the bus.", "She met {t} at the library.",
        "{t} held a picnic.", "{t} came to the meeting.", "Many {t} visit this park.", "{t} built this house.",
    ),
    "concept": (
        "We talked about {t} today.", "The book is about {t}.", "She studies {t} at the university.",
        "{t} is discussed in this class.", "I read an article on {t}.", "The museum has an exhibit on {t}.",
        "He wrote a report about {t}.", "The lecture covered {t}.", "Our library has books on {t}.",
        "The documentary explains {t}.", "My friend told me about {t}.", "The course includes a unit on {t}.",
        "The podcast discussed {t}.", "The survey asked about {t}.", "She gave a talk on {t}.",
        "The magazine featured {t}.", "We learned about {t} at school.", "The exhibit on {t} opens today.",
        "There is a new study on {t}.", "The newsletter mentioned {t}.", "The seminar is about {t}.",
        "I have questions about {t}.", "The teacher explained {t}.", "The website has a page on {t}.",
    ),
}

#: Where the grammatical forms of the lexicon's identity terms are listed (terms not listed: adjective).
IDENTITY_FORMS = "assets/toxicity/identity_forms.tsv"


def identity_forms() -> dict[str, str]:
    """term -> ``noun``, ``group`` or ``concept`` from the bundled forms file (others are adjectives)."""
    out: dict[str, str] = {}
    for no, line in enumerate(bundled(IDENTITY_FORMS).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 2 or cols[1].strip() not in IDENTITY_TEMPLATES:
            raise ValueError(f"{IDENTITY_FORMS}:{no}: expected term<TAB>noun|group|concept")
        out[cols[0].strip().lower()] = cols[1].strip()
    return out


def _fill(template: str, term: str) -> str:
    article = "an" if term[:1].lower() in "aeio" else "a"
    text = template.format(t=term, a=article)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class IdentityStatement:
    """A neutral sentence that only names an identity group."""

    axis: str
    term: str
    form: str
    text: str


def identity_statements(terms: Iterable[tuple[str, str]], forms: Optional[dict[str, str]] = None,
                        templates: Optional[dict[str, Sequence[str]]] = None) -> list[IdentityStatement]:
    """Every template of each term's form filled with the term, for ``(axis, term)`` pairs.

    Args:
        terms: ``(axis, term)``, e.g. :attr:`pipelines.text.bias.Lexicon.identity_base`.
        forms: term -> form (default: :func:`identity_forms`; unlisted terms are adjectives).
        templates: form -> templates (default: :data:`IDENTITY_TEMPLATES`).
    """
    forms = identity_forms() if forms is None else forms
    templates = IDENTITY_TEMPLATES if templates is None else templates
    out = []
    for axis, term in terms:
        form = forms.get(term.lower(), "adjective")
        for tpl in templates[form]:
            out.append(IdentityStatement(axis, term, form, _fill(tpl, term)))
    return out


def identity_false_positives(model: ToxicityModel, statements: Sequence[IdentityStatement],
                             threshold: Optional[float] = None) -> dict[str, Any]:
    """False-positive rate per term on neutral identity statements, and the spread worst - median.

    Returns:
        ``{"threshold", "statements", "terms", "rate_by_term", "mean", "median", "worst", "worst_terms",
        "spread"}``; every statement is non-toxic, so a flagged one is a false positive.
    """
    thr = model.threshold if threshold is None else float(threshold)
    scores = model.score_documents([s.text for s in statements])
    flagged: dict[str, list[int]] = {}
    for s, score in zip(statements, scores):
        flagged.setdefault(s.term, []).append(int(score is not None and score >= thr))
    rates = {t: sum(v) / len(v) for t, v in flagged.items()}
    ordered = sorted(rates.values())
    n = len(ordered)
    median = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2.0 if n else 0.0
    worst = ordered[-1] if n else 0.0
    return {
        "threshold": thr,
        "statements": len(statements),
        "terms": n,
        "rate_by_term": {t: round(r, 6) for t, r in sorted(rates.items())},
        "mean": round(sum(ordered) / n, 6) if n else None,
        "median": round(median, 6),
        "worst": round(worst, 6),
        "worst_terms": sorted(t for t, r in rates.items() if r == worst and worst > 0),
        "spread": round(worst - median, 6),
    }


def sha256_text(lines: Iterable[str]) -> str:
    """sha256 of lines joined by newlines (to record template sets in a card without their text)."""
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8") + b"\n")
    return h.hexdigest()
