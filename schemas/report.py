"""``OUT/report/report.json``: the data-quality report of one run, for compliance review and audit.

Every figure comes from the run's written data (``curated/``, ``rejected/``, ``quarantine/``,
``shards/index.json``) and ``run.json``; counts are exact (Spark aggregations, never accumulators).
Quantiles are approximate (``percentile_approx``, relative rank error 1e-4) and marked so. No raw text is
stored: examples are scrubbed by a conservative scrubber and truncated. Paths are relative to the run or
to the input roots; the run directory's absolute path never appears.

The model is versioned (:data:`REPORT_VERSION`); readers refuse versions they do not know.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Version of the report layout. Bump on any incompatible change.
REPORT_VERSION = 1
REPORT_DIR = "report"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunInfo(_Model):
    run_id: str
    started_at: str
    finished_at: str
    duration_s: float
    status: str
    manifest_version: int


class InputSummary(_Model):
    """One input file: what went in (``rel_path`` is relative to the input root it was found under)."""

    rel_path: str
    source: str
    format: str
    compression: Optional[str]
    bytes: int
    sha256: str
    records: int
    curated: int
    rejected: int
    quarantined: int
    skipped: dict[str, int] = {}


class SourceSummary(_Model):
    """Per source: records in and where they went, removals by reason."""

    records: int
    curated: int
    rejected: int
    quarantined: int
    keep_rate: Optional[float]
    rejected_by_reason: dict[str, int] = {}
    quarantined_by_reason: dict[str, int] = {}


class SourceDetails(_Model):
    """One source: its description from the ``sources`` config and what its documents show.

    ``licence`` is the label shown everywhere: the SPDX id, free text marked as such, or ``unknown``.
    The collection period is the configured one (``period_*``) and, for WARC inputs, the range of the
    records' WARC-Date (``warc_date_*``, days, over every record read). ``domains`` counts distinct
    registrable domains of the kept documents (the list itself is ``report/domains.parquet``).
    """

    described: bool = Field(description="The source has an entry in the configuration's sources map.")
    category: Optional[str] = None
    description: Optional[str] = None
    licence: str = "unknown"
    licence_spdx: Optional[str] = None
    licence_text: Optional[str] = None
    link: Optional[str] = None
    crawler: Optional[str] = None
    period_start: Optional[str] = None
    period_end: Optional[str] = None
    warc_date_first: Optional[str] = None
    warc_date_last: Optional[str] = None
    warc_dated_records: int = 0
    formats: list[str] = []
    curated_docs: int = 0
    curated_bytes: int = 0
    tokens: Optional[int] = None
    docs_with_url: int = 0
    domains: int = 0
    content_types: dict[str, int] = Field(default_factory=dict, description="Kept documents per HTTP content type.")
    licence_signals: dict[str, int] = Field(
        default_factory=dict, description="Kept documents per licence signal found on the page ('(none)': none "
        "found); empty when the run did not record the signal.",
    )
    in_run: bool = Field(True, description="False for a described source that had no input in this run.")


class Accounting(_Model):
    """records in = kept + removed + quarantined, overall and per source (from the written data)."""

    records_in: int
    kept: int
    removed: int
    quarantined: int
    balanced: bool
    unbalanced_sources: list[str] = []
    unbalanced_files: list[str] = []
    matches_manifest: bool = Field(description="The counts equal those recorded in run.json.")


class OutputSummary(_Model):
    curated_docs: int
    curated_bytes: int
    curated_chars: int
    rejected_docs: int
    quarantined_records: int
    files: dict[str, int] = {}
    tokens: Optional[int] = None
    shards: Optional[int] = None
    shard_bytes: Optional[int] = None
    shard_rows: Optional[int] = None
    dataset_version: Optional[str] = None
    tokens_by_lang: dict[str, int] = {}
    tokens_by_source: dict[str, int] = {}


class FunnelStep(_Model):
    """Documents entering and leaving one step, in run order."""

    step: str
    mode: str  # "read", "drop", "tag", "write"
    docs_in: int
    removed: int
    docs_out: int
    flagged: int = Field(0, description="Tag mode: documents the stage would have dropped (kept).")
    removed_by_reason: dict[str, int] = {}


class ReasonCount(_Model):
    reason: str
    stage: str
    count: int
    rate: float = Field(description="count / records in")


class Example(_Model):
    """A removed document, scrubbed and truncated."""

    doc_id: str
    source: str
    lang: Optional[str] = None
    n_chars: int
    text: str = Field(description="Conservatively scrubbed, whitespace-collapsed, truncated preview.")


class QuarantineExample(_Model):
    """A quarantined record: its location and the content-free shape of its first bytes."""

    file: str
    offset: int
    offset_unit: str
    raw_bytes: Optional[int]
    shape: Optional[str]


class LanguageRow(_Model):
    lang: str
    curated_docs: int
    curated_share: float
    curated_chars: int
    rejected_docs: int


class LanguageSummary(_Model):
    rows: list[LanguageRow]
    evaluated_docs: int
    mix: dict[str, float] = Field(description="Curated share per language (used for drift).")


class Histogram(_Model):
    """Counts per bin of one numeric signal, split into kept and removed documents.

    ``scale`` ``log`` bins ``log10(1 + x)``; ``edges`` are always in the signal's own units.
    """

    signal: str
    scale: Literal["linear", "log"]
    edges: list[float]
    kept: list[int]
    removed: list[int]


class SignalStats(_Model):
    signal: str
    scope: Literal["curated", "all"]
    count: int
    nulls: int
    min: Optional[float]
    max: Optional[float]
    mean: Optional[float]
    p50: Optional[float]
    p90: Optional[float]
    p99: Optional[float]
    quantiles_approximate: bool = True


class SignalSummary(_Model):
    stats: list[SignalStats]
    histograms: list[Histogram]


class ClusterSizeBin(_Model):
    size: int
    clusters: int
    documents: int


class LargestCluster(_Model):
    cluster_id: str
    size: int
    removed: int
    giant: bool = False
    sources: dict[str, int] = {}


class ExactDupSummary(_Model):
    """Exact duplicates (same normalized text): groups by size; a group's id is its surviving doc_id."""

    groups: int
    documents_in_groups: int
    duplicates_removed: int
    group_sizes: list[ClusterSizeBin]
    largest_groups: list[LargestCluster]


class NearDupSummary(_Model):
    """Near-duplicate clusters among the documents near dedup saw (``dup_cluster_id`` not null)."""

    evaluated_docs: int
    clusters: int
    documents_in_clusters: int
    duplicates_removed: int
    largest_cluster: int
    largest_cluster_share: Optional[float]
    giant_clusters: int
    clusters_by_size: list[ClusterSizeBin]
    largest_clusters: list[LargestCluster]
    params: dict[str, Any] = {}


class DuplicateSummary(_Model):
    exact: Optional[ExactDupSummary] = None
    near: Optional[NearDupSummary] = None


class PiiSummary(_Model):
    operator: Optional[str]
    entities_configured: list[str] = []
    docs_scanned: int
    docs_with_pii: int
    pii_doc_rate: Optional[float]
    spans_by_entity: dict[str, int]
    docs_by_entity: dict[str, int]
    curated_docs_scanned: int
    residual_docs: int
    residual_rate: Optional[float] = Field(description="Curated docs where residual patterns still match / scanned.")
    residual_spans_by_entity: dict[str, int]
    removed_by_reason: dict[str, int] = {}
    mean_density: Optional[float] = None


class BiasSummary(_Model):
    lexicon_version: Optional[str] = None
    axes: list[str] = []
    docs: int
    flags: dict[str, int] = Field(description="Curated documents per bias flag.")
    aggregates: dict[str, Any] = Field(description="Rates overall, by_source, by_lang, by_source_lang.")
    signals: dict[str, str] = Field(
        default_factory=dict, description="Which signal each flag and figure comes from (model or lexicon)."
    )
    toxicity_model: Optional[dict[str, Any]] = Field(
        None,
        description="The toxicity model (path, sha256, threshold) and the error rates its model card records; "
        "None when the stage ran lexicon-only.",
    )


class ContaminationSource(_Model):
    """One evaluation set's matches within one source."""

    docs_matched: int = Field(description="Documents flagged for the set (decontam_sets contains it).")
    items_matched: int = Field(description="Distinct items of the set named in those documents' decontam_items.")


class ContaminationSet(_Model):
    """One evaluation set: how much of it the documents contain."""

    name: str
    sha256: Optional[str] = None
    items: int = Field(description="Items read from the set's files.")
    docs_matched: int = Field(description="Documents flagged for the set (any source, kept or removed).")
    docs_removed: int = Field(description="Documents removed with reason decontaminate:<set> (mode drop).")
    items_matched: int = Field(description="Distinct items of the set named in decontam_items of flagged documents.")
    items_matched_share: Optional[float] = Field(description="items_matched / items.")
    short_items_matched_whole: int = 0
    short_items_skipped: int = 0
    skipped_records: dict[str, int] = {}
    by_source: dict[str, ContaminationSource] = {}


class ContaminationSummary(_Model):
    """The decontaminate stage's findings, per evaluation set (docs/decontaminate.md)."""

    mode: str
    ngram: int
    min_matches: int
    index: str = Field(description="'exact' or 'bloom': what the workers matched against.")
    docs_scanned: int
    docs_matched: int = Field(description="Documents flagged for at least one set.")
    docs_error: int = 0
    sets: list[ContaminationSet]


class OptoutSummary(_Model):
    """The opt-out stage's findings (docs/compliance.md, "Opt-out reservations"), from run.json."""

    mode: str
    rules: list[str] = Field(description="Rules that were active (header/meta rules, and robots_txt / domains "
                             "when given their inputs).")
    documents_reserved: int = Field(description="Documents at least one active rule fired on (removed in drop "
                                    "mode, flagged in tag mode).")
    by_rule: dict[str, int] = Field(description="Documents each rule fired on (a document may count under several).")
    by_reason: dict[str, int] = Field(default_factory=dict, description="Documents per optout:<rule> reason (the "
                                      "first rule by precedence).")
    signals: dict[str, int] = Field(default_factory=dict, description="Documents carrying each signal (TDMRep "
                                    "header/meta, noai, noimageai, licence link, malformed signals).")
    domains: int = Field(0, description="Domains on the opt-out list.")
    robots_hosts_by_status: dict[str, int] = Field(default_factory=dict, description="Hosts of the robots.txt "
                                                   "source by status (ok, html, unavailable, unreachable, empty).")


class DriftBasis(_Model):
    """The figures drift is measured on; stored so that a later run can compare against this one."""

    records: int
    keep_rate: Optional[float]
    quarantine_rate: Optional[float]
    removal_rates: dict[str, float] = Field(description="Per drop and quarantine reason: count / records in.")
    language_mix: Optional[dict[str, float]] = None
    source_mix: dict[str, float] = {}
    residual_pii_rate: Optional[float] = None
    pii_doc_rate: Optional[float] = None
    signal_means: dict[str, float] = {}


class RateChange(_Model):
    key: str
    previous: float
    current: float
    delta: float


class Drift(_Model):
    previous_run_id: str
    previous_config_sha256: Optional[str]
    config_changed: bool
    records_previous: int
    records_current: int
    keep_rate: Optional[RateChange]
    language_tvd: Optional[float] = Field(description="Total variation distance of the curated language mix.")
    language_changes: list[RateChange] = []
    source_tvd: Optional[float] = None
    removal_changes: list[RateChange] = Field(description="Every reason's rate, largest absolute change first.")
    max_removal_rate_change: Optional[RateChange] = None
    signal_mean_changes: list[RateChange] = []
    pii_changes: list[RateChange] = []


class GateVerdict(_Model):
    gate: str
    description: str
    value: Optional[float]
    threshold: Optional[float]
    op: Literal[">=", "<=", "=="]
    status: Literal["pass", "fail", "skipped"]
    detail: str = ""


class GatesResult(_Model):
    enabled: bool
    passed: bool
    verdicts: list[GateVerdict]
    config: dict[str, Any]


class Provenance(_Model):
    config: dict[str, Any]
    config_sha256: str
    code_version: dict[str, Optional[str]]
    library_versions: dict[str, Optional[str]]
    spark: dict[str, Any]
    assets: dict[str, dict[str, Any]]
    stage_info: dict[str, Any]


class Report(_Model):
    """The whole report. ``report_version`` is checked on load."""

    report_version: int = REPORT_VERSION
    run: RunInfo
    stages_run: list[dict[str, Any]]
    stages_not_run: list[str]
    inputs: list[InputSummary]
    sources: dict[str, SourceSummary]
    outputs: OutputSummary
    accounting: Accounting
    funnel: list[FunnelStep]
    removals: list[ReasonCount]
    quarantine: list[ReasonCount]
    examples: dict[str, list[Example]]
    quarantine_examples: dict[str, list[QuarantineExample]]
    languages: Optional[LanguageSummary]
    signals: SignalSummary
    duplicates: DuplicateSummary
    pii: Optional[PiiSummary]
    bias: Optional[BiasSummary]
    contamination: Optional[ContaminationSummary] = None
    optout: Optional[OptoutSummary] = Field(None, description="Opt-out reservations (null when the stage was off).")
    source_details: dict[str, SourceDetails] = Field(
        default_factory=dict, description="Per source: description, licence and provenance figures (empty in "
        "reports rendered before it existed)."
    )
    drift_basis: DriftBasis
    drift: Optional[Drift]
    gates: GatesResult
    provenance: Provenance

    @field_validator("report_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != REPORT_VERSION:
            raise ValueError(
                f"report_version {v} is not supported by this corpusforge (supports {REPORT_VERSION}); "
                "re-render it with `corpusforge report OUT`"
            )
        return v

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, two-space indent, trailing newline): equal reports give equal bytes."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> "Report":
        """Read and validate a report.json; raises ValueError saying what is wrong."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); re-render it") from None
        return cls.model_validate(raw)


__all__ = [
    "Accounting",
    "BiasSummary",
    "Drift",
    "DriftBasis",
    "ClusterSizeBin",
    "ContaminationSet",
    "ContaminationSource",
    "ContaminationSummary",
    "DuplicateSummary",
    "Example",
    "ExactDupSummary",
    "FunnelStep",
    "GateVerdict",
    "GatesResult",
    "Histogram",
    "InputSummary",
    "LanguageSummary",
    "LargestCluster",
    "NearDupSummary",
    "OutputSummary",
    "PiiSummary",
    "Provenance",
    "QuarantineExample",
    "REPORT_DIR",
    "REPORT_HTML",
    "REPORT_JSON",
    "REPORT_VERSION",
    "RateChange",
    "ReasonCount",
    "Report",
    "RunInfo",
    "SignalStats",
    "SignalSummary",
    "SourceDetails",
]
