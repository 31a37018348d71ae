"""Entity coverage: the names pii.entities accepts match the installed Presidio, presidio_default is exactly
what vanilla AnalyzerEngine supports for English, and every accepted pattern entity has a recognizer."""
from __future__ import annotations

import importlib.resources as res

import pytest
import yaml

from schemas.config.pii import (
    CORPUSFORGE_ENTITIES,
    DEFAULT_ENTITIES,
    NER_ENTITIES,
    PATTERN_ENTITIES,
    PRESIDIO_DEFAULT_EN,
    PRESIDIO_PATTERN_ENTITIES,
    PiiSection,
)


def test_presidio_pattern_entities_match_the_installed_presidio():
    from pipelines.text.pii_recognizers import recognizer_classes

    classes = recognizer_classes()
    presidio = {e for e, cls in classes.items() if e not in CORPUSFORGE_ENTITIES}
    assert set(PRESIDIO_PATTERN_ENTITIES) == presidio, (
        "schemas/config/pii.py PRESIDIO_PATTERN_ENTITIES is out of date with the installed Presidio: "
        f"missing {sorted(presidio - set(PRESIDIO_PATTERN_ENTITIES))}, "
        f"gone {sorted(set(PRESIDIO_PATTERN_ENTITIES) - presidio)}"
    )
    assert set(CORPUSFORGE_ENTITIES) <= set(classes)


def test_presidio_default_is_what_vanilla_analyzer_supports_for_english():
    from presidio_analyzer import RecognizerRegistry

    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    patterns = {
        e for r in registry.recognizers for e in r.supported_entities if type(r).__name__ != "SpacyRecognizer"
    }
    conf = yaml.safe_load(res.files("presidio_analyzer").joinpath("conf/default.yaml").read_text())
    ner_conf = conf["ner_model_configuration"]
    ner = set(ner_conf["model_to_presidio_entity_mapping"].values()) - set(ner_conf["labels_to_ignore"])
    assert set(PRESIDIO_DEFAULT_EN) == patterns | ner


def test_presets_expand_and_mix_with_names():
    s = PiiSection(enabled=True, entities=["presidio_default", "STREET_ADDRESS", "EMAIL_ADDRESS"])
    assert set(s.entities) == set(PRESIDIO_DEFAULT_EN) | {"STREET_ADDRESS"}
    assert s.entities == sorted(s.entities)
    with pytest.raises(ValueError, match="unknown entity"):
        PiiSection(enabled=True, entities=["presidio_defaults"])


def test_default_set_is_documented_and_valid():
    assert set(DEFAULT_ENTITIES) <= set(PATTERN_ENTITIES) | set(NER_ENTITIES)
    doc = open("docs/pii.md", encoding="utf-8").read()
    for e in DEFAULT_ENTITIES:
        assert f"`{e}`" in doc, f"{e} of the default entity set is not documented in docs/pii.md"


def test_every_presidio_entity_loads_in_the_detector():
    """Country recognizers and DATE_TIME load as pattern recognizers and find their own examples."""
    from pipelines.text.pii_recognizers import PatternDetector

    det = PatternDetector(["UK_NINO", "DATE_TIME", "UUID", "US_BANK_NUMBER", "ES_NIF"])
    text = "NI number AB 12 34 56 C, born 12/29/1944, id 123e4567-e89b-12d3-a456-426614174000, nif 12345678Z"
    import time

    found = {h.entity for h in det.detect(text, time.monotonic() + 10)}
    assert {"UK_NINO", "DATE_TIME", "UUID", "ES_NIF"} <= found


def test_ner_off_keeps_date_time_through_the_date_recognizer():
    s = PiiSection(enabled=True, entities=["DATE_TIME", "PERSON"], ner=False)
    assert s.active_entities() == ["DATE_TIME"]
