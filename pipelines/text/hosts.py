"""Host names in comparable form: one normalization for opt-out and takedown matching. Pure Python.

The same host is written many ways: ``Example.COM``, ``example.com.`` (the fully qualified form),
``example.com:8080`` in a URL, and an internationalized name either in Unicode (``bücher.example``) or in
its IDNA ASCII form (``xn--bcher-kva.example``). Every comparison of hosts (an opt-out domain list, a
takedown ``domain`` / ``url`` / ``url_prefix`` request, a document's URL) goes through the functions here,
so that all of these forms compare equal:

* lower case, trailing dot dropped, a leading ``*.`` (wildcard notation in lists) dropped;
* IDNA ASCII ("punycode") form, with Python's ``idna`` codec (IDNA 2003: nameprep also folds full-width
  letters and maps ``ß`` to ``ss``, as it does for every side of a comparison);
* no port (URL functions split it off; :func:`url_host` drops it).
"""
from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit


def normalize_host(host: str) -> Optional[str]:
    """A host in comparable form: lower case, IDNA (punycode), no trailing dot, no ``*.``.

    None when nothing is left, or when IDNA cannot encode it (an empty label as in ``a..b``, a label over
    63 characters, a forbidden code point): use this to validate host names that a person wrote.
    """
    h = host.strip().lower().rstrip(".")
    if h.startswith("*."):
        h = h[2:]
    h = h.lstrip(".")
    if not h:
        return None
    try:
        return h.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def comparable_host(host: str) -> Optional[str]:
    """:func:`normalize_host`, or, when IDNA cannot encode the host, its lower-case form without trailing dot.

    For hosts taken from data (a document's URL, a request's value): a malformed host still compares
    equal to the same malformed host written in another case, instead of matching nothing. None if empty.
    """
    norm = normalize_host(host)
    if norm is not None:
        return norm
    h = host.strip().lower().rstrip(".")
    return h or None


def url_host(url: Optional[str]) -> Optional[str]:
    """The comparable host of a URL (:func:`comparable_host`; no port, no user info), or None."""
    if not isinstance(url, str):
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return comparable_host(host) if host else None


__all__ = ["comparable_host", "normalize_host", "url_host"]
