"""Matching documents against erasure requests on Spark: the Arrow UDF and the ingest hook.

:func:`mark_takedowns` adds ``takedown_reason`` (``"takedown:<kind>"``, null when no request matches)
and ``takedown_request_id`` to the documents right after ingest; :func:`matched_documents` returns the
matched documents of any table with ``doc_id`` (and ``url`` / ``content_sha256`` when present).
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Iterator, Union

import pyarrow as pa

from pipelines.takedown.requests import (
    REASON_COLUMN,
    REASON_PREFIX,
    REQUEST_COLUMN,
    RequestMatcher,
    TakedownRequest,
    load_requests,
)


def _match_udf(requests: list[tuple[str, str, str]]):
    """mapInArrow over (doc_id, url, content_sha256): yields only matched rows with all request ids."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        matcher = RequestMatcher(TakedownRequest(*r) for r in requests)
        for batch in batches:
            ids = batch.column("doc_id").to_pylist()
            urls = batch.column("url").to_pylist()
            hashes = batch.column("content_sha256").to_pylist()
            keep, reasons, rids, alls = [], [], [], []
            for i in range(len(ids)):
                found = matcher.match(ids[i], urls[i], hashes[i])
                if found:
                    keep.append(i)
                    reasons.append(f"{REASON_PREFIX}:{found[0][1]}")
                    rids.append(found[0][0])
                    alls.append(sorted({r for r, _ in found}))
            if keep:
                idx = pa.array(keep, pa.int64())
                yield pa.RecordBatch.from_pydict({
                    "doc_id": batch.column("doc_id").take(idx),
                    "url": batch.column("url").take(idx),
                    "content_sha256": batch.column("content_sha256").take(idx),
                    REASON_COLUMN: pa.array(reasons, pa.string()),
                    REQUEST_COLUMN: pa.array(rids, pa.string()),
                    "takedown_request_ids": pa.array(alls, pa.list_(pa.string())),
                })

    return run


_MATCH_SCHEMA = (f"doc_id string, url string, content_sha256 string, {REASON_COLUMN} string, "
                 f"{REQUEST_COLUMN} string, takedown_request_ids array<string>")


def _as_requests(requests: Union[str, os.PathLike, Iterable[Any], None]) -> list[TakedownRequest]:
    if requests is None:
        return []
    return load_requests(requests)


def matched_documents(spark, docs_df, requests):
    """The documents of ``docs_df`` that some request matches.

    Returns:
        DataFrame ``(doc_id, url, content_sha256, takedown_reason, takedown_request_id,
        takedown_request_ids)``: one row per distinct (doc_id, url, content_sha256) that matches;
        ``takedown_request_id`` is the smallest matching request id, ``takedown_request_ids`` all of them.
    """
    # deferred: pyspark is imported only when Spark is used (the runner and the CLI import this module)
    from pyspark.sql import functions as F

    reqs = _as_requests(requests)
    cols = set(docs_df.columns)
    narrow = docs_df.select(
        F.col("doc_id").cast("string").alias("doc_id"),
        (F.col("url") if "url" in cols else F.lit(None)).cast("string").alias("url"),
        (F.col("content_sha256") if "content_sha256" in cols else F.lit(None)).cast("string").alias("content_sha256"),
    ).distinct()
    payload = [(r.request_id, r.kind, r.value) for r in reqs]
    return narrow.mapInArrow(_match_udf(payload), _MATCH_SCHEMA)


def mark_takedowns(spark, docs_df, requests):
    """Add ``takedown_reason`` and ``takedown_request_id`` to ingested documents (same rows).

    Call it right after ingest; the runner then rejects rows whose ``takedown_reason`` is not null
    (``drop_reason = "takedown:<kind>"``) like any stage's rejects.

    Args:
        spark: the SparkSession.
        docs_df: documents with ``doc_id`` and, when present, ``url`` and ``content_sha256``.
        requests: a JSON-lines path, an iterable of request dicts or :class:`TakedownRequest`, or None.

    Returns:
        ``docs_df`` with the two string columns added (null where no request matches).
    """
    # deferred: pyspark is imported only when Spark is used (the runner and the CLI import this module)
    from pyspark.sql import functions as F

    reqs = _as_requests(requests)
    null = F.lit(None).cast("string")
    if not reqs:
        return docs_df.withColumn(REASON_COLUMN, null).withColumn(REQUEST_COLUMN, null)
    matched = matched_documents(spark, docs_df, reqs).select(
        F.col("doc_id").alias("_td_doc_id"), F.col("url").alias("_td_url"),
        F.col("content_sha256").alias("_td_sha"), REASON_COLUMN, REQUEST_COLUMN,
    )
    cols = set(docs_df.columns)
    url = F.col("url").cast("string") if "url" in cols else null
    sha = F.col("content_sha256").cast("string") if "content_sha256" in cols else null
    cond = ((F.col("doc_id") == F.col("_td_doc_id")) & url.eqNullSafe(F.col("_td_url"))
            & sha.eqNullSafe(F.col("_td_sha")))
    out = docs_df.join(matched, cond, "left")
    return out.select(*[docs_df[c] for c in docs_df.columns], F.col(REASON_COLUMN), F.col(REQUEST_COLUMN))


__all__ = ["mark_takedowns", "matched_documents"]
