"""Inline SVG charts for the HTML report: no script, no external font, image or style sheet.

Every function returns one ``<svg class="chart">`` element (or ``""`` when there is nothing to draw, so
a report never shows an empty frame). Charts have a ``<title>`` and an ``aria-label`` for screen
readers; the same numbers are always also printed in a table next to the chart. Colours are fixed
(:data:`COLORS`) so that a screenshot test can find each chart's bars by colour.
"""
from __future__ import annotations

import html
import math
from typing import Optional, Sequence

#: Series colours (sRGB hex), chosen to stay distinct in grey-scale prints.
COLORS = {
    "kept": "#2f6fad",
    "removed": "#d1495b",
    "quarantined": "#e09f3e",
    "neutral": "#3c8d5a",
    "previous": "#8d99a6",
}
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif"
WIDTH = 640


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def fmt_num(v: float) -> str:
    """A compact human number: 1234567 -> '1.23M', 0.01234 -> '0.0123'."""
    if v is None:
        return "–"
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g}G"
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if float(v).is_integer():
        return str(int(v))
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _open(chart_id: str, title: str, height: int) -> list[str]:
    return [
        f'<svg class="chart" data-chart="{_e(chart_id)}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{_e(title)}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'style="max-width:100%;height:auto;{FONT}">',
        f"<title>{_e(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]


def hbar_chart(chart_id: str, title: str, items: Sequence[tuple[str, float]], color: str = COLORS["neutral"],
               value_format=fmt_num, max_items: int = 30) -> str:
    """Horizontal bars, one per ``(label, value)``; empty string when no value is positive."""
    items = [(str(k), float(v)) for k, v in items if v is not None][:max_items]
    if not items or max(v for _, v in items) <= 0:
        return ""
    row, top, label_w = 22, 8, 210
    h = top * 2 + row * len(items)
    vmax = max(v for _, v in items)
    plot_w = WIDTH - label_w - 70
    out = _open(chart_id, title, h)
    for i, (label, v) in enumerate(items):
        y = top + i * row
        w = max(2.0, plot_w * v / vmax) if v > 0 else 0.0
        short = label if len(label) <= 32 else label[:31] + "…"
        out.append(f'<text x="{label_w - 6}" y="{y + 15}"'
                   f' font-size="12" text-anchor="end" fill="#222">{_e(short)}</text>')
        if w:
            out.append(f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{color}">'
                       f"<title>{_e(label)}: {_e(value_format(v))}</title></rect>")
        out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}"'
                   f' font-size="11" fill="#444">{_e(value_format(v))}</text>')
    out.append("</svg>")
    return "".join(out)


def funnel_chart(chart_id: str, title: str, steps: Sequence[tuple[str, int, int]]) -> str:
    """Funnel: per step ``(name, docs_out, removed)``, a bar of what stays and a segment of what left."""
    steps = list(steps)
    if not steps or max(o + r for _, o, r in steps) <= 0:
        return ""
    row, top, label_w = 26, 8, 130
    h = top * 2 + row * len(steps) + 18
    vmax = max(o + r for _, o, r in steps)
    plot_w = WIDTH - label_w - 110
    out = _open(chart_id, title, h)
    for i, (name, kept, removed) in enumerate(steps):
        y = top + i * row
        wk = plot_w * kept / vmax
        wr = plot_w * removed / vmax
        out.append(f'<text x="{label_w - 6}" y="{y + 17}"'
                   f' font-size="12" text-anchor="end" fill="#222">{_e(name)}</text>')
        if kept > 0:
            out.append(f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{max(wk, 2):.1f}" height="{row - 8}" '
                       f'fill="{COLORS["kept"]}"><title>{_e(name)}: {kept} continue</title></rect>')
        if removed > 0:
            out.append(f'<rect class="bar" x="{label_w + wk:.1f}" y="{y + 4}"'
                       f' width="{max(wr, 2):.1f}" height="{row - 8}" '
                       f'fill="{COLORS["removed"]}"><title>{_e(name)}: {removed} removed</title></rect>')
        txt = f"{fmt_num(kept)}" + (f"  −{fmt_num(removed)}" if removed else "")
        out.append(f'<text x="{label_w + wk + max(wr, 0) + 6:.1f}" y="{y + 17}"'
                   f' font-size="11" fill="#444">{_e(txt)}</text>')
    ly = h - 8
    out.append(f'<rect x="{label_w}" y="{ly - 9}" width="10" height="10" fill="{COLORS["kept"]}"/>'
               f'<text x="{label_w + 14}" y="{ly}" font-size="11" fill="#444">continue</text>'
               f'<rect x="{label_w + 80}" y="{ly - 9}" width="10" height="10" fill="{COLORS["removed"]}"/>'
               f'<text x="{label_w + 94}" y="{ly}" font-size="11" fill="#444">removed</text>')
    out.append("</svg>")
    return "".join(out)


def histogram_chart(chart_id: str, title: str, edges: Sequence[float], kept: Sequence[int], removed: Sequence[int],
                    scale: str = "linear", height: int = 170) -> str:
    """Stacked histogram: kept (bottom) and removed (top) documents per bin; empty string when no count."""
    n = len(kept)
    if n == 0 or sum(kept) + sum(removed) <= 0:
        return ""
    left, right, top, bottom = 44, 12, 10, 34
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    vmax = max(k + r for k, r in zip(kept, removed))
    bw = plot_w / n
    out = _open(chart_id, title, height)
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>')
    out.append(f'<text x="{left - 4}" y="{top + 9}"'
               f' font-size="10" text-anchor="end" fill="#444">{_e(fmt_num(vmax))}</text>')
    out.append(f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end" fill="#444">0</text>')
    for i in range(n):
        x = left + i * bw
        hk = plot_h * kept[i] / vmax
        hr = plot_h * removed[i] / vmax
        rng = f"[{fmt_num(edges[i])}, {fmt_num(edges[i + 1])})"
        if kept[i]:
            out.append(f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - hk:.1f}" width="{max(bw - 2, 1):.1f}" '
                       f'height="{max(hk, 1.5):.1f}" fill="{COLORS["kept"]}">'
                       f'<title>{_e(rng)}: {kept[i]} kept</title></rect>')
        if removed[i]:
            out.append(f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - hk - max(hr, 1.5):.1f}" '
                       f'width="{max(bw - 2, 1):.1f}" height="{max(hr, 1.5):.1f}" fill="{COLORS["removed"]}">'
                       f"<title>{_e(rng)}: {removed[i]} removed</title></rect>")
    ticks = sorted({0, n // 2, n})
    for t in ticks:
        x = left + t * bw
        anchor = "start" if t == 0 else ("end" if t == n else "middle")
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="{anchor}" fill="#444">'
                   f"{_e(fmt_num(edges[t]))}</text>")
    note = " (log scale)" if scale == "log" else ""
    out.append(f'<text x="{left + plot_w}" y="{height - 4}" font-size="10" text-anchor="end" fill="#666">'
               f'<tspan fill="{COLORS["kept"]}">■</tspan>'
               f' kept <tspan fill="{COLORS["removed"]}">■</tspan> removed{_e(note)}</text>')
    out.append("</svg>")
    return "".join(out)


def column_chart(chart_id: str, title: str, items: Sequence[tuple[str, float]], color: str = COLORS["neutral"],
                 log: bool = False, height: int = 170) -> str:
    """Vertical bars with category labels (e.g. cluster size -> clusters); ``log`` scales heights by log10(1+v)."""
    items = [(str(k), float(v)) for k, v in items]
    if not items or max(v for _, v in items) <= 0:
        return ""
    left, right, top, bottom = 44, 12, 10, 30
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    f = (lambda v: math.log10(1 + v)) if log else (lambda v: v)
    vmax = max(f(v) for _, v in items)
    bw = min(plot_w / len(items), 48.0)
    top += 12  # room for the value labels above the bars
    plot_h -= 12
    out = _open(chart_id, title, height)
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + bw * len(items)}"'
               f' y2="{top + plot_h}" stroke="#888"/>')
    step = max(1, math.ceil(len(items) / 16))
    for i, (label, v) in enumerate(items):
        x = left + i * bw
        hv = plot_h * f(v) / vmax if vmax else 0
        if v > 0:
            out.append(f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - max(hv, 1.5):.1f}"'
                       f' width="{max(bw - 2, 1):.1f}" '
                       f'height="{max(hv, 1.5):.1f}" fill="{color}">'
                       f'<title>{_e(label)}: {_e(fmt_num(v))}</title></rect>')
            if len(items) <= 24:
                out.append(f'<text x="{x + bw / 2:.1f}" y="{top + plot_h - max(hv, 1.5) - 3:.1f}" font-size="10" '
                           f'text-anchor="middle" fill="#444">{_e(fmt_num(v))}</text>')
        if i % step == 0:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle" '
                       f'fill="#444">{_e(label if len(label) <= 8 else label[:7] + "…")}</text>')
    if log:
        out.append(f'<text x="{left + plot_w}" y="{height - 2}"'
                   f' font-size="10" text-anchor="end" fill="#666">log scale</text>')
    out.append("</svg>")
    return "".join(out)


def paired_hbar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, Optional[float], Optional[float]]],
                      labels: tuple[str, str] = ("previous", "current"), value_format=fmt_num,
                      max_items: int = 20) -> str:
    """Two bars per row (e.g. previous vs current share of each language); empty when all values are 0."""
    rows = [(str(k), a or 0.0, b or 0.0) for k, a, b in rows][:max_items]
    if not rows or max(max(a, b) for _, a, b in rows) <= 0:
        return ""
    row, top, label_w = 30, 8, 150
    h = top * 2 + row * len(rows) + 18
    vmax = max(max(a, b) for _, a, b in rows)
    plot_w = WIDTH - label_w - 80
    out = _open(chart_id, title, h)
    for i, (label, a, b) in enumerate(rows):
        y = top + i * row
        out.append(f'<text x="{label_w - 6}" y="{y + 17}"'
                   f' font-size="12" text-anchor="end" fill="#222">{_e(label)}</text>')
        for j, (v, col) in enumerate(((a, COLORS["previous"]), (b, COLORS["kept"]))):
            if v > 0:
                w = max(2.0, plot_w * v / vmax)
                out.append(f'<rect class="bar" x="{label_w}" y="{y + 3 + j * 12}" width="{w:.1f}"'
                           f' height="11" fill="{col}">'
                           f"<title>{_e(label)} ({_e(labels[j])}): {_e(value_format(v))}</title></rect>")
                out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 12 + j * 12}" font-size="10" fill="#444">'
                           f"{_e(value_format(v))}</text>")
    ly = h - 8
    out.append(f'<rect x="{label_w}" y="{ly - 9}" width="10" height="10" fill="{COLORS["previous"]}"/>'
               f'<text x="{label_w + 14}" y="{ly}" font-size="11" fill="#444">{_e(labels[0])}</text>'
               f'<rect x="{label_w + 90}" y="{ly - 9}" width="10" height="10" fill="{COLORS["kept"]}"/>'
               f'<text x="{label_w + 104}" y="{ly}" font-size="11" fill="#444">{_e(labels[1])}</text>')
    out.append("</svg>")
    return "".join(out)


__all__ = ["COLORS", "column_chart", "fmt_num", "funnel_chart", "hbar_chart", "histogram_chart", "paired_hbar_chart"]
