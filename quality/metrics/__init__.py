"""Data-quality figures of one run, computed from its written data with Spark aggregations.

Everything here reads what the run wrote (``curated/``, ``rejected/``, ``quarantine/``, ``shards/``,
``stages/``) plus ``run.json`` for what is not data (records the readers saw, configuration, versions).
Counts are exact: they are ``count``/``sum`` aggregations over the Parquet tables, never accumulators.
Quantiles are ``percentile_approx`` (accuracy 10 000) and flagged as approximate.

Columns of optional stages are looked up by name, so the figures of a stage appear exactly when its
columns are in the data (``lang`` -> languages, ``dup_cluster_id`` -> near duplicates, ``pii_counts`` ->
PII, ``bias_flags`` -> bias). Only small, content-free values reach the driver, except the few example
texts, which are scrubbed (:mod:`quality.scrub`) before they go anywhere.

One module per part of the report:

- :mod:`.tables`: reading run.json and the run's tables (the narrow, persisted document projection);
- :mod:`.counts`: exact row counts, per-input and per-source accounting, reason lists;
- :mod:`.funnel`: documents in/removed/out per stage;
- :mod:`.examples`: removed-document and quarantined-record examples;
- :mod:`.outputs`: written files and token shards;
- :mod:`.languages`, :mod:`.signals`, :mod:`.duplicates`, :mod:`.pii`, :mod:`.bias`: the optional sections;
- :mod:`.compute`: :func:`compute_metrics`, which runs them in order, and the drift basis.
"""
from __future__ import annotations

from ..rounding import rate, sig_round
from .compute import RunMetrics, compute_metrics
from .signals import MAIN_SIGNALS
from .tables import read_manifest

__all__ = ["MAIN_SIGNALS", "RunMetrics", "compute_metrics", "rate", "read_manifest", "sig_round"]
