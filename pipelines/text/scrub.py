"""Content-free previews of raw bytes, for quarantine records and error messages.

A quarantine record must help an engineer see *what kind* of breakage a record has without storing any
of its content (it may hold personal data). :func:`shape_prefix` keeps the shape of the first bytes:
letters become ``x``/``X``, digits ``9``, whitespace a space, ASCII punctuation stays (so JSON structure
such as ``{"xxxx": 99,`` is visible), and anything else (non-ASCII, control bytes, invalid UTF-8) becomes
``?``. No letter, digit or non-ASCII character of the input survives.
"""
from __future__ import annotations

import string

PREFIX_CHARS = 64
_PUNCT = set(string.punctuation)


def shape_prefix(raw: bytes, n: int = PREFIX_CHARS) -> str:
    """The scrubbed shape of the first ``n`` characters of ``raw`` (see the module docstring)."""
    text = raw[: n * 4].decode("utf-8", "replace")[:n]
    out = []
    for ch in text:
        if ch.isascii() and ch.isalpha():
            out.append("X" if ch.isupper() else "x")
        elif ch.isascii() and ch.isdigit():
            out.append("9")
        elif ch in " \t\r\n":
            out.append(" ")
        elif ch in _PUNCT:
            out.append(ch)
        else:
            out.append("?")
    return "".join(out)
