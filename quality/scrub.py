"""A conservative scrubber for the text previews shown in reports.

Report examples are taken from ``rejected/``, and a document removed before the pii stage (or in a run
without it) still holds its raw text. This scrubber therefore assumes nothing about upstream scrubbing
and errs on the side of hiding too much. It is deliberately cruder than Presidio: it needs no model and
it over-redacts by construction:

* every token with ``@`` (e-mail addresses, handles) becomes ``[email]``;
* every URL or host name (``scheme://``, ``www.``, ``label.label.tld``) becomes ``[url]``;
* every decimal digit becomes ``#`` (phone, card, account, ID numbers, IP addresses, dates), and a long
  token that held digits becomes ``[id]`` (keys, IBANs, hashes);
* every capitalised or upper-case word that is not a common function word becomes ``[X]`` (names of
  people, places and organisations in scripts with letter case);
* every run of letters of a script without letter case (Han, Kana, Hangul, Arabic, Hebrew, Thai,
  Devanagari, ...) becomes ``[…]``, because names cannot be told apart there without a model;
* typed placeholders left by the pii stage (``<EMAIL_ADDRESS>``, ``<PERSON_1a2b…>``) stay readable.

What survives is the shape of the text: lower-case common words, punctuation and layout, which is what a
reviewer needs to see why a rule fired. Whitespace is collapsed and the preview is truncated.
"""
from __future__ import annotations

import re
import unicodedata

#: Default length of a preview, in characters (before the ellipsis).
DEFAULT_MAX_CHARS = 240

EMAIL_MASK = "[email]"
URL_MASK = "[url]"
ID_MASK = "[id]"
NAME_MASK = "[X]"
UNCASED_MASK = "[…]"

# Capitalised words that are almost never personal data; kept for readability. Everything else with an
# initial capital is masked. Lower-cased for lookup.
COMMON_WORDS = frozenset(
    """
    a about above after again against all also although always an and another any are as at be because
    been before being below between both but by can could did do does doing down during each either even
    every few for from further had has have having he her here hers herself him himself his how however i
    if in into is it its itself just let me more moreover most my myself no nor not now of off on once one
    only or other our ours ourselves out over own please same she should since so some still such than
    that the their theirs them themselves then there therefore these they this those though through thus
    to too two under until up upon very was we were what when where whether which while who whom whose
    why will with within without would yes yet you your yours yourself yourselves
    click read see more home menu contact share next previous page privacy terms cookie cookies login
    sign subscribe copyright all rights reserved lorem ipsum dolor sit amet buy now free best top new
    der die das und ist ein eine nicht mit von zu den dem des im le la les un une et est en du des il
    elle nous vous ils el los las y es por para con una lo il di che non per gli o de het een van
    """.split()
)

# Placeholders written by the pii stage: <ENTITY> or <ENTITY_hex> (and mask characters).
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]{1,40}(?:_[0-9a-f]{4,64})?>")
_SCHEME_OR_WWW = re.compile(r"(?i)(?:[a-z][a-z0-9+.\-]{1,15}://|www\.)")
_HOSTLIKE = re.compile(r"(?i)[^\W_](?:[\w\-]*[^\W_])?(?:\.[^\W_](?:[\w\-]*[^\W_])?)*\.[^\W\d_]{2,24}(?![\w])")
_HOST_DOT = re.compile(r"[^\W_]\.[^\W\d_]{2,}")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
_WS = re.compile(r"\s+")
_LONG_ID_MIN = 12


def _is_uncased_letter(ch: str) -> bool:
    # Letters without case: 'Lo' (Han, Kana, Arabic, Hebrew, Thai, Devanagari, ...) and modifier letters.
    return unicodedata.category(ch) in ("Lo", "Lm")


def _mask_word(word: str) -> str:
    if any(_is_uncased_letter(c) for c in word):
        out, in_run = [], False
        for c in word:
            if _is_uncased_letter(c):
                if not in_run:
                    out.append(UNCASED_MASK)
                in_run = True
            else:
                out.append(_mask_word(c) if c.isupper() else c)
                in_run = False
        return "".join(out)
    if any(c.isupper() or unicodedata.category(c) == "Lt" for c in word):
        return word if word.lower() in COMMON_WORDS else NAME_MASK
    return word


def _scrub_token(tok: str) -> str:
    """Scrub one whitespace-free token."""
    if "@" in tok:
        return EMAIL_MASK
    if _SCHEME_OR_WWW.search(tok) or (_HOST_DOT.search(tok) and _HOSTLIKE.search(tok)):
        # Keep leading/trailing punctuation so that sentences still read ("see [url].").
        m = re.match(r"^([(\[\"'«“]*)(.*?)([)\]\"'»”.,;:!?]*)$", tok)
        lead, trail = (m.group(1), m.group(3)) if m else ("", "")
        return f"{lead}{URL_MASK}{trail}"
    had_digit = any(c.isdigit() for c in tok)
    if had_digit and len(tok) >= _LONG_ID_MIN:
        return ID_MASK
    tok = "".join("#" if c.isdigit() else c for c in tok)
    return _WORD.sub(lambda m: _mask_word(m.group()), tok)


def scrub_text(text: str) -> str:
    """Scrub a whole string (no truncation); see the module docstring for the rules."""
    if not text:
        return ""
    out = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        out.append(_scrub_span(text[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(_scrub_span(text[pos:]))
    return "".join(out)


def _scrub_span(span: str) -> str:
    parts = re.split(r"(\s+)", span)
    return "".join(p if (not p or p.isspace()) else _scrub_token(p) for p in parts)


def scrub_example(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """A report preview of ``text``: whitespace collapsed, scrubbed, at most about ``max_chars`` characters.

    The text is cut on a whitespace boundary *before* scrubbing (a cut token is scrubbed like a whole one:
    a partial e-mail still has its ``@``, a partial number its digits), and an ellipsis marks the cut.

    Args:
        text: the document text (raw or already scrubbed by the pii stage).
        max_chars: preview length before scrubbing; masks may make the result a little longer or shorter.
    """
    if max_chars <= 0:
        raise ValueError("max_chars must be positive")
    collapsed = _WS.sub(" ", text or "").strip()
    cut = len(collapsed) > max_chars
    if cut:
        head = collapsed[: max_chars + 1]
        space = head.rfind(" ")
        collapsed = head[:space] if space > max_chars // 2 else head[:max_chars]
    scrubbed = scrub_text(collapsed)
    return scrubbed + " …" if cut else scrubbed


__all__ = ["COMMON_WORDS", "DEFAULT_MAX_CHARS", "scrub_example", "scrub_text"]
