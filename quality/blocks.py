"""A tiny document model shared by the compliance documents, rendered to Markdown and to HTML.

The training-content summary and the dataset card are built once as a list of blocks (headings,
paragraphs, lists, tables, notes) and rendered twice, so the ``.md`` and ``.html`` files always say the
same thing. Both renderings are deterministic: the same blocks give the same bytes. The HTML page uses the
report's style sheet and Content-Security-Policy (:mod:`quality.html`): self-contained, no script.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Sequence

from .html import CSP, CSS


@dataclass(frozen=True)
class Block:
    """One block: ``kind`` is h1, h2, h3, p, note, list or table."""

    kind: str
    text: str = ""
    items: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    numeric: tuple[int, ...] = field(default_factory=tuple)


def h1(text: str) -> Block:
    return Block("h1", text)


def h2(text: str) -> Block:
    return Block("h2", text)


def h3(text: str) -> Block:
    return Block("h3", text)


def p(text: str) -> Block:
    return Block("p", text)


def note(text: str) -> Block:
    return Block("note", text)


def ul(items: Sequence[str]) -> Block:
    return Block("list", items=tuple(str(i) for i in items))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> Block:
    return Block("table", headers=tuple(headers), rows=tuple(tuple(_cell(c) for c in r) for r in rows),
                 numeric=tuple(numeric))


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.4g}"
    return str(v)


def _md_cell(s: str) -> str:
    return " ".join(s.split()).replace("|", "\\|") or " "


def to_markdown(blocks: Sequence[Block]) -> str:
    """GitHub-flavoured Markdown of ``blocks`` (trailing newline)."""
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append("#" * int(b.kind[1]) + " " + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "note":
            out.append("> " + b.text)
        elif b.kind == "list":
            out.append("\n".join(f"- {i}" for i in b.items) if b.items else "- none")
        elif b.kind == "table":
            lines = ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |",
                     "|" + "|".join("---:" if i in b.numeric else "---" for i in range(len(b.headers))) + "|"]
            rows = b.rows or (tuple(["none"] + [""] * (len(b.headers) - 1)),)
            lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
            out.append("\n".join(lines))
        else:  # pragma: no cover - blocks are built in this package
            raise ValueError(f"unknown block kind {b.kind!r}")
    return "\n\n".join(out) + "\n"


def _e(s: str) -> str:
    return html.escape(s, quote=True)


def to_html(blocks: Sequence[Block], title: str) -> str:
    """A self-contained HTML page of ``blocks`` in the report's style (the first h1 becomes the header)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
             '<meta name="viewport" content="width=device-width,initial-scale=1">', '<link rel="icon" href="data:,">',
             f"<title>{_e(title)}</title>", f"<style>{CSS}</style></head><body>"]
    body: list[str] = []
    open_section = False
    header_done = False
    for b in blocks:
        if b.kind == "h1" and not header_done:
            parts.append(f'<header class="top"><h1>{_e(b.text)}</h1></header><main>')
            header_done = True
            continue
        if b.kind in ("h1", "h2"):
            if open_section:
                body.append("</section>")
            body.append(f"<section><h2>{_e(b.text)}</h2>")
            open_section = True
        elif b.kind == "h3":
            body.append(f"<h3>{_e(b.text)}</h3>")
        elif b.kind == "p":
            body.append(f"<p>{_e(b.text)}</p>")
        elif b.kind == "note":
            body.append(f'<p class="note">{_e(b.text)}</p>')
        elif b.kind == "list":
            items = b.items or ("none",)
            body.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>")
        elif b.kind == "table":
            num = set(b.numeric)
            row_html = ["<table><thead><tr>" + "".join(
                f'<th{" class=n" if i in num else ""}>{_e(h)}</th>' for i, h in enumerate(b.headers))
                + "</tr></thead><tbody>"]
            for r in b.rows:
                row_html.append("<tr>" + "".join(
                    f'<td{" class=n" if i in num else ""}>{_e(c)}</td>' for i, c in enumerate(r)) + "</tr>")
            if not b.rows:
                row_html.append(f'<tr><td colspan="{len(b.headers)}" class="note">none</td></tr>')
            body.append("".join(row_html) + "</tbody></table>")
    if not header_done:
        parts.append(f'<header class="top"><h1>{_e(title)}</h1></header><main>')
    if open_section:
        body.append("</section>")
    parts += body
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


__all__ = ["Block", "h1", "h2", "h3", "note", "p", "table", "to_html", "to_markdown", "ul"]
