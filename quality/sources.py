"""Per-source provenance figures of one run: what each source is (config) and what its documents show.

The report's ``source_details`` section joins the ``sources`` descriptions of the run's configuration
(category, licence, crawler, collection period; :mod:`schemas.config.sources`) with figures from the
written data: documents, bytes and tokens kept, the range of WARC-Date of the records read, the HTTP
content types of the kept pages, the number of distinct domains, and the per-document licence signals
of the pages (``license_spdx``/``license_kind``, kept by the WARC reader) when the run recorded them.
The domains themselves (registrable domain per the public suffix list bundled with tldextract,
documents and bytes kept per source) go to ``report/domains.parquet``, which ``corpusforge summary``
ranks for the template's top-domain list.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import functions as F

from pipelines.text.pii_offline import offline_extractor
from schemas.config.sources import SourceInfo, licence_label
from schemas.manifest import RunManifest
from schemas.report import SourceDetails
from storage.files import atomic_write_bytes

from .metrics.tables import read_table

log = logging.getLogger(__name__)

DOMAINS_FILE = "domains.parquet"
DOMAINS_SCHEMA = pa.schema([
    pa.field("source", pa.string(), nullable=False),
    pa.field("domain", pa.string(), nullable=False),
    pa.field("docs", pa.int64(), nullable=False),
    pa.field("bytes", pa.int64(), nullable=False),
])
#: The per-document licence signals the WARC reader keeps (docs/compliance.md, "Columns kept per
#: document"): the SPDX id of a recognised licence link, else its kind. Absent in older runs.
LICENCE_SIGNAL_COLUMNS = ("license_spdx", "license_kind")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def configured_sources(config: dict[str, Any]) -> dict[str, SourceInfo]:
    """The ``sources`` descriptions of a resolved configuration (empty for runs made before they existed)."""
    raw = config.get("sources") or {}
    out = {}
    for name, entry in sorted(raw.items()):
        try:
            out[name] = SourceInfo.model_validate(entry)
        except ValueError:
            log.warning("the recorded description of source %s is not valid for this version; shown as undescribed",
                        name)
    return out


def _registrable(extract, host: str) -> str:
    r = extract(host)
    dom = getattr(r, "top_domain_under_public_suffix", None)
    if dom is None:  # tldextract < 5.2
        dom = r.registered_domain
    return dom or host


def _domain_rows(curated) -> list[tuple[str, str, int, int]]:
    """(source, registrable domain, docs, bytes) of the kept documents with a URL, sorted."""
    host = F.lower(F.expr("try_parse_url(url, 'HOST')"))
    rows = (curated.where(F.col("url").isNotNull()).select("source", host.alias("host"), "n_bytes")
            .where(F.col("host").isNotNull() & (F.col("host") != ""))
            .groupBy("source", "host").agg(F.count(F.lit(1)).alias("d"), F.sum("n_bytes").alias("b")))
    extract = offline_extractor()
    merged: dict[tuple[str, str], list[int]] = {}
    for r in rows.toLocalIterator():
        key = (r["source"], _registrable(extract, r["host"].rstrip(".")))
        acc = merged.setdefault(key, [0, 0])
        acc[0] += int(r["d"])
        acc[1] += int(r["b"] or 0)
    return sorted((s, d, n, b) for (s, d), (n, b) in merged.items())


def write_domains(path: Path, rows: list[tuple[str, str, int, int]]) -> None:
    """Write the domain table (sorted rows, no timestamps: equal rows give equal bytes)."""
    cols = list(zip(*rows)) if rows else [[], [], [], []]
    table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, DOMAINS_SCHEMA)],
                                 schema=DOMAINS_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def read_domains(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``domains.parquet`` (empty when the file is absent: reports rendered before it existed)."""
    if not Path(path).is_file():
        return []
    return pq.read_table(path).to_pylist()


def source_details(run_dir: Path, spark, manifest: RunManifest,
                   tokens_by_source: dict[str, int]) -> tuple[dict[str, SourceDetails], list[tuple]]:
    """Per-source details and the domain rows of the run in ``run_dir`` (three small Spark jobs).

    Args:
        run_dir: the run (or staging) directory.
        spark: the SparkSession to aggregate with.
        manifest: the run's run.json.
        tokens_by_source: tokens written to shards per source (the report's outputs section).
    """
    run_dir = Path(run_dir)
    described = configured_sources(manifest.config)
    names = set(described) | {i.source for i in manifest.inputs}
    formats: dict[str, set[str]] = {}
    for i in manifest.inputs:
        formats.setdefault(i.source, set()).add(i.format)
    curated = read_table(spark, run_dir / "curated")
    rejected = read_table(spark, run_dir / "rejected")
    kept: dict[str, dict[str, int]] = {}
    ctypes: dict[str, dict[str, int]] = {}
    dates: dict[str, tuple[Optional[str], Optional[str], int]] = {}
    signals: dict[str, dict[str, int]] = {}
    domains: list[tuple[str, str, int, int]] = []
    if curated is not None:
        has_url = "url" in curated.columns
        for r in curated.groupBy("source").agg(
                F.count(F.lit(1)).alias("n"), F.sum("n_bytes").alias("b"),
                F.sum(F.col("url").isNotNull().cast("int") if has_url else F.lit(0)).alias("u")).collect():
            kept[r["source"]] = {"docs": int(r["n"]), "bytes": int(r["b"] or 0), "with_url": int(r["u"] or 0)}
        if "metadata" in curated.columns:
            ct = F.col("metadata").getItem("content-type")
            for r in curated.where(ct.isNotNull()).groupBy("source", ct.alias("ct")).count().collect():
                ctypes.setdefault(r["source"], {})[r["ct"]] = int(r["count"])
        if all(c in curated.columns for c in LICENCE_SIGNAL_COLUMNS):
            # A recognised licence by its SPDX id; another kind of licence link by its kind
            # (public_domain_mark, other); no licence link at all as "(none)".
            sig = F.coalesce(F.col("license_spdx"), F.concat(F.lit("kind:"), F.col("license_kind")))
            web = sorted(n for n, f in formats.items() if "warc" in f)  # the only reader that fills them
            if web:
                grouped = curated.where(F.col("source").isin(web)).groupBy("source", sig.alias("sig")).count()
                for r in grouped.collect():
                    key = "(none)" if r["sig"] in (None, "") else str(r["sig"])
                    signals.setdefault(r["source"], {})[key] = int(r["count"])
        if has_url:
            domains = _domain_rows(curated)
    tables = [t for t in (curated, rejected) if t is not None and "metadata" in t.columns]
    for t in tables:
        wd = F.substring(F.col("metadata").getItem("warc-date"), 1, 10)
        agg = (t.where(wd.rlike(_DATE.pattern)).groupBy("source")
               .agg(F.min(wd).alias("lo"), F.max(wd).alias("hi"), F.count(F.lit(1)).alias("n")).collect())
        for r in agg:
            lo, hi, n = dates.get(r["source"], (None, None, 0))
            dates[r["source"]] = (min(x for x in (lo, r["lo"]) if x), max(x for x in (hi, r["hi"]) if x),
                                  n + int(r["n"]))
    domain_count: dict[str, int] = {}
    for s, _, _, _ in domains:
        domain_count[s] = domain_count.get(s, 0) + 1
    out = {}
    for name in sorted(names):
        info = described.get(name)
        k = kept.get(name, {"docs": 0, "bytes": 0, "with_url": 0})
        period = info.collection_period if info else None
        lo, hi, n_dated = dates.get(name, (None, None, 0))
        out[name] = SourceDetails(
            described=info is not None, category=info.category if info else None,
            description=info.description if info else None, licence=licence_label(info),
            licence_spdx=info.licence if info else None, licence_text=info.licence_text if info else None,
            link=info.link if info else None, crawler=info.crawler if info else None,
            period_start=period.start.isoformat() if period and period.start else None,
            period_end=period.end.isoformat() if period and period.end else None,
            warc_date_first=lo, warc_date_last=hi, warc_dated_records=n_dated,
            formats=sorted(formats.get(name, ())), curated_docs=k["docs"], curated_bytes=k["bytes"],
            tokens=tokens_by_source.get(name) if tokens_by_source else None,
            docs_with_url=k["with_url"], domains=domain_count.get(name, 0),
            content_types=dict(sorted(ctypes.get(name, {}).items())),
            licence_signals=dict(sorted(signals.get(name, {}).items())),
            in_run=name in formats,
        )
    return out, domains


__all__ = ["DOMAINS_FILE", "LICENCE_SIGNAL_COLUMNS", "configured_sources", "read_domains", "source_details",
           "write_domains"]
