"""Configuration section ``optout``: text-and-data-mining reservations honoured at ingest (docs/compliance.md)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator

from .base import FilterSection, Section

#: Crawlers whose robots.txt rules are read as a reservation by default: Common Crawl's, and the training
#: crawlers of OpenAI, Google (the Google-Extended token), Anthropic.
DEFAULT_USER_AGENTS = ("CCBot", "GPTBot", "Google-Extended", "ClaudeBot", "anthropic-ai")


class RobotsTxtRule(Section):
    """The ``robots_txt`` rule: a document is opted out when its host's robots.txt disallows its path for one
    of the user agents."""

    enabled: bool = Field(True, description="Apply the rule (it acts only once a robots.txt source is given).")
    source: Optional[str] = Field(
        None,
        description="robots.txt files: a folder of files named by host (example.com.txt, example.com/robots.txt) "
        "or Common Crawl robots.txt WARC files (a .warc[.gz] file, a folder or a glob). 'corpusforge run "
        "--robots PATH' sets it.",
    )
    user_agents: list[str] = Field(
        default_factory=lambda: list(DEFAULT_USER_AGENTS),
        description="Product tokens evaluated (RFC 9309, case-insensitive); a path disallowed for any of them "
        "is a reservation.",
    )
    on_unreachable: Literal["disallow", "allow"] = Field(
        "disallow",
        description="A robots.txt fetch that failed with a server error (HTTP 5xx): disallow everything, as RFC "
        "9309 2.3.1.4 says, or allow.",
    )

    @field_validator("user_agents")
    @classmethod
    def _agents(cls, v: list[str]) -> list[str]:
        if not v or any(not isinstance(a, str) or not a.strip() or not a.strip()[0].isalpha() for a in v):
            raise ValueError("list at least one user agent product token, such as CCBot or GPTBot")
        return [a.strip() for a in v]


class DomainsRule(Section):
    """The ``domains`` rule: a user list of opted-out domains; a listed domain covers its subdomains."""

    enabled: bool = Field(True, description="Apply the rule (it acts only once domains are listed).")
    names: list[str] = Field(
        default_factory=list,
        description="Opted-out domains (registrable domains or hosts below them, e.g. example.co.uk); public "
        "suffixes such as co.uk are refused (checked against the bundled public suffix list).",
    )
    file: Optional[str] = Field(
        None,
        description="A file of opted-out domains, one per line ('#' comments). Read at every run, so a domain "
        "added to it applies at the next (nightly) run; nightly also removes it from published versions "
        "through the takedown path.",
    )
    apply_to_published: bool = Field(
        True,
        description="corpusforge nightly turns every domain of 'file' that is not yet a standing takedown request "
        "into one (request id optout-domain:<domain>) before its run, removing it from published versions.",
    )


class OptoutSection(FilterSection):
    """Opt-out reservations (TDMRep, robots noai, robots.txt, a domain list), decided right after ingest.

    With the section enabled, the header and meta rules (``tdm_reservation``, ``robots_noai``) are on;
    ``robots_txt`` and ``domains`` act once given their inputs. Reasons: ``optout:<rule>``. The signals come
    from the WARC reader's columns (``tdm_reservation_header``, ``meta_robots``, ...), null for other inputs,
    so JSONL/Parquet documents are only subject to the URL-based rules. See docs/compliance.md.
    """

    enabled: bool = Field(False, description="Honour opt-out reservations right after ingest (web preset: on).")
    mode: Literal["drop", "tag"] = Field(
        "drop", description="drop: reserved documents go to rejected/ as optout:<rule>; tag: kept, optout_reason set."
    )
    tdm_reservation: bool = Field(
        True, description="TDMRep: remove documents whose tdm-reservation header or meta tag is 1."
    )
    robots_noai: bool = Field(
        True,
        description="Remove documents whose X-Robots-Tag or robots meta holds 'noai' (unscoped or aimed at one of "
        "robots_txt.user_agents). 'noimageai' reserves images only and does not remove text.",
    )
    robots_txt: RobotsTxtRule = RobotsTxtRule()
    domains: DomainsRule = DomainsRule()
