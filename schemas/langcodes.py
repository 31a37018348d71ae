"""Normalization of language labels from fastText LID models into one code system.

Models label languages differently: ``lid.176`` uses ``__label__en`` (ISO 639-1 where one exists, else
ISO 639-3 or a Wikipedia code such as ``als``), GlotLID and NLLB-style models use ``__label__eng_Latn``
(ISO 639-3 plus an ISO 15924 script). :func:`normalize_label` maps all of them to one code: ISO 639-1 when
the language has one, otherwise the model's three-letter code. The script, when the label has one, is
kept apart (:func:`label_script`), and the raw label is stored next to the normalized code.

Individual languages that belong to a macrolanguage with an ISO 639-1 code (``cmn`` -> ``zh``,
``arb`` -> ``ar``) are folded into the macrolanguage only for labels in the ``xxx_Scrp`` form: in
``lid.176`` a few three-letter codes are Wikipedia codes with another meaning (``als`` is Alemannic
there, Tosk Albanian in ISO 639-3), so they are left as they are.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

LABEL_PREFIX = "__label__"

#: ISO 639-1 code -> ISO 639-3 code (and ISO 639-2/B where it differs; both map back).
_ISO1_TO_ISO3: dict[str, tuple[str, ...]] = {
    "aa": ("aar",), "ab": ("abk",), "af": ("afr",), "ak": ("aka",), "am": ("amh",), "an": ("arg",),
    "ar": ("ara",), "as": ("asm",), "av": ("ava",), "ay": ("aym",), "az": ("aze",), "ba": ("bak",),
    "be": ("bel",), "bg": ("bul",), "bi": ("bis",), "bm": ("bam",), "bn": ("ben",), "bo": ("bod", "tib"),
    "br": ("bre",), "bs": ("bos",), "ca": ("cat",), "ce": ("che",), "ch": ("cha",), "co": ("cos",),
    "cr": ("cre",), "cs": ("ces", "cze"), "cu": ("chu",), "cv": ("chv",), "cy": ("cym", "wel"),
    "da": ("dan",), "de": ("deu", "ger"), "dv": ("div",), "dz": ("dzo",), "ee": ("ewe",),
    "el": ("ell", "gre"), "en": ("eng",), "eo": ("epo",), "es": ("spa",), "et": ("est",),
    "eu": ("eus", "baq"), "fa": ("fas", "per"), "ff": ("ful",), "fi": ("fin",), "fj": ("fij",),
    "fo": ("fao",), "fr": ("fra", "fre"), "fy": ("fry",), "ga": ("gle",), "gd": ("gla",), "gl": ("glg",),
    "gn": ("grn",), "gu": ("guj",), "gv": ("glv",), "ha": ("hau",), "he": ("heb",), "hi": ("hin",),
    "ho": ("hmo",), "hr": ("hrv",), "ht": ("hat",), "hu": ("hun",), "hy": ("hye", "arm"), "hz": ("her",),
    "ia": ("ina",), "id": ("ind",), "ie": ("ile",), "ig": ("ibo",), "ii": ("iii",), "ik": ("ipk",),
    "io": ("ido",), "is": ("isl", "ice"), "it": ("ita",), "iu": ("iku",), "ja": ("jpn",), "jv": ("jav",),
    "ka": ("kat", "geo"), "kg": ("kon",), "ki": ("kik",), "kj": ("kua",), "kk": ("kaz",), "kl": ("kal",),
    "km": ("khm",), "kn": ("kan",), "ko": ("kor",), "kr": ("kau",), "ks": ("kas",), "ku": ("kur",),
    "kv": ("kom",), "kw": ("cor",), "ky": ("kir",), "la": ("lat",), "lb": ("ltz",), "lg": ("lug",),
    "li": ("lim",), "ln": ("lin",), "lo": ("lao",), "lt": ("lit",), "lu": ("lub",), "lv": ("lav",),
    "mg": ("mlg",), "mh": ("mah",), "mi": ("mri", "mao"), "mk": ("mkd", "mac"), "ml": ("mal",),
    "mn": ("mon",), "mr": ("mar",), "ms": ("msa", "may"), "mt": ("mlt",), "my": ("mya", "bur"),
    "na": ("nau",), "nb": ("nob",), "nd": ("nde",), "ne": ("nep",), "ng": ("ndo",), "nl": ("nld", "dut"),
    "nn": ("nno",), "no": ("nor",), "nr": ("nbl",), "nv": ("nav",), "ny": ("nya",), "oc": ("oci",),
    "oj": ("oji",), "om": ("orm",), "or": ("ori",), "os": ("oss",), "pa": ("pan",), "pi": ("pli",),
    "pl": ("pol",), "ps": ("pus",), "pt": ("por",), "qu": ("que",), "rm": ("roh",), "rn": ("run",),
    "ro": ("ron", "rum"), "ru": ("rus",), "rw": ("kin",), "sa": ("san",), "sc": ("srd",), "sd": ("snd",),
    "se": ("sme",), "sg": ("sag",), "si": ("sin",), "sk": ("slk", "slo"), "sl": ("slv",), "sm": ("smo",),
    "sn": ("sna",), "so": ("som",), "sq": ("sqi", "alb"), "sr": ("srp",), "ss": ("ssw",), "st": ("sot",),
    "su": ("sun",), "sv": ("swe",), "sw": ("swa",), "ta": ("tam",), "te": ("tel",), "tg": ("tgk",),
    "th": ("tha",), "ti": ("tir",), "tk": ("tuk",), "tl": ("tgl",), "tn": ("tsn",), "to": ("ton",),
    "tr": ("tur",), "ts": ("tso",), "tt": ("tat",), "tw": ("twi",), "ty": ("tah",), "ug": ("uig",),
    "uk": ("ukr",), "ur": ("urd",), "uz": ("uzb",), "ve": ("ven",), "vi": ("vie",), "vo": ("vol",),
    "wa": ("wln",), "wo": ("wol",), "xh": ("xho",), "yi": ("yid",), "yo": ("yor",), "za": ("zha",),
    "zh": ("zho", "chi"), "zu": ("zul",),
}

#: Three-letter code -> ISO 639-1, built from the table above.
ISO3_TO_ISO1: dict[str, str] = {iso3: iso1 for iso1, codes in _ISO1_TO_ISO3.items() for iso3 in codes}

#: Individual languages -> their macrolanguage's ISO 639-1 code. Applied to ``xxx_Scrp`` labels only.
MACRO_TO_ISO1: dict[str, str] = {
    "cmn": "zh", "arb": "ar", "zsm": "ms", "pes": "fa", "prs": "fa", "ekk": "et", "lvs": "lv",
    "npi": "ne", "swh": "sw", "uzn": "uz", "khk": "mn", "ory": "or", "plt": "mg", "gaz": "om",
    "azj": "az", "ydd": "yi", "als": "sq", "quy": "qu", "ayr": "ay", "knc": "kr",
    "pbt": "ps", "kmr": "ku", "tgk": "tg", "nob": "nb", "nno": "nn", "fuv": "ff",
}


@lru_cache(maxsize=4096)
def normalize_label(label: str) -> str:
    """Normalize a model label (``__label__en``, ``__label__eng_Latn``, ``eng``, ``EN``) to a code.

    Args:
        label: a raw fastText label, with or without the ``__label__`` prefix.

    Returns:
        ISO 639-1 when the language has one, otherwise the lower-cased three-letter (or model) code.
        Unknown forms are returned lower-cased without prefix and script.
    """
    code = label[len(LABEL_PREFIX):] if label.startswith(LABEL_PREFIX) else label
    code = code.strip()
    has_script = False
    for sep in ("_", "-"):
        if sep in code:
            code = code.split(sep, 1)[0]
            has_script = True
            break
    code = code.lower()
    if len(code) == 3:
        if code in ISO3_TO_ISO1:
            return ISO3_TO_ISO1[code]
        if has_script and code in MACRO_TO_ISO1:
            return MACRO_TO_ISO1[code]
    return code


@lru_cache(maxsize=4096)
def label_script(label: str) -> Optional[str]:
    """The ISO 15924 script of a ``xxx_Scrp`` label (``Latn``), or None when the label has none."""
    code = label[len(LABEL_PREFIX):] if label.startswith(LABEL_PREFIX) else label
    if "_" in code:
        script = code.split("_", 1)[1]
        if len(script) == 4 and script.isalpha():
            return script.title()
    return None


def strip_prefix(label: str) -> str:
    """The label without fastText's ``__label__`` prefix (what the ``lang_label`` column stores)."""
    return label[len(LABEL_PREFIX):] if label.startswith(LABEL_PREFIX) else label


__all__ = ["ISO3_TO_ISO1", "LABEL_PREFIX", "MACRO_TO_ISO1", "label_script", "normalize_label", "strip_prefix"]
