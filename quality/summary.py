"""The public summary of training content (AI Act Art. 53(1)(d)), filled from what the runs recorded.

``corpusforge summary`` reads a published store version (or one run) and writes
``training-content-summary.{md,json,html}`` in the layout of the AI Office's template of July 2025 and
``dataset-card.{md,html}`` (:mod:`quality.card`). Everything comes from the files the pipeline wrote:
``run.json`` (configuration, inputs, stages), ``report/report.json`` (counts, languages, tokens, the
sources' descriptions and licences, PII and bias figures), ``report/domains.parquet`` (content size per
domain), the store's ``version.json``/``index.json`` (what was published) and the takedown ledger. What
the data cannot tell (the provider, the model, the measures taken outside this pipeline) comes from a
small YAML file (:class:`ProviderInfo`); the summary lists which fields were supplied by hand and which
are still to complete.

Deterministic: no clock, no absolute path, sorted keys and rows; the same inputs give the same bytes.
It reports what the pipeline saw; it is not legal advice (docs/compliance.md).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipelines.store import DatasetStore, StoreError, read_jsonl
from pipelines.takedown.apply import proof_of_deletion_summary
from schemas.config.sources import UNKNOWN_LICENCE
from schemas.manifest import RunManifest
from schemas.report import REPORT_DIR, REPORT_JSON, Report, SourceDetails

from . import blocks as B
from .metrics.tables import read_manifest
from .sources import DOMAINS_FILE, read_domains

SUMMARY_FORMAT = 1
SUMMARY_MD = "training-content-summary.md"
SUMMARY_JSON = "training-content-summary.json"
SUMMARY_HTML = "training-content-summary.html"
TEMPLATE = "AI Office template for the public summary of training content for general-purpose AI models (July 2025)"
TO_COMPLETE = "to complete"

#: The template's ranges of training data size for text, in tokens (upper bounds exclusive).
TEXT_SIZE_RANGES = ((1_000_000_000, "less than 1 billion tokens"),
                    (10_000_000_000_000, "1 billion to 10 trillion tokens"),
                    (None, "more than 10 trillion tokens"))

#: The top-domain rules of the template's section 2.3: share of all domains, and a cap for SMEs.
TOP_DOMAIN_RULES = {"10pct": (0.10, None), "sme": (0.05, 1000)}

_CATEGORY_ORDER = ("public_dataset", "licensed", "crawled", "user", "synthetic", "other")
_CRAWL_FORMATS = {"warc", "wet"}


class SummaryError(ValueError):
    """The summary cannot be written from what was given; the message says what to do."""


class CardInfo(BaseModel):
    """Hand-written parts of the dataset card (the data cannot tell them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    motivation: Optional[str] = Field(None, description="Why the dataset was created, and for which task.")
    created_by: Optional[str] = Field(None, description="Who created it (team, organisation).")
    funded_by: Optional[str] = Field(None, description="Who funded its creation.")
    intended_uses: Optional[str] = Field(None, description="What the dataset is meant to be used for.")
    out_of_scope_uses: Optional[str] = Field(None, description="Uses it is not suited or not allowed for.")
    distribution: Optional[str] = Field(None, description="Who gets it, how, and under which terms.")
    maintainers: Optional[str] = Field(None, description="Who maintains it, and how to reach them.")
    known_limitations: Optional[str] = Field(None, description="Limitations known to the people who built it.")


class ProviderInfo(BaseModel):
    """``--provider-info info.yaml``: the fields of the summary that the data cannot tell.

    Every field is optional; a missing one is shown as "to complete" and listed in ``missing_fields``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider_name: Optional[str] = None
    provider_contact: Optional[str] = None
    authorised_representative: Optional[str] = None
    model_names: list[str] = Field(default_factory=list)
    model_dependencies: Optional[str] = None
    placement_date: Optional[str] = None
    knowledge_cutoff: Optional[str] = None
    crawler_behaviour: Optional[str] = Field(
        None, description="How the crawler treats robots.txt and other signals while crawling (section 2.3).")
    user_data: Optional[str] = None
    synthetic_data: Optional[str] = None
    tdm_measures: Optional[str] = Field(
        None, description="Measures to respect reservations beyond what this pipeline evaluates (section 3.1).")
    illegal_content_measures: Optional[str] = Field(
        None, description="Measures against illegal content taken before or outside this pipeline (section 3.2).")
    other_information: Optional[str] = None
    card: CardInfo = CardInfo()

    def supplied(self) -> list[str]:
        """Dotted names of the fields given in the file."""
        out = [k for k in sorted(self.model_fields_set) if k != "card"]
        out += [f"card.{k}" for k in sorted(self.card.model_fields_set)]
        return sorted(out)

    @classmethod
    def from_file(cls, path: Optional[Path]) -> "ProviderInfo":
        """Read the YAML file (None: nothing supplied). Raises SummaryError naming the bad key."""
        if path is None:
            return cls()
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise SummaryError(f"cannot read --provider-info file: {exc.strerror}") from None
        except yaml.YAMLError:
            raise SummaryError("--provider-info is not valid YAML") from None
        if not isinstance(data, dict):
            raise SummaryError("--provider-info must be a mapping of fields (see docs/compliance.md)")
        for k in ("placement_date", "knowledge_cutoff"):  # YAML reads 2025-08-02 as a date
            if k in data and data[k] is not None:
                data[k] = str(data[k])
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            lines = []
            for e in err.errors():
                key = ".".join(str(x) for x in e["loc"])
                lines.append(f"unknown key '{key}'" if e["type"] == "extra_forbidden" else f"{key}: {e['msg']}")
            raise SummaryError("--provider-info: " + "; ".join(lines) + " (docs/compliance.md lists the fields)") \
                from None


# --------------------------------------------------------------------------------------------- evidence
@dataclass
class RunEvidence:
    """What one run recorded."""

    run_id: str
    manifest: RunManifest
    report: Report
    domains: list[dict[str, Any]]
    domains_recorded: bool
    ledger: Optional[dict[str, Any]]
    #: Rows takedowns removed from the run's tables after it ran (``erasures.json``).
    erased_rows: int = 0


@dataclass
class Evidence:
    """Everything the compliance documents are built from."""

    kind: Literal["store_version", "run"]
    version: Optional[str]
    version_info: Optional[dict[str, Any]]
    index: Optional[dict[str, Any]]
    runs: list[RunEvidence]
    takedowns: Optional[dict[str, Any]]
    versions: list[dict[str, Any]] = field(default_factory=list)


def _run_evidence(run_dir: Path, label: str) -> RunEvidence:
    try:
        manifest = read_manifest(run_dir)
    except FileNotFoundError:
        raise SummaryError(f"{label} has no run.json: it is not a finished corpusforge run") from None
    except ValueError as exc:
        raise SummaryError(f"{label}: {exc}") from None
    rpath = Path(run_dir) / REPORT_DIR / REPORT_JSON
    if not rpath.is_file():
        raise SummaryError(f"{label} has no report/report.json; render it first with `corpusforge report {label}`")
    try:
        report = Report.from_file(rpath)
    except ValueError as exc:
        raise SummaryError(f"{label}: report.json cannot be read ({str(exc).splitlines()[0]}); re-render it with "
                           f"`corpusforge report {label}`") from None
    dpath = Path(run_dir) / REPORT_DIR / DOMAINS_FILE
    ledger_path = Path(run_dir) / "ledger" / "summary.json"
    ledger = json.loads(ledger_path.read_text(encoding="utf-8")) if ledger_path.is_file() else None
    erasures_path = Path(run_dir) / "erasures.json"
    erased = 0
    if erasures_path.is_file():
        erased = sum(int(e.get("rows_removed") or 0)
                     for e in json.loads(erasures_path.read_text(encoding="utf-8")).get("erasures", []))
    return RunEvidence(run_id=manifest.run_id, manifest=manifest, report=report, domains=read_domains(dpath),
                       domains_recorded=dpath.is_file(), ledger=ledger, erased_rows=erased)


def gather_run(run_dir: Path) -> Evidence:
    """The evidence of one run directory (a run need not be published)."""
    run_dir = Path(run_dir)
    ev = _run_evidence(run_dir, "the run")
    idx_path = run_dir / "shards" / "index.json"
    index = json.loads(idx_path.read_text(encoding="utf-8")) if idx_path.is_file() else None
    return Evidence(kind="run", version=None, version_info=None, index=index, runs=[ev], takedowns=None)


def gather_store(store_root: Path, version: Optional[str] = None) -> Evidence:
    """The evidence of a published store version (default: CURRENT) and of the runs it holds."""
    root = Path(store_root)
    if not root.is_dir():
        raise SummaryError("--store does not name a folder")
    store = DatasetStore(root)
    try:
        name = version or store.current_version()
        if name is None:
            raise SummaryError("the store has no published version yet (no CURRENT); run `corpusforge nightly` first")
        info = store.version_info(name)
        if info.get("status") == "withdrawn":
            raise SummaryError(f"version {name} was withdrawn (erasure); summarise a published version instead")
        index = store.version_index(name).model_dump(mode="json")
        chain = store.chain()
    except StoreError as exc:
        raise SummaryError(str(exc)) from None
    runs = []
    for run_id in info.get("runs", []):
        runs.append(_run_evidence(store.run_dir(run_id), f"store run {run_id}"))
    if not runs:
        raise SummaryError(f"version {name} lists no runs in its version.json; it cannot be summarised")
    versions = []
    for v in sorted(chain):
        vi = store.version_info(v)
        versions.append({"name": v, "created_at": vi.get("created_at"), "parent": vi.get("parent"),
                         "reason": vi.get("reason"), "runs": len(vi.get("runs", [])), "status": vi.get("status")})
    if store.versions_dir.is_dir():
        on_chain = set(chain)
        for p in sorted(store.versions_dir.iterdir()):
            if p.name in on_chain or p.name.startswith(".") or not (p / "version.json").is_file():
                continue
            vi = json.loads((p / "version.json").read_text(encoding="utf-8"))
            if vi.get("status") == "withdrawn":
                versions.append({"name": p.name, "created_at": vi.get("created_at"), "parent": vi.get("parent"),
                                 "reason": vi.get("reason"), "runs": len(vi.get("runs", [])), "status": "withdrawn"})
    versions.sort(key=lambda v: v["name"])
    ledger = read_jsonl(store.ledger_dir / "takedowns.jsonl")
    takedowns = proof_of_deletion_summary(store) if ledger else {
        "ledger_entries": 0, "requests": 0, "requests_by_kind": {}, "requests_without_matches": 0,
        "documents_removed": 0, "versions_published_by_takedowns": [], "versions_withdrawn": [],
        "current_version": store.current_version()}
    # Standing opt-out domains enter the ledger as domain takedowns with ids "optout-domain:<domain>".
    optout_rows = [r for r in ledger if str(r.get("request_id", "")).startswith("optout-domain:")]
    takedowns["optout_domain_requests"] = len({r["request_id"] for r in optout_rows})
    takedowns["optout_domain_documents_removed"] = len({d for r in optout_rows for d in r.get("matched_doc_ids", [])})
    return Evidence(kind="store_version", version=name, version_info=info, index=index, runs=runs,
                    takedowns=takedowns, versions=versions)


# --------------------------------------------------------------------------------------------- figures
def size_range(tokens: Optional[int]) -> Optional[str]:
    """The template's text size range for a token count (None when unknown)."""
    if tokens is None:
        return None
    for bound, label in TEXT_SIZE_RANGES:
        if bound is None or tokens < bound:
            return label
    raise AssertionError("unreachable")  # pragma: no cover


def top_domain_count(n_domains: int, rule: str) -> int:
    """How many domains the rule lists: the top share of all domains (rounded up), capped for SMEs.

    ``10pct``: 10 % of all domains; ``sme``: 5 % of all domains or 1,000 domains, whichever is lower.
    """
    if rule not in TOP_DOMAIN_RULES:
        raise SummaryError(f"--top-domains must be one of {', '.join(TOP_DOMAIN_RULES)}, got {rule!r}")
    share, cap = TOP_DOMAIN_RULES[rule]
    if n_domains <= 0:
        return 0
    k = math.ceil(round(n_domains * share, 9))
    return min(k, cap) if cap is not None else k


def top_domains(sizes: dict[str, tuple[int, int]], rule: str) -> dict[str, Any]:
    """The rule's top domains by content size (bytes of kept text; ties broken by name).

    Args:
        sizes: domain -> (documents, bytes).
        rule: ``10pct`` or ``sme``.
    """
    ranked = sorted(sizes.items(), key=lambda kv: (-kv[1][1], kv[0]))
    k = top_domain_count(len(ranked), rule)
    total = sum(b for _, (_, b) in ranked)
    listed = [{"rank": i + 1, "domain": d, "documents": n, "bytes": b,
               "share_of_bytes": round(b / total, 6) if total else 0.0} for i, (d, (n, b)) in enumerate(ranked[:k])]
    listed_bytes = sum(x["bytes"] for x in listed)
    return {"rule": rule, "rule_text": _RULE_TEXT[rule], "domains_total": len(ranked), "domains_listed": k,
            "bytes_total": total, "bytes_listed": listed_bytes,
            "share_of_bytes_listed": round(listed_bytes / total, 6) if total else 0.0, "domains": listed}


_RULE_TEXT = {"10pct": "top 10% of all domain names by content size",
              "sme": "top 5% of all domain names by content size, or 1,000 domain names if fewer (SMEs)"}


def _merge_details(runs: list[RunEvidence]) -> dict[str, dict[str, Any]]:
    """Per source, the runs' details summed; the description of the newest run that described it wins."""
    out: dict[str, dict[str, Any]] = {}
    for ev in runs:
        for name, d in ev.report.source_details.items():
            cur = out.get(name)
            if cur is None:
                cur = out[name] = {"details": d, "curated_docs": 0, "curated_bytes": 0, "tokens": None,
                                   "docs_with_url": 0, "warc_first": None, "warc_last": None, "warc_records": 0,
                                   "content_types": {}, "licence_signals": {}, "formats": set(), "runs": 0}
            elif d.described or not cur["details"].described:
                cur["details"] = d
            cur["runs"] += 1 if d.in_run else 0
            cur["curated_docs"] += d.curated_docs
            cur["curated_bytes"] += d.curated_bytes
            cur["docs_with_url"] += d.docs_with_url
            if d.tokens is not None:
                cur["tokens"] = (cur["tokens"] or 0) + d.tokens
            if d.warc_date_first:
                cur["warc_first"] = min(x for x in (cur["warc_first"], d.warc_date_first) if x)
                cur["warc_last"] = max(x for x in (cur["warc_last"], d.warc_date_last) if x)
                cur["warc_records"] += d.warc_dated_records
            for k, n in d.content_types.items():
                cur["content_types"][k] = cur["content_types"].get(k, 0) + n
            for k, n in d.licence_signals.items():
                cur["licence_signals"][k] = cur["licence_signals"].get(k, 0) + n
            cur["formats"].update(d.formats)
    # Sources of reports rendered before source_details existed: their counts from the sources table.
    for ev in runs:
        if ev.report.source_details:
            continue
        for name, s in ev.report.sources.items():
            cur = out.setdefault(name, {"details": SourceDetails(described=False), "curated_docs": 0,
                                        "curated_bytes": 0, "tokens": None, "docs_with_url": 0, "warc_first": None,
                                        "warc_last": None, "warc_records": 0, "content_types": {},
                                        "licence_signals": {}, "formats": set(), "runs": 0})
            cur["runs"] += 1
            cur["curated_docs"] += s.curated
            tok = ev.report.outputs.tokens_by_source.get(name)
            if tok is not None:
                cur["tokens"] = (cur["tokens"] or 0) + tok
            cur["formats"].update(i.format for i in ev.report.inputs if i.source == name)
    # A source described in the configuration but without input in any of the runs is not part of the data.
    return {k: v for k, v in sorted(out.items()) if v["runs"]}


def _category(m: dict[str, Any]) -> tuple[str, bool]:
    """A source's template category and whether it was inferred (undescribed WARC/WET input = crawled)."""
    d = m["details"]
    if d.category:
        return d.category, False
    if m["formats"] and m["formats"] <= _CRAWL_FORMATS:
        return "crawled", True
    return "other", True


def _source_entry(name: str, m: dict[str, Any]) -> dict[str, Any]:
    d = m["details"]
    cat, inferred = _category(m)
    period = None
    if d.period_start or d.period_end:
        period = {"start": d.period_start, "end": d.period_end, "from": "configuration"}
    warc = None
    if m["warc_first"]:
        warc = {"first": m["warc_first"], "last": m["warc_last"], "records": m["warc_records"]}
    return {
        "name": name, "category": cat, "category_inferred": inferred, "described": d.described,
        "description": d.description, "licence": d.licence, "licence_spdx": d.licence_spdx,
        "licence_text": d.licence_text, "licence_known": d.licence != UNKNOWN_LICENCE, "link": d.link,
        "crawler": d.crawler, "collection_period": period, "warc_date_range": warc,
        "formats": sorted(m["formats"]), "content_types": dict(sorted(m["content_types"].items())),
        "licence_signals": dict(sorted(m["licence_signals"].items())),
        "documents": m["curated_docs"], "bytes": m["curated_bytes"], "tokens": m["tokens"],
    }


def _sum_reasons(runs: list[RunEvidence]) -> dict[str, int]:
    out: dict[str, int] = {}
    for ev in runs:
        for rc in ev.report.removals:
            out[rc.reason] = out.get(rc.reason, 0) + rc.count
    return dict(sorted(out.items()))


def _flagged(runs: list[RunEvidence], step: str) -> int:
    return sum(f.flagged for ev in runs for f in ev.report.funnel if f.step == step)


def _languages(runs: list[RunEvidence]) -> dict[str, Any]:
    tokens: dict[str, int] = {}
    for ev in runs:
        for lang, n in ev.report.outputs.tokens_by_lang.items():
            tokens[lang] = tokens.get(lang, 0) + n
    basis = "tokens"
    if not tokens:
        basis = "documents"
        for ev in runs:
            if ev.report.languages:
                for row in ev.report.languages.rows:
                    if row.curated_docs:
                        tokens[row.lang] = tokens.get(row.lang, 0) + row.curated_docs
    total = sum(tokens.values())
    rows = [{"language": k, basis: n, "share": round(n / total, 4) if total else 0.0}
            for k, n in sorted(tokens.items(), key=lambda kv: (-kv[1], kv[0]))]
    return {"basis": basis, "languages": rows,
            "language_id": "no language identification ran" if not rows else "fastText language identification"}


def _optout(runs: list[RunEvidence], reasons: dict[str, int]) -> dict[str, Any]:
    cfg = runs[-1].manifest.config.get("optout")
    ran = any(s.get("name") == "optout" for ev in runs for s in ev.manifest.stages)
    by_rule = {r.split(":", 1)[1]: n for r, n in reasons.items() if r.startswith("optout:")}
    out: dict[str, Any] = {
        "stage_in_pipeline": cfg is not None, "evaluated": ran,
        "mode": cfg.get("mode") if isinstance(cfg, dict) and ran else None,
        "config": {k: v for k, v in sorted(cfg.items()) if k not in ("enabled", "mode")}
        if isinstance(cfg, dict) and ran else None,
        "removed_by_rule": dict(sorted(by_rule.items())), "removed": sum(by_rule.values()),
        "flagged_kept": _flagged(runs, "optout"),
    }
    if not ran:
        out["statement"] = ("The runs did not evaluate machine-readable rights reservations (the opt-out stage "
                            + ("was disabled)." if cfg is not None else "was not part of the pipeline version)."))
    elif out["mode"] == "tag":
        out["statement"] = ("Reservations were evaluated in tag mode: documents were marked, not removed; the "
                            "counts of marked documents are shown.")
    else:
        out["statement"] = "Documents with a machine-readable reservation found by an enabled rule were removed."
    return out


def _pii(runs: list[RunEvidence], reasons: dict[str, int]) -> dict[str, Any]:
    reps = [ev.report.pii for ev in runs if ev.report.pii is not None]
    if not reps:
        return {"scrubbed": False, "statement": "The runs did not scrub personal data (pii stage off)."}
    spans: dict[str, int] = {}
    for r in reps:
        for k, n in r.spans_by_entity.items():
            spans[k] = spans.get(k, 0) + n
    return {
        "scrubbed": True, "operator": reps[-1].operator, "runs_scrubbed": len(reps), "runs_total": len(runs),
        "docs_scanned": sum(r.docs_scanned for r in reps), "docs_with_pii": sum(r.docs_with_pii for r in reps),
        "spans_by_entity": dict(sorted(spans.items())),
        "residual_docs": sum(r.residual_docs for r in reps),
        "curated_docs_rescanned": sum(r.curated_docs_scanned for r in reps),
        "removed_by_reason": {k: n for k, n in reasons.items() if k.startswith("pii:")},
    }


def _content_filters(runs: list[RunEvidence], reasons: dict[str, int]) -> dict[str, Any]:
    stages = ("quality", "classify", "decontaminate")
    by_stage = {s: {k: n for k, n in reasons.items() if k.split(":", 1)[0] == s} for s in stages}
    tox = None
    for ev in runs:
        b = ev.report.bias
        if b is not None:
            tox = (tox or 0) + b.flags.get("toxicity", 0)
    return {
        "dedicated_illegal_content_detector": False,
        "removed_by_stage": {s: {"removed": sum(v.values()), "by_reason": v} for s, v in by_stage.items() if v},
        "toxicity_flagged_kept": tox,
    }


def _general(ev: Evidence, sources: list[dict[str, Any]], runs: list[RunEvidence], info: ProviderInfo,
             langs: dict[str, Any]) -> dict[str, Any]:
    idx = ev.index
    tokens = idx["total_tokens"] if idx else None
    docs = idx["total_rows"] if idx else sum(r.report.outputs.curated_docs for r in runs)
    content_bytes = sum(r.report.outputs.curated_bytes for r in runs)
    ctypes: dict[str, int] = {}
    for s in sources:
        for k, n in s["content_types"].items():
            ctypes[k] = ctypes.get(k, 0) + n
    dates = [x for s in sources for x in ((s["warc_date_range"] or {}).get("last"),
                                          (s["collection_period"] or {}).get("end")) if x]
    return {
        "provider": {"name": info.provider_name, "contact": info.provider_contact,
                     "authorised_representative": info.authorised_representative},
        "model": {"names": list(info.model_names), "dependencies": info.model_dependencies,
                  "placement_date": info.placement_date, "knowledge_cutoff": info.knowledge_cutoff},
        "modalities": ["text"],
        "training_data_size": {"text": {
            "range": size_range(tokens), "tokens": tokens, "documents": docs,
            "basis": "published version index" if ev.kind == "store_version" else
            ("the run's shard index" if idx else "the run's curated documents (no token shards)")}},
        "content_bytes_processed": content_bytes,
        "content_types": dict(sorted(ctypes.items())),
        "input_formats": sorted({f for s in sources for f in s["formats"]}),
        "latest_collection_date": max(dates) if dates else None,
        "languages": langs,
    }


def build_summary(ev: Evidence, info: ProviderInfo, rule: str = "10pct") -> dict[str, Any]:
    """The training-content summary as JSON-able data (the ``.json`` file; the ``.md`` is rendered from it)."""
    runs = ev.runs
    merged = _merge_details(runs)
    sources = [_source_entry(n, m) for n, m in merged.items()]
    reasons = _sum_reasons(runs)
    crawled = {s["name"] for s in sources if s["category"] == "crawled"}
    sizes: dict[str, tuple[int, int]] = {}
    for r in runs:
        for row in r.domains:
            if row["source"] in crawled:
                n, b = sizes.get(row["domain"], (0, 0))
                sizes[row["domain"]] = (n + int(row["docs"]), b + int(row["bytes"]))
    domains = top_domains(sizes, rule)
    domains["recorded_for_all_runs"] = all(r.domains_recorded for r in runs)
    by_cat: dict[str, list[dict[str, Any]]] = {c: [] for c in _CATEGORY_ORDER}
    for s in sources:
        by_cat[s["category"]].append(s)
    langs = _languages(runs)
    supplied = info.supplied()
    wanted = ["provider_name", "provider_contact", "model_names", "placement_date", "tdm_measures",
              "illegal_content_measures"]
    if crawled:
        wanted.append("crawler_behaviour")
    missing = [k for k in wanted if k not in supplied]
    takedowns = ev.takedowns
    runs_info = [{"run_id": r.run_id, "started_at": r.manifest.started_at, "finished_at": r.manifest.finished_at,
                  "status": r.manifest.status} for r in runs]
    return {
        "summary_format": SUMMARY_FORMAT,
        "template": TEMPLATE,
        "scope": {"kind": ev.kind, "version": ev.version, "runs": runs_info,
                  "documents_removed_after_publication_by_takedowns":
                  takedowns["documents_removed"] if takedowns else None},
        "hand_supplied_fields": supplied,
        "missing_fields": missing,
        "general_information": _general(ev, sources, runs, info, langs),
        "data_sources": {
            "public_datasets": by_cat["public_dataset"], "licensed": by_cat["licensed"],
            "crawled": {"sources": by_cat["crawled"], "crawler_behaviour": info.crawler_behaviour,
                        "top_domains": domains},
            "user_data": {"sources": by_cat["user"], "statement": info.user_data},
            "synthetic_data": {"sources": by_cat["synthetic"], "statement": info.synthetic_data},
            "other": by_cat["other"],
            "unknown_licences": sorted(s["name"] for s in sources if not s["licence_known"]),
        },
        "data_processing": {
            "tdm_reservations": {**_optout(runs, reasons), "other_measures": info.tdm_measures},
            "illegal_content": {**_content_filters(runs, reasons), "measures": info.illegal_content_measures},
            "personal_data": _pii(runs, reasons),
            "takedowns": takedowns,
            "other_information": info.other_information,
        },
        "appendix": {
            "documents_removed_by_reason": reasons,
            "quarantined_records": sum(r.report.accounting.quarantined for r in runs),
            "records_read": sum(r.report.accounting.records_in for r in runs),
            "documents_kept_by_runs": sum(r.report.accounting.kept for r in runs),
            "rows_erased_from_runs_after_processing": sum(r.erased_rows for r in runs),
        },
    }


# --------------------------------------------------------------------------------------------- rendering
def _v(x: Any) -> str:
    """A value, or "to complete" when it is missing."""
    if x is None or x == [] or x == "":
        return TO_COMPLETE
    return ", ".join(x) if isinstance(x, list) else str(x)


def _hand(name: str, supplied: list[str]) -> str:
    return " (supplied by hand)" if name in supplied else ""


def _period(s: dict[str, Any]) -> str:
    parts = []
    if s["collection_period"]:
        c = s["collection_period"]
        parts.append(f"{c['start'] or '?'} to {c['end'] or '?'} (configured)")
    if s["warc_date_range"]:
        w = s["warc_date_range"]
        parts.append(f"{w['first']} to {w['last']} (WARC-Date of {w['records']:,} records)")
    return "; ".join(parts) or "not known"


def _licence(s: dict[str, Any]) -> str:
    return s["licence"] if s["licence_known"] else "UNKNOWN (not given)"


def _source_table(rows: list[dict[str, Any]], with_crawler: bool = False) -> B.Block:
    headers = ["source", "description", "licence", "collection period", "documents", "tokens"]
    if with_crawler:
        headers.insert(3, "crawler")
    out = []
    for s in rows:
        desc = s["description"] or ("not described in the configuration" if not s["described"] else TO_COMPLETE)
        if s["category_inferred"]:
            desc += (" (category inferred from the WARC/WET input format)" if s["category"] == "crawled"
                     else " (category not given)")
        if s["link"]:
            desc += f" <{s['link']}>"
        r = [s["name"], desc, _licence(s), _period(s), s["documents"], s["tokens"]]
        if with_crawler:
            r.insert(3, s["crawler"] or TO_COMPLETE)
        out.append(r)
    return B.table(headers, out, numeric=(len(headers) - 2, len(headers) - 1))


def summary_blocks(s: dict[str, Any]) -> list[B.Block]:
    """The Markdown/HTML blocks of a summary built by :func:`build_summary`."""
    g, src, proc = s["general_information"], s["data_sources"], s["data_processing"]
    sup = s["hand_supplied_fields"]
    scope = s["scope"]
    what = (f"published version {scope['version']} of the dataset store" if scope["kind"] == "store_version"
            else "one pipeline run")
    out = [B.h1("Public summary of training content"),
           B.p(f"Following the {s['template']}. Figures are what corpusforge recorded for {what} "
               f"(runs: {', '.join(r['run_id'] for r in scope['runs'])}); they describe the data this pipeline "
               "processed, not necessarily all data used to train a model. This document is not legal advice."),
           B.note("Fields supplied by hand (--provider-info): " + (", ".join(sup) if sup else "none") + ". Fields "
                  "still to complete: " + (", ".join(s["missing_fields"]) if s["missing_fields"] else "none") + ".")]
    # 1. General information
    out += [B.h2("1. General information"), B.h3("1.1 Provider identification"),
            B.table(["field", "value"], [
                ["Provider name and contact details",
                 _v(" · ".join(x for x in (g["provider"]["name"], g["provider"]["contact"]) if x) or None)
                 + _hand("provider_name", sup)],
                ["Authorised representative", _v(g["provider"]["authorised_representative"])
                 + _hand("authorised_representative", sup)]]),
            B.h3("1.2 Model identification"),
            B.table(["field", "value"], [
                ["Versioned model name(s)", _v(g["model"]["names"]) + _hand("model_names", sup)],
                ["Model dependencies", _v(g["model"]["dependencies"]) + _hand("model_dependencies", sup)],
                ["Date of placement on the Union market", _v(g["model"]["placement_date"])
                 + _hand("placement_date", sup)],
                ["Knowledge cutoff", _v(g["model"]["knowledge_cutoff"]) + _hand("knowledge_cutoff", sup)]]),
            B.h3("1.3 Modalities, overall training data size and other characteristics")]
    size = g["training_data_size"]["text"]
    out.append(B.table(["field", "value"], [
        ["Modalities", ", ".join(g["modalities"])],
        ["Training data size (text)", (size["range"] or "not known (no token shards)")
         + " (exact figures in the appendix)"],
        ["Types of content", ", ".join(g["content_types"]) + " (HTTP content types of crawled pages); input "
         "formats: " + ", ".join(g["input_formats"]) if g["content_types"] else
         "text; input formats: " + ", ".join(g["input_formats"])],
        ["Latest date of data collection", g["latest_collection_date"] or "not known"],
    ]))
    lang = g["languages"]
    out.append(B.h3(f"Languages (share of {lang['basis']})"))
    out.append(B.table(["language", "share"], [[r["language"], f"{100 * r['share']:.2f} %"]
                                               for r in lang["languages"]], numeric=(1,)))
    # 2. Sources
    out += [B.h2("2. List of data sources"), B.h3("2.1 Publicly available datasets"),
            _source_table(src["public_datasets"]),
            B.h3("2.2 Private datasets obtained from third parties (licensed)"), _source_table(src["licensed"]),
            B.h3("2.3 Data crawled and scraped from online sources"), _source_table(src["crawled"]["sources"], True)]
    out.append(B.table(["field", "value"], [
        ["Crawler behaviour (robots.txt and other signals while crawling)",
         _v(src["crawled"]["crawler_behaviour"]) + _hand("crawler_behaviour", sup)]]))
    ct: list[list[Any]] = []
    for x in src["crawled"]["sources"]:
        for k, n in x["content_types"].items():
            ct.append([x["name"], k, n])
    if ct:
        out += [B.p("Types of content of the crawled pages (kept documents):"),
                B.table(["source", "content type", "documents"], ct, numeric=(2,))]
    sig = [[x["name"], k, n] for x in src["crawled"]["sources"] for k, n in x["licence_signals"].items()]
    if sig:
        out += [B.p("Licence signals found on the crawled pages (kept documents; an SPDX id for a recognised "
                    "licence link, kind:<kind> for another licence link, (none) without one). A page's licence "
                    "link is a signal to review, not a verified grant:"),
                B.table(["source", "licence signal", "documents"], sig, numeric=(2,))]
    td = src["crawled"]["top_domains"]
    out.append(B.p(f"Top domain names ({td['rule_text']}): {td['domains_listed']:,} of {td['domains_total']:,} "
                   f"registrable domains, holding {100 * td['share_of_bytes_listed']:.2f} % of the kept bytes of "
                   "crawled sources. Content size is the UTF-8 size of the kept, extracted text."))
    erased = s["appendix"]["rows_erased_from_runs_after_processing"]
    if erased:
        out.append(B.note(f"Per-source and per-domain figures are those of the runs' reports: {erased:,} row(s) "
                          "erased from the runs by takedowns afterwards are still counted in them (the published "
                          "size in section 1.3 excludes them); re-render the reports with `corpusforge report` to "
                          "update the figures."))
    if not td["recorded_for_all_runs"]:
        out.append(B.note("Some runs have no report/domains.parquet (reports rendered before it existed); "
                          "re-render them with `corpusforge report` for a complete list."))
    out.append(B.table(["rank", "domain", "documents", "bytes", "share of bytes"],
                       [[d["rank"], d["domain"], d["documents"], d["bytes"], f"{100 * d['share_of_bytes']:.2f} %"]
                        for d in td["domains"]], numeric=(0, 2, 3, 4)))
    out += [B.h3("2.4 User data"), _source_table(src["user_data"]["sources"]),
            B.p("Statement: " + _v(src["user_data"]["statement"]) + _hand("user_data", sup)),
            B.h3("2.5 Synthetic data"), _source_table(src["synthetic_data"]["sources"]),
            B.p("Statement: " + _v(src["synthetic_data"]["statement"]) + _hand("synthetic_data", sup)),
            B.h3("2.6 Other sources of data"), _source_table(src["other"])]
    if src["unknown_licences"]:
        out.append(B.note("Sources whose licence is UNKNOWN (not given in the configuration's sources map): "
                          + ", ".join(src["unknown_licences"]) + "."))
    # 3. Processing
    t = proc["tdm_reservations"]
    out += [B.h2("3. Data processing aspects"),
            B.h3("3.1 Respect of reservation of rights from the text and data mining exception"), B.p(t["statement"])]
    if t["evaluated"]:
        rows = [[k, n] for k, n in t["removed_by_rule"].items()]
        out.append(B.table(["rule", "documents removed"], rows, numeric=(1,)))
        if t["flagged_kept"]:
            out.append(B.p(f"Documents marked but kept (tag mode): {t['flagged_kept']:,}."))
    tk = proc["takedowns"]
    if tk and tk.get("optout_domain_requests"):
        out.append(B.p(f"Standing opt-out domains applied to published data through the takedown path: "
                       f"{tk['optout_domain_requests']:,} domain(s), {tk['optout_domain_documents_removed']:,} "
                       "published document(s) removed."))
    out.append(B.p("Other measures: " + _v(t["other_measures"]) + _hand("tdm_measures", sup)))
    ic = proc["illegal_content"]
    out += [B.h3("3.2 Removal of illegal content"),
            B.p("The pipeline has no dedicated detector of illegal content. Its content filters removed the "
                "documents counted below; measures taken elsewhere are stated by hand.")]
    out.append(B.table(["stage", "documents removed"], [[k, v["removed"]] for k, v in ic["removed_by_stage"].items()],
                       numeric=(1,)))
    if ic["toxicity_flagged_kept"] is not None:
        out.append(B.p(f"Documents flagged as toxic by the bias stage and kept (flag only): "
                       f"{ic['toxicity_flagged_kept']:,}."))
    out.append(B.p("Measures: " + _v(ic["measures"]) + _hand("illegal_content_measures", sup)))
    pii = proc["personal_data"]
    out.append(B.h3("3.3 Other information: personal data, takedowns"))
    if pii["scrubbed"]:
        out.append(B.p(f"Personal data was scrubbed (operator {pii['operator']}) in {pii['runs_scrubbed']} of "
                       f"{pii['runs_total']} run(s): {pii['docs_with_pii']:,} of {pii['docs_scanned']:,} scanned "
                       f"documents held personal data; a re-scan of {pii['curated_docs_rescanned']:,} kept "
                       f"documents found residual patterns in {pii['residual_docs']:,}."))
        out.append(B.table(["entity", "spans scrubbed"], list(pii["spans_by_entity"].items()), numeric=(1,)))
    else:
        out.append(B.p(pii["statement"]))
    tk = proc["takedowns"]
    if tk is None:
        out.append(B.p("Takedowns: not applicable (a single run, not a store version)."))
    else:
        out.append(B.p(f"Takedown ledger: {tk['requests']:,} request(s) ({', '.join(f'{k}: {n}' for k, n in tk['requests_by_kind'].items()) or 'none'}), "  # noqa: E501
                       f"{tk['documents_removed']:,} document(s) removed, {len(tk['versions_withdrawn'])} version(s) "
                       "withdrawn."))
    out.append(B.p("Other information: " + _v(proc["other_information"]) + _hand("other_information", sup)))
    # Appendix
    ap = s["appendix"]
    out += [B.h2("Appendix: exact figures"),
            B.table(["figure", "value"], [
                ["tokens (published)", size["tokens"]], ["documents (published)", size["documents"]],
                ["bytes of kept text (as processed)", g["content_bytes_processed"]],
                ["records read", ap["records_read"]], ["documents kept by the runs", ap["documents_kept_by_runs"]],
                ["quarantined records", ap["quarantined_records"]],
                ["documents removed later by takedowns", scope["documents_removed_after_publication_by_takedowns"]],
                ["rows erased from the runs' tables by takedowns", ap["rows_erased_from_runs_after_processing"]],
            ], numeric=(1,)),
            B.h3("Per source"),
            B.table(["source", "category", "licence", "documents", "bytes", "tokens"],
                    [[x["name"], x["category"] + (" (inferred)" if x["category_inferred"] else ""), _licence(x),
                      x["documents"], x["bytes"], x["tokens"]] for x in _all_sources(src)], numeric=(3, 4, 5)),
            B.h3("Per language"),
            B.table(["language", lang["basis"], "share"],
                    [[r["language"], r[lang["basis"]], f"{100 * r['share']:.2f} %"] for r in lang["languages"]],
                    numeric=(1, 2)),
            B.h3("Documents removed, by reason"),
            B.table(["reason", "documents"], list(ap["documents_removed_by_reason"].items()), numeric=(1,))]
    return out


def _all_sources(src: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (src["public_datasets"] + src["licensed"] + src["crawled"]["sources"] + src["user_data"]["sources"]
            + src["synthetic_data"]["sources"] + src["other"])
    return sorted(rows, key=lambda x: x["name"])


def canonical_json(data: Any) -> str:
    """Sorted keys, two-space indent, trailing newline: equal data gives equal bytes."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "CardInfo",
    "Evidence",
    "ProviderInfo",
    "RunEvidence",
    "SUMMARY_HTML",
    "SUMMARY_JSON",
    "SUMMARY_MD",
    "SummaryError",
    "TEXT_SIZE_RANGES",
    "TOP_DOMAIN_RULES",
    "build_summary",
    "canonical_json",
    "gather_run",
    "gather_store",
    "size_range",
    "summary_blocks",
    "top_domain_count",
    "top_domains",
]
