"""Opt-out reservations and licence signals of a web page, and the rules that decide on them. Pure Python.

Two halves:

* **At ingest** (:func:`web_signals`), from a WARC response's HTTP headers and its HTML: the TDMRep
  reservation (``tdm-reservation`` header and meta), the TDM policy link, ``X-Robots-Tag`` and robots meta
  directives, ``Content-Language`` and the page's licence link, as the typed columns of
  :data:`SIGNAL_COLUMNS` (documented in docs/compliance.md, "Opt-out reservations").
* **In the opt-out stage** (:class:`OptoutEvaluator`), the rules ``domains``, ``tdm_reservation``,
  ``robots_noai`` and ``robots_txt`` over those columns and the document URL.

Nothing here keeps page content: the columns hold directive tokens, booleans and URLs, never text, and a
malformed value is recorded as an issue code, never echoed.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence
from urllib.parse import urljoin, urlsplit

import pyarrow as pa

from schemas.columns import WEB_SIGNAL_FIELDS

from .hosts import normalize_host, url_host
from .robots import RuleSet

#: The columns ingest adds to every document (null for inputs without HTTP headers or HTML).
SIGNAL_COLUMNS: tuple[tuple[str, pa.DataType], ...] = tuple((f.name, f.type) for f in WEB_SIGNAL_FIELDS)
SIGNAL_NAMES = tuple(name for name, _ in SIGNAL_COLUMNS)

#: The rules of the opt-out stage, in precedence order (the first that fires names ``drop_reason``).
RULES = ("domains", "tdm_reservation", "robots_noai", "robots_txt")
LICENSE_KINDS = ("cc", "cc0", "public_domain_mark", "known", "other")
LICENSE_SOURCES = ("http_link", "html_rel", "cc_href")

#: Crawler names whose ``<meta name="...">`` carries robots directives (besides ``robots`` itself).
KNOWN_BOTS = frozenset({
    "googlebot", "googlebot-news", "googlebot-image", "google-extended", "bingbot", "msnbot", "slurp", "duckduckbot",
    "yandex", "baiduspider", "applebot", "applebot-extended", "ccbot", "gptbot", "chatgpt-user", "oai-searchbot",
    "claudebot", "claude-web", "anthropic-ai", "perplexitybot", "bytespider", "amazonbot", "facebookbot",
    "meta-externalagent", "cohere-ai", "diffbot", "omgilibot", "imagesiftbot", "timpibot", "youbot",
})
#: Robots directives that take a value after a colon (so ``max-snippet: 10`` is not a bot scope).
_VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})
_DIRECTIVE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,40}(?::[^,]{0,80})?$")
_BOT_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")
_LANG_RE = re.compile(r"^[a-z]{1,8}(?:-[a-z0-9]{1,8})*$")
_MAX_DIRECTIVES = 32
_MAX_URL = 2048

# One pass over the lower-cased page: comments, scripts and styles are jumped over (``bytes.find``, so a
# large inline script costs a memchr, not a regex step per byte) so that a tag inside them does not count;
# meta, link and a tags are the ones read.
_OPEN_RE = re.compile(rb"<(!--|script|style|meta|link|a)(?=[\s/>])|<!--")
_OPEN_NO_A_RE = re.compile(rb"<(!--|script|style|meta|link)(?=[\s/>])|<!--")  # pages that name no licence
_ATTR_RE = re.compile(rb"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_LINK_HEADER_RE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*(?:\"[^\"]*\"[^;,]*)?)*)")
_REL_RE = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.I)

# ----------------------------------------------------------------------------------------- licences

_CC_RE = re.compile(
    r"^(?:https?:)?//(?:www\.)?creativecommons\.org/(licenses|publicdomain)/([a-z-]+)/(\d\.\d)(?:/([a-z]{2,3}))?",
    re.I,
)
_CC_CODES = {"by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd"}
#: Ported CC licences that SPDX lists with their jurisdiction; other ports map to the unported id.
_CC_PORTED = frozenset({
    "CC-BY-2.5-AU", "CC-BY-3.0-AT", "CC-BY-3.0-AU", "CC-BY-3.0-DE", "CC-BY-3.0-IGO", "CC-BY-3.0-NL", "CC-BY-3.0-US",
    "CC-BY-NC-3.0-DE", "CC-BY-NC-ND-3.0-DE", "CC-BY-NC-ND-3.0-IGO", "CC-BY-NC-SA-2.0-DE", "CC-BY-NC-SA-2.0-FR",
    "CC-BY-NC-SA-2.0-UK", "CC-BY-NC-SA-3.0-DE", "CC-BY-NC-SA-3.0-IGO", "CC-BY-ND-3.0-DE", "CC-BY-SA-2.0-UK",
    "CC-BY-SA-2.1-JP", "CC-BY-SA-3.0-AT", "CC-BY-SA-3.0-DE", "CC-BY-SA-3.0-IGO",
})
#: Other licence URLs recognised: (host + path prefix, lower case, no scheme) -> SPDX id.
_KNOWN_LICENSES = (
    ("opensource.org/licenses/mit", "MIT"),
    ("opensource.org/license/mit", "MIT"),
    ("www.apache.org/licenses/license-2.0", "Apache-2.0"),
    ("apache.org/licenses/license-2.0", "Apache-2.0"),
    ("www.gnu.org/licenses/gpl-3.0", "GPL-3.0-only"),
    ("www.gnu.org/licenses/gpl-2.0", "GPL-2.0-only"),
    ("www.gnu.org/licenses/lgpl-3.0", "LGPL-3.0-only"),
    ("www.gnu.org/licenses/agpl-3.0", "AGPL-3.0-only"),
    ("www.gnu.org/licenses/fdl-1.3", "GFDL-1.3-only"),
    ("www.gnu.org/licenses/fdl-1.2", "GFDL-1.2-only"),
    ("opendatacommons.org/licenses/odbl", "ODbL-1.0"),
    ("opendatacommons.org/licenses/by", "ODC-By-1.0"),
    ("opendatacommons.org/licenses/pddl", "PDDL-1.0"),
    ("www.etalab.gouv.fr/licence-ouverte-open-licence", "etalab-2.0"),
)


def classify_license(url: str) -> tuple[Optional[str], str]:
    """``(SPDX id or None, kind)`` of a licence URL; kind is one of :data:`LICENSE_KINDS`."""
    m = _CC_RE.match(url.strip())
    if m:
        family, code, version, jur = m.group(1).lower(), m.group(2).lower(), m.group(3), m.group(4)
        if family == "publicdomain":
            if code == "zero":
                return ("CC0-1.0" if version == "1.0" else None), "cc0"
            if code == "mark":
                return None, "public_domain_mark"
            return None, "other"
        if code in _CC_CODES:
            spdx = f"CC-{code.upper()}-{version}"
            if jur:
                ported = f"{spdx}-{jur.upper()}"
                if ported in _CC_PORTED:
                    spdx = ported
            return spdx, "cc"
        return None, "cc"
    low = re.sub(r"^(?:https?:)?//", "", url.strip().lower())
    for prefix, spdx in _KNOWN_LICENSES:
        if low.startswith(prefix):
            return spdx, "known"
    return None, "other"


def _is_cc_url(url: str) -> bool:
    return _CC_RE.match(url.strip()) is not None


# ----------------------------------------------------------------------------------------- parsing


def robots_directives(value: str, issues: set[str], column: str, scope: Optional[str] = None) -> list[str]:
    """Directive tokens of one ``X-Robots-Tag`` / robots meta value, lower case.

    ``googlebot: noindex, noai`` gives ``["googlebot:noindex", "googlebot:noai"]``; ``max-snippet: 10``
    stays one valued directive. Comma or whitespace separated. Tokens that are not directives are left
    out and ``<column>:invalid`` is added to ``issues``.
    """
    v = value.strip().lower()
    if scope is None:
        head, sep, rest = v.partition(":")
        head = head.strip()
        if sep and head not in _VALUED and _BOT_RE.match(head) and "," not in head and " " not in head:
            scope, v = head, rest
    out: list[str] = []
    for piece in v.split(","):
        piece = piece.strip()
        if not piece:
            continue
        parts = [piece] if ":" in piece else piece.split()
        for tok in parts:
            tok = re.sub(r"\s*:\s*", ":", tok.strip())
            if not _DIRECTIVE_RE.match(tok):
                issues.add(f"{column}:invalid")
                continue
            out.append(f"{scope}:{tok}" if scope else tok)
    return out


def _tdm_flag(value: str, issues: set[str], column: str) -> Optional[bool]:
    v = value.strip().strip('"').strip()
    if v == "1":
        return True
    if v == "0":
        return False
    issues.add(f"{column}:invalid")
    return None


def _clean_url(value: str, base: Optional[str]) -> Optional[str]:
    v = html.unescape(value).strip()
    if not v or len(v) > _MAX_URL or any(c in v for c in "\r\n\t"):
        return None
    if base and not re.match(r"^[a-z][a-z0-9+.-]*:", v, re.I) and not v.startswith("//"):
        try:
            v = urljoin(base, v)
        except ValueError:
            return None
    elif v.startswith("//"):
        v = "https:" + v
    return v


def parse_link_header(value: str) -> list[tuple[str, set[str]]]:
    """``[(target, {rel values, lower case})]`` of an HTTP ``Link`` header (RFC 8288)."""
    out = []
    for m in _LINK_HEADER_RE.finditer(value):
        rels: set[str] = set()
        for r in _REL_RE.finditer(m.group(2) or ""):
            rels.update((r.group(1) if r.group(1) is not None else r.group(2)).lower().split())
        out.append((m.group(1).strip(), rels))
    return out


def _attrs(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR_RE.finditer(raw):
        name = m.group(1).decode("ascii", "replace").lower()
        if name in out:
            continue  # HTML: the first occurrence of an attribute wins
        val = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4) or b""
        out[name] = html.unescape(val.decode("utf-8", "replace"))
    return out


@dataclass
class _Found:
    issues: set[str] = field(default_factory=set)
    x_robots: list[str] = field(default_factory=list)
    meta_robots: list[str] = field(default_factory=list)
    tdm_header: Optional[bool] = None
    tdm_meta: Optional[bool] = None
    policy: Optional[str] = None
    language: Optional[str] = None
    license: Optional[tuple[str, str]] = None  # (url, source)
    cc_href: Optional[str] = None

    def set_license(self, url: Optional[str], source: str) -> None:
        if url and (self.license is None or (self.license[1] == "cc_href" and source != "cc_href")):
            self.license = (url, source)


def _headers(found: _Found, headers: Iterable[tuple[str, str]], base: Optional[str]) -> None:
    for name, value in headers:
        n = name.strip().lower()
        if n == "x-robots-tag":
            found.x_robots += robots_directives(value, found.issues, "x_robots_tag")
        elif n == "tdm-reservation":
            flag = _tdm_flag(value, found.issues, "tdm_reservation_header")
            if flag is not None:
                found.tdm_header = bool(found.tdm_header) or flag  # a reservation anywhere wins
        elif n == "tdm-policy":
            found.policy = found.policy or _clean_url(value, base)
        elif n == "content-language":
            tags = [t.strip().lower() for t in value.split(",") if t.strip()]
            good = [t for t in tags if _LANG_RE.match(t)]
            if len(good) != len(tags):
                found.issues.add("content_language:invalid")
            if good and found.language is None:
                found.language = ",".join(good[:8])
        elif n == "link":
            for target, rels in parse_link_header(value):
                if "tdm-policy" in rels:
                    found.policy = found.policy or _clean_url(target, base)
                if "license" in rels:
                    found.set_license(_clean_url(target, base), "http_link")


def _tags(page: bytes) -> Iterable[tuple[bytes, bytes]]:
    """``(tag name, raw attributes)`` of the meta, link and a tags outside comments, scripts and styles."""
    low = page.lower()
    # Anchors matter only as licence links: on a page that never says "licen..." or links to Creative Commons,
    # skipping them saves a step per link.
    opener = _OPEN_RE if b"licen" in low or b"creativecommons" in low else _OPEN_NO_A_RE
    pos, n = 0, len(page)
    while pos < n:
        m = opener.search(low, pos)
        if m is None:
            return
        tag = m.group(1) or b"!--"
        if tag == b"!--":
            end = low.find(b"-->", m.end())
            pos = n if end < 0 else end + 3
            continue
        gt = low.find(b">", m.end())
        if gt < 0:
            return
        if tag in (b"script", b"style"):
            end = low.find(b"</" + tag, gt + 1)
            pos = n if end < 0 else end + 2
            continue
        yield tag, page[m.end():gt]
        pos = gt + 1


def _html(found: _Found, page: bytes, base: Optional[str]) -> None:
    for tag, raw in _tags(page):
        if tag == b"a":
            low = raw.lower()
            if b"licen" not in low and b"creativecommons" not in low:
                continue
        a = _attrs(raw)
        if tag == b"meta":
            name = (a.get("name") or a.get("http-equiv") or "").strip().lower()
            content = a.get("content")
            if content is None or not name:
                continue
            if name in ("robots", "x-robots-tag"):
                found.meta_robots += robots_directives(content, found.issues, "meta_robots")
            elif name in KNOWN_BOTS:
                found.meta_robots += robots_directives(content, found.issues, "meta_robots", scope=name)
            elif name == "tdm-reservation":
                flag = _tdm_flag(content, found.issues, "tdm_reservation_meta")
                if flag is not None:
                    found.tdm_meta = bool(found.tdm_meta) or flag
            elif name == "tdm-policy":
                found.policy = found.policy or _clean_url(content, base)
            continue
        rels = set((a.get("rel") or "").lower().split())
        href = a.get("href")
        if not href:
            continue
        if "license" in rels:
            found.set_license(_clean_url(href, base), "html_rel")
        elif tag == b"a" and found.cc_href is None and _is_cc_url(href.strip()):
            found.cc_href = _clean_url(href, base)


def web_signals(headers: Optional[Iterable[tuple[str, str]]], page: Optional[bytes],
                url: Optional[str] = None) -> dict[str, Any]:
    """The :data:`SIGNAL_COLUMNS` of one page.

    Args:
        headers: the HTTP response headers as ``(name, value)`` pairs, repeated names kept (None: no
            HTTP headers, e.g. a WARC ``resource`` record).
        page: the HTML payload (decoded transfer/content encodings), or None when it is not HTML.
        url: the page URL, against which relative licence and policy links are resolved.
    """
    found = _Found()
    if headers:
        _headers(found, headers, url)
    if page:
        _html(found, page, url)
    if found.license is None and found.cc_href:
        found.set_license(found.cc_href, "cc_href")
    lic_url = lic_source = spdx = kind = None
    if found.license is not None:
        lic_url, lic_source = found.license
        spdx, kind = classify_license(lic_url)
    return {
        "content_language": found.language,
        "x_robots_tag": found.x_robots[:_MAX_DIRECTIVES] or None,
        "meta_robots": found.meta_robots[:_MAX_DIRECTIVES] or None,
        "tdm_reservation_header": found.tdm_header,
        "tdm_reservation_meta": found.tdm_meta,
        "tdm_policy": found.policy,
        "license_url": lic_url,
        "license_spdx": spdx,
        "license_kind": kind,
        "license_source": lic_source,
        "web_signal_issues": sorted(found.issues) or None,
    }


# ----------------------------------------------------------------------------------------- domains


class DomainListError(ValueError):
    """An opt-out domain list entry that cannot be used; the message says which line and why."""


def read_domain_file(path: str) -> list[str]:
    """Entries of an opt-out domain file: one per line, ``#`` comments and blank lines ignored."""
    with open(path, encoding="utf-8") as fh:
        return [line.split("#", 1)[0].strip() for line in fh if line.split("#", 1)[0].strip()]


def check_domains(entries: Sequence[str], suffix_extractor: Any, where: str = "optout.domains") -> list[str]:
    """Validate and normalize opt-out domains against the public suffix list.

    An entry must be a host name at or below a registrable domain: ``example.co.uk`` and
    ``blog.example.com`` are fine, ``co.uk`` or ``github.io`` (public suffixes, which would opt out every
    site under them), a bare top-level label and URLs are errors. As in the list's own algorithm, a
    top-level label the list does not know (``.example``, an intranet TLD) is treated as a public suffix.

    Raises:
        DomainListError: naming the entry's position (not its value when it is not a host name).
    """
    out = set()
    for i, raw in enumerate(entries, 1):
        host = normalize_host(raw) if isinstance(raw, str) else None
        if host is None or "/" in host or ":" in host or " " in host or ".." in host:
            raise DomainListError(f"{where}: entry {i} is not a host name (write example.com, without scheme or path)")
        ext = suffix_extractor(host, include_psl_private_domains=True)
        # The list's default rule "*": an unlisted top-level label is itself the public suffix.
        unlisted_ok = not ext.suffix and host.count(".") >= 1
        if not unlisted_ok and (not ext.domain or not ext.suffix):
            raise DomainListError(
                f"{where}: entry {i} ({host}) is a public suffix or has none; list registrable domains such as "
                "example.co.uk (subdomains of a listed domain are covered)")
        out.add(host)
    return sorted(out)


def robots_key(url: Optional[str]) -> Optional[tuple[str, str]]:
    """``(host[:port], path?query)`` of a URL for robots.txt matching; None when it has no host."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    host = normalize_host(host) if host else None
    if not host:
        return None
    scheme = parts.scheme.lower()
    if port is not None and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path or "/"
    return host, path + ("?" + parts.query if parts.query else "")


# ----------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class HostRobots:
    """What the robots.txt source says about one host: its status and the rules per user agent."""

    status: str  # ok, html, empty, unavailable, unreachable
    rules: tuple[tuple[str, RuleSet], ...] = ()  # (agent as configured, its merged rules)


@dataclass
class OptoutSettings:
    """The plain settings the evaluator is built from (what the stage ships to its workers)."""

    tdm_reservation: bool = True
    robots_noai: bool = True
    robots_txt: bool = False
    domains: tuple[str, ...] = ()
    user_agents: tuple[str, ...] = ()
    on_unreachable: str = "disallow"
    robots: Mapping[str, HostRobots] = field(default_factory=dict)


class OptoutEvaluator:
    """Decides the opt-out rules of one document: ``(rules fired, evidence of the first, reason)``."""

    def __init__(self, s: OptoutSettings):
        self.s = s
        self.domains = frozenset(s.domains)
        agents = [a.strip().lower() for a in s.user_agents]
        self.noai_tokens = frozenset({"noai"} | {f"{a}:noai" for a in agents})

    def _domain(self, url: Optional[str]) -> Optional[str]:
        host = url_host(url)  # the same host normalization as takedown matching (pipelines.text.hosts)
        if not host or not self.domains:
            return None
        labels = host.split(".")
        for i in range(len(labels) - 1):
            cand = ".".join(labels[i:])
            if cand in self.domains:
                return cand
        return None

    def _robots(self, url: Optional[str]) -> Optional[str]:
        key = robots_key(url)
        if key is None:
            return None
        entry = self.s.robots.get(key[0])
        if entry is None:
            return None
        if entry.status == "unreachable":
            return "robots.txt unreachable" if self.s.on_unreachable == "disallow" else None
        for agent, rules in entry.rules:
            rule = rules.blocking_rule(key[1])
            if rule is not None:
                return f"robots.txt {agent}: Disallow {rule.pattern[:100]}"
        return None

    def evaluate(self, url: Optional[str], x_robots: Optional[Sequence[str]], meta_robots: Optional[Sequence[str]],
                 tdm_header: Optional[bool], tdm_meta: Optional[bool]) -> tuple[Optional[list[str]], Optional[str],
                                                                                Optional[str]]:
        fired: list[str] = []
        evidence: Optional[str] = None

        def hit(rule: str, ev: str) -> None:
            nonlocal evidence
            fired.append(rule)
            if evidence is None:
                evidence = ev

        d = self._domain(url) if self.domains else None
        if d is not None:
            hit("domains", f"domain {d}")
        if self.s.tdm_reservation and (tdm_header or tdm_meta):
            hit("tdm_reservation", "tdm-reservation header" if tdm_header else "tdm-reservation meta")
        if self.s.robots_noai:
            if x_robots and any(t in self.noai_tokens for t in x_robots):
                hit("robots_noai", "X-Robots-Tag noai")
            elif meta_robots and any(t in self.noai_tokens for t in meta_robots):
                hit("robots_noai", "meta robots noai")
        if self.s.robots_txt and self.s.robots:
            r = self._robots(url)
            if r is not None:
                hit("robots_txt", r)
        if not fired:
            return None, None, None
        return fired, evidence, f"optout:{fired[0]}"


__all__ = [
    "KNOWN_BOTS", "LICENSE_KINDS", "LICENSE_SOURCES", "RULES", "SIGNAL_COLUMNS", "SIGNAL_NAMES", "DomainListError",
    "HostRobots", "OptoutEvaluator", "OptoutSettings", "check_domains", "classify_license",
    "normalize_host", "parse_link_header", "read_domain_file", "robots_directives", "robots_key", "web_signals",
]
