"""fastText document classifiers: text preparation, batch scoring and training (no Spark here).

The ``classify`` stage scores documents with supervised fastText models (the project's own, DCLM's released
quality classifier, any ``.bin``/``.ftz``); ``corpusforge classifier train`` trains them. Both sides prepare
text with :func:`prepare_text`, so a model scores text exactly the way it was trained on:

* an optional length cap (the first ``max_chars`` characters of the document),
* optional lower-casing,
* line breaks (every break ``str.splitlines`` knows) joined with single spaces after stripping the text:
  fastText reads one line per example, so a document must be one line. This is what DCLM's and datatrove's
  fastText filters do (``" ".join(text.strip().splitlines())``).

Scoring goes through fastText's own batch prediction, the C++ ``multilinePredict`` that
``FastText.predict(list)`` calls. fastText 0.9.x's Python wrapper turns results into numpy arrays with
``copy=False``, which numpy 2 refuses ("Unable to avoid copy while creating an array"); like the language
stage (:mod:`pipelines.text.lid`), we call the binding directly, with the same inputs the wrapper would pass
(each line terminated by ``\\n``, which fastText reads as the end-of-sentence token it was trained with).
The score of a document is the probability fastText gives ``label`` (all labels are requested, so it is
the model's probability for that label whatever its rank), unclipped: fastText can return values a hair
above 1.0 (``1.00001``) for saturated predictions.

Training (:func:`train_classifier`) is deterministic: the split and the balancing are seeded, the training
file's order is seeded, and fastText trains with ``thread=1`` (with several threads, the order in which
Hogwild updates interleave changes the model from run to run). fastText 0.9.3 allocates its input matrix
without initializing it and, with ``thread=1``, randomizes only its first tenth (earlier versions zeroed the
rest): the other rows are whatever the allocator hands out, fresh zero pages in a new process but reused heap
memory in a long-lived one, which made training fail with "Encountered NaN" or give another model. Training
therefore runs with glibc's ``M_PERTURB`` set so that new allocations are zero-filled
(:func:`_zeroed_allocations`), which restores 0.9.2's behaviour: the same model in any process.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import math
import os
import random
import sys
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

from storage.files import file_sha256

log = logging.getLogger(__name__)

LABEL_PREFIX = "__label__"
#: The label given to negative examples when training (DCLM's classifier calls it ``__label__cc``).
DEFAULT_NEGATIVE_LABEL = "__label__other"
CARD_FORMAT = "corpusforge-classifier-card"
CARD_VERSION = 1
#: The decision threshold the validation precision, recall and F1 of a model card are computed at.
CARD_THRESHOLD = 0.5

_M_PERTURB = -6  # glibc's mallopt parameter number (malloc.h)

_MODELS: dict[tuple[str, str], "FastTextClassifier"] = {}
_LOCK = threading.Lock()
_PERTURB_LOCK = threading.Lock()


class ClassifierModelError(RuntimeError):
    """A classifier model file cannot be used (missing, unreadable, lacks the label); says how to fix it."""


class ClassifierTrainingError(ValueError):
    """Training data or parameters that cannot make a classifier (empty, one class); says how to fix it."""


# ----------------------------------------------------------------------------------------- preparation
def normalize_label(label: str) -> str:
    """``hq`` or ``__label__hq`` -> ``__label__hq`` (fastText's label form).

    Raises:
        ValueError: an empty label or one with whitespace (fastText splits on it).
    """
    text = str(label).strip()
    if not text or any(ch.isspace() for ch in text):
        raise ValueError("a label is one word without spaces, such as 'hq' or '__label__hq'")
    if not text.startswith(LABEL_PREFIX):
        text = LABEL_PREFIX + text
    if text == LABEL_PREFIX:
        raise ValueError("a label needs a name after '__label__', such as '__label__hq'")
    return text


def prepare_text(text: str, *, lowercase: bool = False, max_chars: Optional[int] = None) -> str:
    """One document as a fastText model reads it: capped, optionally lower-cased, on one line.

    Args:
        text: the document.
        lowercase: lower-case the text (only for models trained on lower-cased text).
        max_chars: keep only the first ``max_chars`` characters (None: the whole text).

    Returns:
        The text with leading and trailing whitespace removed and its lines joined by single spaces.
    """
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars]
    if lowercase:
        text = text.lower()
    return " ".join(text.strip().splitlines())


def prepare_texts(texts: Iterable[str], *, lowercase: bool = False, max_chars: Optional[int] = None) -> list[str]:
    """:func:`prepare_text` over many texts."""
    return [prepare_text(t, lowercase=lowercase, max_chars=max_chars) for t in texts]


def prepare_lines(texts: Iterable[str], *, lowercase: bool = False, max_chars: Optional[int] = None) -> list[str]:
    """:func:`prepare_text` over many texts, each terminated by ``\n`` as fastText reads a line (what
    :meth:`FastTextClassifier.predict_lines` takes). The same result as ``prepare_text(t) + "\n"``, with the
    common case (no cap, no lower-casing) inlined because the stage runs it for every document."""
    if not lowercase and max_chars is None:
        return [" ".join(t.strip().splitlines()) + "\n" for t in texts]
    return [prepare_text(t, lowercase=lowercase, max_chars=max_chars) + "\n" for t in texts]


# ------------------------------------------------------------------------------------------- scoring
def _fasttext():
    try:
        import fasttext  # deferred: a compiled library, loaded only where a classifier is used
    except ImportError:  # pragma: no cover - dependency of the project
        raise ClassifierModelError("the 'fasttext' package is required for fastText classifiers") from None
    return fasttext


class FastTextClassifier:
    """A loaded supervised fastText model and the label whose probability is the score.

    Use :func:`load_classifier` rather than the constructor, so that a process loads a file once.

    Raises:
        ClassifierModelError: the file is missing or not a fastText model, or its labels lack ``label``.
    """

    def __init__(self, path: Union[str, Path], label: str) -> None:
        path = str(path)
        if not os.path.isfile(path):
            raise ClassifierModelError(
                f"no classifier model file at {path}; point the path to a supervised fastText model (.bin or "
                ".ftz) that exists on the driver and every executor"
            )
        fasttext = _fasttext()
        try:
            model = fasttext.load_model(path)
        except Exception as exc:
            raise ClassifierModelError(
                f"cannot load {path} as a fastText model ({type(exc).__name__}); check that it is a supervised "
                "fastText model (.bin or .ftz) and not truncated"
            ) from None
        labels = tuple(model.get_labels())
        try:
            label = normalize_label(label)
        except ValueError as exc:
            raise ClassifierModelError(str(exc)) from None
        if label not in labels:
            shown = ", ".join(labels[:10]) + (f" (and {len(labels) - 10} more)" if len(labels) > 10 else "")
            raise ClassifierModelError(
                f"the model {Path(path).name} has no label {label}; its labels are: {shown or 'none'}. Set the "
                "model's label to one of them"
            )
        self.path = path
        self.label = label
        self.labels = labels
        self.model = model
        self._f = model.f  # the C++ binding; see the module docstring for why not model.predict

    def predict_prepared(self, texts: Sequence[str]) -> list[float]:
        """The probability of :attr:`label` for each prepared text (no newline inside; see :func:`prepare_text`).

        One call to fastText's batch prediction for the whole list.

        Raises:
            ValueError: a text contains a newline (prepare it first).
        """
        if any("\n" in t for t in texts):
            raise ValueError("predict_prepared takes prepared texts (one line each); use prepare_text first")
        return self.predict_lines([t + "\n" for t in texts])

    def predict_lines(self, lines: list[str]) -> list[float]:
        """:meth:`predict_prepared` for prepared texts already terminated by ``\n`` (the stage's fast path;
        a newline inside a text would make fastText score its parts as separate lines, so never pass one)."""
        if not lines:
            return []
        all_labels, all_probs = self._f.multilinePredict(lines, -1, 0.0, "strict")
        label = self.label
        try:
            # k=-1 with threshold 0 returns every label, so the label is always there
            return [probs[labels.index(label)] for labels, probs in zip(all_labels, all_probs)]
        except ValueError:  # a label with no probability mass at all: not returned
            return [probs[labels.index(label)] if label in labels else 0.0
                    for labels, probs in zip(all_labels, all_probs)]

    def predict(self, texts: Sequence[str], *, lowercase: bool = False, max_chars: Optional[int] = None) -> list[float]:
        """Prepare ``texts`` (:func:`prepare_text`) and score them (:meth:`predict_prepared`)."""
        return self.predict_prepared(prepare_texts(texts, lowercase=lowercase, max_chars=max_chars))


def load_classifier(path: Union[str, Path], label: str) -> FastTextClassifier:
    """The classifier at ``path`` scoring ``label``, loaded once per process (per path and label)."""
    key = (str(path), str(label))
    clf = _MODELS.get(key)
    if clf is None:
        with _LOCK:
            clf = _MODELS.get(key)
            if clf is None:
                clf = FastTextClassifier(path, label)
                _MODELS[key] = clf
                log.info("loaded fastText classifier %s (%d labels, scoring %s)", path, len(clf.labels), clf.label)
    return clf


# --------------------------------------------------------------------------------- keep-top-fraction cut
def top_fraction_count(n: int, fraction: float) -> int:
    """How many of ``n`` documents ``keep_top_fraction`` keeps: ``ceil(fraction * n)``, at most ``n``.

    Computed on the decimal value of ``fraction`` (rounded to 12 digits) so that, e.g., 0.3 of 10 documents is
    3, not 4 from the binary ``0.30000000000000004``.
    """
    if n <= 0:
        return 0
    return min(n, math.ceil(round(float(fraction) * n, 12)))


def top_fraction_cut(scores: Sequence[Optional[float]], doc_ids: Sequence[str],
                     fraction: float) -> Optional[tuple[float, str]]:
    """The last kept ``(score, doc_id)`` when keeping the best ``fraction`` of the scored documents.

    Documents are ranked by score (highest first), ties by ``doc_id`` (smallest first); null scores are not
    ranked. A document is kept when ``(score > cut_score) or (score == cut_score and doc_id <= cut_id)``.
    This is the reference the Spark stage and the what-if are tested against.

    Returns:
        The cut, or None when no document is kept (no scored document).
    """
    ranked = sorted(((-float(s), d) for s, d in zip(scores, doc_ids) if s is not None))
    k = top_fraction_count(len(ranked), fraction)
    if k == 0:
        return None
    neg, doc_id = ranked[k - 1]
    return -neg, doc_id


def passes_cut(score: Optional[float], doc_id: str, cut: Optional[tuple[float, str]]) -> bool:
    """Whether a scored document is kept by a :func:`top_fraction_cut` (a null score always passes)."""
    if score is None:
        return True
    if cut is None:
        return False
    return score > cut[0] or (score == cut[0] and doc_id <= cut[1])


# ------------------------------------------------------------------------------------------- metrics
def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> Optional[float]:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half); None with one class."""
    pairs = sorted(zip(scores, positive))
    n_pos = sum(1 for _, p in pairs if p)
    n_neg = len(pairs) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        mid_rank = (i + j) / 2.0 + 1.0  # 1-based average rank of the tied block
        rank_sum += mid_rank * sum(1 for k in range(i, j + 1) if pairs[k][1])
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def binary_metrics(scores: Sequence[float], positive: Sequence[bool], threshold: float = CARD_THRESHOLD) -> dict:
    """Precision, recall, F1 and accuracy of ``score >= threshold``, and ROC AUC, over labelled scores."""
    tp = sum(1 for s, p in zip(scores, positive) if p and s >= threshold)
    fp = sum(1 for s, p in zip(scores, positive) if not p and s >= threshold)
    fn = sum(1 for s, p in zip(scores, positive) if p and s < threshold)
    tn = len(scores) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (2 * precision * recall / (precision + recall)) if precision and recall else (0.0 if tp + fp + fn else None)
    auc = roc_auc(scores, positive)
    return {
        "threshold": threshold,
        "documents": len(scores),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "true_negatives": tn,
        "precision": _round(precision),
        "recall": _round(recall),
        "f1": _round(f1),
        "accuracy": _round((tp + tn) / len(scores)) if scores else None,
        "roc_auc": _round(auc),
    }


def _round(x: Optional[float]) -> Optional[float]:
    return None if x is None else round(float(x), 6)


# ------------------------------------------------------------------------------------------- training
@contextlib.contextmanager
def _zeroed_allocations():
    """Zero-fill memory malloc hands out while the block runs (glibc ``mallopt(M_PERTURB, 0xFF)``).

    See the module docstring for why training needs it. Off glibc (macOS, musl) this does nothing; those
    allocators hand out fresh zero pages for large blocks, which is what fastText's matrices are.
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        yield
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # M_PERTURB fills new allocations with the complement of the value's low byte: 0xFF -> zero bytes.
    with _PERTURB_LOCK:
        enabled = bool(mallopt(_M_PERTURB, 0xFF))
        try:
            yield
        finally:
            if enabled:
                mallopt(_M_PERTURB, 0)


def _versions() -> dict[str, Optional[str]]:
    out: dict[str, Optional[str]] = {}
    for lib in ("fasttext", "corpusforge"):
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    out["python"] = ".".join(str(x) for x in sys.version_info[:3])
    return out


def card_path(model_path: Union[str, Path]) -> Path:
    """Where the model card of ``model_path`` lies: the same name with ``.json`` (``model.bin`` -> ``model.json``)."""
    return Path(model_path).with_suffix(".json")


def _split(n: int, fraction: float, rng: random.Random) -> tuple[list[int], list[int]]:
    """(training, validation) indices of ``n`` examples of one class, shuffled by ``rng``."""
    order = list(range(n))
    rng.shuffle(order)
    n_val = int(round(fraction * n)) if fraction > 0 else 0
    if fraction > 0 and n >= 2:
        n_val = max(1, n_val)
    n_val = min(n_val, n - 1)  # always keep one example of the class for training
    return sorted(order[n_val:]), sorted(order[:n_val])


def train_classifier(
    positive_texts: Iterable[str],
    negative_texts: Iterable[str],
    *,
    output: Union[str, Path],
    label: str = "__label__hq",
    negative_label: str = DEFAULT_NEGATIVE_LABEL,
    validation_fraction: float = 0.1,
    epoch: int = 5,
    word_ngrams: int = 2,
    dim: int = 64,
    min_count: int = 1,
    lr: float = 0.1,
    seed: int = 0,
    balance: bool = False,
    lowercase: bool = False,
    max_chars: Optional[int] = None,
    bucket: int = 2_000_000,
    quantize: Optional[bool] = None,
    cutoff: int = 0,
    inputs: Optional[dict[str, list[dict[str, Any]]]] = None,
) -> dict[str, Any]:
    """Train a binary fastText classifier (``label`` vs ``negative_label``), write it and its card.

    Deterministic: the same texts and parameters give the same model file. The validation split is stratified
    and seeded, ``balance`` down-samples the larger class (seeded) to the size of the smaller one before the
    split, the training lines are shuffled with the seed, and fastText trains with ``thread=1``.

    Args:
        positive_texts: documents of the class to score (e.g. reference or kept text).
        negative_texts: the other documents (e.g. raw crawl).
        output: the model file to write (``.bin``; ``.ftz`` writes a quantized model). The card goes next to
            it (:func:`card_path`).
        label: the positive label (``hq`` or ``__label__hq``): its probability is the score.
        negative_label: the label of the negative examples.
        validation_fraction: share of each class held apart for the card's metrics (0: no validation).
        epoch, word_ngrams, dim, min_count, lr, bucket: fastText's training parameters (``wordNgrams``,
            ``minCount``, ...).
        seed: seeds the split, the balancing, the line order and fastText.
        balance: down-sample the larger class to the size of the smaller one.
        lowercase, max_chars: text preparation (:func:`prepare_text`); recorded in the card, to be used by the
            stage with the same values.
        quantize: write a quantized model (default: when ``output`` ends in ``.ftz``).
        cutoff: with quantization, keep only the ``cutoff`` most important words and n-grams (0: all).
        inputs: ``{"positive": [{"path", "bytes", "sha256"}...], "negative": [...]}`` to record in the card.

    Returns:
        The model card (also written as JSON next to the model).

    Raises:
        ClassifierTrainingError: empty or one-class data, or invalid parameters.
    """
    output = Path(output)
    try:
        label = normalize_label(label)
        negative_label = normalize_label(negative_label)
    except ValueError as exc:
        raise ClassifierTrainingError(str(exc)) from None
    if label == negative_label:
        raise ClassifierTrainingError(f"the positive and negative labels are both {label}; give them different names")
    if not 0.0 <= validation_fraction < 1.0:
        raise ClassifierTrainingError("validation_fraction must be at least 0 and below 1 (e.g. 0.1)")
    for name, value, low in (("epoch", epoch, 1), ("word_ngrams", word_ngrams, 1), ("dim", dim, 1),
                             ("min_count", min_count, 1), ("bucket", bucket, 0), ("cutoff", cutoff, 0)):
        if int(value) != value or value < low:
            raise ClassifierTrainingError(f"{name} must be an integer >= {low}")
    if not lr > 0:
        raise ClassifierTrainingError("lr must be positive (e.g. 0.1)")
    if max_chars is not None and max_chars < 1:
        raise ClassifierTrainingError("max_chars must be positive (or unset for whole documents)")
    quantized = output.suffix.lower() == ".ftz" if quantize is None else bool(quantize)

    prep = {"lowercase": bool(lowercase), "max_chars": max_chars}
    samples: dict[str, Any] = {}
    classes: dict[str, list[str]] = {}
    for role, texts in (("positive", positive_texts), ("negative", negative_texts)):
        read = empty = 0
        kept: list[str] = []
        for t in texts:
            read += 1
            p = prepare_text(t, **prep) if isinstance(t, str) else ""
            if p:
                kept.append(p)
            else:
                empty += 1
        samples[role] = {"read": read, "empty": empty}
        classes[role] = kept
    for role in ("positive", "negative"):
        if not classes[role]:
            other = "negative" if role == "positive" else "positive"
            what = "no documents" if samples[role]["read"] == 0 else "only empty documents"
            raise ClassifierTrainingError(
                f"the {role} training data has {what}: a classifier needs examples of both classes. Give "
                f"--{role} a PATH with non-empty texts (the {other} side has {len(classes[other])} documents)"
            )
    rng = random.Random(seed)
    if balance:
        n = min(len(classes["positive"]), len(classes["negative"]))
        for role in ("positive", "negative"):
            if len(classes[role]) > n:
                idx = sorted(rng.sample(range(len(classes[role])), n))
                classes[role] = [classes[role][i] for i in idx]
    train_lines: list[str] = []
    val_texts: list[str] = []
    val_pos: list[bool] = []
    for role, lab in (("positive", label), ("negative", negative_label)):
        texts = classes[role]
        tr, va = _split(len(texts), validation_fraction, rng)
        samples[role].update({"used": len(texts), "train": len(tr), "validation": len(va)})
        train_lines.extend(f"{lab} {texts[i]}\n" for i in tr)
        val_texts.extend(texts[i] for i in va)
        val_pos.extend([role == "positive"] * len(va))
    rng.shuffle(train_lines)

    params = {
        "epoch": int(epoch), "word_ngrams": int(word_ngrams), "dim": int(dim), "min_count": int(min_count),
        "lr": float(lr), "bucket": int(bucket), "seed": int(seed), "thread": 1, "loss": "softmax",
        "balance": bool(balance), "validation_fraction": float(validation_fraction),
        "quantized": quantized, "cutoff": int(cutoff) if quantized else None,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    fasttext = _fasttext()
    with tempfile.TemporaryDirectory(prefix="corpusforge-train-") as tmp:
        train_file = Path(tmp) / "train.txt"
        with open(train_file, "w", encoding="utf-8") as fh:
            fh.writelines(train_lines)
        try:
            with _zeroed_allocations():
                model = fasttext.train_supervised(
                    input=str(train_file), epoch=int(epoch), wordNgrams=int(word_ngrams), dim=int(dim),
                    minCount=int(min_count), lr=float(lr), bucket=int(bucket), seed=int(seed), thread=1,
                    verbose=0, loss="softmax",
                )
        except RuntimeError as exc:  # fastText reports divergence and empty vocabularies this way
            if "nan" in str(exc).lower():
                raise ClassifierTrainingError(
                    "fastText training diverged (NaN); try a lower --lr (e.g. 0.05), a larger --bucket, or more "
                    "training documents"
                ) from None
            raise ClassifierTrainingError(
                f"fastText could not train on this data ({exc}); check that the texts have words and that "
                "--min-count is not larger than their counts"
            ) from None
        if quantized:
            with _zeroed_allocations():
                model.quantize(input=str(train_file), qnorm=True, retrain=False, cutoff=int(cutoff), thread=1)
        tmp_model = Path(tmp) / ("model" + (output.suffix or ".bin"))
        model.save_model(str(tmp_model))
        os.replace(tmp_model, output) if _same_fs(tmp_model, output) else _copy_replace(tmp_model, output)

    clf = FastTextClassifier(output, label)
    validation = None
    if val_texts:
        scores = clf.predict_prepared(val_texts)
        validation = binary_metrics(scores, val_pos)
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "format_version": CARD_VERSION,
        "model": {
            "file": output.name,
            "sha256": file_sha256(output),
            "bytes": output.stat().st_size,
            "label": label,
            "negative_label": negative_label,
            "labels": list(clf.labels),
        },
        "preparation": {**prep, "newlines": "joined with spaces (see pipelines.text.classifier.prepare_text)"},
        "inputs": inputs or {},
        "samples": samples,
        "parameters": params,
        "validation": validation,
        "versions": _versions(),
    }
    path = card_path(output)
    tmp_card = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp_card.write_text(json.dumps(card, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp_card, path)
    return card


def _same_fs(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b.parent).st_dev
    except OSError:
        return False


def _copy_replace(src: Path, dest: Path) -> None:
    """Copy ``src`` next to ``dest`` and rename it into place (atomic for readers of ``dest``)."""
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    with open(src, "rb") as fi, open(tmp, "wb") as fo:
        for chunk in iter(lambda: fi.read(1 << 20), b""):
            fo.write(chunk)
    os.replace(tmp, dest)


def read_card(model_path: Union[str, Path]) -> Optional[dict[str, Any]]:
    """The model card next to ``model_path`` (None when there is none or it is not readable JSON)."""
    path = card_path(model_path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
