"""Text normalization applied to every document at ingest.

Policy (the order matters and is part of the contract, since ``content_sha256`` and exact dedup depend
on it):

1. Line endings: CRLF, CR, NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029)
   become LF.
2. Control characters are removed: C0 controls except TAB and LF, DEL, C1 controls, and the byte-order
   mark U+FEFF. NUL is a control character and is removed.
3. Unicode NFC (skipped cheaply when the text is already NFC, which is the common case).
4. Leading and trailing whitespace of the document is trimmed (inner whitespace is kept as is).

Invalid UTF-8 and lone surrogates are not handled here: the readers decide (quarantine or U+FFFD) per
``ingest.invalid_utf8`` before normalization.
"""
from __future__ import annotations

import re
import unicodedata

_NEWLINES_RE = re.compile("\r\n|[\r\u0085\u2028\u2029]")
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ufeff]")
# Characters that indicate binary content when they are frequent: controls (not TAB/LF/CR) and U+FFFD.
_BINARY_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Everything any rule above acts on: controls (incl. CR, NEL, NUL), the special line breaks, BOM, U+FFFD
# and surrogates. A text without any of them is "plain": only NFC and trimming can change it.
_UNUSUAL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffd\ud800-\udfff]")


def is_plain(text: str) -> bool:
    """True when ``text`` holds no character that the control, line-ending, binary or surrogate rules
    act on (one scan; most documents). For such a text, :func:`binary_ratio` is 0,
    :func:`has_lone_surrogate` is False and :func:`normalize_text` is :func:`normalize_plain`."""
    return _UNUSUAL_RE.search(text) is None


def normalize_plain(text: str) -> str:
    """:func:`normalize_text` of a text for which :func:`is_plain` is True: NFC and trimming only."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text.strip()


def normalize_text(text: str) -> str:
    """Return ``text`` normalized by the ingest policy (see the module docstring)."""
    if "\r" in text or "\u0085" in text or "\u2028" in text or "\u2029" in text:
        text = _NEWLINES_RE.sub("\n", text)
    text = _CONTROL_RE.sub("", text)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text.strip()


def binary_ratio(text: str) -> float:
    """Share of characters that are control characters (other than TAB, LF, CR) or U+FFFD."""
    if not text:
        return 0.0
    return len(_BINARY_RE.findall(text)) / len(text)


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` holds a surrogate code point (from a JSON ``\\ud800`` escape, say)."""
    return _SURROGATE_RE.search(text) is not None


def replace_surrogates(text: str) -> str:
    """Replace lone surrogates with U+FFFD."""
    return _SURROGATE_RE.sub("\ufffd", text)
