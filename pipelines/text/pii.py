"""PII detection and scrubbing for one batch of documents (pure Python; the Spark adapter calls this).

:class:`PiiScrubber` keeps Presidio's recognizers and anonymizer and removes the work vanilla Presidio
does for nothing:

1. pattern recognizers (e-mail, phone, card, IBAN, IP, SSN, URL, ...) run only on the regions of the
   text where a match can lie (:mod:`pipelines.text.pii_recognizers`), phone candidates are parsed once
   where the region cannot matter (:mod:`pipelines.text.pii_phone`), under a per-document deadline;
2. spaCy runs once per batch through ``nlp.pipe``, ``ner`` first and the parser only where its sentence
   boundaries can change the entities, on chunks of long documents (:mod:`pipelines.text.pii_ner`);
3. context enhancement, score thresholds, duplicate removal and allow-list follow Presidio's order;
4. Presidio's AnonymizerEngine replaces the spans (typed placeholder, mask or keyed HMAC pseudonym);
5. a residual pass counts e-mails, phones and cards still visible in the scrubbed text.

Outputs carry counts only; raw values are never returned, logged or put in exception messages.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence

import regex

from schemas.config.pii import NER_ENTITIES, PATTERN_ENTITIES, PiiSection

from .pii_ner import NER_SCORE, load_ner_pipeline, ner_spans
from .pii_offline import import_presidio
from .pii_recognizers import BudgetExceeded, Hit, PatternDetector, enhance_with_context
from .pii_residual import fallback_scrub, residual_counts

log = logging.getLogger(__name__)

REASON_ERROR = "pii:error"
REASON_TOO_MUCH = "pii:too_much_pii"
_PSEUDO_ALPHABET = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


class PiiConfigError(ValueError):
    """The PII scrubber cannot run with this configuration; the message says how to fix it."""


@dataclass
class ScrubResult:
    """What the stage keeps for one document (no raw PII anywhere).

    Attributes:
        text: the scrubbed text ("" when withheld after an error).
        counts: entity type -> number of spans replaced.
        residual: entity type -> e-mails/phones/cards still found by the residual patterns.
        density: share of the original characters inside PII spans.
        reason: None, ``pii:too_much_pii`` or ``pii:error``.
        error: a content-free error kind when ``reason`` is ``pii:error`` (``budget``, ``exception:<Type>``).
        spans: ``(entity, start, end)`` offsets of the detections in the original text, only when asked
            for (evaluation); offsets, never values.
    """

    text: str
    counts: dict[str, int] = field(default_factory=dict)
    residual: dict[str, int] = field(default_factory=dict)
    density: float = 0.0
    reason: Optional[str] = None
    error: Optional[str] = None
    spans: Optional[list[tuple[str, int, int]]] = None


def pseudonym_key(env_name: str) -> bytes:
    """The HMAC key from environment variable ``env_name``.

    Raises:
        PiiConfigError: the variable is unset or empty (pseudonyms must never be plain hashes).
    """
    value = os.environ.get(env_name, "")
    if not value:
        raise PiiConfigError(
            f"pii.operator is 'pseudonymize' but the environment variable {env_name} is not set. Set it to a "
            f"long random secret (e.g. `export {env_name}=$(openssl rand -hex 32)`) on the driver and on every "
            f"executor (spark.executorEnv.{env_name}), or choose pii.operator: replace"
        )
    return value.encode("utf-8")


def pseudonym(key: bytes, entity: str, value: str, length: int = 12) -> str:
    """``<ENTITY_xxxxxxxxxxxx>``: HMAC-SHA256 of entity and value under ``key``, letters only.

    Letters only (hex digits mapped to a-p), so that a pseudonym never looks like a number to the residual
    pass or to a later scrub.
    """
    digest = hmac.new(key, f"{entity}\x1f{value}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"<{entity}_{digest[:length].translate(_PSEUDO_ALPHABET)}>"


def _outermost(results: list) -> list:
    """Results not contained in another result (of any type): a URL inside an e-mail is not counted twice.

    For identical spans the higher score wins (then the entity name, for determinism).
    """
    order = sorted(results, key=lambda r: (r.start, -(r.end - r.start), -r.score, r.entity_type))
    kept: list = []
    reach = -1
    for r in order:
        if kept and r.end <= reach:
            continue  # inside (or equal to) an earlier, longer-or-better span
        kept.append(r)
        reach = max(reach, r.end)
    return kept


_PROPAGATED = ("PERSON", "LOCATION")


def propagate_names(text: str, hits: list[Hit]) -> list[Hit]:
    """Every other occurrence of a PERSON or LOCATION string NER found in ``text``, as hits of that type.

    NER labels a name in one context and misses it in another (a list of authors, a menu, a line without
    punctuation); the person is the same. An occurrence counts when it matches exactly (case-sensitive)
    between word boundaries; only strings of at least 3 characters with an upper-case letter propagate,
    so that a mislabelled lower-case word does not spread through the document.
    """
    names: dict[str, str] = {}
    for h in hits:
        if h.source == "ner" and h.entity in _PROPAGATED:
            value = text[h.start : h.end].strip()
            if len(value) >= 3 and any(ch.isupper() for ch in value):
                names.setdefault(value, h.entity)
    if not names:
        return []
    taken = {(h.start, h.end) for h in hits if h.source == "ner"}
    alternation = "|".join(regex.escape(v) for v in sorted(names, key=len, reverse=True))
    out = []
    for m in regex.finditer(rf"(?<!\w)(?:{alternation})(?!\w)", text):
        if (m.start(), m.end()) not in taken:
            out.append(Hit(names[m.group()], m.start(), m.end(), NER_SCORE, "ner"))
    return out


def _deadline_seconds(section: PiiSection, n_chars: int) -> float:
    return section.time_budget_s + section.time_budget_s_per_mb * (n_chars / 1_000_000)


class PiiScrubber:
    """Detects and scrubs PII in batches of documents, configured by a :class:`PiiSection`.

    Build one per Python worker (loading spaCy takes a second or two) and call :meth:`scrub_batch`.

    Args:
        section: the ``pii`` configuration.
        nlp: an already loaded spaCy pipeline to use for NER (tests, benchmarks); default: load
            ``section.spacy_model`` when NER is on.
        use_prefilters: False runs pattern recognizers over whole texts (benchmarks only).
        key: the HMAC key for ``operator: pseudonymize`` (the Spark stage reads it on the driver and passes
            it); default: read from the environment variable ``section.pseudonym_key_env``.
    """

    def __init__(self, section: PiiSection, nlp=None, use_prefilters: bool = True, key: Optional[bytes] = None):
        self.section = section
        self.entities = section.active_entities()
        # PyTorch stays out of this process unless the NER pipeline needs it (import_presidio).
        import_presidio(section.spacy_model if section.ner and any(e in NER_ENTITIES for e in self.entities) else None)
        from presidio_anonymizer import AnonymizerEngine  # deferred: Presidio is heavy, needed only to scrub

        self.pattern_entities = [e for e in self.entities if e in PATTERN_ENTITIES]
        # DATE_TIME is both: found by Presidio's DateRecognizer, and by NER only when NER is on.
        self.ner_entities = [e for e in self.entities if e in NER_ENTITIES] if section.ner else []
        self.key = None
        if section.operator == "pseudonymize":
            self.key = key if key else pseudonym_key(section.pseudonym_key_env)
        self.patterns = PatternDetector(
            self.pattern_entities, section.phone_regions, use_prefilters,
            phone_regions_from_language=section.phone_regions_from_language,
        )
        #: The score thresholds of finalize, as floors for the pattern searches (PatternDetector.detect).
        self._floors = {e: section.threshold_for(e) for e in self.pattern_entities}
        self.nlp = None
        if self.ner_entities:
            if nlp is None:
                try:
                    nlp = load_ner_pipeline(section.spacy_model, section.ner_sentences)
                except ValueError as exc:
                    raise PiiConfigError(str(exc)) from None
            self.nlp = nlp
        self._nrp_as_person = section.ner_nrp_as_person and "PERSON" in self.entities and "NRP" not in self.entities
        self._misread_dates_as = (
            "LOCATION"
            if section.ner_misread_dates and "LOCATION" in self.entities and "DATE_TIME" not in self.entities
            else None
        )
        self.allow = {t.strip().casefold() for t in section.allow_list if t.strip()}
        self.anonymizer = AnonymizerEngine()
        self._operators = self._build_operators()

    # --- detection ---------------------------------------------------------------------------------

    def _ner_wanted(self, lang: Optional[str]) -> bool:
        langs = self.section.ner_languages
        return self.nlp is not None and (langs is None or (lang is not None and lang in langs))

    def raw_hits_batch(
        self,
        texts: Sequence[str],
        langs: Optional[Sequence[Optional[str]]] = None,
        ner: bool = True,
        prune_below_threshold: bool = False,
    ) -> list[object]:
        """Every raw detection per text (pattern recognizers and NER, context-enhanced, *before* score
        thresholds, duplicate removal and allow-list), or the exception that made detection fail.

        ``ner=False`` runs the pattern recognizers only (fields other than the text, diagnostics).
        ``prune_below_threshold=True`` (what :meth:`detect_batch` uses) skips the pattern searches whose
        hits could never reach their entity's score threshold (``PatternDetector.detect``'s ``floors``):
        some hits that :meth:`finalize` would drop are then missing, and the final detections are the same.
        The default returns them all, for diagnostics (the parity harness's "score threshold").
        """
        langs = list(langs) if langs is not None else [None] * len(texts)
        floors = self._floors if prune_below_threshold else None
        raw: list[object] = []
        for text, lang in zip(texts, langs):
            deadline = time.monotonic() + _deadline_seconds(self.section, len(text))
            try:
                raw.append(self.patterns.detect(text, deadline, lang, floors=floors))
            except BudgetExceeded as exc:
                raw.append(exc)
            except Exception as exc:  # one document's failure never kills the batch
                raw.append(exc)
        ner_idx = [
            i for i, t in enumerate(texts) if ner and isinstance(raw[i], list) and self._ner_wanted(langs[i]) and t
        ]
        if ner_idx:
            try:
                spans = ner_spans(
                    self.nlp,
                    [texts[i] for i in ner_idx],
                    self.ner_entities,
                    self.section.chunk_chars,
                    self.section.batch_size,
                    nrp_as_person=self._nrp_as_person,
                    misread_dates_as=self._misread_dates_as,
                )
                for i, found in zip(ner_idx, spans):
                    raw[i].extend(Hit(ent, s, e, NER_SCORE, "ner") for ent, s, e in found)
            except Exception:
                # A batch-level model failure: retry document by document so that only the culprit fails.
                for i in ner_idx:
                    try:
                        found = ner_spans(
                            self.nlp, [texts[i]], self.ner_entities, self.section.chunk_chars, 1,
                            nrp_as_person=self._nrp_as_person, misread_dates_as=self._misread_dates_as,
                        )[0]
                        raw[i].extend(Hit(ent, s, e, NER_SCORE, "ner") for ent, s, e in found)
                    except Exception as exc:
                        raw[i] = exc
        if self.section.ner_propagate:
            for i in ner_idx:
                if isinstance(raw[i], list):
                    raw[i].extend(propagate_names(texts[i], raw[i]))
        for i, (text, hits) in enumerate(zip(texts, raw)):
            if isinstance(hits, list):
                try:
                    enhance_with_context(text, hits, self.patterns.context_words)
                except Exception as exc:  # pragma: no cover - defensive
                    raw[i] = exc
        return raw

    def finalize(self, text: str, hits: list[Hit]) -> list:
        """Presidio's order after detection: per-entity score thresholds, duplicate removal, allow-list.

        Returns ``RecognizerResult`` objects sorted by position.
        """
        from presidio_analyzer import EntityRecognizer, RecognizerResult  # deferred: Presidio is heavy

        results = [
            RecognizerResult(h.entity, h.start, h.end, h.score)
            for h in hits
            if h.score >= self.section.threshold_for(h.entity)
        ]
        results = EntityRecognizer.remove_duplicates(results)
        # NUMBER_SEQUENCE is the fallback for numbers no validating recognizer claims: where another entity
        # covers the same characters, that entity names the span.
        others = [r for r in results if r.entity_type != "NUMBER_SEQUENCE"]
        if len(others) != len(results):
            results = others + [
                r for r in results
                if r.entity_type == "NUMBER_SEQUENCE" and not any(o.start < r.end and r.start < o.end for o in others)
            ]
        if self.allow:
            results = [r for r in results if text[r.start : r.end].strip().casefold() not in self.allow]
        results.sort(key=lambda r: (r.start, r.end, r.entity_type))
        return results

    def detect_batch(
        self,
        texts: Sequence[str],
        langs: Optional[Sequence[Optional[str]]] = None,
        ner: bool = True,
    ) -> list[object]:
        """Final detections per text: a list of ``RecognizerResult`` (thresholded, deduplicated,
        allow-listed), or the exception that made detection fail on that text."""
        out: list[object] = []
        for text, hits in zip(texts, self.raw_hits_batch(texts, langs, ner=ner, prune_below_threshold=True)):
            if not isinstance(hits, list):
                out.append(hits)
                continue
            try:
                out.append(self.finalize(text, hits))
            except Exception as exc:
                out.append(exc)
        return out

    # --- scrubbing ---------------------------------------------------------------------------------

    def _build_operators(self) -> dict:
        from presidio_anonymizer.entities import OperatorConfig  # deferred: Presidio is heavy

        ops = {}
        for ent in self.entities:
            if self.section.operator == "replace":
                ops[ent] = OperatorConfig("replace", {"new_value": f"<{ent}>"})
            elif self.section.operator == "mask":
                ops[ent] = OperatorConfig(
                    "mask", {"masking_char": self.section.mask_char, "chars_to_mask": 1 << 30, "from_end": False}
                )
            else:
                key = self.key
                ops[ent] = OperatorConfig("custom", {"lambda": (lambda v, _e=ent: pseudonym(key, _e, v))})
        return ops

    def _scrub_one(self, text: str, results: list) -> ScrubResult:
        if not results:
            return ScrubResult(text=text, residual=residual_counts(text))
        engine_result = self.anonymizer.anonymize(text=text, analyzer_results=results, operators=self._operators)
        # Counted from the detections, not from the anonymizer's items: the anonymizer merges neighbours of
        # one type separated by whitespace (two e-mails in a row become one replacement).
        counts = Counter(r.entity_type for r in _outermost(results))
        covered = 0
        last = -1
        for r in sorted(results, key=lambda r: (r.start, r.end)):
            s = max(r.start, last)
            if r.end > s:
                covered += r.end - s
                last = r.end
        density = covered / len(text) if text else 0.0
        reason = None
        mx = self.section.max_density
        if mx is not None and len(text) >= self.section.density_min_chars and density > mx:
            reason = REASON_TOO_MUCH
        scrubbed = engine_result.text
        return ScrubResult(
            text=scrubbed,
            counts=dict(sorted(counts.items())),
            residual=residual_counts(scrubbed),
            density=round(density, 6),
            reason=reason,
        )

    def error_result(self, text: str, exc: BaseException) -> ScrubResult:
        """The result of a document whose scrubbing raised ``exc``: ``pii:error`` and, by ``on_error``,
        the text withheld ("") or scrubbed by the fallback patterns. Never the original text."""
        kind = "budget" if isinstance(exc, BudgetExceeded) else f"exception:{type(exc).__name__}"
        if self.section.on_error == "fallback":
            scrubbed, counts = fallback_scrub(text)
            return ScrubResult(
                text=scrubbed, counts=counts, residual=residual_counts(scrubbed), reason=REASON_ERROR, error=kind
            )
        return ScrubResult(text="", reason=REASON_ERROR, error=kind)

    def scrub_batch(
        self,
        texts: Sequence[Optional[str]],
        langs: Optional[Sequence[Optional[str]]] = None,
        return_spans: bool = False,
        ner: bool = True,
    ) -> list[ScrubResult]:
        """Scrub every text of a batch. Never raises for one document's failure (``pii:error`` instead).

        Args:
            texts: the documents (None is treated as an empty text).
            langs: the documents' language codes (used for ``ner_languages`` and phone regions), or None.
            return_spans: also return detection offsets (evaluation only).
            ner: False scrubs with the pattern recognizers only (URLs, metadata values).
        """
        clean = [t if isinstance(t, str) else "" for t in texts]
        detections = self.detect_batch(clean, langs, ner=ner)
        out: list[ScrubResult] = []
        errors: Counter = Counter()
        for text, det in zip(clean, detections):
            if isinstance(det, BaseException):
                res = self.error_result(text, det)
            else:
                try:
                    res = self._scrub_one(text, det)
                    if return_spans:
                        res.spans = [(r.entity_type, r.start, r.end) for r in det]
                except Exception as exc:
                    res = self.error_result(text, exc)
            if res.error:
                errors[res.error] += 1
            out.append(res)
        if errors:
            # Counts by kind only: never a document's content.
            log.warning("pii: %d document(s) marked %s in a batch of %d (%s)", sum(errors.values()),
                        REASON_ERROR, len(clean), dict(errors))
        return out

    def scrub(self, text: str, lang: Optional[str] = None) -> ScrubResult:
        """Scrub one text (convenience for tests; the stage uses :meth:`scrub_batch`)."""
        return self.scrub_batch([text], [lang])[0]
