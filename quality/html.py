"""``report.html``: one self-contained page rendered from a :class:`schemas.report.Report`.

No script, no external font, image or style sheet (a Content-Security-Policy of ``default-src 'none'``
makes sure of it): the file opens offline, from an e-mail attachment or an air-gapped share, and prints
cleanly (print styles avoid breaking charts and tables across pages). Every chart is inline SVG
(:mod:`quality.charts`) and its numbers are also in a table. Everything comes from the report model,
so the page never shows anything report.json does not hold.
"""
from __future__ import annotations

import html
import json
from typing import Any, Iterable, Optional, Sequence

from schemas.report import Report

from .charts import COLORS, column_chart, fmt_num, funnel_chart, hbar_chart, histogram_chart, paired_hbar_chart

_CSS = """
:root{color-scheme:light}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;margin:0;color:#1d2329;
background:#f5f6f8;line-height:1.4;font-size:14px}
main{max-width:1080px;margin:0 auto;padding:24px}
header.top{background:#1f3b57;color:#fff;padding:20px 24px}
header.top h1{margin:0 0 4px 0;font-size:22px}
header.top .meta{opacity:.85;font-size:13px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:16px 20px;margin:16px 0}
h2{font-size:18px;margin:0 0 10px 0;color:#1f3b57}
h3{font-size:15px;margin:14px 0 6px 0}
table{border-collapse:collapse;width:100%;margin:6px 0 10px 0;font-size:13px}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.n{white-space:nowrap}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{border:1px solid #dde1e6;border-radius:6px;padding:10px}
.card .v{font-size:20px;font-weight:600}
.card .k{font-size:12px;color:#5b6670}
.banner{padding:10px 14px;border-radius:6px;font-weight:600;margin:10px 0}
.pass{background:#e3f4e8;color:#1e6b34;border:1px solid #9fd3ad}
.fail{background:#fbe4e6;color:#8f1d2c;border:1px solid #eba4ad}
.skipped{background:#f0f2f5;color:#5b6670;border:1px solid #d0d5da}
span.status{padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:12px}
figure{margin:6px 0}
figcaption{font-size:12px;color:#5b6670}
blockquote{margin:4px 0 10px 0;padding:6px 10px;background:#f7f8fa;border-left:3px solid #c2c8cf;font-size:13px;
white-space:pre-wrap;word-break:break-word}
.note{color:#5b6670;font-size:12px}
pre{background:#f7f8fa;padding:10px;overflow:auto;font-size:11px;max-height:none;white-space:pre-wrap;word-break:break-all}
svg.chart{display:block}
@media print{
  body{background:#fff;font-size:11px}
  header.top{background:#fff;color:#000;border-bottom:2px solid #000}
  main{max-width:none;padding:0}
  section{border:none;padding:0;margin:12px 0;break-inside:auto}
  figure,table,svg.chart,.cards,blockquote{break-inside:avoid}
  h2,h3{break-after:avoid}
  .grid2{display:block}
}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
#: The style sheet and Content-Security-Policy of the report, shared by the compliance documents' pages.
CSS, CSP = _CSS, _CSP


def _e(s: Any) -> str:
    return html.escape("" if s is None else str(s), quote=True)


def pct(x: Optional[float], digits: int = 2) -> str:
    """A share as a percentage ('12.34 %'); '–' for None."""
    return "–" if x is None else f"{100 * x:.{digits}f} %"


def _int(x: Optional[int]) -> str:
    return "–" if x is None else f"{x:,}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    numeric = set(numeric)
    out = ["<table><thead><tr>"]
    out += [f'<th{" class=n" if i in numeric else ""}>{_e(h)}</th>' for i, h in enumerate(headers)]
    out.append("</tr></thead><tbody>")
    n = 0
    for row in rows:
        n += 1
        out.append("<tr>" + "".join(
            f'<td{" class=n" if i in numeric else ""}>{c if isinstance(c, _Raw) else _e(c)}</td>'
            for i, c in enumerate(row)
        ) + "</tr>")
    if n == 0:
        out.append(f'<tr><td colspan="{len(headers)}" class="note">none</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


class _Raw(str):
    """Already-escaped HTML for a table cell."""


def _status(s: str) -> _Raw:
    return _Raw(f'<span class="status {s}">{_e(s.upper())}</span>')


def _figure(svg: str, caption: str) -> str:
    if not svg:
        return f'<p class="note">{_e(caption)}: nothing to chart.</p>'
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _card(value: str, key: str) -> str:
    return f'<div class="card"><div class="v">{_e(value)}</div><div class="k">{_e(key)}</div></div>'


def render_html(r: Report) -> str:
    """The complete HTML page of report ``r`` (a string; write it as UTF-8)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>corpusforge data-quality report: {_e(r.run.run_id)}</title>",
        f"<style>{_CSS}</style></head><body>",
        '<header class="top">',
        f"<h1>Data-quality report · run {_e(r.run.run_id)}</h1>",
        f'<div class="meta">started {_e(r.run.started_at)} · finished {_e(r.run.finished_at)} · '
        f"{_e(r.run.duration_s)} s · status {_e(r.run.status)} · report version {r.report_version}</div>",
        "</header><main>",
    ]
    parts += [
        _raw_rejected_text(r),
        _summary(r), _gates(r), _inputs(r), _funnel(r), _removals(r), _examples(r), _languages(r), _signals(r),
        _duplicates(r), _pii(r), _bias(r), _contamination(r), _optout(r), _drift(r), _provenance(r),
    ]
    parts.append('<p class="note">Generated by corpusforge from the run\'s written data. Examples are '
                 "scrubbed by a conservative scrubber (e-mails, URLs, numbers, capitalised words and text in "
                 "scripts without letter case are masked) and truncated; no raw personal data is shown.</p>")
    parts.append("</main></body></html>\n")
    return "\n".join(p for p in parts if p)


def _raw_rejected_text(r: Report) -> str:
    """A warning banner when the run kept the raw text of removed documents (``output.rejected_text: raw``)."""
    info = r.provenance.stage_info.get("rejected_text") or {}
    if not info.get("raw_text_kept"):
        return ""
    return f'<div class="banner fail" data-rejected-text="raw">Warning: {_e(info.get("warning"))}</div>'


def _summary(r: Report) -> str:
    a, o = r.accounting, r.outputs
    ok = "✓ balanced" if a.balanced else "✗ NOT balanced"
    cards = [
        _card(_int(a.records_in), "records in"),
        _card(_int(a.kept), f"curated ({pct(a.kept / a.records_in if a.records_in else None, 1)})"),
        _card(_int(a.removed), "removed (rejected)"),
        _card(_int(a.quarantined), "quarantined"),
        _card(fmt_num(o.curated_bytes) + "B", "curated bytes"),
    ]
    if o.tokens is not None:
        cards.append(_card(fmt_num(o.tokens), "tokens"))
        cards.append(_card(_int(o.shards), "shards"))
    stages = ", ".join(f"{s['name']} ({s.get('mode')})" for s in r.stages_run) or "none"
    gate_line = ""
    if r.gates.enabled:
        cls = "pass" if r.gates.passed else "fail"
        failed = [v.gate for v in r.gates.verdicts if v.status == "fail"]
        text = "All quality gates passed" if r.gates.passed else f"Quality gates FAILED: {', '.join(failed)}"
        gate_line = f'<div class="banner {cls}" data-gates="{cls}">{_e(text)}</div>'
    else:
        gate_line = '<div class="banner skipped" data-gates="disabled">Quality gates are disabled</div>'
    return (
        '<section id="summary"><h2>Summary</h2>' + gate_line + '<div class="cards">' + "".join(cards) + "</div>"
        f'<p class="mono" data-accounting="{"ok" if a.balanced else "broken"}">records in = curated + removed + '
        f"quarantined: {a.records_in:,} = {a.kept:,} + {a.removed:,} + {a.quarantined:,} · {_e(ok)}"
        f'{"" if a.matches_manifest else " · differs from run.json"}</p>'
        f"<p>Stages run: {_e(stages)}. Not run: {_e(', '.join(r.stages_not_run) or 'none')}.</p></section>"
    )


def _gates(r: Report) -> str:
    g = r.gates
    if not g.enabled:
        return '<section id="gates"><h2>Quality gates</h2><p>Gates are disabled (gates.enabled: false).</p></section>'
    rows = []
    for v in g.verdicts:
        val = "–" if v.value is None else (f"{v.value:.6g}")
        rows.append((v.gate, v.description, val, f"{v.op} {v.threshold:.6g}" if v.threshold is not None else "–",
                     _status(v.status), v.detail))
    return ('<section id="gates"><h2>Quality gates</h2>'
            + _table(["gate", "figure", "value", "threshold", "verdict", "detail"], rows, numeric=(2,))
            + '<p class="note">A failed gate makes <code>corpusforge run</code> and <code>corpusforge report</code> '
              "exit with code 3; a nightly run is then not published.</p></section>")


def _inputs(r: Report) -> str:
    rows = [(i.rel_path, i.source, i.format + (f"+{i.compression}" if i.compression else ""), _int(i.bytes),
             _Raw(f"<code>{_e(i.sha256)}</code>"), _int(i.records), _int(i.curated), _int(i.rejected),
             _int(i.quarantined)) for i in r.inputs]
    src = [(k, _int(s.records), _int(s.curated), _int(s.rejected), _int(s.quarantined), pct(s.keep_rate))
           for k, s in r.sources.items()]
    o = r.outputs
    out_rows = [("curated documents", _int(o.curated_docs)), ("curated bytes", _int(o.curated_bytes)),
                ("curated characters", _int(o.curated_chars)), ("rejected documents", _int(o.rejected_docs)),
                ("quarantined records", _int(o.quarantined_records))]
    if o.tokens is not None:
        out_rows += [("tokens", _int(o.tokens)), ("shards", _int(o.shards)), ("shard bytes", _int(o.shard_bytes)),
                     ("dataset version", o.dataset_version or "–")]
    tok = ""
    if o.tokens_by_lang:
        tok = "<h3>Tokens by language</h3>" + _table(
            ["language", "tokens"], sorted(o.tokens_by_lang.items(), key=lambda kv: -kv[1]), numeric=(1,))
    return ('<section id="inputs"><h2>What went in and what came out</h2><h3>Input files</h3>'
            + _table(["file", "source", "format", "bytes", "sha256", "records", "curated", "rejected", "quarantined"],
                     rows, numeric=(3, 5, 6, 7, 8))
            + "<h3>Sources</h3>"
            + _table(["source", "records", "curated", "rejected", "quarantined", "keep rate"], src,
                     numeric=(1, 2, 3, 4, 5))
            + _source_licences(r)
            + "<h3>Outputs</h3>" + _table(["output", "value"], out_rows, numeric=(1,)) + tok + "</section>")


def source_period(d: Any) -> str:
    """A source's collection period: configured dates and the range of its records' WARC-Date."""
    parts = []
    if d.period_start or d.period_end:
        parts.append(f"{d.period_start or '?'} to {d.period_end or '?'} (configured)")
    if d.warc_date_first:
        parts.append(f"{d.warc_date_first} to {d.warc_date_last} (WARC-Date of {d.warc_dated_records:,} records)")
    return "; ".join(parts) or "not known"


def _source_licences(r: Report) -> str:
    """Per source: category, licence (unknown shown as such), collection, kept documents and tokens."""
    if not r.source_details:
        return ""
    rows, sig_rows = [], []
    for name, d in r.source_details.items():
        licence = _Raw(f'<span class="status fail">{_e(d.licence.upper())}</span>') if d.licence == "unknown" \
            else d.licence
        label = name if d.in_run else f"{name} (no input in this run)"
        rows.append((label, d.category or "not described", licence, d.crawler or "–", source_period(d),
                     _int(d.curated_docs), _int(d.tokens), _int(d.domains)))
        for sig, n in d.licence_signals.items():
            sig_rows.append((name, sig, _int(n)))
    out = ("<h3>Sources: descriptions and licences</h3>"
           + _table(["source", "category", "licence", "crawler", "collection period", "docs kept", "tokens kept",
                     "domains"], rows, numeric=(5, 6, 7))
           + '<p class="note">From the configuration\'s <code>sources</code> map (category, licence, crawler, '
           "configured period) and the written data (WARC-Date range, kept documents, tokens, distinct registrable "
           "domains). A licence shown as UNKNOWN was not given in the configuration.</p>")
    if sig_rows:
        out += ("<h4>Licence signals found on the pages (kept documents)</h4>"
                + _table(["source", "signal", "documents"], sig_rows, numeric=(2,)))
    return out


def _funnel(r: Report) -> str:
    svg = funnel_chart("funnel", "Documents after each step", [(s.step, s.docs_out, s.removed) for s in r.funnel])
    rows = [(s.step, s.mode, _int(s.docs_in), _int(s.removed), _int(s.flagged) if s.flagged else "", _int(s.docs_out))
            for s in r.funnel]
    return ('<section id="funnel"><h2>Funnel</h2>'
            + _figure(svg, "Documents continuing (blue) and removed (red) per step")
            + _table(["step", "mode", "in", "removed", "flagged (tag mode)", "out"], rows, numeric=(2, 3, 4, 5))
            + "</section>")


def _removals(r: Report) -> str:
    svg = hbar_chart("removals", "Removed documents by reason", [(x.reason, x.count) for x in r.removals],
                     color=COLORS["removed"])
    rows = [(x.reason, x.stage, _int(x.count), pct(x.rate, 3)) for x in r.removals]
    qsvg = hbar_chart("quarantine", "Quarantined records by reason", [(x.reason, x.count) for x in r.quarantine],
                      color=COLORS["quarantined"])
    qrows = [(x.reason, _int(x.count), pct(x.rate, 3)) for x in r.quarantine]
    return ('<section id="removals"><h2>Removals and quarantine</h2><h3>Removed by reason</h3>'
            + (_figure(svg, "Removed documents per reason") if r.removals
               else '<p class="note">No document was removed.</p>')
            + _table(["reason", "stage", "documents", "share of records in"], rows, numeric=(2, 3))
            + "<h3>Quarantined by reason</h3>"
            + (_figure(qsvg, "Quarantined records per reason") if r.quarantine
               else '<p class="note">No record was quarantined.</p>')
            + _table(["reason", "records", "share of records in"], qrows, numeric=(1, 2)) + "</section>")


def _examples(r: Report) -> str:
    out = ['<section id="examples"><h2>Examples per removal reason</h2>'
           '<p class="note">Scrubbed and truncated previews; the first documents of each reason by doc_id.</p>']
    if not r.examples and not r.quarantine_examples:
        out.append('<p class="note">No examples: nothing was removed, or examples are switched off.</p>')
    for reason, exs in r.examples.items():
        out.append(f"<h3>{_e(reason)}</h3>")
        for x in exs:
            out.append(f'<div class="note">doc <code>{_e(x.doc_id)}</code> · source {_e(x.source)} · lang '
                       f"{_e(x.lang or '–')} · {x.n_chars:,} chars</div><blockquote>{_e(x.text)}</blockquote>")
    if r.quarantine_examples:
        out.append("<h3>Quarantined records</h3>")
        rows = [(reason, q.file, f"{q.offset} ({q.offset_unit})", _int(q.raw_bytes),
                 _Raw(f"<code>{_e(q.shape or '')}</code>"))
                for reason, qs in r.quarantine_examples.items() for q in qs]
        out.append(_table(["reason", "file", "offset", "bytes", "shape of the first bytes"], rows, numeric=(3,)))
    out.append("</section>")
    return "".join(out)


def _languages(r: Report) -> str:
    lang = r.languages
    if lang is None:
        return '<section id="languages"><h2>Languages</h2><p class="note">The language stage did not run.</p></section>'
    svg = hbar_chart("languages", "Curated documents by language", [(x.lang, x.curated_docs) for x in lang.rows])
    rows = [(x.lang, _int(x.curated_docs), pct(x.curated_share), _int(x.curated_chars), _int(x.rejected_docs))
            for x in lang.rows]
    return ('<section id="languages"><h2>Languages</h2>' + _figure(svg, "Curated documents per language")
            + _table(["language", "curated docs", "share", "curated chars", "removed docs"], rows, numeric=(1, 2, 3, 4))
            + "</section>")


def _signals(r: Report) -> str:
    s = r.signals
    if not s.stats:
        return '<section id="signals"><h2>Quality signals</h2><p class="note">No signal columns.</p></section>'
    figs = []
    for h in s.histograms:
        svg = histogram_chart(f"hist-{h.signal}", f"Distribution of {h.signal}", h.edges, h.kept, h.removed, h.scale)
        figs.append(_figure(svg, f"{h.signal}: documents per bin, kept and removed"))

    def f(x: Optional[float]) -> str:
        return "–" if x is None else f"{x:.6g}"

    rows = [(st.signal, st.scope, _int(st.count), _int(st.nulls), f(st.min), f(st.p50), f(st.mean), f(st.p90),
             f(st.p99), f(st.max)) for st in sorted(s.stats, key=lambda x: (x.signal, x.scope))]
    return ('<section id="signals"><h2>Quality signals</h2><div class="grid2">' + "".join(figs) + "</div>"
            + _table(["signal", "scope", "docs", "nulls", "min", "p50", "mean", "p90", "p99", "max"], rows,
                     numeric=tuple(range(2, 10)))
            + '<p class="note">Counts are exact; quantiles are approximate (relative rank error 1e-4).</p></section>')


def _duplicates(r: Report) -> str:
    d = r.duplicates
    out = ['<section id="duplicates"><h2>Duplicates</h2>']
    if d.exact is None and d.near is None:
        out.append('<p class="note">Neither exact nor near dedup ran.</p>')
    if d.exact is not None:
        e = d.exact
        out.append("<h3>Exact duplicates</h3>")
        out.append(f"<p>{e.groups:,} groups of identical texts hold {e.documents_in_groups:,} documents; "
                   f"{e.duplicates_removed:,} copies removed.</p>")
        if e.group_sizes:
            out.append(_table(["group size", "groups", "documents"],
                              [(b.size, _int(b.clusters), _int(b.documents)) for b in e.group_sizes],
                              numeric=(0, 1, 2)))
    if d.near is not None:
        n = d.near
        out.append("<h3>Near duplicates</h3>")
        out.append(f"<p>Near dedup saw {n.evaluated_docs:,} documents: {n.clusters:,} clusters of two or more hold "
                   f"{n.documents_in_clusters:,} documents; {n.duplicates_removed:,} removed. Largest cluster: "
                   f"{n.largest_cluster:,} documents ({pct(n.largest_cluster_share)}); giant clusters: "
                   f"{n.giant_clusters}.</p>")
        svg = column_chart("dup-clusters", "Near-duplicate clusters by size",
                           [(str(b.size), b.clusters) for b in n.clusters_by_size], log=True)
        out.append(_figure(svg, "Clusters per size (documents in the cluster)"))
        out.append(_table(["cluster (smallest doc_id)", "size", "removed", "giant", "sources"],
                          [(_Raw(f"<code>{_e(c.cluster_id)}</code>"), _int(c.size), _int(c.removed),
                            "yes" if c.giant else "", ", ".join(f"{k}: {v}" for k, v in c.sources.items()))
                           for c in n.largest_clusters], numeric=(1, 2)))
    out.append("</section>")
    return "".join(out)


def _pii(r: Report) -> str:
    p = r.pii
    if p is None:
        return ('<section id="pii"><h2>Personal data (PII)</h2><p class="note">The pii stage did not run: texts '
                "were not scrubbed.</p></section>")
    by_spans = sorted(p.spans_by_entity.items(), key=lambda kv: -kv[1])
    svg = hbar_chart("pii-entities", "PII spans found by entity type", by_spans)
    rows = [(k, _int(v), _int(p.docs_by_entity.get(k, 0))) for k, v in by_spans]
    res_rows = [(k, _int(v)) for k, v in p.residual_spans_by_entity.items()]
    return ('<section id="pii"><h2>Personal data (PII)</h2>'
            f"<p>Operator: <b>{_e(p.operator or '–')}</b>. Entities: {_e(', '.join(p.entities_configured) or '–')}.</p>"
            f"<p>{p.docs_scanned:,} documents scanned; {p.docs_with_pii:,} held PII ({pct(p.pii_doc_rate)}). "
            f"Removed: {_e(', '.join(f'{k}: {v}' for k, v in p.removed_by_reason.items()) or 'none')}.</p>"
            + _figure(svg, "Spans replaced per entity type")
            + _table(["entity", "spans", "documents"], rows, numeric=(1, 2))
            + f"<h3>Residual after scrubbing</h3><p>Residual rate: <b>{pct(p.residual_rate, 3)}</b> of "
              f"{p.curated_docs_scanned:,} curated documents ({p.residual_docs:,}) still match the residual "
              "e-mail, phone or card patterns.</p>"
            + _table(["entity", "residual spans"], res_rows, numeric=(1,)) + "</section>")


def _bias_model(b: Any) -> str:
    """Where each bias figure comes from, and the toxicity model's measured error rates (from its card)."""
    signals = b.signals or {}
    out = ""
    if signals:
        out += ("<p>Signals: " + "; ".join(f"<b>{_e(k)}</b> from {_e(v)}" for k, v in sorted(signals.items()))
                + ".</p>")
    m = b.toxicity_model
    if not m:
        return out + ('<p class="note">No toxicity model: the toxicity flags are lexicon matches, which find a '
                      "minority of toxic texts (see docs/bias.md).</p>")
    rates = m.get("error_rates") or {}
    thr, card_thr = m.get("threshold"), m.get("card_threshold")
    out += (f"<p>Toxicity model <code>{_e(m.get('path'))}</code> (sha256 {_e(str(m.get('sha256'))[:12])}), "
            f"threshold {_e(thr)}" + (f" (the card's is {_e(card_thr)}; its error rates below were measured at "
                                      "the card's)" if thr != card_thr else "")
            + ". <code>bias_toxicity_score</code> is the calibrated score of a document's most toxic sentence.</p>")
    if not rates:
        return out + '<p class="note">The model card records no measured error rates.</p>'
    rows = []
    for key, label in (("model", "toxicity model"), ("lexicon_flag", "lexicon flag")):
        e = rates.get(key)
        if not e:
            continue
        for src, h in (e.get("held_apart") or {}).items():
            if h:
                rows.append([label, f"held-apart {src}", _int(h.get("documents")), pct(h.get("precision"), 1),
                             pct(h.get("recall"), 1), pct(h.get("f1"), 1), pct(h.get("false_positive_rate"), 1)])
        rows.append([label, "neutral prose", "", "", "", "", pct(e.get("neutral_prose_false_positive_rate"), 2)])
        it = e.get("identity_templates") or {}
        if it:
            rows.append([label, f"identity statements ({_int(it.get('terms'))} terms): worst term, spread "
                                f"worst-median {it.get('spread')}", _int(it.get("statements")), "", "", "",
                         pct(it.get("worst"), 1)])
    return (out + "<h3>Measured error rates (from the model card)</h3>"
            + f"<p class=\"note\">{_e(rates.get('measured_on') or '')}</p>"
            + _table(["signal", "measured on", "texts", "precision", "recall", "F1", "false-positive rate"], rows,
                     numeric=(2, 3, 4, 5, 6)))


def _bias(r: Report) -> str:
    b = r.bias
    if b is None:
        return '<section id="bias"><h2>Bias indicators</h2><p class="note">The bias stage did not run.</p></section>'
    agg = b.aggregates or {}
    overall = agg.get("overall") or {}
    axis_rate = overall.get("axis_doc_rate") or {}
    svg = hbar_chart("bias-axes", "Share of curated documents mentioning each axis", sorted(axis_rate.items()),
                     value_format=lambda v: pct(v, 1))
    fsvg = hbar_chart("bias-flags", "Curated documents per bias flag", sorted(b.flags.items()), color=COLORS["removed"])
    axes = b.axes or sorted(axis_rate)
    model = bool(b.toxicity_model)

    def group_rows(groups: dict[str, Any]) -> list:
        rows = []
        for k, g in groups.items():
            ar = g.get("axis_doc_rate") or {}
            rows.append([k, _int(g.get("docs"))] + [pct(ar.get(a), 1) for a in axes]
                        + [pct(g.get("toxic_doc_rate"), 2)]
                        + ([pct(g.get("lexicon_toxic_doc_rate"), 2), fmt_num(g.get("toxicity_score_mean"))]
                           if model else [])
                        + [pct(g.get("group_toxic_doc_rate"), 2), pct(g.get("pronoun_male_share"), 1)])
        return rows

    flag_src = "model" if model else "lexicon"
    headers = (["group", "docs"] + axes + [f"toxic docs ({flag_src})"]
               + (["lexicon toxic docs", "mean toxicity score"] if model else [])
               + [f"group-targeted ({flag_src})", "male pronoun share"])
    num = tuple(range(1, len(headers)))
    group_rule = (b.signals or {}).get("group_targeted_toxicity") or "an identity term and a toxic term in one sentence"
    return ('<section id="bias"><h2>Bias indicators</h2>'
            f"<p>Lexicon version {_e(b.lexicon_version or '–')}; {b.docs:,} curated documents scored. Indicators flag, "
            f"they never remove. Group-targeted toxicity: {_e(group_rule)} "
            f"({pct(overall.get('group_toxic_doc_rate'), 2)} of documents; "
            f"{pct(overall.get('group_toxic_rate_among_identity_docs'), 2)} of those mentioning an identity).</p>"
            + _bias_model(b)
            + _figure(svg, "Documents mentioning each axis (overall)") + _figure(fsvg, "Documents per flag")
            + "<h3>By source</h3>" + _table(headers, group_rows(agg.get("by_source") or {}), numeric=num)
            + "<h3>By language</h3>" + _table(headers, group_rows(agg.get("by_lang") or {}), numeric=num)
            + "</section>")


def _contamination(r: Report) -> str:
    c = r.contamination
    title = '<section id="contamination"><h2>Benchmark contamination</h2>'
    if c is None:
        return title + '<p class="note">The decontaminate stage did not run.</p></section>'
    action = "removed" if c.mode == "drop" else "tagged (kept)"
    rows = [[s.name, _int(s.items), _int(s.docs_matched), _int(s.docs_removed), _int(s.items_matched),
             pct(s.items_matched_share, 2), _int(s.short_items_matched_whole), _int(s.short_items_skipped),
             ", ".join(f"{k}: {v}" for k, v in s.skipped_records.items()) or "–"] for s in c.sets]
    src_rows = [[s.name, src, _int(v.docs_matched), _int(v.items_matched)]
                for s in c.sets for src, v in s.by_source.items()]
    shas = [[s.name, _Raw(f"<code>{_e(s.sha256 or '–')}</code>")] for s in c.sets]
    return (title
            + f"<p>{c.docs_scanned:,} documents compared with the evaluation sets by {c.ngram}-grams of normalized "
            f"tokens (flagged from {c.min_matches} shared n-gram(s) with a set, or a whole short item; "
            f"{_e(c.index)} index). {c.docs_matched:,} documents matched and were {action}; "
            f"{c.docs_error:,} could not be checked (decontaminate:error). Items matched are the distinct items "
            "named in the flagged documents' decontam_items (at most decontaminate.max_item_ids per document); "
            "their share of the set is what the corpus leaks of that benchmark.</p>"
            + _table(["set", "items", "docs matched", "docs removed", "items matched", "share of set",
                      "short items matched whole", "short items skipped", "records skipped"], rows,
                     numeric=(1, 2, 3, 4, 5, 6, 7))
            + "<h3>By source</h3>" + _table(["set", "source", "docs matched", "items matched"], src_rows,
                                            numeric=(2, 3))
            + "<h3>Set files</h3>" + _table(["set", "sha256"], shas)
            + "</section>")


def _optout(r: Report) -> str:
    o = r.optout
    if o is None:
        return ""
    verb = "removed" if o.mode == "drop" else "flagged (tag mode)"
    precedence = ("domains", "tdm_reservation", "robots_noai", "robots_txt")  # docs/compliance.md
    order = [r for r in precedence if r in o.by_rule] + sorted(set(o.by_rule) - set(precedence))
    rows = [(rule, "on" if rule in o.rules else "off (no input)" if rule in ("domains", "robots_txt") else "off",
             _int(o.by_rule.get(rule, 0)), _int(o.by_reason.get(f"optout:{rule}", 0))) for rule in order]
    svg = hbar_chart("optout", "Documents per opt-out rule", [(r, o.by_rule[r]) for r in order],
                     color=COLORS["removed"])
    sig = [(k, _int(v)) for k, v in sorted(o.signals.items())]
    robots = [(k, _int(v)) for k, v in sorted(o.robots_hosts_by_status.items())]
    return ('<section id="optout"><h2>Opt-out reservations</h2>'
            f'<p>{_int(o.documents_reserved)} documents {verb} for a text-and-data-mining reservation '
            f'(mode {_e(o.mode)}; rules in precedence order; docs/compliance.md). What the pipeline saw in the '
            'pages and the given lists, not legal advice.</p>'
            + (_figure(svg, "Documents each opt-out rule fired on") if o.documents_reserved
               else '<p class="note">No document carried a reservation.</p>')
            + _table(["rule", "status", "documents it fired on", "documents with it as drop reason"], rows,
                     numeric=(2, 3))
            + "<h3>Signals seen</h3>" + _table(["signal", "documents"], sig, numeric=(1,))
            + (("<h3>robots.txt source</h3>" + _table(["host status", "hosts"], robots, numeric=(1,))) if robots
               else "")
            + (f'<p class="note">{_int(o.domains)} domains on the opt-out list.</p>' if o.domains else "")
            + "</section>")


def _drift(r: Report) -> str:
    d = r.drift
    if d is None:
        return ('<section id="drift"><h2>Comparison with the previous run</h2><p class="note">No previous run was '
                "given (corpusforge report OUT --previous OUT_PREV).</p></section>")
    out = ['<section id="drift"><h2>Comparison with the previous run</h2>',
           f"<p>Previous run <code>{_e(d.previous_run_id)}</code>: {d.records_previous:,} records in; this run "
           f"{d.records_current:,}. Configuration {'changed' if d.config_changed else 'unchanged'}.</p>"]
    summary = []
    if d.keep_rate:
        summary.append(("keep rate", pct(d.keep_rate.previous), pct(d.keep_rate.current), pct(d.keep_rate.delta, 3)))
    if d.language_tvd is not None:
        summary.append(("language mix (total variation distance)", "", "", f"{d.language_tvd:.4f}"))
    if d.source_tvd is not None:
        summary.append(("source mix (total variation distance)", "", "", f"{d.source_tvd:.4f}"))
    for c in d.pii_changes:
        summary.append((c.key, pct(c.previous, 3), pct(c.current, 3), pct(c.delta, 3)))
    out.append(_table(["figure", "previous", "current", "change"], summary, numeric=(1, 2, 3)))
    if d.language_changes:
        svg = paired_hbar_chart("drift-languages", "Curated language mix, previous and current run",
                                [(c.key, c.previous, c.current)
                                 for c in sorted(d.language_changes, key=lambda c: -c.current)],
                                value_format=lambda v: pct(v, 1))
        out.append(_figure(svg, "Share of curated documents per language (grey: previous, blue: current)"))
    out.append("<h3>Removal and quarantine rates</h3>")
    out.append(_table(["reason", "previous", "current", "change"],
                      [(c.key, pct(c.previous, 3), pct(c.current, 3), pct(c.delta, 3)) for c in d.removal_changes],
                      numeric=(1, 2, 3)))
    if d.signal_mean_changes:
        out.append("<h3>Signal means (curated)</h3>")
        out.append(_table(["signal", "previous", "current", "change"],
                          [(c.key, f"{c.previous:.6g}", f"{c.current:.6g}", f"{c.delta:+.6g}")
                           for c in d.signal_mean_changes],
                          numeric=(1, 2, 3)))
    out.append("</section>")
    return "".join(out)


def _provenance(r: Report) -> str:
    p = r.provenance
    libs = [(k, v or "not installed") for k, v in sorted(p.library_versions.items())]
    assets = [(k, _Raw(f"<code>{_e(v.get('sha256', '–'))}</code>"), v.get("version") or v.get("name") or "",
               v.get("path", "")) for k, v in sorted(p.assets.items())]
    code = ", ".join(f"{k}: {v}" for k, v in sorted(p.code_version.items()) if v) or "unknown"
    return ('<section id="provenance"><h2>Provenance</h2>'
            f"<p>Configuration sha256 <code>{_e(p.config_sha256)}</code>. Code: {_e(code)}. Spark "
            f"{_e(p.spark.get('version', '–'))} ({_e(p.spark.get('master', '–'))}).</p>"
            "<h3>Models, lexicons, tokenizer</h3>" + _table(["asset", "sha256", "version", "path"], assets)
            + "<h3>Library versions</h3>" + _table(["library", "version"], libs)
            + "<h3>Resolved configuration</h3><pre>" + _e(json.dumps(p.config, indent=2, sort_keys=True)) + "</pre>"
            + "</section>")


__all__ = ["pct", "render_html"]
