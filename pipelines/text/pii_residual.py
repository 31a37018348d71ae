"""Linear-time patterns for e-mails, phone numbers and card numbers.

Two uses:

* the *residual pass*: after scrubbing, count what still looks like PII (what slipped through), for the
  report; nothing is changed;
* the *fallback scrub* of a document whose detection failed (``pii.on_error: fallback``).

Every pattern is bounded (no nested unbounded repetition) and e-mails are searched from each ``@`` within
RFC length limits, so these never backtrack catastrophically, whatever the input.
"""
from __future__ import annotations

import regex

_EMAIL_LOCAL = regex.compile(r"[\w.+\-!#$%&'*/=?^`{|}~]{1,64}$")
_EMAIL_DOMAIN = regex.compile(r"[\w\-]{1,63}(?:\.[\w\-]{1,63}){0,8}\.[^\W\d_]{2,24}(?![\w\-])")
_PHONE = regex.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,4}){1,4}"  # international, leading '+'
    r"|\(?\b\d{3}\)?[ .\-]\d{3}[ .\-]\d{4}"  # North American
    r")(?![\w])"
)
_CARD = regex.compile(r"(?<![\d\w])(?:\d[ \-]?){12,18}\d(?![\d\w])")


def luhn_ok(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn checksum (card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _emails(text: str) -> list[tuple[int, int]]:
    spans = []
    i = text.find("@")
    last_end = 0
    while i >= 0:
        lo = max(last_end, i - 64)
        local = _EMAIL_LOCAL.search(text, lo, i)
        dom = _EMAIL_DOMAIN.match(text, i + 1, min(len(text), i + 256)) if local else None
        if local and dom and local.group()[0] not in ".":
            spans.append((local.start(), dom.end()))
            last_end = dom.end()
            i = text.find("@", dom.end())
        else:
            i = text.find("@", i + 1)
    return spans


def _phones(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _PHONE.finditer(text):
        nd = sum(1 for ch in m.group() if ch.isdigit())
        if 8 <= nd <= 15:
            out.append(m.span())
    return out


def _cards(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _CARD.finditer(text):
        digits = "".join(ch for ch in m.group() if ch.isdigit())
        if 13 <= len(digits) <= 19 and digits.isascii() and luhn_ok(digits):
            out.append(m.span())
    return out


def find_residual(text: str) -> dict[str, list[tuple[int, int]]]:
    """Spans per entity type (EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD) found by the cheap patterns."""
    return {"EMAIL_ADDRESS": _emails(text), "PHONE_NUMBER": _phones(text), "CREDIT_CARD": _cards(text)}


def residual_counts(text: str) -> dict[str, int]:
    """How many e-mails, phone numbers and card numbers the cheap patterns still find (zeros omitted)."""
    return {k: len(v) for k, v in find_residual(text).items() if v}


def fallback_scrub(text: str) -> tuple[str, dict[str, int]]:
    """Replace what the cheap patterns find with typed placeholders; return the text and counts."""
    found = find_residual(text)
    spans = sorted((s, e, k) for k, v in found.items() for s, e in v)
    out = []
    pos = 0
    counts: dict[str, int] = {}
    for s, e, k in spans:
        if s < pos:  # overlaps the previous replacement (e.g. a card that also looks like a phone)
            continue
        out.append(text[pos:s])
        out.append(f"<{k}>")
        counts[k] = counts.get(k, 0) + 1
        pos = e
    out.append(text[pos:])
    return "".join(out), counts
