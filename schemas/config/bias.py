"""Configuration section ``bias``: bias indicators from versioned lexicons (flag only, never drops)."""
from __future__ import annotations

from typing import Optional

from pydantic import Field, field_validator

from .base import StageSection

#: Demographic axes the bundled lexicon covers.
DEFAULT_AXES = (
    "gender",
    "race_ethnicity",
    "religion",
    "nationality",
    "age",
    "disability",
    "sexual_orientation",
)


class BiasSection(StageSection):
    """Bias indicators: identity-term mentions per axis, gendered pronouns, toxicity-lexicon hits, and
    group-targeted toxicity (an identity term and a toxic term in the same sentence).

    The stage never drops a document (it has no ``mode``): ``bias_reason`` is null, or ``bias:error``
    when scoring that document failed, which is counted in the report and the document is kept.
    """

    lexicon_dir: Optional[str] = Field(
        None,
        description=(
            "Directory with identity_terms.tsv, pronouns.tsv, toxicity.tsv, VERSION (same format as the bundled "
            "lexicon). Default: pipelines/assets/lexicons shipped with corpusforge."
        ),
    )
    axes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_AXES),
        description="Axes counted; terms of other axes in the lexicon are ignored.",
    )

    @field_validator("axes")
    @classmethod
    def _axes_nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("list at least one axis, or set bias.enabled: false")
        return sorted(set(v))
