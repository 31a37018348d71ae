"""Configuration section ``bias``: bias indicators from versioned lexicons and a learned toxicity score (flag
only, never drops)."""
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

#: The bundled toxicity model (a name under ``pipelines/``, resolved in each machine's copy of the package).
DEFAULT_TOXICITY_MODEL = "pipelines/assets/toxicity/model.ftz"


class BiasSection(StageSection):
    """Bias indicators: identity-term mentions per axis, gendered pronouns, toxicity-lexicon hits, a calibrated
    toxicity score from a learned model, and group-targeted toxicity.

    With ``toxicity_model: true`` (default) every sentence is scored by the model; ``bias_toxicity_score`` is
    the document's most toxic sentence's score, the ``toxicity`` flag means it reaches the threshold, and
    ``group_targeted_toxicity`` means an identity term in a sentence whose score reaches it. With
    ``toxicity_model: false`` both flags come from the lexicon (a toxic term; an identity term and a toxic
    term in one sentence) and the score is null. See docs/bias.md for the model's measured error rates.

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

    toxicity_model: bool = Field(
        True,
        description=(
            "Score sentences with the learned toxicity model (flags from its score); false: lexicon-only flags "
            "and a null bias_toxicity_score."
        ),
    )
    toxicity_model_path: str = Field(
        DEFAULT_TOXICITY_MODEL,
        description=(
            "fastText toxicity model with its .json card next to it (built by scripts/build_toxicity_model.py). "
            "Default: the bundled model. A path under pipelines/ names a bundled file."
        ),
    )
    toxicity_threshold: Optional[float] = Field(
        None,
        gt=0.0,
        lt=1.0,
        description=(
            "Calibrated score at or above which a sentence is toxic; null: the threshold in the model card "
            "(chosen on the validation split, see docs/bias.md)."
        ),
    )

    @field_validator("axes")
    @classmethod
    def _axes_nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("list at least one axis, or set bias.enabled: false")
        return sorted(set(v))
