"""corpusforge's own Presidio pattern recognizers: number sequences and street addresses.

Both are plain :class:`presidio_analyzer.PatternRecognizer` subclasses (``patterns``, ``context``,
``invalidate_result``; ``analyze`` is Presidio's own), so they run unchanged in vanilla Presidio and in
corpusforge's region runner (:mod:`pipelines.text.pii_recognizers`). They are pattern recognizers, not
parsers: they find spans shaped like the thing and do not check that a number is allocated or a street exists.
Every regular expression is case-sensitive (``global_regex_flags`` has no IGNORECASE: capitalisation is part
of the address rules) and built from bounded repetitions whose alternatives start with different
characters, so the work per start position is bounded: 100 KB of adversarial text takes well under a second.

NUMBER_SEQUENCE (score 0.4)
    The fallback for numbers shaped like phone, card, bank-account or ID numbers that fail every validator
    (Presidio's card recognizer drops 12-19 digit numbers that fail Luhn, its phone recognizer drops the
    national formats of regions it does not parse). A match is

    * a *chain* of digit groups joined by single separators (space, hyphen, dot, slash): ``699 956 915``,
      ``60-56-85-91``, ``2714821993518192``, ``5038-0776-4264``; led by an optional ``+`` (``+41 36 507 52
      91``), by a parenthesized group (``(37) 788-063``, ``(49)/786-9073``) or by ``+CC`` and a
      parenthesized trunk (``+44(0)1632 960662``, ``+33 (0)6 95 36 62 58``); ended by an optional extension
      ``x`` + 1-5 digits (``915-081-1530x7274``); at most 9 groups;
    * holding 7 to 19 ASCII digits (the extension not counted), at most two of its groups one digit long;
    * *maximal*: not inside a longer alphanumeric token; not preceded by ``+ $ € £ ¥ #`` or an apostrophe
      (``'43``); not touching more digits through ``,`` ``:`` or a separator (``1,234567``, ``14:34:22``,
      a chain of more than 9 groups). A chain is taken whole or not at all (when it fails a rule nothing
      inside it matches either), and numbers separated by ``", "`` or by a word are never merged;
    * not a date (``2024-05-12``, ``12/29/1944``, ``12.05.2024``; ``2010-01-08 14:34:22`` touches ``:`` and
      is dropped whole), nor a list or range of dates and years (``1946 1947 1948``, ``1945-1950``,
      ``1999/2000``: years 1000-2099 at most a century apart), nor a decimal (one separator, a dot:
      ``3.14159265``; a decimal comma touches digits through ``,``), nor a dot-grouped thousands number
      (``1.000.000``; ``1,234,567`` never has 7 digits in one chain), nor a range of round numbers
      (``1000-2000``), nor a time range (``9.30-17.30``), nor an IPv4 address, nor a version with a ``0``
      group (``10.0.19041.1234``; shorter versions such as ``1.2.3`` have fewer than 7 digits, ``v1.2.3.4``
      is glued to a letter).

    Space-grouped thousands (``7 000 000``) cannot be told from numbers written in groups of three
    (``699 956 915``) and are matched; so are ISBNs and reference numbers (``2023-001234``), which are
    ID-shaped.

STREET_ADDRESS (score 0.5, raised by context words such as *address*, *lives*, *ship*, *deliver*)
    A house number next to a street name that contains a street-type word from a multilingual vocabulary.
    Name words are capitalised (at most 24 characters, hyphens and apostrophes inside, initials, Roman
    numerals), at most three, with lower-case particles (de, la, van, der, della, of...) around them:

    * English, number first: ``79 Wolfe Street``, ``1600 Pennsylvania Avenue NW``, ``350 5th Ave``,
      ``221B Baker Street``, ``250 Rt 59``, ``1600 Broadway``, with an optional unit (``Apt. 532``,
      ``Suite 559``, ``Unit 4``, ``Flat 2``). Geographic type words that are common nouns (``Park``,
      ``Lake``, ``Hill``, ``Union``...) and plurals (``Parkways``) take a year-like house number (1000-2099)
      only with a unit after the street, and plurals take a one- or two-digit number only with a unit
      (``1266 Sheila Cove Suite 643`` and ``344 Mathis Parkways`` match, ``2016 Rio Olympic Village`` and
      ``3 National Parks`` do not). The number must not follow a capitalised word (``World War 2 Memorial
      Park``, ``Apollo 11``), a counting word (``the``, ``over``, ``about``, ``top``...; for common-noun
      types also possessives and ``of``), a date's ``7,`` or, when year-like, a preposition (``In 1929 Wall
      Street``); the first name word is not a function word (``3 The Long Walk``);
    * English, unit first, the street on the same or the next line: ``Flat 17\\nJanet Meadows``;
    * French, number first: ``46 rue Nationale``, ``8, rue de la Paix``, ``0189 Rue des Buissons``;
    * type first, number after (Italian, Spanish, Catalan, Portuguese, French, Polish, Czech, Romanian):
      ``Via Pasquale Scura 127``, ``Calle Mayor, 12``, ``Avenida da Liberdade 110``, ``ul. Dmowskiego
      Romana 17``, ``Rue de la Loi 16``, ``C/ Mayor 12``; Spanish ``C.`` needs two name words or a
      particle and no capitalised word before it (not ``John C. Calhoun 1850``);
    * type last, number after (German, Dutch, Nordic, Finnish, Hungarian, Czech, Slovak): a compound
      (``Hauptstraße 5``, ``Hauptstr. 5``, ``Wilgenlaan 40``, ``Hundbergsvägen 21``, ``Kloosterhof 167``,
      ``Kaiserring 3``, ``Mannerheimintie 5``, ``Rose-Krebs-Straße 7``) or a separate type word after
      name words (``Berliner Straße 12``, ``Martin Linges veg 149``, ``Rákóczi út 41``, ``Václavské
      náměstí 12``); a sentence's first article or pronoun is left out (``Die Hauptstraße 5``); English
      words that end like a compound (``During``, ``Spring``, ``Brigade``, ``Offspring``) are excluded;
    * post-office boxes: ``P.O. Box 123``, ``PO Box``, ``Post Office Box``, ``Postfach``, ``Postbus``,
      ``Apartado``, ``Casella postale``, ``Skrytka pocztowa``, ``PSC 1234, Box 5678``.

    Not covered: addresses without a house number (``rue de Rivoli``; Faker fr_FR writes one in six that
    way), street names without a type word (``Mühle 88``; ``Am Markt 5`` is covered through ``Markt``),
    all-lowercase or all-capital names, house numbers in words, lone ``Box 5``, and Asian, Arabic and
    Cyrillic formats (block, ward and district systems, ``丁目``, ``ул.``). City, postcode and country are
    never part of a match.

Pre-filters (:data:`EXTRA_PREFILTERS`, tuples ``(kind, pattern, min_digits, before, after)`` for
:class:`pipelines.text.pii_recognizers.Prefilter`), each a *necessary* condition:

* NUMBER_SEQUENCE: ``runs`` of ``[0-9(+][0-9 \\-./()+x,:]*[0-9]`` with at least 7 digits. Every character
  a match can hold is in the run class, a match starts with ``+``, ``(`` or a digit and ends with a digit,
  so it lies inside one run; the look-arounds read at most two characters past the match, and the second
  one matters only when the first is a separator, ``,`` or ``:``, all in the run class, so it is in the
  run too: the one-character widening suffices.
* STREET_ADDRESS: ``windows`` of 120 characters around every digit. Every match holds a digit (house or box
  number); at most 103 characters lie between a match's start and its first digit (``C.``, two particles,
  three 24-character words, particles between them, comma) and its look-behinds read at most 14 more;
  at most 116 lie between its last digit and its end (``12 bis, lotissement`` and the longest name) and
  its look-aheads read 1 more. So the match and everything its look-arounds read lies within 117
  characters of its digits, and the tests check both limits.
"""
from __future__ import annotations

import re
from typing import Optional

import regex
from presidio_analyzer import Pattern, PatternRecognizer

# Case-sensitive on purpose: capitalisation is part of the address rules (Presidio's default adds
# IGNORECASE). DOTALL and MULTILINE are Presidio's other defaults and change nothing here.
_FLAGS = regex.DOTALL | regex.MULTILINE


# --- NUMBER_SEQUENCE ---------------------------------------------------------------------------------

_SEP = r"[ \-./]"
_GROUP = r"[0-9]{1,19}"
# A leading group: +CC (trunk), (area) with optional +, or plain digits with optional +.
_LEAD = r"(?:\+[0-9]{1,4}[ \-.]?\([0-9]{1,5}\)|\+?\([0-9]{1,5}\)|\+?" + _GROUP + ")"
# Further groups: right after ')' the separator is optional, otherwise one separator is required.
_MORE = r"(?:(?<=\))" + _SEP + "?" + _GROUP + r"|(?<!\))" + _SEP + _GROUP + ")"
NUMBER_SEQUENCE_REGEX = (
    r"(?<![\w+$€£¥#'’])"  # not glued to a token, a sign, a currency or an apostrophe ('43)
    r"(?<![0-9][ \-./,:])"  # not the tail of a longer numeric expression
    r"(?=(?:[+( )\-./]{0,2}[0-9]){7})"  # cheap gate: seven digits close together
    + _LEAD
    + _MORE
    + r"{0,8}"
    r"(?:x[0-9]{1,5})?"  # extension
    r"(?!\w)"
    r"(?![ \-./,:]?[0-9])"  # maximal: a longer chain (or a decimal comma, a time) is dropped whole
)

_DIGITS = re.compile(r"[0-9]+")
_YEAR = r"(?:1[0-9]|20)[0-9]{2}"
_DATE_PARTS = (
    re.compile(r"(" + _YEAR + r")([-/.])(0?[1-9]|1[0-2])\2(0?[1-9]|[12][0-9]|3[01])"),
    re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2(" + _YEAR + ")"),
)
_THOUSANDS_DOT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3}){2,}")
_TIME_RANGE = re.compile(r"(?:[01]?[0-9]|2[0-3])[.:][0-5][0-9][-/](?:[01]?[0-9]|2[0-3])[.:][0-5][0-9]")
_IPV4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")


def _is_date(part: str) -> bool:
    m = _DATE_PARTS[0].fullmatch(part)
    if m:
        return True
    m = _DATE_PARTS[1].fullmatch(part)
    if m:
        a, b = int(m.group(1)), int(m.group(3))
        return 1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12
    return False


def _is_year(part: str) -> bool:
    return re.fullmatch(_YEAR, part) is not None


def _is_dateish(part: str) -> bool:
    """A date, a year, a date range or a year range (two years at most a century apart)."""
    if _is_date(part) or _is_year(part):
        return True
    for i, ch in enumerate(part):
        if ch in "-/":
            left, right = part[:i], part[i + 1:]
            if _is_date(left) and _is_date(right):
                return True
            if _is_year(left) and _is_year(right) and 0 <= int(right) - int(left) <= 100:
                return True
    return False


def number_sequence_excluded(value: str) -> bool:
    """True when a chain matched by the regex is not an ID-like number (see the module docstring)."""
    main = value.split("x", 1)[0]
    groups = _DIGITS.findall(main)
    n_digits = sum(len(g) for g in groups)
    if n_digits < 7 or n_digits > 19:
        return True
    if sum(1 for g in groups if len(g) == 1) > 2:
        return True
    if all(_is_dateish(p) for p in main.split(" ")):
        return True  # a date, a list of dates and years, a date or year range
    seps = _DIGITS.sub("", main)
    if seps == "." and len(groups) == 2:
        return True  # decimal
    if _THOUSANDS_DOT.fullmatch(main) or _TIME_RANGE.fullmatch(main):
        return True
    if len(groups) == 2 and seps in ("-", "/", " ") and len(groups[0]) == len(groups[1]) <= 5 and all(
        g.endswith("00") for g in groups
    ):
        return True  # a range of round numbers: 1000-2000, 100 200
    if len(groups) >= 3 and set(seps) == {"."} and "0" in groups[1:]:
        return True  # a version: 10.0.19041.1234
    m = _IPV4.fullmatch(main)
    if m and all(int(g) <= 255 for g in m.groups()):
        return True
    return False


class NumberSequenceRecognizer(PatternRecognizer):
    """Digit sequences shaped like phone, card, account or ID numbers (module docstring has the rules)."""

    ENTITY = "NUMBER_SEQUENCE"
    CONTEXT = [
        # Presidio matches context words as substrings of the preceding words: no short ones ("no", "id").
        "phone", "telephone", "mobile", "cell", "call", "fax", "number", "account", "card", "identification",
        "passport", "license", "licence", "ssn", "routing", "customer", "member", "policy", "reference",
        "contract", "client", "patient", "iban", "bank",
    ]

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = ENTITY,
        context: Optional[list[str]] = None,
        name: Optional[str] = None,
    ):
        super().__init__(
            supported_entity=supported_entity,
            name=name or "NumberSequenceRecognizer",
            supported_language=supported_language,
            patterns=[Pattern("number_sequence", NUMBER_SEQUENCE_REGEX, 0.4)],
            context=context if context is not None else list(self.CONTEXT),
            global_regex_flags=_FLAGS,
        )

    def invalidate_result(self, pattern_text: str) -> Optional[bool]:
        """Dates, years, year and time ranges, decimals, thousands, IPv4, too few/many digits."""
        return number_sequence_excluded(pattern_text)


# --- STREET_ADDRESS ----------------------------------------------------------------------------------

_WORD_CH = r"[\p{L}\p{M}'’]"
# A capitalised name word of at most 24 characters, hyphenated parts included (O'Neill, Skłodowskiej-Curie).
_CAP = r"\p{Lu}(?:" + _WORD_CH + r"|\.(?=-)|-(?=\p{L})){1,23}"
# Initials and Roman numerals: William S Canning Blvd, J. F. Kennedy Avenue, Jana III Sobieskiego.
_INITIAL = r"(?:\p{Lu}\.?|[IVX]{2,4})(?![\p{L}\p{M}'’])"
_ORDINAL = r"[0-9]{1,3}(?:st|nd|rd|th|e|er|ème)"
# Lower-case particles inside names (rue de la Paix, Via dei Mille, Van der Waalsstraat, Isle of Wight Road).
_PART = (
    r"(?:(?:de|des|du|la|le|les|di|da|dal|del|della|delle|dei|degli|dello|van|der|den|von|vom|zum|zur|dos|das|do"
    r"|y|e|i|het|of|the|am|an|auf|im|in|och|na|nad|pod|al|el)[ ]|[dl]['’])"
)
_NAME_WORD = "(?:" + _CAP + "|" + _INITIAL + ")"
# 1-3 capitalised words, at most two particles before the first one and one particle between words.
_NAMES = "(?:" + _PART + "){0,2}" + _NAME_WORD + "(?:[ ](?:" + _PART + ")?" + _NAME_WORD + "){0,2}"
# Function words are not street names ("3 The Long Walk", "5 And Then").
_NOT_FUNCTION_WORD = (
    r"(?!(?:The|A|An|And|Or|Of|In|On|At|To|For|By|With|From|This|That|These|Those|My|Our|Your|His|Her|Its|Their"
    r"|Best|Top|Some|Many|Few)(?![\p{L}\p{M}'’]))"
)
_NAME_WORD_EN = "(?:" + _ORDINAL + "|" + _NOT_FUNCTION_WORD + _NAME_WORD + ")"
_NAMES_EN = (
    r"(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?[ ])?"
    + _NAME_WORD_EN + r"(?:[ ](?:" + _PART + ")?" + _NAME_WORD_EN + r"){0,2}"
)

_EN_STRONG = (
    "Street", "Avenue", "Road", "Boulevard", "Lane", "Drive", "Court", "Place", "Square", "Way", "Terrace",
    "Crescent", "Close", "Highway", "Parkway", "Row", "Walk", "Alley", "Circle", "Trail", "Plaza", "Loop", "Mews",
    "Expressway", "Freeway", "Turnpike", "Pike", "Causeway", "Stravenue", "Skyway", "Throughway", "Trafficway",
    "Motorway", "Bypass", "Viaduct", "Underpass", "Overpass", "Gardens", "Grove", "Rue", "Via", "Wynd", "Gate",
    "Broadway", "Embankment", "Parade", "Promenade", "Quay", "Esplanade", "Boardwalk", "Greenway", "Meadows",
    "Heights",
)
# Abbreviations take an optional dot; a full word never takes the sentence's full stop.
_EN_ABBREV = ("St", "Ave", "Av", "Rd", "Blvd", "Ln", "Dr", "Ct", "Pl", "Sq", "Ter", "Cres", "Hwy", "Pkwy", "Cir",
              "Trl", "Expy", "Fwy", "Tpke")
_EN_STRONG_PLURAL = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Square", "Way", "Terrace",
                     "Crescent", "Circle", "Trail", "Walk", "Parkway", "Grove", "Gate", "Alley", "Plaza", "Loop",
                     "Expressway", "Freeway", "Turnpike", "Pike", "Causeway", "Stravenue", "Skyway", "Viaduct")
_EN_WEAK = (
    "Branch", "Bridge", "Brook", "Burg", "Camp", "Canyon", "Cape", "Center", "Centre", "Cliff", "Club",
    "Common", "Corner", "Course", "Cove", "Creek", "Crest", "Crossing", "Crossroad", "Curve", "Dale", "Dam",
    "Divide", "Estate", "Extension", "Fall", "Ferry", "Field", "Flat", "Ford", "Forest", "Forge", "Fork",
    "Fort", "Garden", "Gateway", "Glen", "Green", "Harbor", "Harbour", "Haven", "Hill", "Hollow",
    "Inlet", "Island", "Isle", "Junction", "Key", "Knoll", "Lake", "Land", "Landing", "Light", "Loaf", "Lock",
    "Lodge", "Mall", "Manor", "Meadow", "Mill", "Mission", "Mount", "Mountain", "Neck", "Orchard", "Oval",
    "Park", "Pass", "Passage", "Path", "Pine", "Plain", "Point", "Port", "Prairie", "Radial", "Ramp", "Ranch",
    "Rapid", "Rest", "Ridge", "River", "Route", "Run", "Shoal", "Shore", "Spring", "Spur", "Station",
    "Stream", "Summit", "Trace", "Track", "Tunnel", "Union", "Valley", "View", "Village", "Ville", "Vista",
    "Wall", "Well", "Wharf", "Yard",
)


def _alt(words) -> str:
    items = sorted(set(words), key=lambda w: (-len(w), w))
    return "(?:" + "|".join(regex.escape(w) for w in items) + ")"


_TYPE_END = r"(?![\p{L}\p{M}'’])"
_EN_STRONG_RE = "(?:" + _alt(_EN_STRONG) + "|" + _alt(_EN_ABBREV) + r"\.?)" + _TYPE_END
_EN_PLURAL_RE = _alt([w + "s" for w in _EN_STRONG_PLURAL + _EN_WEAK if w + "s" not in _EN_STRONG]) + _TYPE_END
_EN_WEAK_RE = _alt(_EN_WEAK) + _TYPE_END + r"(?<!Flat(?=[ ]?[0-9]))"  # "Flat 2" after a street is a unit
_DIR = r"(?:[ ](?:N|S|E|W|NE|NW|SE|SW)\.?(?![\p{L}\p{M}]))?"
_UNIT_WORD = (
    r"(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Fl\.|Room|Rm\.?|Studio|Bldg\.?|Building|No\.|\#"
    r"|Piso|Puerta|Appartamento|Piano|Interno|Int\.|Scala|Bus|Whg\.|Wohnung|App\.|lgh\.?|lok\.|m\.)"
)
_UNIT_NUM = r"[ ]?[0-9]{1,5}[A-Za-z]?(?![\p{L}\p{M}0-9])"
_UNIT_REQUIRED = r",?[ ]" + _UNIT_WORD + _UNIT_NUM
_UNIT = "(?:" + _UNIT_REQUIRED + ")?"
_END = r"(?![\p{L}\p{M}0-9'’])"
_START = r"(?<![\p{L}\p{M}0-9'’\-])"
_NUM_START = r"(?<![\p{L}\p{M}0-9'’\-.,:/#+])"
# A number right after a capitalised word belongs to a name (World War 2, Apollo 11, Route 66, Page 12).
_NOT_AFTER_NAME = r"(?<!\p{Lu}[\p{L}\p{M}]{0,12}[ ])"
# House number suffix before the street (English, French): an optional letter or range (221B, 21-23).
_HOUSE_SUFFIX = r"(?:[A-Za-z](?=[ ,]))?(?:[\-/][0-9]{1,5}[A-Za-z]?)?"
_HOUSE_FIRST = r"[0-9]{1,6}" + _HOUSE_SUFFIX
# House number after the street: 1-5 digits, optional letter, optional range or flat (47-26, 83/53, 12a).
_HOUSE_AFTER = r"[0-9]{1,5}(?:(?:[A-Za-z]|[ ][A-Z])(?![\p{L}\p{M}]))?(?:[\-/][0-9]{1,5}[A-Za-z]?)?" + _END
_PREP_YEAR = (
    r"(?!(?<=(?<![\p{L}\p{M}])(?:[Ii]n|[Ss]ince|[Bb]y|[Oo]f|[Uu]ntil|[Bb]efore|[Aa]fter|[Dd]uring|[Bb]etween"
    r"|[Cc]irca|[Tt]he)[ ])" + _YEAR + r"(?![0-9]))"
)
# Counting words before a number ("the 3 Great Lakes", "over 200 Indian Reservations"), and a date's year
# ("December 7, 1941 Pearl Harbor"): such a number is not a house number.
_COUNTING_WORDS = (
    r"[Tt]he|[Aa]n?|[Oo]ver|[Aa]bout|[Ss]ome|[Aa]ll|[Tt]hese|[Tt]hose|[Tt]han|[Oo]nly|[Ff]irst|[Ll]ast|[Nn]ext"
    r"|[Nn]early|[Aa]lmost|[Ee]very|[Tt]op|[Bb]est|[Bb]oth|[Mm]any|[Ff]ew|[Ee]ach|[Aa]round|[Aa]pproximately"
)
_COUNTING = r"(?<!(?<![\p{L}\p{M}])(?:" + _COUNTING_WORDS + r")[ ])(?<![0-9],[ ])"
# ... and for weak type words also possessives and "of" ("its 5 State Parks", "one of 3 Great Lakes").
_COUNTING_WEAK = r"(?<!(?<![\p{L}\p{M}])(?:[Oo]f|[Ii]ts|[Hh]is|[Hh]er|[Tt]heir|[Oo]ur|[Mm]y|[Yy]our)[ ])"
_EN_NUM_START = _NUM_START + _NOT_AFTER_NAME + _COUNTING

# A numbered route after the house number (250 Rt 59, 13858 Route 31 W), and Broadway alone.
_EN_ROUTE = (
    r"(?:Rt|Rte|Route|Hwy|Highway|State[ ]Route|State[ ]Road|County[ ]Road|US|SR|CR|FM)\.?[ \-]?[0-9]{1,4}[A-Z]?"
)
_EN_STRONG_ADDRESS = (
    _EN_NUM_START + _PREP_YEAR + _HOUSE_FIRST + r"[ ](?:" + _NAMES_EN + r"[ ]" + _EN_STRONG_RE + "|" + _EN_ROUTE
    + "|Broadway)" + _DIR + _UNIT + _END
)
# Weak (geographic) and plural type words: a year-like number needs a unit after the street ("1266 Sheila Cove
# Suite 643", not "2016 Rio Olympic Village"), and so does a one- or two-digit number before a plural ("33 Watson
# Brooks Flat 2", not "3 National Parks").
_EN_WEAK_ADDRESS = (
    _EN_NUM_START + _COUNTING_WEAK + _PREP_YEAR
    + r"(?>(?P<wy>" + _YEAR + r"(?![0-9]))|(?P<ws>[0-9]{1,2}(?![0-9]))|[0-9]{3,6})" + _HOUSE_SUFFIX
    + r"[ ]" + _NAMES_EN + r"[ ](?:(?P<wp>" + _EN_PLURAL_RE + ")|" + _EN_WEAK_RE + ")" + _DIR
    + "(?(wy)" + _UNIT_REQUIRED + "|(?(ws)(?(wp)" + _UNIT_REQUIRED + "|" + _UNIT + ")|" + _UNIT + "))" + _END
)
_EN_UNIT_FIRST = (
    _START + r"(?:Flat|Studio|Apartment|Apt\.?|Unit|Suite)[ ][0-9]{1,5}[A-Za-z]?,?\s(?:[0-9]{1,5}[ ])?"
    + _NAMES_EN + r"[ ]" + "(?:" + _EN_STRONG_RE + "|" + _EN_PLURAL_RE + "|" + _EN_WEAK_RE + ")" + _DIR + _END
)

_FR_TYPES = (
    "rue", "avenue", "av.", "boulevard", "bd", "bld", "chemin", "allée", "place", "impasse", "quai", "cours",
    "route", "passage", "square", "voie", "sentier", "faubourg", "promenade", "ruelle", "cité", "hameau",
    "résidence", "lotissement", "rond-point", "esplanade", "parvis", "montée", "traverse",
)


def _both_cases(words) -> str:
    out = set()
    for w in words:
        out.add(w)
        out.add(w[:1].upper() + w[1:])
    return _alt(out)


_FR_ADDRESS = (
    _NUM_START + _NOT_AFTER_NAME + _COUNTING + _PREP_YEAR + r"[0-9]{1,5}(?:[ ]?(?:bis|ter|[A-Za-z])(?=[ ,]))?,?[ ]"
    + _both_cases(_FR_TYPES) + r"[ ]" + _NAMES + _END
)

# Type first, number after: Italian, Spanish, Catalan, Portuguese, French/Belgian, Polish, Czech, Romanian.
_TYPE_FIRST_CAP = (
    "Via", "Viale", "Piazza", "Piazzale", "Corso", "Vicolo", "Largo", "Strada", "Borgo", "Contrada", "Rotonda",
    "Incrocio", "Stretto", "Canale", "Lungomare", "Lungotevere", "Salita", "Traversa", "Vico", "Calle",
    "Avenida", "Avda.", "Av.", "Plaza", "Paseo", "Pº", "Camino", "Carrer", "Carretera", "Ctra.", "Rambla",
    "Glorieta", "Urbanización", "Callejón", "Cañada", "Alameda", "Acceso", "Ronda", "Pasaje", "Cuesta",
    "Pasadizo", "Vial", "Vía", "Travesía", "Passeig", "Plaça", "Avinguda", "Rua", "Travessa", "Praça",
    "Estrada", "Largo", "Beco", "Rue", "Avenue", "Boulevard", "Chemin", "Allée", "Impasse", "Quai", "Place",
    "Ulica", "Aleja", "Plac", "Osiedle", "Náměstí", "Nám.", "Třída", "Strada", "Bulevardul", "Bd.", "Calea",
    "Str.", "Aleea", "Piața", "Splaiul", "Šetalište",
)
_TYPE_FIRST_LOWER = (
    "viale", "piazza", "piazzale", "corso", "vicolo", "largo", "calle", "avenida", "avda.", "plaza", "paseo",
    "camino", "carrer", "passeig", "plaça", "avinguda", "rua", "travessa", "praça", "ul.", "ulica", "al.",
    "aleja", "pl.", "plac", "os.", "osiedle", "str.", "strada", "bd.", "calea", "c/", "C/",
)
_TYPE_FIRST = _alt(set(_TYPE_FIRST_CAP) | set(_TYPE_FIRST_LOWER))
_TYPE_FIRST_ADDRESS = (
    _START + _TYPE_FIRST + r"[ ]?(?<=[ /])" + _NAMES + r",?[ ]" + _HOUSE_AFTER + _UNIT
)
# Spanish "C." (calle): two name words or a particle, a house number that is not a year, and no capitalised
# word just before (John C. Calhoun 1850).
_C_DOT_ADDRESS = (
    _START + r"(?<!\p{Lu}[\p{L}\p{M}]{1,12}[ ])C\.[ ](?:(?:" + _PART + "){1,2}" + _NAME_WORD + "(?:[ ](?:" + _PART
    + ")?" + _NAME_WORD + "){0,2}|" + _NAME_WORD + "(?:[ ](?:" + _PART + ")?" + _NAME_WORD + r"){1,2}),?[ ]"
    + r"(?!" + _YEAR + r"(?![0-9]))" + _HOUSE_AFTER + _UNIT
)

# Type last, separate word after capitalised words (Berliner Straße, Martin Linges veg, Václavské náměstí).
_TYPE_LAST_WORDS = (
    "Straße", "Strasse", "Str.", "Weg", "Gasse", "Platz", "Allee", "Ring", "Damm", "Ufer", "Chaussee", "Markt",
    "Steig", "Pfad", "Graben", "Straat", "Laan", "Gracht", "Plein", "Kade", "Singel", "Hof", "Dijk",
    "Dreef", "Steeg", "Kanaal", "gate", "gata", "gaten", "vei", "veien", "veg", "vegen", "vej", "gade", "allé",
    "plass", "vägen", "väg", "gatan", "gränd", "torg", "torget", "stræde", "katu", "kuja", "polku",
    "tori", "náměstí", "nám.", "třída", "ulice", "nábřeží", "námestie", "ulica", "cesta", "trg",
)
# Hungarian type words: the name before may contain lower-case words (Arany jános utca).
_TYPE_LAST_HU = ("utca", "u.", "út", "útja", "tér", "tere", "köz", "körút", "krt.", "sétány", "fasor",
                 "rakpart", "lakótelep")
# Articles, pronouns and prepositions that start a sentence are not part of the street name ("Die Hauptstraße 5").
_NOT_SENTENCE_WORD = (
    r"(?!(?:The|Die|Der|Das|Dem|Den|Het|Een|Ein|Eine|El|Il|Un|Una|Une|Uno|In|Im|Auf|Nach|Bei|Mit|Und|And|Of|At"
    r"|On|To|For|By|From|This|That|We|Wir|Ich|Er|Sie|Es|Wij|Ik|Hij|Zij|Vi|Jag|Han|Hon|Det|Den|En|Ett)"
    r"(?![\p{L}\p{M}'’]))"
)
_LEAD_WORD = _NOT_SENTENCE_WORD + _NAME_WORD
_TYPE_LAST_ADDRESS = (
    _START + "(?:" + _LEAD_WORD + r"[ ](?:" + _PART + r")?){1,3}" + _alt(_TYPE_LAST_WORDS) + r",?[ ]" + _HOUSE_AFTER
    + _UNIT
)
_HU_ADDRESS = (
    _START + _CAP + r"(?:[ ]" + r"\p{L}(?:" + _WORD_CH + r"|-(?=\p{L})){1,23}){0,2}[ ]" + _alt(_TYPE_LAST_HU)
    + r"[ ]" + _HOUSE_AFTER
)

# Compound words ending in a type word (checked by a look-behind once the word is read whole).
_SUFFIXES = (
    "straße", "strasse", "gasse", "platz", "allee", "damm", "ufer", "chaussee", "steig", "pfad", "graben",
    "markt", "weg", "straat", "laan", "gracht", "plein", "kade", "singel", "hof", "dijk", "dreef", "steeg",
    "baan", "kanaal", "boulevard", "pad", "gatan", "gata", "vägen", "väg", "gränd", "torget", "torg", "stigen",
    "backen", "vej", "gade", "veien", "vei", "vegen", "veg", "allé", "plass", "plassen", "stræde", "katu",
    "kuja", "polku",
)
_SUFFIX_CHECKS = (
    r"(?<=\p{L}{2}str)\.",  # Hauptstr.
    r"(?<=\p{L}{2}(?:" + "|".join(_SUFFIXES) + "))",  # Hauptstraße, Wilgenlaan, Hundbergsvägen
    r"(?<=\p{L}-(?:" + "|".join(s[:1].upper() + s[1:] for s in _SUFFIXES) + "|Ring))",  # Rose-Krebs-Straße
    r"(?<=\p{L}{3}ring)",  # Kaiserring, Majaring; not During, Spring, String
    r"(?<=\p{L}{2}ntie)",  # Mannerheimintie, Hämeentie
)
_COMPOUND = r"(?>\p{Lu}(?:" + _WORD_CH + r"|\.(?=-)|-(?=\p{L})){2,31})(?:" + "|".join(_SUFFIX_CHECKS) + ")"
_COMPOUND_ADDRESS = (
    _START + "(?:" + _LEAD_WORD + r"[ ]){0,2}" + _COMPOUND + r",?[ ]" + _HOUSE_AFTER + _UNIT
)

_PO_BOX = (
    _START + r"(?:P\.[ ]?O\.[ ]?Box|PO[ ]Box|P\.O\.B\.|POB|Post[ ]Office[ ]Box|Postfach|Postbus|Postboks"
    r"|Boîte[ ]postale|Apartado(?:[ ]de[ ]correos)?|Apdo\.|Casella[ ]postale|Skrytka[ ]pocztowa|Caixa[ ]Postal)"
    r"[ ]?[0-9]{1,6}" + _END
)
_PSC = _START + r"(?:PSC|Unit|CMR)[ ][0-9]{4},?[ ]Box[ ][0-9]{4}" + _END

# English compound-word false friends of the suffix list.
_BLOCKLIST = frozenset(
    w.lower() for w in (
        "Brigade", "Brigades", "Renegade", "Renegades", "Offspring", "Wellspring", "Hamstring", "Shoestring",
        "Bowstring", "Drawstring", "Herring", "Notepad", "Keypad", "Launchpad", "Auntie",
    )
)
_WORDS = regex.compile(r"[\p{L}\p{M}'’\-]+")


class StreetAddressRecognizer(PatternRecognizer):
    """Street addresses with a house number in many countries' formats (module docstring has the rules)."""

    ENTITY = "STREET_ADDRESS"
    CONTEXT = [
        "address", "addresses", "live", "lives", "living", "located", "location", "street", "ship", "shipping",
        "deliver", "delivery", "mail", "mailing", "visit", "reside", "resides", "residence", "residing", "home",
        "office", "headquarters", "moved", "adresse", "anschrift", "dirección", "direccion", "indirizzo", "adres",
        "adress", "endereço", "adresa", "cím",
    ]

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = ENTITY,
        context: Optional[list[str]] = None,
        name: Optional[str] = None,
    ):
        patterns = [
            Pattern("address_en", _EN_STRONG_ADDRESS, 0.5),
            Pattern("address_en_weak", _EN_WEAK_ADDRESS, 0.5),
            Pattern("address_en_unit_first", _EN_UNIT_FIRST, 0.5),
            Pattern("address_fr", _FR_ADDRESS, 0.5),
            Pattern("address_type_first", _TYPE_FIRST_ADDRESS, 0.5),
            Pattern("address_c_dot", _C_DOT_ADDRESS, 0.5),
            Pattern("address_type_last", _TYPE_LAST_ADDRESS, 0.5),
            Pattern("address_hu", _HU_ADDRESS, 0.5),
            Pattern("address_compound", _COMPOUND_ADDRESS, 0.5),
            Pattern("po_box", _PO_BOX, 0.5),
            Pattern("psc_box", _PSC, 0.5),
        ]
        super().__init__(
            supported_entity=supported_entity,
            name=name or "StreetAddressRecognizer",
            supported_language=supported_language,
            patterns=patterns,
            context=context if context is not None else list(self.CONTEXT),
            global_regex_flags=_FLAGS,
        )

    def invalidate_result(self, pattern_text: str) -> Optional[bool]:
        """English words that end like a compound street name (Brigade, Offspring...)."""
        return any(w.lower() in _BLOCKLIST for w in _WORDS.findall(pattern_text))


EXTRA_RECOGNIZERS = {
    "NUMBER_SEQUENCE": NumberSequenceRecognizer,
    "STREET_ADDRESS": StreetAddressRecognizer,
}

#: Necessary pre-filters, ``(kind, pattern, min_digits, before, after)`` (see the module docstring).
EXTRA_PREFILTERS = {
    "NUMBER_SEQUENCE": ("runs", r"[0-9(+][0-9 \-./()+x,:]*[0-9]", 7, 1, 1),
    "STREET_ADDRESS": ("windows", r"[0-9]", 1, 120, 120),
}
