"""robots.txt parsing and matching: the RFC 9309 edge cases as a table."""
from __future__ import annotations

import pytest

from pipelines.text.robots import MAX_BYTES, RobotsTxt, normalize_path, product_token

BASIC = """\
User-agent: *
Disallow: /private/
Allow: /private/public/

User-agent: GPTBot
Disallow: /

User-agent: CCBot
User-agent: Google-Extended
Disallow: /ai-only/
Allow: /ai-only/ok.html$

# a second group for the same crawler is merged
user-agent: ccbot
disallow: /also-merged/
"""

# (robots.txt, agent, path, allowed, what it checks)
CASES = [
    (BASIC, "SomeBot", "/private/x", False, "* group applies to an unnamed agent"),
    (BASIC, "SomeBot", "/private/public/x", True, "longest match wins: the longer Allow"),
    (BASIC, "SomeBot", "/elsewhere", True, "no rule matches: allowed"),
    (BASIC, "GPTBot", "/anything", False, "a specific group"),
    (BASIC, "gptbot", "/anything", False, "product token match is case-insensitive"),
    (BASIC, "GPTBot/1.1", "/anything", False, "the version after the product token is ignored"),
    (BASIC, "GPTBot", "/robots.txt", True, "/robots.txt is always allowed"),
    (BASIC, "CCBot", "/private/x", True, "a named group replaces the * group entirely"),
    (BASIC, "CCBot", "/ai-only/page", False, "group with two user-agent lines, first agent"),
    (BASIC, "Google-Extended", "/ai-only/page", False, "group with two user-agent lines, second agent"),
    (BASIC, "CCBot", "/ai-only/ok.html", True, "$ anchor: exact end matches"),
    (BASIC, "CCBot", "/ai-only/ok.html?x=1", False, "$ anchor: more after the end does not match the Allow"),
    (BASIC, "CCBot", "/also-merged/x", False, "groups for the same agent are merged"),
    ("User-agent: *\nDisallow: /a\nAllow: /a\n", "x", "/a", True, "Allow wins a tie with Disallow"),
    ("User-agent: *\nAllow: /a\nDisallow: /a\n", "x", "/a", True, "tie: order does not matter"),
    ("User-agent: *\nDisallow: /*.pdf$\n", "x", "/docs/file.pdf", False, "* wildcard with $"),
    ("User-agent: *\nDisallow: /*.pdf$\n", "x", "/docs/file.pdf.html", True, "$: suffix must end the path"),
    ("User-agent: *\nDisallow: /a*b\n", "x", "/axxxb/c", False, "* in the middle"),
    ("User-agent: *\nDisallow: /a*b\n", "x", "/ac", True, "* in the middle needs the rest"),
    ("User-agent: *\nDisallow: /\nAllow: /*?public=1\n", "x", "/p?public=1", True, "query is part of the path"),
    ("User-agent: *\nDisallow: /Fish\n", "x", "/fish", True, "paths are case-sensitive"),
    ("User-agent: *\nDisallow:\n", "x", "/anything", True, "empty Disallow is no rule"),
    ("User-agent: *\nDisallow: /x\n", "x", "/x%2Fy", False, "prefix match on an encoded path"),
    ("User-agent: *\nDisallow: /%7Euser\n", "x", "/~user/page", False, "escaped unreserved char is decoded"),
    ("User-agent: *\nDisallow: /~user\n", "x", "/%7euser/page", False, "and in the path too (any case)"),
    ("User-agent: *\nDisallow: /caf\u00e9\n", "x", "/caf%C3%A9/menu", False, "non-ASCII pattern is UTF-8 encoded"),
    ("User-agent: *\nDisallow: /caf%c3%a9\n", "x", "/caf\u00e9", False, "escape case is normalized"),
    ("User-agent: *\nDisallow: /a b\n", "x", "/a%20b", False, "space is percent-encoded"),
    ("Disallow: /\nUser-agent: *\nDisallow: /x\n", "x", "/y", True, "rules before any user-agent are ignored"),
    ("User-agent: other\nDisallow: /\n", "x", "/y", True, "no matching group and no * group: allowed"),
    ("User-agent: *\nCrawl-delay: 5\nDisallow: /x\n", "x", "/x", False, "other records do not end a group"),
    ("User-agent: *\nSitemap: https://e/s.xml\nDisallow: /x\n", "x", "/x/1", False, "sitemap inside a group"),
    ("User-agent: a\nDisallow: /x\nUser-agent: b\nDisallow: /y\n", "a", "/y", True, "a rule ends the group"),
    ("USER-AGENT : *\nDISALLOW : /x\n", "x", "/x", False, "keys are case-insensitive, spaces around ':'"),
    ("\ufeffUser-agent: *\r\nDisallow: /x\r\n", "x", "/x", False, "BOM and CRLF line ends"),
    ("User-agent: *\rDisallow: /x\r", "x", "/x", False, "CR line ends"),
    ("User-agent: * # all\nDisallow: /x # secret\n", "x", "/x", False, "comments at the end of lines"),
    ("User-agent: *\nDisallow: x\n", "x", "/x", False, "a pattern without a leading / gets one"),
    ("User-agent: *\nDisallow: /a$b\n", "x", "/a$b", False, "$ not at the end is a literal"),
    ("garbage line without colon\nUser-agent: *\nDisallow: /x\n", "x", "/x", False, "invalid lines are skipped"),
    ("User-agent: *\nDisallow: /\n", "x", "", False, "an empty path is /"),
]


@pytest.mark.parametrize("body,agent,path,allowed,why", CASES, ids=[c[4] for c in CASES])
def test_robots_table(body, agent, path, allowed, why):
    assert RobotsTxt.parse(body).allowed(agent, path) is allowed, why


def test_html_served_as_robots_txt_is_invalid_and_allows_everything():
    for body, ctype in ((b"<!DOCTYPE html><html><body>Disallow: /</body></html>", None),
                        (b"  <html>\nUser-agent: *\nDisallow: /\n", None),
                        (b"User-agent: *\nDisallow: /\n", "text/html; charset=utf-8")):
        r = RobotsTxt.parse(body, ctype)
        assert r.status == "html" and r.allowed("GPTBot", "/x")


def test_huge_robots_txt_is_parsed_up_to_the_cap_only():
    filler = ("# " + "x" * 98 + "\n") * (MAX_BYTES // 100 + 10)
    body = "User-agent: *\nDisallow: /early\n" + filler + "Disallow: /late\n"
    r = RobotsTxt.parse(body.encode())
    assert r.truncated
    assert not r.allowed("x", "/early/1")
    assert r.allowed("x", "/late/1"), "rules after 500 KiB are ignored"
    assert not RobotsTxt.parse(body.encode()[: MAX_BYTES - 10]).truncated


def test_empty_file_and_status():
    r = RobotsTxt.parse(b"")
    assert r.status == "empty" and r.allowed("x", "/anything")


def test_product_token_and_normalization():
    assert product_token("Googlebot/2.1 (+http://www.google.com/bot.html)") == "googlebot"
    assert product_token(" * ") == "*"
    assert product_token("Google-Extended") == "google-extended"
    assert normalize_path("/a%2fb") == "/a%2Fb"  # a reserved char stays encoded (upper-cased)
    assert normalize_path("/%41") == "/A"
    assert normalize_path("/\u00fc") == "/%C3%BC"
    assert normalize_path("/100%") == "/100%"  # a lone % is kept
