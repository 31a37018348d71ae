"""corpusforge's own recognizers (NUMBER_SEQUENCE, STREET_ADDRESS): matches, non-matches, offsets, speed on
adversarial input, and the pre-filters of :data:`pipelines.text.pii_extra.EXTRA_PREFILTERS` being necessary.

The values are fake (Faker-style or invented). Each recognizer runs through Presidio's own
``PatternRecognizer.analyze``, as vanilla Presidio would run it.
"""
from __future__ import annotations

import random
import time

import pytest
import regex
from presidio_analyzer import PatternRecognizer

from pipelines.text.pii_extra import (
    EXTRA_PREFILTERS,
    EXTRA_RECOGNIZERS,
    NumberSequenceRecognizer,
    StreetAddressRecognizer,
)


@pytest.fixture(scope="module")
def numbers() -> NumberSequenceRecognizer:
    return NumberSequenceRecognizer()


@pytest.fixture(scope="module")
def addresses() -> StreetAddressRecognizer:
    return StreetAddressRecognizer()


def spans(rec, text: str) -> list[tuple[int, int, float]]:
    results = rec.analyze(text, entities=[rec.supported_entities[0]], nlp_artifacts=None)
    return sorted((r.start, r.end, r.score) for r in results)


def found(rec, text: str) -> list[str]:
    return [text[s:e] for s, e, _ in spans(rec, text)]


# --- shape --------------------------------------------------------------------------------------------


def test_exports_and_presidio_shape():
    assert EXTRA_RECOGNIZERS == {"NUMBER_SEQUENCE": NumberSequenceRecognizer, "STREET_ADDRESS": StreetAddressRecognizer}
    assert set(EXTRA_PREFILTERS) == set(EXTRA_RECOGNIZERS)
    for entity, cls in EXTRA_RECOGNIZERS.items():
        rec = cls()
        assert isinstance(rec, PatternRecognizer)
        assert cls.analyze is PatternRecognizer.analyze  # Presidio's own analyze, nothing overridden
        assert rec.supported_entities == [entity]
        assert rec.supported_language == "en"
        assert rec.patterns and all(0 < p.score < 1 for p in rec.patterns)
        assert rec.context and all(w == w.lower() for w in rec.context)
        assert not rec.global_regex_flags & regex.IGNORECASE  # capitalisation is part of the rules
        kind, pattern, min_digits, before, after = EXTRA_PREFILTERS[entity]
        assert kind in ("runs", "windows") and regex.compile(pattern) and min_digits >= 1
        assert before >= 1 and after >= 1
    assert NumberSequenceRecognizer().patterns[0].score == 0.4
    assert {p.score for p in StreetAddressRecognizer().patterns} == {0.5}


# --- NUMBER_SEQUENCE ----------------------------------------------------------------------------------

NUMBER_POSITIVES = [
    "699 956 915",
    "(37) 788-063",
    "60-56-85-91",
    "9822 3749",
    "2714821993518192",
    "5038-0776-4264",
    "+41 36 507 52 91",
    "06-82237745",
    "915-081-1530x7274",
    "001-599-896-2283x038",
    "559.857.4890x68288",
    "(408)389-9579",
    "+44(0)1632 960662",
    "+33 (0)6 95 36 62 58",
    "+49(0) 662585178",
    "(49)/786-9073",
    "06-6/625 8517",
    "0344-97 86 90",
    "(0812)-865707",
    "+34878 685 957",
    "4111 1111 1111 1112",
    "1234567",
    "1234567890123456789",
    "555.555.5555",
]


@pytest.mark.parametrize("value", NUMBER_POSITIVES)
def test_number_sequence_matches_whole_value(numbers, value):
    text = f"Reach the holder at {value} before noon."
    start = text.index(value)
    assert spans(numbers, text) == [(start, start + len(value), 0.4)]


NUMBER_NEGATIVES = [
    "2024-05-12",
    "12/29/1944",
    "12.05.2024",
    "2010-01-08 14:34:22",
    "2010-01-08T14:34:22",
    "1945-1950",
    "1999/2000",
    "1946 1947 1948",
    "12/29/1944-01/05/1945",
    "1,234,567",
    "12,345,678.90",
    "3.14159265",
    "1234567.89",
    "3,14159265",
    "1.000.000",
    "1.000.000,50",
    "version 1.2.3",
    "10.0.19041.1234",
    "v1.2.3.4567",
    "192.168.100.200",
    "9.30-17.30",
    "1000-2000",
    "In 1945 the 3 main parties won 120 seats",
    "Chapter 12",
    "call me at 5",
    "123456",
    "12345678901234567890",
    "1 2 3 4 5 6 7 8 9",
    "1920x1080",
    "ABC1234567",
    "1234567ABC",
    "$1234567",
    "#1234567",
    "'943-1948",
    "1 2 3 45 67",
    "Genesis 1:1-2:3 and 32:30",
]


@pytest.mark.parametrize("value", NUMBER_NEGATIVES)
def test_number_sequence_ignores(numbers, value):
    assert found(numbers, f"Noted: {value} in the report.") == []


def test_number_sequence_does_not_merge_neighbours(numbers):
    text = "Lines 1234567, 7654321 and 2345678 or 8765432; 3456789/x"
    assert found(numbers, text) == ["1234567", "7654321", "2345678", "8765432", "3456789"]
    # A comma or a word between numbers never joins them into one sequence.
    assert found(numbers, "1234, 5678, 9012, 3456") == []
    assert found(numbers, "from 1234 to 5678 by 9012") == []


def test_number_sequence_chain_is_taken_whole(numbers):
    # Too many digits or groups: nothing inside the chain matches either (no tail or head match).
    assert found(numbers, "12345678901234567890123") == []
    assert found(numbers, "1234 5678 9012 3456 7890") == []
    assert found(numbers, "12-34-56-78-90-12-34-56-78-90") == []
    assert found(numbers, "1234567,89") == []
    assert found(numbers, "1234567:89") == []


def test_number_sequence_offsets_in_longer_text(numbers):
    values = ["+41 36 507 52 91", "(37) 788-063", "2714821993518192"]
    text = "Préfix é… " + " — ".join(f"item {i}: {v}." for i, v in enumerate(values)) + "\nend"
    got = spans(numbers, text)
    assert [text[s:e] for s, e, _ in got] == values
    assert [s for s, _, _ in got] == [text.index(v) for v in values]


# --- STREET_ADDRESS -----------------------------------------------------------------------------------

ADDRESS_POSITIVES = [
    # (text, expected match)
    ("79 Wolfe Street", "79 Wolfe Street"),
    ("1600 Pennsylvania Avenue NW", "1600 Pennsylvania Avenue NW"),
    ("254 Damvergi Street", "254 Damvergi Street"),
    ("350 5th Ave.", "350 5th Ave."),
    ("12 N Main St", "12 N Main St"),
    ("17066 Heather Grove Apt. 915", "17066 Heather Grove Apt. 915"),
    ("0681 Crystal Stream Suite 158", "0681 Crystal Stream Suite 158"),
    ("1266 Sheila Cove Suite 643", "1266 Sheila Cove Suite 643"),
    ("97 Bray Falls Flat 2", "97 Bray Falls Flat 2"),
    ("8 Margaret Spur", "8 Margaret Spur"),
    ("344 Mathis Parkways Suite 907", "344 Mathis Parkways Suite 907"),
    ("221B Baker Street", "221B Baker Street"),
    ("12 Baker Street, Flat 2", "12 Baker Street, Flat 2"),
    ("4 Privet Drive Unit 4", "4 Privet Drive Unit 4"),
    ("Flat 17\nJanet Meadows", "Flat 17\nJanet Meadows"),
    ("Studio 12\nO'Neill Isle", "Studio 12\nO'Neill Isle"),
    ("46 rue Nationale", "46 rue Nationale"),
    ("8, rue de la Paix", "8, rue de la Paix"),
    ("16, boulevard de Briand", "16, boulevard de Briand"),
    ("0189 Rue des Buissons 386", "0189 Rue des Buissons"),
    ("Via Pasquale Scura 127", "Via Pasquale Scura 127"),
    ("Via Elisa, 991 Appartamento 84", "Via Elisa, 991 Appartamento 84"),
    ("Piazza Pellico, 59", "Piazza Pellico, 59"),
    ("Calle Mayor, 12", "Calle Mayor, 12"),
    ("Avenida da Liberdade 110", "Avenida da Liberdade 110"),
    ("Urbanización de Domitila Calatayud 10 Apt. 80", "Urbanización de Domitila Calatayud 10 Apt. 80"),
    ("C. de Dani Rey 22", "C. de Dani Rey 22"),
    ("C/ Mayor 12", "C/ Mayor 12"),
    ("Rue de la Loi 16", "Rue de la Loi 16"),
    ("ul. Dmowskiego Romana 17", "ul. Dmowskiego Romana 17"),
    ("al. Leśna 74/39", "al. Leśna 74/39"),
    ("Rákóczi út 41.", "Rákóczi út 41"),
    ("Arany János utca 195.", "Arany János utca 195"),
    ("Hauptstraße 5", "Hauptstraße 5"),
    ("Hauptstr. 5a", "Hauptstr. 5a"),
    ("Berliner Straße 12", "Berliner Straße 12"),
    ("Jens-Drubin-Straße 47-26", "Jens-Drubin-Straße 47-26"),
    ("Röhrdanzplatz 83/53", "Röhrdanzplatz 83/53"),
    ("Kaiserring 3", "Kaiserring 3"),
    ("Wilgenlaan 40", "Wilgenlaan 40"),
    ("Kloosterhof 167", "Kloosterhof 167"),
    ("Oude Gracht 12", "Oude Gracht 12"),
    ("Hundbergsvägen 21", "Hundbergsvägen 21"),
    ("Storgatan 77", "Storgatan 77"),
    ("Martin Linges veg 149", "Martin Linges veg 149"),
    ("Karl Johans gate 1", "Karl Johans gate 1"),
    ("Nørregade 7", "Nørregade 7"),
    ("Mannerheimintie 5", "Mannerheimintie 5"),
    ("Václavské náměstí 12", "Václavské náměstí 12"),
    ("P.O. Box 123", "P.O. Box 123"),
    ("PO Box 4567", "PO Box 4567"),
    ("Postfach 1234", "Postfach 1234"),
    ("PSC 1234, Box 5678", "PSC 1234, Box 5678"),
]


@pytest.mark.parametrize(("value", "expected"), ADDRESS_POSITIVES)
def test_street_address_matches(addresses, value, expected):
    text = f"Send it to {value} please."
    start = text.index(expected)
    assert (start, start + len(expected)) in [(s, e) for s, e, _ in spans(addresses, text)]


ADDRESS_NEGATIVES = [
    "In 1945 the 3 main parties won 120 seats.",
    "Chapter 12 begins the 3 way split.",
    "He lives in 2 rue houses.",
    "In 1929 Wall Street crashed.",
    "Since 1945 Main Street has changed.",
    "During 1945 we grew.",
    "Spring 2020 Semester",
    "The 3 Great Lakes and the 5 Boroughs.",
    "We visited 3 National Parks and 12 State Parks.",
    "10 Best Walks in London.",
    "The World War 2 Memorial Park opened.",
    "Apollo 11 Landing Site",
    "Volume 2 Chapter 3 The Long Walk",
    "2016 Rio Olympic Village",
    "December 7, 1941 Pearl Harbor was attacked.",
    "version 1.2.3",
    "call me at 5",
    "Brigade 5 moved out.",
    "John C. Calhoun 1850 speech",
    "Mühle 88",
    "the Golden Gate",
    "Street 5",
    "via Chicago 1945",
    "The Street 12 project",
    "Room 101",
    "Box 5",
    "PSC",
    "Title 42 of the Code, Section 1983",
]


@pytest.mark.parametrize("text", ADDRESS_NEGATIVES)
def test_street_address_ignores(addresses, text):
    assert found(addresses, text) == []


def test_street_address_context_words(addresses):
    assert "address" in addresses.context and "lives" in addresses.context and "ship" in addresses.context


def test_street_address_offsets_in_longer_text(addresses):
    values = ["79 Wolfe Street", "Hauptstraße 5", "Via Pasquale Scura 127"]
    text = "Année… " + " ; ".join(f"stop {i} is {v}" for i, v in enumerate(values)) + ".\nEnd"
    got = spans(addresses, text)
    assert [text[s:e] for s, e, _ in got] == values
    assert [s for s, _, _ in got] == [text.index(v) for v in values]


# --- adversarial input --------------------------------------------------------------------------------

ADVERSARIAL = ["1 ", "1-", "1.", "(1) ", "+1 ", "1/", "Aaaa ", "Aaaa 1 ", "Via Aaaa ", "Aaaa Street ", "1 Aaaa ",
               "Aaaa-", "AAAA ", "Aaaa de ", "a1 ", "1 Aaaa Street Apt. ", "Aaaastraße ", "x1"]


@pytest.mark.parametrize("unit", ADVERSARIAL)
def test_adversarial_100kb_is_fast(numbers, addresses, unit):
    text = unit * (100_000 // len(unit)) + "12345678901"
    for rec in (numbers, addresses):
        t0 = time.process_time()  # CPU time: a loaded machine must not fail a test about work done
        spans(rec, text)
        assert time.process_time() - t0 < 1.0


# --- pre-filters are necessary -------------------------------------------------------------------------


def prefilter_regions(text: str, prefilter: tuple) -> list[tuple[int, int]]:
    """Mimics ``pipelines.text.pii_recognizers.regions`` for the ``runs`` and ``windows`` kinds."""
    kind, pattern, min_digits, before, after = prefilter
    n = len(text)
    out: list[tuple[int, int]] = []
    for m in regex.finditer(pattern, text):
        if sum(ch.isdigit() for ch in m.group()) < min_digits:
            continue
        if kind == "runs":
            out.append((max(0, m.start() - 1), min(n, m.end() + 1)))
            continue
        start, end = max(0, m.start() - before), min(n, m.end() + after)
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def via_regions(rec, text: str, prefilter: tuple) -> list[tuple[int, int, float]]:
    got = set()
    for start, end in prefilter_regions(text, prefilter):
        got.update((s + start, e + start, score) for s, e, score in spans(rec, text[start:end]))
    return sorted(got)


FRAGMENTS = [v for v in NUMBER_POSITIVES + NUMBER_NEGATIVES] + [v for v, _ in ADDRESS_POSITIVES] + ADDRESS_NEGATIVES + [
    "In", "the", "Street", "Apt.", "Via", "rue", "1945", "12", "7", "x", "+", "(", ")", "'", "$", "#", "The",
    "Hauptstraße", "de", "Flat", "Box", "P.O.", "0", "123", "12:30", "1,5", "Wolfe", "veg", "utca", "C.",
    "John", "a" * 60, "Aaaa " * 30, "Lorem ipsum dolor sit amet " * 4, "Mannerheimintie",
]
JOINERS = [" ", " ", " ", ", ", "\n", "-", ".", "", "/", ": ", " (", ") ", "'", "x", "+"]


def random_texts(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rnd.randint(2, 14)):
            parts.append(rnd.choice(FRAGMENTS))
            parts.append(rnd.choice(JOINERS))
        texts.append("".join(parts))
    return texts


FIXED_TEXTS = [
    "Write to 79 Wolfe Street or call 699 956 915; the card 2714821993518192 expired on 2024-05-12.",
    "x" * 200 + " 1 " + "Aaaa " * 30 + "Via Pasquale Scura 127",
    "Via " + "Abcdefghijklmnopqrstuvw " * 3 + "12 and " + "b" * 150 + " 1600 Pennsylvania Avenue NW",
    "Urbanización de della " + "Abcdefghijklmnopqrstuvwx della " * 2 + "Abcdefghijklmnopqrstuvwx, 12",
    "12, lotissement de della " + "Abcdefghijklmnopqrstuvwx della " * 2 + "Abcdefghijklmnopqrstuvwx end",
    "9 North " + "Abcdefghijklmnopqrstuvwx of " * 2 + "Abcdefghijklmnopqrstuvwx Trafficways NW. " + "z" * 100,
    "In 1945 Main Street and 1945 Main Street, 1,234567 (37) 788-063 +41 36 507 52 91x12 a+41 36 507 52 91",
    "'1234567 1234567' 12:1234567 1234567:1 1.1234567 ",
]


@pytest.mark.parametrize("entity", sorted(EXTRA_RECOGNIZERS))
def test_prefilter_regions_give_the_same_matches(entity):
    rec = EXTRA_RECOGNIZERS[entity]()
    prefilter = EXTRA_PREFILTERS[entity]
    texts = FIXED_TEXTS + random_texts(seed=7, count=400)
    n_found = 0
    for text in texts:
        whole = spans(rec, text)
        n_found += len(whole)
        assert via_regions(rec, text, prefilter) == whole
    assert n_found > 50  # the texts do exercise the recognizer


def test_prefilter_windows_cover_the_longest_matches():
    """Matches as far from their digits as the patterns allow, and look-behinds reading as far back as they
    can, give the same results through the windows as on the whole text."""
    rec = StreetAddressRecognizer()
    prefilter = EXTRA_PREFILTERS["STREET_ADDRESS"]
    w = "Abcdefghijklmnopqrstuvwx"  # 24 characters: the longest name word
    names = f"della della {w} della {w} della {w}"  # the longest name: 98 characters
    longest = [
        f"C. {names}, 12",  # 103 characters before the first digit (+ a 14-character look-behind)
        f"Urbanización {names}, 12",
        f"{w} della {w} della {w} della námestie, 12",
        f"12 bis, lotissement {names}",  # 116 characters after the last digit (+ a 1-character look-ahead)
        f"9 North. {w} della {w} della {w} Throughway NW.",
        f"Studio 12A,\nNorth. {w} della {w} della {w} Extensions NW.",
        "Skrytka pocztowa 123456",
    ]
    for text in longest:
        assert found(rec, text) == [text]
    for text in longest + [f"Abcdefghijklm C. {names}, 12", f"Between 1999 {w} Street"]:
        for pad_before in ("q " * 100, "Aaaaaaaaaaaaa ", "", "between ", "12 "):
            for pad_after in (" q" * 100, "x", "", " 1", "."):
                padded = pad_before + text + pad_after
                assert via_regions(rec, padded, prefilter) == spans(rec, padded)
