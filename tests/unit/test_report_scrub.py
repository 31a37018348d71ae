"""The conservative scrubber of report examples (quality.scrub)."""
from __future__ import annotations

import re

import pytest

from quality.scrub import COMMON_WORDS, scrub_example, scrub_text


def test_each_rule_masks_what_it_should():
    text = ("Contact Quillon Vantablack at qv.canary7319@example.org or +1 (415) 555-0199. "
            "See https://shop.example.com/p?id=7 and www.example.net, card 4539 1488 0343 6467.")
    out = scrub_text(text)
    assert out == ("Contact [X] [X] at [email] or +# (###) ###-####. See [url] and [url], card #### #### #### ####.")


def test_placeholders_of_the_pii_stage_and_common_words_stay_readable():
    out = scrub_text("The <PERSON> wrote to <EMAIL_ADDRESS> and <PERSON_1a2b3c4d5e6f> about the cat.")
    assert out == "The <PERSON> wrote to <EMAIL_ADDRESS> and <PERSON_1a2b3c4d5e6f> about the cat."


def test_scripts_without_case_and_long_ids_are_masked():
    assert scrub_text("王小明住在北京。") == "[…]。"
    assert scrub_text("token ab12cd34ef56gh78 end") == "token [id] end"
    assert scrub_text("Москва и Иван") == "[X] и [X]"


def test_truncation_on_a_word_boundary_with_an_ellipsis():
    out = scrub_example("word " * 100, max_chars=52)
    assert out.endswith(" …") and len(out) <= 54 and "wor …" not in out
    assert scrub_example("  short\n\ntext  ") == "short text"
    with pytest.raises(ValueError):
        scrub_example("x", 0)


def test_fake_personal_data_never_survives():
    faker = pytest.importorskip("faker")
    fake = faker.Faker(["en_US", "de_DE", "fr_FR"])
    fake.seed_instance(20240601)
    frame = {"the", "record", "lists", "and", "for", "review"}
    for _ in range(200):
        people = [fake.name(), fake.street_address()]
        hosts = [fake.email(), fake.url()]
        numbers = [fake.phone_number(), fake.iban(), fake.ipv4(), fake.credit_card_number(), fake.ssn()]
        text = "the record lists " + " and ".join(people + hosts + numbers) + " for review."
        out = scrub_example(text, max_chars=2000)
        words = set(re.findall(r"\w+", out))
        for v in people:
            # Capitalised words and numbers are gone; particles that are also common words ("van", "Le") may
            # remain.
            leaked = {p for p in re.findall(r"\w+", v)
                      if (p[0].isupper() or p[0].isdigit()) and p.lower() not in COMMON_WORDS} & words
            assert not leaked, (leaked, out)
        for v in hosts:
            leaked = {p for p in re.findall(r"\w+", v) if p not in frame and p.lower() not in COMMON_WORDS} & words
            assert not leaked, (leaked, out)
        assert not re.search(r"\d", out), out
