"""Configuration section ``classify``: learned fastText classifiers over documents (DCLM-style filtering).

Each model scores documents with the probability of one label and keeps those at or above ``min_score``,
or the best ``keep_top_fraction`` of the run's scored documents (exactly one of the two)::

    classify:
      enabled: true
      mode: drop
      models:
        - name: dclm
          path: /models/openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin
          label: __label__hq
          keep_top_fraction: 0.1
          languages: [en]

Columns: ``classify_<name>`` (the score; null where the model did not apply) and reasons
``classify:<name>`` (the first model, in list order, that rejects the document). See docs/classify.md.
"""
from __future__ import annotations

import re
from typing import Optional

from pydantic import Field, field_validator, model_validator

from .base import FilterSection, Section
from .language import _normalize_code

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LABEL_PREFIX = "__label__"


class ClassifierModelSpec(Section):
    """One fastText classifier: the model file, the label it scores and the keep rule."""

    name: str = Field(
        ...,
        description="Short name (lower-case letters, digits, _): the column is classify_<name>, the reason "
        "classify:<name>.",
    )
    path: str = Field(
        ...,
        description="Supervised fastText model (.bin or .ftz). A path under pipelines/ names a bundled model "
        "(pipelines/assets/classify/...); any other path must exist on the driver and every executor.",
    )
    label: str = Field(
        ..., description="The label whose probability is the score (hq or __label__hq; the prefix is added)."
    )
    min_score: Optional[float] = Field(
        None, ge=0.0, le=1.0, description="Keep documents whose score is >= this (exclusive with keep_top_fraction)."
    )
    keep_top_fraction: Optional[float] = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Keep the best fraction of the documents this model scores in the run: ceil(fraction * n) "
        "documents, ranked by score then doc_id (exclusive with min_score).",
    )
    languages: Optional[list[str]] = Field(
        None,
        description="Apply only to documents whose lang is one of these (normalized codes); others pass with "
        "a null score. null: every document. Needs the language stage.",
    )
    lowercase: bool = Field(False, description="Lower-case texts before scoring (as the model was trained).")
    max_chars: Optional[int] = Field(
        None, gt=0, description="Score only the first max_chars characters (as the model was trained); null: all."
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("a model name is 1-40 lower-case letters, digits or '_', starting with a letter")
        return v

    @field_validator("label")
    @classmethod
    def _check_label(cls, v: str) -> str:
        text = v.strip()
        if not text or any(ch.isspace() for ch in text) or text == _LABEL_PREFIX:
            raise ValueError("a label is one word without spaces, such as hq or __label__hq")
        return text if text.startswith(_LABEL_PREFIX) else _LABEL_PREFIX + text

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        if v is None:
            return None
        if not v:
            raise ValueError("languages is empty: list language codes (e.g. [en]) or leave it null for all")
        out: list[str] = []
        for code in v:
            norm = _normalize_code(code)
            if norm not in out:
                out.append(norm)
        return sorted(out)

    @model_validator(mode="after")
    def _one_rule(self) -> "ClassifierModelSpec":
        if (self.min_score is None) == (self.keep_top_fraction is None):
            raise ValueError(
                f"model {self.name!r}: set exactly one of min_score (keep score >= it) and keep_top_fraction "
                "(keep the best fraction of the run)"
            )
        return self


class ClassifySection(FilterSection):
    """Learned classifiers. Reasons are ``classify:<name>`` (first rejecting model) or ``classify:error``."""

    models: list[ClassifierModelSpec] = Field(
        default_factory=list, description="The classifiers, applied in this order; see ClassifierModelSpec."
    )
    batch_size: int = Field(
        1024, ge=1, description="Documents per fastText batch prediction (bounds the memory of one call)."
    )

    @field_validator("models")
    @classmethod
    def _unique_names(cls, v: list[ClassifierModelSpec]) -> list[ClassifierModelSpec]:
        seen: set[str] = set()
        for m in v:
            if m.name in seen:
                raise ValueError(f"two models are named {m.name!r}; names must be unique (they name columns)")
            seen.add(m.name)
        return v

    @model_validator(mode="after")
    def _models_when_enabled(self) -> "ClassifySection":
        if self.enabled and not self.models:
            raise ValueError("classify is enabled but lists no models; add one under classify.models or disable it")
        return self

    def model(self, name: str) -> ClassifierModelSpec:
        """The model spec named ``name``.

        Raises:
            KeyError: no model has that name.
        """
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)
