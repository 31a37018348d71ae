"""Configuration section ``quality``: heuristic quality rules (Gopher, C4, FineWeb families).

Every rule is one key whose value is its threshold, or ``false`` to switch the rule off::

    quality:
      enabled: true
      gopher_short_doc: 50          # fewer words than this fails
      c4_removed_lines: false       # switched off
      languages:                    # per-language overrides (normalized codes, see LanguageSection)
        zh: {gopher_short_doc: 200}

The key is also the rule's name in drop reasons (``quality:gopher_short_doc``) and in
``corpusforge whatif --set quality.<rule>=<value>``. Which signal each rule reads, and whether the
threshold is a minimum or a maximum, is listed in :data:`QUALITY_RULES`; docs/quality_rules.md describes
every rule, its default and how it is adapted per language.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal, NamedTuple, Optional, Union

from pydantic import Field, PlainValidator, create_model, field_validator

from .base import FilterSection, Section
from .language import _normalize_code


class RuleSpec(NamedTuple):
    """One quality rule: config key and reason suffix, the signal column it reads, and its direction."""

    name: str
    family: str
    signal: str  # column in the stage output
    op: Literal["min", "max"]  # "min": signal < threshold fails; "max": signal > threshold fails
    default: Union[float, bool]


#: Every rule, in evaluation order: a document's reason is the first rule it fails in this order.
QUALITY_RULES: tuple[RuleSpec, ...] = (
    # Gopher quality filter (Rae et al. 2021, MassiveText)
    RuleSpec("gopher_short_doc", "gopher_quality", "q_words", "min", 50),
    RuleSpec("gopher_long_doc", "gopher_quality", "q_words", "max", 100_000),
    RuleSpec("gopher_short_words", "gopher_quality", "q_mean_word_len", "min", 3),
    RuleSpec("gopher_long_words", "gopher_quality", "q_mean_word_len", "max", 10),
    RuleSpec("gopher_symbol_ratio", "gopher_quality", "q_symbol_ratio", "max", 0.1),
    RuleSpec("gopher_bullet_lines", "gopher_quality", "q_bullet_lines", "max", 0.9),
    RuleSpec("gopher_ellipsis_lines", "gopher_quality", "q_ellipsis_lines", "max", 0.3),
    RuleSpec("gopher_alpha_words", "gopher_quality", "q_alpha_words", "min", 0.8),
    RuleSpec("gopher_stop_words", "gopher_quality", "q_distinct_stop_words", "min", 2),
    # Gopher repetition filter
    RuleSpec("gopher_dup_lines", "gopher_repetition", "q_dup_lines", "max", 0.3),
    RuleSpec("gopher_dup_paragraphs", "gopher_repetition", "q_dup_paragraphs", "max", 0.3),
    RuleSpec("gopher_dup_line_chars", "gopher_repetition", "q_dup_line_chars", "max", 0.2),
    RuleSpec("gopher_dup_paragraph_chars", "gopher_repetition", "q_dup_paragraph_chars", "max", 0.2),
    RuleSpec("gopher_top_2gram", "gopher_repetition", "q_top_2gram", "max", 0.20),
    RuleSpec("gopher_top_3gram", "gopher_repetition", "q_top_3gram", "max", 0.18),
    RuleSpec("gopher_top_4gram", "gopher_repetition", "q_top_4gram", "max", 0.16),
    RuleSpec("gopher_dup_5gram", "gopher_repetition", "q_dup_5gram", "max", 0.15),
    RuleSpec("gopher_dup_6gram", "gopher_repetition", "q_dup_6gram", "max", 0.14),
    RuleSpec("gopher_dup_7gram", "gopher_repetition", "q_dup_7gram", "max", 0.13),
    RuleSpec("gopher_dup_8gram", "gopher_repetition", "q_dup_8gram", "max", 0.12),
    RuleSpec("gopher_dup_9gram", "gopher_repetition", "q_dup_9gram", "max", 0.11),
    RuleSpec("gopher_dup_10gram", "gopher_repetition", "q_dup_10gram", "max", 0.10),
    # C4 (Raffel et al. 2020)
    RuleSpec("c4_lorem_ipsum", "c4", "q_lorem_ipsum", "max", 0),
    RuleSpec("c4_curly_bracket", "c4", "q_curly_brackets", "max", 0),
    RuleSpec("c4_min_sentences", "c4", "q_c4_sentences", "min", 3),
    RuleSpec("c4_removed_lines", "c4", "q_c4_removed_lines", "max", False),
    # FineWeb (Penedo et al. 2024)
    RuleSpec("fineweb_punct_lines", "fineweb", "q_punct_lines", "min", 0.12),
    RuleSpec("fineweb_short_lines", "fineweb", "q_short_lines", "max", 0.67),
    RuleSpec("fineweb_dup_line_chars", "fineweb", "q_dup_line_chars", "max", 0.01),
    RuleSpec("fineweb_newlines_per_word", "fineweb", "q_newlines_per_word", "max", 0.3),
)

RULE_NAMES: tuple[str, ...] = tuple(r.name for r in QUALITY_RULES)

_DESCRIPTIONS = {
    "gopher_short_doc": "minimum number of words",
    "gopher_long_doc": "maximum number of words",
    "gopher_short_words": "minimum mean word length (characters)",
    "gopher_long_words": "maximum mean word length (characters)",
    "gopher_symbol_ratio": "maximum hash-symbol or ellipsis count per word",
    "gopher_bullet_lines": "maximum share of lines starting with a bullet",
    "gopher_ellipsis_lines": "maximum share of lines ending with an ellipsis",
    "gopher_alpha_words": "minimum share of words with at least one letter",
    "gopher_stop_words": "minimum number of distinct stop words of the document's language",
    "gopher_dup_lines": "maximum share of lines that repeat an earlier line",
    "gopher_dup_paragraphs": "maximum share of paragraphs that repeat an earlier paragraph",
    "gopher_dup_line_chars": "maximum share of characters in repeated lines",
    "gopher_dup_paragraph_chars": "maximum share of characters in repeated paragraphs",
    "c4_lorem_ipsum": "maximum occurrences of 'lorem ipsum'",
    "c4_curly_bracket": "maximum number of '{' characters",
    "c4_min_sentences": "minimum sentences in the lines that C4's line cleaning keeps",
    "c4_removed_lines": "maximum share of lines that C4's line cleaning removes",
    "fineweb_punct_lines": "minimum share of lines ending in terminal punctuation",
    "fineweb_short_lines": "maximum share of short lines (see signals.short_line_chars)",
    "fineweb_dup_line_chars": "maximum share of characters in repeated lines",
    "fineweb_newlines_per_word": "maximum newlines per word",
}
for _n in (2, 3, 4):
    _DESCRIPTIONS[f"gopher_top_{_n}gram"] = f"maximum share of word characters in the most repeated {_n}-gram"
for _n in range(5, 11):
    _DESCRIPTIONS[f"gopher_dup_{_n}gram"] = f"maximum share of word characters in repeated {_n}-grams"


def _check_threshold(v: Any) -> Union[float, bool]:
    # A plain validator: a union of Literal[False] and float would read 0 as False (0 == False).
    if v is False:
        return False
    if v is True:
        raise ValueError("a rule takes a number (its threshold) or false (rule switched off), not true")
    if isinstance(v, (int, float)):
        f = float(v)
        if not math.isfinite(f) or f < 0:
            raise ValueError("a threshold must be a finite number >= 0 (or false to switch the rule off)")
        return f
    raise ValueError("a rule takes a number (its threshold) or false (rule switched off)")


#: A rule's value: its threshold, or False when the rule is switched off.
Threshold = Annotated[
    Union[float, bool],
    PlainValidator(_check_threshold, json_schema_input_type=Union[float, Literal[False]]),
]


QualityRules = create_model(  # type: ignore[misc]
    "QualityRules",
    __base__=Section,
    __doc__="The threshold of every rule (fields generated from QUALITY_RULES); false switches a rule off.",
    **{
        r.name: (Threshold, Field(r.default, description=f"{_DESCRIPTIONS[r.name]} ({r.op} threshold)"))
        for r in QUALITY_RULES
    },
)

#: Per-language overrides: the same keys, null (absent) meaning "as in the quality section".
LanguageRules = create_model(  # type: ignore[misc]
    "LanguageRules",
    __base__=Section,
    __doc__="Overrides of rule thresholds for one language; keys left null take the section's value.",
    **{r.name: (Optional[Threshold], Field(None, description=_DESCRIPTIONS[r.name])) for r in QUALITY_RULES},
)


class SignalSettings(Section):
    """How signals are computed. Changing these changes stored signals: the what-if cannot replay them."""

    c4_line_min_words: int = Field(5, ge=0, description="C4 line cleaning: lines with fewer words are removed.")
    c4_line_max_word_chars: int = Field(
        1000, ge=1, description="C4 line cleaning: lines with a longer word are removed."
    )
    c4_line_terminal_punct: bool = Field(
        True, description="C4 line cleaning: lines not ending in terminal punctuation are removed."
    )
    c4_line_javascript: bool = Field(True, description="C4 line cleaning: lines mentioning javascript are removed.")
    c4_line_policy: bool = Field(
        True, description="C4 line cleaning: lines with terms-of-use, privacy or cookie notices are removed."
    )
    short_line_chars: int = Field(30, ge=1, description="FineWeb: a line of at most this many characters is short.")


class QualitySection(FilterSection, QualityRules):  # type: ignore[misc,valid-type]
    """Quality rules. Reasons are ``quality:<rule>`` (the first failing rule) or ``quality:error``."""

    signals: SignalSettings = SignalSettings()
    languages: dict[str, LanguageRules] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="Per-language rule overrides, by normalized language code."
    )
    default_language: Optional[str] = Field(
        "en",
        description="Language assumed for documents without a 'lang' (language stage off, or nothing "
        "identified): it picks the stop-word list and the per-language overrides. null: no language "
        "(rules that need one, like stop words, are skipped).",
    )

    @field_validator("languages")
    @classmethod
    def _normalize_languages(cls, v: dict) -> dict:
        out = {}
        for code, rules in v.items():
            norm = _normalize_code(code)
            if norm in out:
                raise ValueError(f"languages: '{code}' and another key both mean '{norm}'; merge them")
            out[norm] = rules
        return dict(sorted(out.items()))

    @field_validator("default_language")
    @classmethod
    def _normalize_default(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else _normalize_code(v)

    def rules_for(self, lang: Optional[str]) -> dict[str, Union[float, bool]]:
        """Rule name -> threshold (False = off) for documents of normalized language ``lang``."""
        rules = {name: getattr(self, name) for name in RULE_NAMES}
        override = self.languages.get(lang) if lang is not None else None
        if override is not None:
            for name in RULE_NAMES:
                value = getattr(override, name)
                if value is not None:
                    rules[name] = value
        return rules

    def effective_language(self, lang: Optional[str]) -> Optional[str]:
        """The language a document is treated as: its ``lang``, or ``default_language`` when it has none."""
        return lang if lang else self.default_language
