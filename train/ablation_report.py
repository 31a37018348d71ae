"""``ablation.html``: one self-contained page (inline CSS and SVG, no script, nothing fetched).

Sections: what was compared (datasets, budget, model, held-out text and tasks, notes), the training
loss curves of every dataset (one line per seed, one colour per dataset, in an ``<svg class="chart">``),
the table of final metrics (mean ± sample standard deviation over seeds, per-seed values in a
tooltip), and the pairwise verdicts: does the difference between two datasets exceed the seed spread?
"""
from __future__ import annotations

import html
import math
from typing import Any, Optional, Sequence

#: Line colours per dataset, in order (colour-blind safe, distinct from the background and the grid).
SERIES_COLORS = ("#2f6fad", "#d1495b", "#3c8d5a", "#e09f3e", "#7b4ea3", "#1b9aaa", "#8c564b", "#555555")
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif"

_CSS = f"""
body{{{FONT};margin:0;color:#1d2430;background:#fff}}
header{{background:#1d2430;color:#fff;padding:16px 28px}} header h1{{margin:0;font-size:22px}}
.meta{{color:#c9d1dc;font-size:13px;margin-top:4px}}
main{{padding:8px 28px 40px;max-width:1100px}}
h2{{font-size:18px;margin:26px 0 8px;border-bottom:1px solid #e3e7ed;padding-bottom:4px}}
table{{border-collapse:collapse;font-size:13px;margin:6px 0}}
th,td{{border:1px solid #e3e7ed;padding:4px 8px;text-align:left}} th{{background:#f4f6f9}}
td.num{{text-align:right;font-variant-numeric:tabular-nums}}
.yes{{color:#2a7d46;font-weight:600}} .no{{color:#8d99a6}} .undecided{{color:#b07a10}}
.note{{color:#4a5565;font-size:13px}} svg.chart{{display:block;margin:8px 0}}
.swatch{{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}}
"""


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _num(v: Optional[float], digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}"


def _tokens(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    t = start
    while t <= hi + 1e-12:
        ticks.append(round(t, 10))
        t += step
    return ticks


def loss_chart(curves: dict[str, list[list[list[float]]]], width: int = 720, height: int = 320) -> str:
    """An SVG line chart: training loss against tokens, one polyline per (dataset, seed)."""
    pts = [p for runs in curves.values() for c in runs for p in c]
    left, right, top, bottom = 56, 16, 16, 40
    parts = [f'<svg class="chart" data-chart="loss-curves" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="training loss against tokens" '
             f'xmlns="http://www.w3.org/2000/svg" style="{FONT};font-size:11px">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
    if not pts:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no training metrics</text></svg>')
        return "".join(parts)
    x_lo, x_hi = 0.0, max(p[0] for p in pts) or 1.0
    y_lo, y_hi = min(p[1] for p in pts), max(p[1] for p in pts)
    pad = (y_hi - y_lo) * 0.05 or 0.5
    y_lo, y_hi = max(0.0, y_lo - pad), y_hi + pad
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * pw

    def sy(y: float) -> float:
        return top + (1 - (y - y_lo) / (y_hi - y_lo)) * ph

    for t in _nice_ticks(y_lo, y_hi):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#e3e7ed"/>'
                     f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" fill="#4a5565">{t:g}</text>')
    for t in _nice_ticks(x_lo, x_hi):
        parts.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}" '
                     f'stroke="#4a5565"/><text x="{sx(t):.1f}" y="{top + ph + 16}" text-anchor="middle" '
                     f'fill="#4a5565">{_tokens(t)}</text>')
    parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#4a5565"/>'
                 f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" stroke="#4a5565"/>'
                 f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle" fill="#1d2430">training tokens'
                 f'</text><text x="14" y="{top + ph / 2}" text-anchor="middle" fill="#1d2430" '
                 f'transform="rotate(-90 14 {top + ph / 2})">training loss (nats/token)</text>')
    for i, (name, runs) in enumerate(curves.items()):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        for seed, curve in enumerate(runs):
            if not curve:
                continue
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in curve)
            parts.append(f'<polyline class="series" data-dataset="{_e(name)}" points="{path}" fill="none" '
                         f'stroke="{color}" stroke-width="2" stroke-opacity="{0.9 if seed == 0 else 0.55}">'
                         f'<title>{_e(name)} seed {seed}</title></polyline>')
    parts.append("</svg>")
    return "".join(parts)


def _cell(stats: dict[str, Any], digits: int) -> str:
    if not stats.get("n"):
        return '<td class="num">–</td>'
    sd = stats.get("sd")
    text = _num(stats["mean"], digits) + (f" ± {_num(sd, digits)}" if sd is not None else "")
    title = ", ".join(_num(v, digits) for v in stats.get("values", []))
    return f'<td class="num" title="per seed: {_e(title)}">{_e(text)}</td>'


def _verdict(c: dict[str, Any]) -> str:
    if c["exceeds_seed_spread"] is None:
        return '<span class="undecided">undecided (one seed: no spread; use --seeds 2 or more)</span>'
    if c["exceeds_seed_spread"]:
        return f'<span class="yes">yes: {_e(c["better"])} is better</span>'
    return '<span class="no">no: within the seed-to-seed spread</span>'


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def render(result: dict[str, Any]) -> str:
    """The HTML page of an ablation result (the dict written to ablation.json)."""
    cfg = result["config"]
    names = list(result["runs"])
    colors = {n: SERIES_COLORS[i % len(SERIES_COLORS)] for i, n in enumerate(names)}
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
             f"<title>Data ablation: {_e(' vs '.join(names))}</title><style>{_CSS}</style></head><body>",
             f"<header><h1>Data ablation · {_e(' vs '.join(names))}</h1>",
             f'<div class="meta">model {_e(cfg["model"])} · {_tokens(result["tokens_per_model"])} tokens per model '
             f'({result["steps"]} steps of {cfg["batch_size"]} × {cfg["seq_len"]} tokens) · {cfg["seeds"]} seed(s) '
             f"per dataset</div></header><main>"]
    # what was compared
    parts.append("<h2>Datasets</h2><table><tr><th>dataset</th><th>documents</th><th>tokens</th>"
                 "<th>epochs at this budget</th><th>dataset version</th><th>made from</th></tr>")
    prep = result.get("data_preparation") or {}
    for n in names:
        d = result["datasets"][n]
        made = prep.get(n, {})
        made_text = _e(made.get("source", d["path"]))
        if made.get("removed"):
            made_text += "<br><span class=\"note\">removed before training: " + _e(", ".join(
                f"{v} {k}" for k, v in made["removed"].items())) + "</span>"
        parts.append(f'<tr><td><span class="swatch" style="background:{colors[n]}"></span>{_e(n)}</td>'
                     f'<td class="num">{d["documents"]}</td><td class="num">{d["tokens"]}</td>'
                     f'<td class="num">{d["epochs"]}</td><td>{_e(d["dataset_version"])}</td><td>{made_text}</td></tr>')
    parts.append("</table>")
    ev = result.get("eval_text")
    tasks = result.get("tasks")
    rows = []
    if ev:
        rows.append(("held-out text", _e(ev.get("note") or ev.get("path", ""))
                     + f" · {ev.get('documents', '?')} documents"))
    else:
        rows.append(("held-out text", "none"))
    rows.append(("tasks", _e(f"{tasks.get('name') or tasks.get('file')} · {tasks.get('items')} items")
                 if tasks else "none"))
    rows.append(("tokenizer", _e(result["datasets"][names[0]]["tokenizer_sha256"][:16] + "…")))
    parts.append(_kv_table(rows))
    for note in result.get("notes") or []:
        parts.append(f'<p class="note">{_e(note)}</p>')
    # curves
    parts.append("<h2>Training loss</h2>")
    parts.append(loss_chart({n: [r.get("loss_curve") or [] for r in result["runs"][n]] for n in names}))
    parts.append('<p class="note">' + " ".join(
        f'<span class="swatch" style="background:{colors[n]}"></span>{_e(n)}' for n in names)
        + " · one line per seed (training loss on each dataset's own data; compare the held-out "
          "metrics below, not these curves)</p>")
    # table
    summary = result["summary"]
    parts.append("<h2>Held-out metrics</h2><table><tr><th>dataset</th><th>bits per byte</th><th>perplexity</th>"
                 "<th>loss</th><th>task acc</th><th>task acc_norm</th></tr>")
    for n in names:
        s = summary[n]
        parts.append(f'<tr><td><span class="swatch" style="background:{colors[n]}"></span>{_e(n)}</td>'
                     + _cell(s["bits_per_byte"], 4) + _cell(s["perplexity"], 2) + _cell(s["loss"], 4)
                     + _cell(s["acc"], 3) + _cell(s["acc_norm"], 3) + "</tr>")
    parts.append("</table><p class=\"note\">mean ± sample standard deviation over seeds (hover for each seed). "
                 "Lower bits per byte, perplexity and loss are better; higher accuracy is better.</p>")
    # verdicts
    parts.append("<h2>Does the difference exceed the seed-to-seed spread?</h2>")
    if result["comparisons"]:
        parts.append("<table><tr><th>datasets</th><th>metric</th><th>difference of means</th>"
                     "<th>seed spread (larger sd)</th><th>exceeds 2 × spread?</th></tr>")
        for c in result["comparisons"]:
            parts.append(f"<tr><td>{_e(c['a'])} − {_e(c['b'])}</td><td>{_e(c['metric'])}</td>"
                         f'<td class="num">{_num(c["difference"], 4)}</td><td class="num">{_num(c["seed_spread"], 4)}'
                         f"</td><td>{_verdict(c)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append('<p class="note">no metric to compare</p>')
    # runs
    parts.append("<h2>Runs</h2><table><tr><th>dataset</th><th>seed</th><th>final train loss</th><th>bits per byte"
                 "</th><th>acc</th><th>train s</th><th>tokens/s</th><th>eval s</th><th>device</th></tr>")
    for n in names:
        for r in result["runs"][n]:
            parts.append(f"<tr><td>{_e(n)}</td><td>{r['seed']}</td><td class=\"num\">{_num(r.get('final_train_loss'))}"
                         f"</td><td class=\"num\">{_num((r.get('text') or {}).get('bits_per_byte'))}</td>"
                         f"<td class=\"num\">{_num((r.get('tasks') or {}).get('acc'), 3)}</td>"
                         f"<td class=\"num\">{_num(r.get('train_seconds'), 1)}</td>"
                         f"<td class=\"num\">{_num(r.get('train_tokens_per_s'), 0)}</td>"
                         f"<td class=\"num\">{_num(r.get('eval_seconds'), 1)}</td><td>{_e(r.get('device'))}</td></tr>")
    parts.append("</table><p class=\"note\">Generated by corpusforge ablate (ablation.json holds every figure). "
                 "A run reused from an earlier invocation shows the time it took then.</p></main></body></html>\n")
    return "\n".join(parts)
