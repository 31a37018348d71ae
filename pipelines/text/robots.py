"""A robots.txt parser and matcher following RFC 9309 (the Robots Exclusion Protocol). Pure Python.

What the RFC asks, and how it is done here:

* **Groups.** One or more ``user-agent`` lines start a group; the ``allow``/``disallow`` lines after them are
  its rules. A ``user-agent`` line after a rule starts a new group. Rules before any ``user-agent`` line
  belong to no group and are ignored. Other records (``sitemap``, ``crawl-delay``, unknown keys) are
  ignored and do not end a group.
* **Which group.** The crawler's product token (``GPTBot``) is compared case-insensitively with the
  product-token part of each ``user-agent`` value (the leading letters, ``_`` and ``-``: ``GPTBot/1.0``
  is ``gptbot``). All groups naming the token are merged; only when none does, the ``*`` groups (merged)
  apply; with neither, everything is allowed.
* **Which rule.** The rule whose path pattern matches with the most octets wins; between an ``allow`` and
  a ``disallow`` of the same length, ``allow`` wins. ``*`` matches any sequence of characters, a ``$`` at
  the end of a pattern anchors it to the end of the path. An empty ``disallow:`` is no rule.
  ``/robots.txt`` is always allowed.
* **Encoding.** Patterns and paths are compared after the same normalization: ``%XX`` escapes of
  unreserved characters decoded, the others upper-cased, non-ASCII characters and octets outside the
  URI character set percent-encoded as UTF-8. Matching is case-sensitive.
* **Size.** Only the first 500 KiB (:data:`MAX_BYTES`) are parsed, cut at the last complete line.
* **Not a robots.txt.** A body that is HTML (a site serving its home page for every path) is treated as
  invalid: it has no rules, so everything is allowed (:attr:`RobotsTxt.status` ``"html"``).

Leniency beyond the RFC, as major crawlers do: keys are case-insensitive, whitespace around ``:`` is
allowed, a UTF-8 BOM and CR/LF/CRLF line ends are accepted, a pattern that starts with neither ``/`` nor
``*`` gets a leading ``/``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

#: RFC 9309 2.5: crawlers MUST parse at least 500 kibibytes; the rest may be ignored.
MAX_BYTES = 500 * 1024

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
#: Octets kept as they are in a normalized path (RFC 3986 unreserved + reserved, plus ``%`` and ``*``/``$``).
_KEEP = _UNRESERVED | frozenset(b":/?#[]@!$&'()*+,;=%")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_TOKEN_RE = re.compile(r"[A-Za-z_-]+")
_HTML_START_RE = re.compile(rb"^\s*(?:<!doctype\s+html|<html|<head|<body|<!--|<\?xml|<meta|<title|<script)", re.I)


def normalize_path(path: str) -> str:
    """``path`` in the comparable form described in the module docstring."""
    data = path.encode("utf-8", "surrogatepass")
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c == 0x25 and i + 2 < n and data[i + 1] in _HEX and data[i + 2] in _HEX:
            value = int(data[i + 1 : i + 3], 16)
            if value in _UNRESERVED:
                out.append(value)
            else:
                out += b"%" + data[i + 1 : i + 3].upper()
            i += 3
            continue
        if c in _KEEP:
            out.append(c)
        else:
            out += b"%%%02X" % c
        i += 1
    return out.decode("ascii")


def product_token(value: str) -> str:
    """The product-token part of a ``user-agent`` value, lower case (``*`` stays ``*``; may be empty)."""
    value = value.strip()
    if value.startswith("*"):
        return "*"
    m = _TOKEN_RE.match(value)
    return m.group(0).lower() if m else ""


@dataclass(frozen=True)
class Rule:
    """One ``allow``/``disallow`` line: its normalized pattern and whether it allows."""

    allow: bool
    pattern: str

    @property
    def specificity(self) -> int:
        return len(self.pattern)

    def regex(self) -> "re.Pattern[str]":
        anchored = self.pattern.endswith("$")
        body = self.pattern[:-1] if anchored else self.pattern
        rx = ".*".join(re.escape(part) for part in body.split("*"))
        return re.compile(rx + (r"\Z" if anchored else ""), re.S)


@dataclass
class Group:
    agents: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)


class RuleSet:
    """The merged rules that apply to one crawler on one host; :meth:`allowed` decides a path."""

    __slots__ = ("rules", "_compiled")

    def __init__(self, rules: Iterable[Rule]):
        # Longest pattern first; at equal length allow first: the first match is then the RFC's winner.
        self.rules = sorted(set(rules), key=lambda r: (-r.specificity, not r.allow, r.pattern))
        self._compiled: Optional[list] = None

    def verdict(self, path: str) -> Optional[Rule]:
        """The deciding rule for ``path`` (already normalized), or None when no rule matches."""
        if self._compiled is None:
            self._compiled = [(r, r.regex()) for r in self.rules]
        for rule, rx in self._compiled:
            if rx.match(path):
                return rule
        return None

    def blocking_rule(self, path: str) -> Optional[Rule]:
        """The ``disallow`` rule that closes ``path`` (a URL path with its query), or None when it is allowed."""
        norm = normalize_path(path or "/")
        if norm == "/robots.txt":
            return None
        rule = self.verdict(norm)
        return rule if rule is not None and not rule.allow else None

    def allowed(self, path: str) -> bool:
        """Whether ``path`` (a URL path with its query, not yet normalized) may be crawled."""
        return self.blocking_rule(path) is None


ALLOW_ALL = RuleSet(())
DISALLOW_ALL = RuleSet((Rule(False, "/"),))


class RobotsTxt:
    """A parsed robots.txt.

    Attributes:
        groups: the groups in file order.
        status: ``"ok"``, ``"html"`` (HTML served as robots.txt: no rules), ``"empty"``.
        truncated: the body was longer than :data:`MAX_BYTES` and only its start was parsed.
        invalid_lines: lines that are neither a record nor a comment (counted, not kept).
    """

    def __init__(self, groups: list[Group], status: str = "ok", truncated: bool = False, invalid_lines: int = 0):
        self.groups = groups
        self.status = status
        self.truncated = truncated
        self.invalid_lines = invalid_lines

    @classmethod
    def parse(cls, body: bytes | str, content_type: Optional[str] = None) -> "RobotsTxt":
        """Parse a robots.txt body (bytes as fetched, or text)."""
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
        truncated = len(data) > MAX_BYTES
        if truncated:
            data = data[:MAX_BYTES]
            cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
            data = data[: cut + 1] if cut >= 0 else b""
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        ctype = (content_type or "").split(";", 1)[0].strip().lower()
        if ctype in ("text/html", "application/xhtml+xml") or _HTML_START_RE.match(data[:1024]):
            return cls([], "html", truncated)
        text = data.decode("utf-8", "replace")
        groups: list[Group] = []
        current: Optional[Group] = None
        last_was_agent = False
        invalid = 0
        for raw in re.split(r"\r\n|\r|\n", text):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if ":" not in line:
                invalid += 1
                continue
            key, value = line.split(":", 1)
            key = key.strip().lower()
            value = value.strip()
            if key in ("user-agent", "useragent", "user agent"):
                if current is None or not last_was_agent:
                    current = Group()
                    groups.append(current)
                token = product_token(value)
                if token:
                    current.agents.append(token)
                last_was_agent = True
            elif key in ("allow", "disallow"):
                last_was_agent = False
                if current is None or not value:
                    continue  # a rule outside any group, or an empty rule (matches nothing)
                if not value.startswith(("/", "*")):
                    value = "/" + value
                current.rules.append(Rule(key == "allow", normalize_path(value)))
            # sitemap, crawl-delay, host, clean-param and unknown keys: ignored, the group goes on
        status = "ok" if groups else "empty"
        return cls(groups, status, truncated, invalid)

    def rules_for(self, agent: str) -> RuleSet:
        """The merged rules of the groups that apply to the crawler named ``agent`` (its product token)."""
        token = product_token(agent)
        specific = [r for g in self.groups if token and token in g.agents for r in g.rules]
        if any(token and token in g.agents for g in self.groups):
            return RuleSet(specific)
        wildcard = [r for g in self.groups if "*" in g.agents for r in g.rules]
        return RuleSet(wildcard) if wildcard else ALLOW_ALL

    def allowed(self, agent: str, path: str) -> bool:
        """Whether ``agent`` may crawl ``path`` (a URL path with its query)."""
        return self.rules_for(agent).allowed(path)


__all__ = ["ALLOW_ALL", "DISALLOW_ALL", "MAX_BYTES", "Group", "RobotsTxt", "Rule", "RuleSet", "normalize_path",
           "product_token"]
