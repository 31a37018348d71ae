"""``dataset-card.md``: a datasheet for the dataset (Gebru et al., "Datasheets for Datasets"; the Hugging
Face dataset card's sections), filled from what the runs recorded.

Sections: dataset summary, motivation, composition, collection process, preprocessing (every stage
that ran, with its configuration and removal counts), uses, distribution, maintenance (versions and the
takedown procedure), and known limitations with the bias indicators and their caveats. What only a
person can write (motivation, intended uses, distribution terms) comes from the ``card:`` part of the
``--provider-info`` file; a part nobody wrote is marked "to complete". Built from the same
:class:`quality.summary.Evidence` as the training-content summary, deterministically.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storage.files import atomic_write_text

from . import blocks as B
from .summary import (
    SUMMARY_HTML,
    SUMMARY_JSON,
    SUMMARY_MD,
    TO_COMPLETE,
    Evidence,
    ProviderInfo,
    build_summary,
    canonical_json,
    summary_blocks,
)

CARD_MD = "dataset-card.md"
CARD_HTML = "dataset-card.html"

#: Config keys that say nothing about what a stage does (shown once, not per stage).
_SKIP_KEYS = ("enabled",)
_MAX_VALUE_CHARS = 160

BIAS_CAVEATS = (
    "Identity and pronoun figures count lexicon terms; they measure mentions, not how a group is portrayed, "
    "and miss terms the lexicon does not list (its coverage is best for English).",
    "Toxicity figures come from the toxicity model (or lexicon matches when the model is off); their error "
    "rates, where the model card records them, are shown below and differ by source of text.",
    "The indicators flag documents; they never remove them. Rates are over kept documents.",
)


def _hand(text: Any) -> str:
    return str(text) if text else f"{TO_COMPLETE}."


def _flat(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        if not value:
            out.append((prefix, "{}"))
        for k in sorted(value):
            _flat(f"{prefix}.{k}" if prefix else str(k), value[k], out)
        return
    text = json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, (list, bool)) or value is None \
        else str(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[:_MAX_VALUE_CHARS - 1] + "…"
    out.append((prefix, text))


def _stage_rows(ev: Evidence) -> list[dict[str, Any]]:
    """Per funnel step over every run: mode, documents in, removed, flagged and removals by reason."""
    steps: dict[str, dict[str, Any]] = {}
    for r in ev.runs:
        for f in r.report.funnel:
            s = steps.setdefault(f.step, {"step": f.step, "modes": set(), "docs_in": 0, "removed": 0, "flagged": 0,
                                          "by_reason": {}})
            s["modes"].add(f.mode)
            s["docs_in"] += f.docs_in
            s["removed"] += f.removed
            s["flagged"] += f.flagged
            for k, n in f.removed_by_reason.items():
                s["by_reason"][k] = s["by_reason"].get(k, 0) + n
    return list(steps.values())


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.2f} %"


def card_blocks(ev: Evidence, summary: dict[str, Any], info: ProviderInfo) -> list[B.Block]:
    """The dataset card's blocks."""
    c = info.card
    g, src, proc = summary["general_information"], summary["data_sources"], summary["data_processing"]
    size = g["training_data_size"]["text"]
    latest = ev.runs[-1].report
    title = f"Dataset card: {ev.version}" if ev.version else f"Dataset card: run {ev.runs[-1].run_id}"
    sources = sorted(src["public_datasets"] + src["licensed"] + src["crawled"]["sources"] + src["user_data"]["sources"]
                     + src["synthetic_data"]["sources"] + src["other"], key=lambda s: s["name"])
    supplied = [k for k in info.supplied() if k.startswith("card.")]
    out = [B.h1(title),
           B.p("A datasheet in the layout of Gebru et al., \"Datasheets for Datasets\", and of the Hugging Face "
               "dataset card. Figures come from what corpusforge recorded; parts marked \"to complete\" must be "
               "written by the people responsible for the dataset (the card: part of --provider-info)."),
           B.note("Hand-written parts supplied: " + (", ".join(supplied) if supplied else "none") + ".")]
    langs = g["languages"]["languages"]
    out += [B.h2("Dataset summary"), B.table(["field", "value"], [
        ["scope", f"store version {ev.version}" if ev.version else "one run (not published)"],
        ["runs", ", ".join(r.run_id for r in ev.runs)],
        ["documents", size["documents"]], ["tokens", size["tokens"]],
        ["size range (AI Office template)", size["range"] or "not known"],
        ["languages", ", ".join(f"{x['language']} ({100 * x['share']:.1f} %)" for x in langs) or "not identified"],
        ["sources", ", ".join(s["name"] for s in sources)],
    ], numeric=())]
    # Motivation
    out += [B.h2("Motivation"),
            B.table(["question", "answer"], [
                ["For what purpose was the dataset created?", _hand(c.motivation)],
                ["Who created it?", _hand(c.created_by)],
                ["Who funded its creation?", _hand(c.funded_by)]])]
    # Composition
    out += [B.h2("Composition"),
            B.p("Each instance is one text document, tokenized into a row of the Parquet token shards (doc_id, "
                "source, language, token ids, length); the curated Parquet tables of the runs hold the text and "
                "every quality signal as columns."),
            B.table(["source", "category", "licence", "description", "documents", "tokens"],
                    [[s["name"], s["category"] + (" (inferred)" if s["category_inferred"] else ""),
                      s["licence"] if s["licence_known"] else "UNKNOWN (not given)",
                      s["description"] or TO_COMPLETE, s["documents"], s["tokens"]] for s in sources],
                    numeric=(4, 5))]
    pii = proc["personal_data"]
    if pii["scrubbed"]:
        out.append(B.p(f"Personal data: {pii['docs_with_pii']:,} of {pii['docs_scanned']:,} scanned documents held "
                       f"personal data, which was scrubbed (operator {pii['operator']}); after scrubbing, residual "
                       f"patterns matched in {pii['residual_docs']:,} of {pii['curated_docs_rescanned']:,} kept "
                       "documents. Pattern and model recognizers miss some personal data."))
    else:
        out.append(B.p("Personal data: NOT scrubbed by these runs (the pii stage was off); the dataset may "
                       "contain personal data."))
    if src["unknown_licences"]:
        out.append(B.note("Licence UNKNOWN for: " + ", ".join(src["unknown_licences"]) + "."))
    # Collection
    coll = []
    for s in sources:
        w = s["warc_date_range"]
        p = s["collection_period"]
        coll.append([s["name"], ", ".join(s["formats"]) or "–", s["crawler"] or ("–" if s["category"] != "crawled"
                                                                                  else TO_COMPLETE),
                     f"{p['start'] or '?'} to {p['end'] or '?'}" if p else "–",
                     f"{w['first']} to {w['last']}" if w else "–"])
    inputs = [(r.run_id, len(r.manifest.inputs), sum(i.bytes for i in r.manifest.inputs), r.manifest.started_at,
               r.manifest.finished_at) for r in ev.runs]
    out += [B.h2("Collection process"),
            B.table(["source", "input formats", "crawler", "configured period", "WARC-Date range"], coll),
            B.table(["run", "input files", "input bytes", "started", "finished"], inputs, numeric=(1, 2))]
    # Preprocessing
    out += [B.h2("Preprocessing"),
            B.p("Every step the runs applied, in pipeline order, with the documents it received, removed (mode "
                "drop) or flagged (mode tag), and the configuration of the newest run (paths relative to the run)."),
            B.table(["step", "mode", "documents in", "removed", "flagged"],
                    [[s["step"], ", ".join(sorted(s["modes"])), s["docs_in"], s["removed"], s["flagged"]]
                     for s in _stage_rows(ev)], numeric=(2, 3, 4))]
    config = latest.provenance.config
    shas = sorted({r.manifest.config_sha256 for r in ev.runs})
    if len(shas) > 1:
        out.append(B.note(f"The runs used {len(shas)} different configurations; the newest one is shown."))
    for s in _stage_rows(ev):
        out.append(B.h3(f"Step {s['step']}"))
        if s["by_reason"]:
            out.append(B.table(["reason", "documents"], sorted(s["by_reason"].items()), numeric=(1,)))
        section = config.get(s["step"])
        if isinstance(section, dict):
            rows: list[tuple[str, str]] = []
            _flat("", {k: v for k, v in section.items() if k not in _SKIP_KEYS}, rows)
            out.append(B.table(["setting", "value"], rows))
    # Uses, distribution
    out += [B.h2("Uses"), B.table(["question", "answer"], [
        ["Intended uses", _hand(c.intended_uses)], ["Out-of-scope uses", _hand(c.out_of_scope_uses)]]),
        B.h2("Distribution"), B.table(["question", "answer"], [
            ["How and to whom is the dataset distributed, under which terms?", _hand(c.distribution)],
            ["Licences of the sources", "; ".join(f"{s['name']}: {s['licence'] if s['licence_known'] else 'UNKNOWN'}"
                                                  for s in sources)]])]
    # Maintenance
    out += [B.h2("Maintenance"), B.table(["question", "answer"], [["Who maintains the dataset?",
                                                                  _hand(c.maintainers)]])]
    if ev.versions:
        out.append(B.table(["version", "created", "parent", "reason", "runs", "status"],
                           [[v["name"], v["created_at"], v["parent"], v["reason"], v["runs"], v["status"]]
                            for v in ev.versions], numeric=(4,)))
    out.append(B.p("Takedown procedure: an erasure request (by doc_id, URL, domain or content hash) is applied with "
                   "`corpusforge takedown --store STORE --requests FILE`: matching documents are removed from "
                   "every published version (a new version is published and superseded ones are withdrawn), from "
                   "the runs' tables and from the near-dedup index; the request stays on file and applies to every "
                   "later run. Each application leaves a proof-of-deletion record (docs/nightly.md)."))
    tk = proc["takedowns"]
    if tk:
        out.append(B.table(["takedown ledger", "value"], [
            ["requests", tk["requests"]], ["documents removed", tk["documents_removed"]],
            ["versions withdrawn", ", ".join(tk["versions_withdrawn"]) or "none"]], numeric=(1,)))
    # Limitations and bias
    out += [B.h2("Known limitations and bias indicators")]
    auto = []
    if src["unknown_licences"]:
        auto.append("The licence of some sources is unknown: " + ", ".join(src["unknown_licences"]) + ".")
    if not proc["tdm_reservations"]["evaluated"]:
        auto.append("Machine-readable rights reservations (TDM opt-outs) were not evaluated by these runs.")
    if not pii["scrubbed"]:
        auto.append("Personal data was not scrubbed.")
    elif pii["residual_docs"]:
        auto.append(f"Residual personal-data patterns matched in {pii['residual_docs']:,} kept documents.")
    if any(x["language"] == "und" for x in langs):
        auto.append("Some documents have no identified language (und).")
    out += [B.ul(auto or ["none found in the recorded figures"]),
            B.p("Known to the maintainers: " + _hand(c.known_limitations))]
    bias_reports = [r.report.bias for r in ev.runs if r.report.bias is not None]
    if not bias_reports:
        out.append(B.p("Bias indicators: the bias stage did not run; no figures."))
    else:
        b = bias_reports[-1]
        overall = (b.aggregates or {}).get("overall") or {}
        out.append(B.p(f"Bias indicators of the newest run that computed them ({b.docs:,} kept documents scored, "
                       f"lexicon version {b.lexicon_version or '–'}):"))
        rows = [["documents with a toxicity flag", _pct(overall.get("toxic_doc_rate"))],
                ["documents with group-targeted toxicity", _pct(overall.get("group_toxic_doc_rate"))],
                ["male share of gendered pronouns", _pct(overall.get("pronoun_male_share"))]]
        rows += [[f"documents mentioning axis {a}", _pct(v)]
                 for a, v in sorted((overall.get("axis_doc_rate") or {}).items())]
        out.append(B.table(["indicator", "value"], rows, numeric=(1,)))
        by_source = (b.aggregates or {}).get("by_source") or {}
        if by_source:
            out.append(B.table(["source", "documents", "toxicity flag", "male pronoun share"],
                               [[k, v.get("docs"), _pct(v.get("toxic_doc_rate")), _pct(v.get("pronoun_male_share"))]
                                for k, v in sorted(by_source.items())], numeric=(1, 2, 3)))
        model = b.toxicity_model or {}
        rates = (model.get("error_rates") or {}).get("model") or {}
        held = rates.get("held_apart") or {}
        if held:
            out.append(B.table(["toxicity model measured on", "precision", "recall", "false-positive rate"],
                               [[k, _pct(h.get("precision")), _pct(h.get("recall")),
                                 _pct(h.get("false_positive_rate"))] for k, h in sorted(held.items()) if h],
                               numeric=(1, 2, 3)))
        out.append(B.p("Caveats:"))
        out.append(B.ul(BIAS_CAVEATS))
    return out


def write_compliance_documents(ev: Evidence, out_dir: Path, info: ProviderInfo,
                               rule: str = "10pct") -> dict[str, Path]:
    """Write the training-content summary (.md, .json, .html) and the dataset card (.md, .html) to ``out_dir``.

    Returns:
        The written paths by file name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = build_summary(ev, info, rule)
    sblocks = summary_blocks(summary)
    cblocks = card_blocks(ev, summary, info)
    files = {
        SUMMARY_JSON: canonical_json(summary),
        SUMMARY_MD: B.to_markdown(sblocks),
        SUMMARY_HTML: B.to_html(sblocks, "Public summary of training content"),
        CARD_MD: B.to_markdown(cblocks),
        CARD_HTML: B.to_html(cblocks, cblocks[0].text),
    }
    paths = {}
    for name, text in sorted(files.items()):
        atomic_write_text(out_dir / name, text)
        paths[name] = out_dir / name
    return paths


__all__ = ["BIAS_CAVEATS", "CARD_HTML", "CARD_MD", "card_blocks", "write_compliance_documents"]
