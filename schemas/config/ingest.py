"""Configuration of ingest: readers, field mapping, normalization policy and safety caps."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from .base import Section, StageSection

MiB = 1024 * 1024
GiB = 1024 * MiB


class TrafilaturaOptions(Section):
    """trafilatura's settings (ingest.warc.extractor=trafilatura); see docs/ingest.md."""

    favor: Literal["precision", "balanced", "recall"] = Field(
        "recall", description="Which side trafilatura errs on when unsure whether a block is main text: "
        "precision drops more boilerplate (and some borderline text), recall keeps more of both.",
    )
    include_tables: bool = Field(True, description="Keep the text of tables in the main content.")
    include_comments: bool = Field(
        False, description="Keep readers' comment sections below an article (user-generated, often spam)."
    )
    fast: bool = Field(
        False, description="Skip the jusText/readability fallbacks that trafilatura runs when its own pass "
        "finds little text: faster, lower recall on unusual layouts.",
    )


class ResiliparseOptions(Section):
    """Resiliparse's main-content settings (ingest.warc.extractor=resiliparse); see docs/ingest.md."""

    comments: bool = Field(False, description="Treat comment sections as main content.")
    post_meta: bool = Field(False, description="Keep blog post meta data (author, date, tags) in the main content.")
    skip_elements: list[str] = Field(
        default_factory=list, description="Further CSS selectors of elements to drop before extraction, e.g. "
        "'footer', 'nav', '[class*=related]'.",
    )


class WarcOptions(Section):
    """How WARC/WET records become documents."""

    extractor: Literal["trafilatura", "resiliparse"] = Field(
        "trafilatura", description="Main-text extractor for HTML pages: trafilatura (fewer boilerplate lines "
        "kept, about ten times the CPU) or resiliparse (fast); measured in docs/ingest.md.",
    )
    main_content: bool = Field(
        True, description="Keep only the main content of HTML pages (drop navigation, footers). false keeps all "
        "visible text and needs extractor=resiliparse (trafilatura always extracts the main content).",
    )
    timeout_seconds: float = Field(
        5.0, gt=0, description="Wall-clock budget for extracting one HTML page; a page over it is quarantined as "
        "ingest:html_extraction_timeout and the task goes on.",
    )
    timeout_mode: Literal["process", "signal"] = Field(
        "process", description="How the budget is enforced: process runs extraction in a helper process that is "
        "killed on overrun (stops anything, even a C loop); signal uses a SIGALRM timer in the worker (no helper "
        "process, but cannot interrupt a long C call; falls back to process outside a main thread).",
    )
    trafilatura: TrafilaturaOptions = TrafilaturaOptions()
    resiliparse: ResiliparseOptions = ResiliparseOptions()
    max_record_bytes: int = Field(
        64 * MiB, gt=0, description="Records with a larger block are quarantined unread (memory cap)."
    )

    @model_validator(mode="after")
    def _whole_page_needs_resiliparse(self) -> "WarcOptions":
        if not self.main_content and self.extractor != "resiliparse":
            raise ValueError("ingest.warc.main_content=false keeps all visible text, which only "
                             "extractor=resiliparse does; set ingest.warc.extractor=resiliparse")
        return self


class RemoteOptions(Section):
    """How remote inputs (http(s):// URLs, s3://, gs://, hdfs://... and path lists) are fetched."""

    retries: int = Field(
        5, ge=0, description="Further attempts at a remote file after a transient failure (connection refused, "
        "reset or dropped mid-file, timeout, HTTP 408/425/429/5xx); each attempt downloads the whole file again.",
    )
    backoff_seconds: float = Field(
        1.0, ge=0, description="Wait before the first retry; it doubles after each further failure."
    )
    backoff_max_seconds: float = Field(
        60.0, ge=0, description="Longest wait between two attempts (also caps a server's Retry-After)."
    )
    timeout_seconds: float = Field(
        60.0, gt=0, description="Socket timeout of remote reads: connecting, and each read while downloading."
    )
    temp_dir: Optional[str] = Field(
        None, description="Folder on each worker where a remote file is downloaded before it is read (deleted "
        "right after); default: the system temporary folder. Needs room for one file per running task.",
    )
    base_url: Optional[str] = Field(
        None, description="Prefix of the relative entries of path lists, e.g. https://data.commoncrawl.org/ for "
        "Common Crawl's warc.paths.gz; default: the folder of the list itself.",
    )


class IngestSection(StageSection):
    """The ``ingest`` section. Ingest always runs; ``enabled: false`` is rejected.

    Policies (each one documented in docs/config.md):
      * invalid UTF-8 bytes and lone surrogates: ``quarantine`` the record, or ``replace`` them with U+FFFD;
      * Unicode NFC; control characters except newline and tab removed; CRLF/CR to LF; trimmed;
      * documents longer than ``max_doc_chars``: ``truncate`` or ``quarantine``.
    """

    enabled: bool = True
    format: Literal["auto", "jsonl", "parquet", "text", "warc", "wet"] = Field(
        "auto", description="Input format; auto = from each file's extension (.jsonl/.json/.ndjson, .parquet, "
        ".txt/.md, .warc, .wet; plus .gz/.zst)."
    )
    source: Optional[str] = Field(
        None, description="Source name for every input; default: the basename of each --input path."
    )
    text_field: str = Field("text", description="Field (JSONL) or column (Parquet) holding the text.")
    id_field: Optional[str] = Field("id", description="Field with the record's own id (source_id); else a position.")
    url_field: Optional[str] = Field("url", description="Field with the document URL.")
    metadata_fields: Optional[list[str]] = Field(
        None, description="Fields kept in the metadata map; default: every field not mapped above."
    )
    invalid_utf8: Literal["quarantine", "replace"] = Field(
        "quarantine",
        description="Invalid UTF-8 bytes and lone surrogates: quarantine the record or replace with U+FFFD.",
    )
    max_line_bytes: int = Field(16 * MiB, gt=0, description="One JSONL line longer than this is quarantined.")
    max_doc_chars: int = Field(1_000_000, gt=0, description="Longest text kept, in characters after normalization.")
    on_too_long: Literal["truncate", "quarantine"] = Field(
        "quarantine", description="What happens to a text over max_doc_chars (truncated texts get truncated=true)."
    )
    max_text_file_bytes: int = Field(64 * MiB, gt=0, description="Plain text files larger than this are quarantined.")
    max_decompressed_bytes: int = Field(
        64 * GiB, gt=0, description="Per input file; beyond it the rest is quarantined."
    )
    max_compression_ratio: float = Field(
        200.0, gt=1, description="Decompressed/compressed bytes above this (once past ratio_check_min_bytes) = bomb."
    )
    ratio_check_min_bytes: int = Field(
        64 * MiB, ge=0, description="The ratio cap applies once this much is decompressed."
    )
    max_binary_ratio: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Share of control characters and U+FFFD above which a text (of 16+ characters) is binary.",
    )
    min_chars: int = Field(1, ge=1, description="Texts shorter than this after normalization are quarantined (empty).")
    split_bytes: int = Field(
        64 * MiB, gt=0, description="Uncompressed JSONL files are split into byte ranges of this size for parallelism."
    )
    on_unreadable: Literal["quarantine", "fail"] = Field(
        "quarantine",
        description="An input file that cannot be read (a remote one after ingest.remote.retries): quarantine "
        "it as ingest:unreadable_file (listed in run.json) and go on, or fail the run with nothing committed.",
    )
    max_unreadable_files: Optional[int] = Field(
        None, ge=0, description="Failure budget with on_unreadable=quarantine: the run fails when more input files "
        "than this are unreadable; default: no limit (a run where no file at all can be read always fails).",
    )
    warc: WarcOptions = WarcOptions()
    remote: RemoteOptions = RemoteOptions()

    @field_validator("enabled")
    @classmethod
    def _ingest_always_runs(cls, v: bool) -> bool:
        if not v:
            raise ValueError("ingest cannot be disabled: every run starts by reading its inputs")
        return v

    @model_validator(mode="after")
    def _fields_distinct(self) -> "IngestSection":
        mapped = [f for f in (self.text_field, self.id_field, self.url_field) if f]
        if len(set(mapped)) != len(mapped):
            raise ValueError(f"text_field, id_field and url_field must differ, got {mapped}")
        return self


class ExactDedupSection(StageSection):
    """Exact dedup on the sha256 of the normalized text.

    Survivor rule: within a group of identical texts the document with the lowest ``doc_id`` is kept.
    """

    enabled: bool = True
    mode: Literal["drop", "tag"] = "drop"


class SparkSection(Section):
    """Spark settings for local mode. Under spark-submit the submitter's settings win."""

    master: str = Field("local[*]", description="Master for embedded runs: local[*], local[N] or spark://HOST:PORT.")
    driver_memory: str = Field("4g", description="Driver JVM heap for embedded runs (e.g. 4g).")
    shuffle_partitions: Optional[int] = Field(None, gt=0, description="Default: scaled to the input size.")
    extra_conf: dict[str, str] = Field(default_factory=dict, description="Further spark.* settings.")
    jit: Literal["auto", "quick", "full"] = Field(
        "auto",
        description="JIT compilation of the embedded local-mode JVM. quick: C1 only "
                    "(-XX:TieredStopAtLevel=1), which warms up in a fraction of the CPU time; full: the JVM's "
                    "default tiered C1+C2, faster once warm. auto: quick for inputs under 1 GiB, full above "
                    "(measured crossover, see README). Not applied under spark-submit, on a cluster master, "
                    "or when extra_conf sets spark.driver.extraJavaOptions.",
    )
    broadcast_lookup_rows: int = Field(
        500_000, ge=0,
        description="Lookup tables computed from the documents (exact-duplicate groups, repeated source ids) "
                    "with at most this many rows are joined back by broadcast, so the texts are not shuffled "
                    "for the join; larger ones use a shuffle join. About 150 bytes of memory a row on every "
                    "executor.",
    )
