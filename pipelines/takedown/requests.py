"""Erasure requests: parsing and validation, URL and domain normalization, matching (pure Python).

A request is one JSON line with a ``request_id`` and exactly one of the :data:`KINDS` (see the package
docstring). Nothing here needs Spark: :class:`RequestMatcher` is what the Spark matching runs per row.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Union
from urllib.parse import urlsplit, urlunsplit

from pipelines.text.hosts import comparable_host, url_host

KINDS = ("doc_id", "url", "url_prefix", "domain", "content_sha256")
REASON_PREFIX = "takedown"
REASON_COLUMN = "takedown_reason"
REQUEST_COLUMN = "takedown_request_id"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$")


class TakedownError(ValueError):
    """A request file or request that cannot be applied; the message says how to fix it."""


@dataclass(frozen=True, order=True)
class TakedownRequest:
    """One validated request: ``kind`` is one of :data:`KINDS`, ``value`` is normalized."""

    request_id: str
    kind: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {"request_id": self.request_id, self.kind: self.value}

    @property
    def reason(self) -> str:
        return f"{REASON_PREFIX}:{self.kind}"


def normalize_url(url: str) -> Optional[str]:
    """A URL in comparable form: scheme lower case, host as :func:`pipelines.text.hosts.comparable_host`
    (lower case, IDNA, no trailing dot), default port and fragment dropped, empty path as ``/``. None when
    it is not an absolute http(s)-like URL."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = comparable_host(parts.hostname) if parts.hostname else None
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    scheme = parts.scheme.lower()
    netloc = host
    if port is not None and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{netloc}:{port}"
    if parts.username or parts.password:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def normalize_domain(domain: str) -> Optional[str]:
    """A ``domain`` request's value in comparable form (:func:`pipelines.text.hosts.comparable_host`), or
    None when it is not a host name (a scheme, path, port or space in it, or a leading dot)."""
    d = domain.strip().lower().rstrip(".")
    if d.startswith("*."):
        d = d[2:]
    if not d or "/" in d or ":" in d or " " in d or d.startswith("."):
        return None
    return comparable_host(d)


def parse_request(obj: Any, where: str = "request") -> TakedownRequest:
    """Validate one request object.

    Raises:
        TakedownError: no request_id, not exactly one key, or an invalid value (the value itself is
            never echoed: it may be personal data).
    """
    if not isinstance(obj, dict):
        raise TakedownError(f"{where}: a request is a JSON object with request_id and one of {', '.join(KINDS)}")
    rid = obj.get("request_id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise TakedownError(f"{where}: request_id must be a non-empty string of letters, digits and ._:@/- "
                            "(at most 200 characters)")
    keys = [k for k in KINDS if k in obj]
    extra = sorted(set(obj) - set(KINDS) - {"request_id", "note", "received_at"})
    if extra:
        raise TakedownError(f"{where} ({rid}): unknown keys {extra}; allowed: request_id, {', '.join(KINDS)}, note")
    if len(keys) != 1:
        raise TakedownError(f"{where} ({rid}): give exactly one of {', '.join(KINDS)} (found {len(keys)})")
    kind = keys[0]
    raw = obj[kind]
    if not isinstance(raw, str) or not raw.strip():
        raise TakedownError(f"{where} ({rid}): {kind} must be a non-empty string")
    value: Optional[str]
    if kind == "doc_id":
        value = raw.strip()
    elif kind == "content_sha256":
        value = raw.strip().lower()
        if not _SHA_RE.match(value):
            raise TakedownError(f"{where} ({rid}): content_sha256 must be 64 hex digits; print it with "
                                "'corpusforge hash-text' from the document's text")
    elif kind in ("url", "url_prefix"):
        value = normalize_url(raw)
        if value is None:
            raise TakedownError(f"{where} ({rid}): {kind} must be an absolute URL such as https://host/path")
    else:
        value = normalize_domain(raw)
        if value is None:
            raise TakedownError(f"{where} ({rid}): domain must be a host name such as example.com")
    return TakedownRequest(rid, kind, value)


def load_requests(source: Union[str, os.PathLike, Iterable[Any]]) -> list[TakedownRequest]:
    """Requests from a JSON-lines file (or an iterable of dicts / requests), validated and de-duplicated.

    Raises:
        TakedownError: a bad line, or one request_id used for two different requests.
    """
    items: list[tuple[str, Any]] = []
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise TakedownError(f"request file {path} not found")
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((f"{path.name}:{i}", json.loads(line)))
            except json.JSONDecodeError:
                raise TakedownError(f"{path.name}:{i} is not valid JSON (one request object per line)") from None
    else:
        items = [(f"request #{i}", obj) for i, obj in enumerate(source, 1)]
    out: dict[str, TakedownRequest] = {}
    for where, obj in items:
        req = obj if isinstance(obj, TakedownRequest) else parse_request(obj, where)
        if req.request_id in out and out[req.request_id] != req:
            raise TakedownError(f"{where}: request_id {req.request_id} is used for two different requests; "
                                "give each request its own id")
        out[req.request_id] = req
    return sorted(out.values())


#: Request id prefix of the standing requests made from the opt-out domain list (``optout.domains``).
OPTOUT_DOMAIN_PREFIX = "optout-domain:"


def optout_domain_requests(domains: Iterable[str]) -> list[TakedownRequest]:
    """One ``domain`` request per opted-out domain (already validated and normalized, see
    ``pipelines.text.optout.check_domains``), with the stable id ``optout-domain:<domain>``."""
    out = []
    for d in sorted(set(domains)):
        value = normalize_domain(d)
        if value is None:
            raise TakedownError("an opt-out domain is not a host name (write example.com, without scheme or path)")
        out.append(TakedownRequest(f"{OPTOUT_DOMAIN_PREFIX}{value}", "domain", value))
    return out


class RequestMatcher:
    """Matches documents against requests in O(1) per document (plus one check per url_prefix)."""

    def __init__(self, requests: Iterable[TakedownRequest]) -> None:
        self.by_kind: dict[str, dict[str, list[str]]] = {k: {} for k in KINDS}
        for r in requests:
            self.by_kind[r.kind].setdefault(r.value, []).append(r.request_id)
        self.prefixes = sorted(self.by_kind["url_prefix"].items())

    def __bool__(self) -> bool:
        return any(self.by_kind.values())

    def match(self, doc_id: Optional[str], url: Optional[str], content_sha256: Optional[str]) -> list[tuple[str, str]]:
        """All ``(request_id, kind)`` that match a document, sorted by request id."""
        found: list[tuple[str, str]] = []
        bk = self.by_kind
        if doc_id is not None:
            found += [(r, "doc_id") for r in bk["doc_id"].get(doc_id, ())]
        if content_sha256 is not None:
            found += [(r, "content_sha256") for r in bk["content_sha256"].get(content_sha256, ())]
        if url is not None and (bk["url"] or self.prefixes or bk["domain"]):
            norm = normalize_url(url)
            if norm is not None:
                found += [(r, "url") for r in bk["url"].get(norm, ())]
                for prefix, rids in self.prefixes:
                    if norm.startswith(prefix):
                        found += [(r, "url_prefix") for r in rids]
            host = url_host(url)
            if host and bk["domain"]:
                labels = host.split(".")
                for i in range(len(labels)):
                    found += [(r, "domain") for r in bk["domain"].get(".".join(labels[i:]), ())]
        return sorted(set(found))


__all__ = [
    "KINDS",
    "OPTOUT_DOMAIN_PREFIX",
    "REASON_COLUMN",
    "REASON_PREFIX",
    "REQUEST_COLUMN",
    "RequestMatcher",
    "TakedownError",
    "TakedownRequest",
    "load_requests",
    "normalize_domain",
    "normalize_url",
    "optout_domain_requests",
    "parse_request",
    "url_host",
]
