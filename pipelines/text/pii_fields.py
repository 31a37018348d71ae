"""PII scrubbing of the fields besides the text: ``url`` and ``metadata`` (``pii.fields``).

Both are cut into short pieces that go through a ``scrub_values`` callable, all pieces of a batch in one
call, each distinct piece once. A piece comes back as a result with ``text``, ``counts`` (entity -> spans
replaced) and ``reason`` (``"pii:error"`` when its detection failed). The stage passes a
:class:`~pipelines.text.pii.PiiScrubber` built from :func:`fields_section`: the pattern entities of the
configuration except ``URL`` (Presidio's URL pattern takes file names for domains, ``index.html`` for
``index.ht``, and would eat every path; a URL's host is kept anyway), called with ``ner=False``.

URLs (:func:`scrub_url`, :func:`scrub_urls`):

* scheme, host and port are kept byte for byte (provenance, per-domain figures); userinfo
  (``user:secret@``) is **dropped** and counted as one ``USERINFO`` span;
* path segments, query keys and values (each on its own) and fragment segments are percent-decoded
  (``unquote``; ``unquote_plus`` in the query), scrubbed, and re-encoded only when they changed, so that
  placeholders such as ``<EMAIL_ADDRESS>`` become ``%3CEMAIL_ADDRESS%3E`` and the URL stays valid. Unchanged
  pieces keep their original bytes: a URL without PII comes back identical;
* opaque URLs (a scheme without ``//``: ``mailto:``, ``tel:``) have the part after the scheme (up to ``?``)
  scrubbed whole, then their query and fragment like any URL;
* a string ``urllib.parse.urlsplit`` rejects (``http://[::1``) is scrubbed as a plain string, piece by piece
  between slashes (Presidio's e-mail pattern misses an address right after a ``/``), nothing re-encoded;
* when the detection of any piece fails, the URL is withheld: ``<scheme>://<host>[:port]/`` when it has a
  host, null otherwise.

Metadata (:func:`scrub_metadata`, :func:`scrub_metadata_batch`): map values are JSON-encoded by ingest
except strings, which it stores as they are. A value that decodes to a JSON array, object or string has
every string inside it scrubbed (dict *values* and list items, recursively; dict keys and numbers are
kept) and is re-encoded (``json.dumps(..., ensure_ascii=False)``) only when something changed; any other
value (plain text, a number, not JSON at all) is scrubbed as the plain string it is. A string (value or
inside JSON) that is a lone URL (``scheme://...``, ``mailto:``, ``tel:``, no whitespace) is scrubbed by the
URL rules above. Map keys are kept. When the detection of a piece fails, that value is withheld: it
becomes ``'""'`` (an empty JSON string).

Nothing here raises for a bad value, and no value is ever logged or put in an exception message.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

from schemas.config.pii import PATTERN_ENTITIES, PiiSection

log = logging.getLogger(__name__)

#: ``ScrubResult.reason`` of a piece whose detection failed (``pipelines.text.pii.REASON_ERROR``).
REASON_ERROR = "pii:error"
#: Entity name under which a dropped URL userinfo is counted.
USERINFO = "USERINFO"
#: A withheld metadata value: the empty JSON string.
WITHHELD_VALUE = '""'

#: Entities not searched in the fields besides the text (see the module docstring).
FIELD_EXCLUDED_ENTITIES = ("URL", "NUMBER_SEQUENCE")

#: ``scrub_values(values) -> results``: one result per value, with ``text``, ``counts`` and ``reason``.
ScrubValues = Callable[[list[str]], Sequence[Any]]


def fields_section(section: PiiSection) -> PiiSection:
    """The configuration the fields are scrubbed with: ``section``'s pattern entities except
    :data:`FIELD_EXCLUDED_ENTITIES`, no NER; operator, thresholds, allow-list and budgets unchanged."""
    entities = [e for e in section.entities if e in PATTERN_ENTITIES and e not in FIELD_EXCLUDED_ENTITIES]
    return section.model_copy(update={"entities": entities, "ner": False})


# RFC 3986, appendix B: splits any string into scheme, authority, path, query and fragment (raw bytes).
_URI = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?\Z", re.DOTALL)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")

# Characters a re-encoded piece keeps as they are (besides letters, digits and "_.-~"): what RFC 3986
# allows in that position, minus the piece's own delimiters.
_SAFE_SEGMENT = "!$&'()*+,;=:@"
_SAFE_OPAQUE = "!$&'()*+,;=:@/"
_SAFE_QUERY = "!$'()*,:@/?"
_SAFE_FRAGMENT = "!$&'()*+,;=:@?"


@dataclass
class FieldResult:
    """One field value after scrubbing.

    Attributes:
        value: the scrubbed value (URL string or None; metadata as a list of ``(key, value)`` or None).
        counts: entity type -> spans replaced in this value.
        failed: URL: 1 when it was withheld (detection failed on a piece); metadata: values withheld.
    """

    value: Any
    counts: dict[str, int] = field(default_factory=dict)
    failed: int = 0


class _Pool:
    """The distinct strings of a batch, scrubbed in one call."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self.values: list[str] = []
        self.results: list[tuple[str, dict[str, int], bool]] = []  # (text, counts, failed)

    def add(self, value: str) -> int:
        i = self._index.get(value)
        if i is None:
            i = self._index[value] = len(self.values)
            self.values.append(value)
        return i

    def run(self, scrub_values: ScrubValues) -> None:
        if not self.values:
            return
        try:
            results = list(scrub_values(list(self.values)))
            if len(results) != len(self.values):
                raise ValueError(f"scrub_values returned {len(results)} results for {len(self.values)} values")
            self.results = [_unpack(r) for r in results]
        except Exception as exc:  # retry one by one: only the values that still fail are withheld
            log.warning("pii fields: scrubbing %d values failed (%s); retrying one by one", len(self.values),
                        type(exc).__name__)
            self.results = [self._one(v, scrub_values) for v in self.values]

    @staticmethod
    def _one(value: str, scrub_values: ScrubValues) -> tuple[str, dict[str, int], bool]:
        try:
            return _unpack(list(scrub_values([value]))[0])
        except Exception:
            return "", {}, True

    def get(self, i: int) -> tuple[str, dict[str, int], bool]:
        return self.results[i]


def _unpack(result: Any) -> tuple[str, dict[str, int], bool]:
    failed = getattr(result, "reason", None) == REASON_ERROR
    text = result.text
    if not isinstance(text, str):
        return "", {}, True
    return text, dict(result.counts or {}), failed


def _add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        into[k] = into.get(k, 0) + int(v)


# ----------------------------------------------------------------------------------------------- URLs


class _Piece:
    """A scrubbed part of a value: its raw form, the decoded string sent to the scrubber, its encoder."""

    __slots__ = ("raw", "decoded", "encode", "slot")

    def __init__(self, raw: str, decoded: str, encode: Optional[Callable[[str], str]], pool: _Pool) -> None:
        self.raw = raw
        self.decoded = decoded
        self.encode = encode
        self.slot = pool.add(decoded)

    def resolve(self, pool: _Pool, counts: dict[str, int]) -> tuple[str, bool]:
        """The piece's new raw form (the original bytes when nothing changed) and whether detection failed."""
        text, piece_counts, failed = pool.get(self.slot)
        if failed:
            return "", True
        _add_counts(counts, piece_counts)
        if text == self.decoded:
            return self.raw, False
        return (self.encode(text) if self.encode else text), False


def _encoder(safe: str, plus: bool = False) -> Callable[[str], str]:
    if plus:
        return lambda s: quote_plus(s, safe=safe)
    return lambda s: quote(s, safe=safe)


_ENC_SEGMENT = _encoder(_SAFE_SEGMENT)
_ENC_OPAQUE = _encoder(_SAFE_OPAQUE)
_ENC_QUERY = _encoder(_SAFE_QUERY, plus=True)
_ENC_FRAGMENT = _encoder(_SAFE_FRAGMENT)


class _UrlPlan:
    """A URL cut into raw parts and pieces to scrub; :meth:`assemble` puts the scrubbed URL back together."""

    def __init__(self, url: str, pool: _Pool) -> None:
        self.raw = url
        self.plain: Optional[list[Any]] = None  # an invalid URL: its pieces between slashes, as they are
        self.prefix = ""  # "scheme:" + "//host:port" (byte for byte), userinfo dropped
        self.withheld: Optional[str] = None  # what the URL becomes when a piece fails
        self.userinfo = False
        self.path: list[Any] = []  # raw strings (separators, empty segments) and _Piece objects
        self.query: Optional[list[Any]] = None
        self.fragment: Optional[list[Any]] = None
        m = _URI.match(url)
        scheme = m.group(1) if m else None
        try:
            urlsplit(url)  # rejects what Python cannot parse (bad IPv6 hosts, bad characters in the host)
            ok = m is not None and (scheme is None or _SCHEME.match(scheme) is not None)
        except ValueError:
            ok = False
        if not ok:
            # Split at slashes all the same: Presidio's e-mail pattern misses an address right after a "/".
            self.plain = _segments(url, "/", _same, None, pool)
            return
        authority, path, query, fragment = m.group(2), m.group(3), m.group(4), m.group(5)
        if scheme is not None:
            self.prefix = scheme + ":"
        if authority is not None:
            userinfo, at, hostport = authority.rpartition("@")
            self.userinfo = bool(at and userinfo)
            self.prefix += "//" + hostport
            self.withheld = self.prefix + "/"
        if scheme is not None and authority is None:  # opaque: mailto:, tel:, ... scrubbed whole
            if path:
                self.path.append(_Piece(path, unquote(path), _ENC_OPAQUE, pool))
        else:
            self.path = _segments(path, "/", unquote, _ENC_SEGMENT, pool)
        if query is not None:
            self.query = []
            for n, pair in enumerate(query.split("&")):
                if n:
                    self.query.append("&")
                key, eq, value = pair.partition("=")
                self.query.append(_Piece(key, unquote_plus(key), _ENC_QUERY, pool) if key else key)
                if eq:
                    self.query.append("=")
                    self.query.append(_Piece(value, unquote_plus(value), _ENC_QUERY, pool) if value else value)
        if fragment is not None:
            self.fragment = _segments(fragment, "/", unquote, _ENC_FRAGMENT, pool)

    def assemble(self, pool: _Pool) -> FieldResult:
        counts: dict[str, int] = {}
        if self.plain is not None:
            sections: tuple = ((self.plain, ""),)
            withheld = None
        else:
            sections = ((self.path, ""), (self.query, "?"), (self.fragment, "#"))
            withheld = self.withheld
        out = [self.prefix]
        failed = False
        for parts, lead in sections:
            if parts is None:
                continue
            out.append(lead)
            for part in parts:
                if isinstance(part, _Piece):
                    raw, bad = part.resolve(pool, counts)
                    failed = failed or bad
                    out.append(raw)
                else:
                    out.append(part)
        if failed:
            return FieldResult(withheld, {}, 1)
        if self.userinfo:
            counts[USERINFO] = counts.get(USERINFO, 0) + 1
        return FieldResult("".join(out), dict(sorted(counts.items())))

    def resolve(self, pool: _Pool, counts: dict[str, int]) -> tuple[str, bool]:
        """Like :meth:`_Piece.resolve`: a URL inside a metadata value."""
        r = self.assemble(pool)
        if r.failed:
            return "", True
        _add_counts(counts, r.counts)
        return r.value, False


def _same(s: str) -> str:
    return s


def _segments(
    s: str, sep: str, decode: Callable[[str], str], encode: Optional[Callable[[str], str]], pool: _Pool
) -> list:
    out: list[Any] = []
    for n, seg in enumerate(s.split(sep)):
        if n:
            out.append(sep)
        out.append(_Piece(seg, decode(seg), encode, pool) if seg else seg)
    return out


def _plan_url(url: Any, pool: _Pool) -> Optional[_UrlPlan]:
    if not isinstance(url, str):
        return None
    try:
        return _UrlPlan(url, pool)
    except Exception:  # pragma: no cover - defensive: never pass a URL through unscrubbed
        plan = _UrlPlan.__new__(_UrlPlan)
        plan.raw, plan.prefix, plan.userinfo = url, "", False
        plan.plain = [_Piece(url, url, None, pool)]
        return plan


def _assemble_url(plan: Optional[_UrlPlan], pool: _Pool) -> FieldResult:
    if plan is None:
        return FieldResult(None)
    try:
        return plan.assemble(pool)
    except Exception:  # pragma: no cover - defensive
        return FieldResult(getattr(plan, "withheld", None), {}, 1)


def scrub_urls(urls: Sequence[Optional[str]], scrub_values: ScrubValues) -> list[FieldResult]:
    """Scrub a batch of URLs (None stays None) with one call to ``scrub_values``; see the module docstring."""
    return scrub_fields(urls, None, scrub_values)[0]


def scrub_url(url: Optional[str], scrub_values: ScrubValues) -> tuple[Optional[str], dict[str, int]]:
    """``(scrubbed URL, entity counts)`` of one URL; the stage uses :func:`scrub_urls`."""
    r = scrub_urls([url], scrub_values)[0]
    return r.value, r.counts


# ------------------------------------------------------------------------------------------- metadata

_CONTAINER = (list, dict)


def _dumps(doc: Any) -> str:
    out = json.dumps(doc, ensure_ascii=False)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from a "\\ud800" escape): Arrow needs valid UTF-8
        out = json.dumps(doc, ensure_ascii=True)
    return out


#: A string that is a URL and nothing else: scrubbed by the URL rules inside metadata too.
_LONE_URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*://|mailto:|tel:)\S+\Z")


def _leaf(s: str, pool: _Pool) -> Any:
    """A string of a metadata value: a URL (scrubbed as one, host kept) or plain text."""
    if _LONE_URL.match(s):
        return _UrlPlan(s, pool)
    return _Piece(s, s, None, pool)


class _ValuePlan:
    """One metadata value: a JSON document with string leaves to scrub, or a plain string."""

    def __init__(self, value: str, pool: _Pool) -> None:
        self.raw = value
        self.doc: Any = None
        self.pieces: list[Any] = []
        self.plain: Any = None
        try:
            doc = json.loads(value)
            if isinstance(doc, (str, list, dict)):
                self.doc = self._collect(doc, pool)
                return
        except (ValueError, RecursionError):
            pass
        self.plain = _leaf(value, pool)

    def _collect(self, node: Any, pool: _Pool) -> Any:
        if isinstance(node, str):
            piece = _leaf(node, pool)
            self.pieces.append(piece)
            return piece
        if isinstance(node, list):
            return [self._collect(x, pool) for x in node]
        if isinstance(node, dict):
            return {k: self._collect(v, pool) for k, v in node.items()}
        return node

    def assemble(self, pool: _Pool, counts: dict[str, int]) -> tuple[str, bool]:
        """The new value (the original string when nothing changed) and whether it was withheld."""
        if self.plain is not None:
            text, failed = self.plain.resolve(pool, counts)
            return (WITHHELD_VALUE, True) if failed else (text, False)
        local: dict[str, int] = {}
        resolved: dict[int, str] = {}
        changed = False
        for piece in self.pieces:
            text, failed = piece.resolve(pool, local)
            if failed:
                return WITHHELD_VALUE, True
            resolved[id(piece)] = text
            changed = changed or text != piece.raw
        _add_counts(counts, local)
        if not changed:
            return self.raw, False
        return _dumps(self._rebuild(self.doc, resolved)), False

    def _rebuild(self, node: Any, resolved: dict[int, str]) -> Any:
        if isinstance(node, (_Piece, _UrlPlan)):
            return resolved[id(node)]
        if isinstance(node, list):
            return [self._rebuild(x, resolved) for x in node]
        if isinstance(node, dict):
            return {k: self._rebuild(v, resolved) for k, v in node.items()}
        return node


class _MapPlan:
    def __init__(self, items: Any, pool: _Pool) -> None:
        if isinstance(items, dict):
            items = list(items.items())
        self.items: list[tuple[Any, Any]] = []
        for key, value in items:
            plan: Any = None
            if isinstance(value, str):
                try:
                    plan = _ValuePlan(value, pool)
                except Exception:  # pragma: no cover - defensive (e.g. nesting deeper than the recursion limit)
                    plan = _ValuePlan.__new__(_ValuePlan)
                    plan.raw, plan.plain = value, _Piece(value, value, None, pool)
            elif value is not None:
                plan = WITHHELD_VALUE  # not a string: the map type allows none, never pass it through
            self.items.append((key, plan))

    def assemble(self, pool: _Pool) -> FieldResult:
        counts: dict[str, int] = {}
        failed = 0
        out = []
        for key, plan in self.items:
            if isinstance(plan, _ValuePlan):
                try:
                    value, bad = plan.assemble(pool, counts)
                except Exception:  # pragma: no cover - defensive
                    value, bad = WITHHELD_VALUE, True
                failed += bad
            else:
                value = plan
            out.append((key, value))
        return FieldResult(out, dict(sorted(counts.items())), failed)


def _plan_map(items: Any, pool: _Pool) -> Optional[_MapPlan]:
    if items is None:
        return None
    try:
        return _MapPlan(items, pool)
    except Exception:  # pragma: no cover - defensive: an unreadable map is withheld whole
        return None


def _assemble_map(items: Any, plan: Optional[_MapPlan], pool: _Pool) -> FieldResult:
    if plan is None:
        return FieldResult(None, {}, 0 if items is None else 1)
    return plan.assemble(pool)


def scrub_metadata_batch(maps: Sequence[Any], scrub_values: ScrubValues) -> list[FieldResult]:
    """Scrub a batch of metadata maps (lists of ``(key, value)`` pairs, dicts, or None) with one call to
    ``scrub_values``; values as ``(key, value)`` lists (None stays None). See the module docstring."""
    return scrub_fields(None, maps, scrub_values)[1]


def scrub_metadata(items: Any, scrub_values: ScrubValues) -> tuple[Any, dict[str, int]]:
    """``(scrubbed items, entity counts)`` of one metadata map: a list of ``(key, value)`` pairs (a dict
    gives a dict back) or None. The stage uses :func:`scrub_metadata_batch`."""
    r = scrub_metadata_batch([items], scrub_values)[0]
    if isinstance(items, dict) and r.value is not None:
        return dict(r.value), r.counts
    return r.value, r.counts


# --------------------------------------------------------------------------------------------- both


def scrub_fields(
    urls: Optional[Sequence[Optional[str]]],
    maps: Optional[Sequence[Any]],
    scrub_values: ScrubValues,
) -> tuple[Optional[list[FieldResult]], Optional[list[FieldResult]]]:
    """Scrub a batch's URLs and metadata maps (either may be None: not scrubbed) with one call to
    ``scrub_values`` for all their pieces. Returns ``(url results, metadata results)``."""
    pool = _Pool()
    url_plans = [_plan_url(u, pool) for u in urls] if urls is not None else None
    map_plans = [_plan_map(m, pool) for m in maps] if maps is not None else None
    pool.run(scrub_values)
    url_out = [_assemble_url(p, pool) for p in url_plans] if url_plans is not None else None
    map_out = [_assemble_map(m, p, pool) for m, p in zip(maps, map_plans)] if map_plans is not None else None
    return url_out, map_out
