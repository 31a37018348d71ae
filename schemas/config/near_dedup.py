"""Configuration section ``near_dedup``: MinHash + LSH + connected components, optionally incremental.

How the pieces fit (details in ``pipelines/text/minhash.py`` and ``pipelines/stages/near_dedup.py``; the
bands/rows optimizer is :func:`schemas.lsh.optimal_param`):

* every document is normalized (NFKC, case-folded, punctuation and whitespace to single spaces),
  cut into ``shingle`` n-grams of size ``ngram`` and hashed; its MinHash signature has ``num_perm``
  values drawn with ``seed`` (datasketch's ``affine32`` scheme, bit for bit);
* the signature is cut into ``bands`` bands of ``rows`` values (by default the pair datasketch's
  ``MinHashLSH`` picks for ``threshold``); documents sharing a band bucket are candidates;
* candidates may be verified (``verification``) against ``threshold``;
* connected components of the candidate graph are the clusters; one ``survivor`` per cluster is kept,
  the others are marked ``near_dedup:duplicate``.
"""
from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..lsh import optimal_param
from .base import FilterSection

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Survivor rules that are not column names.
SURVIVOR_RULES = ("lowest_doc_id", "longest")


class NearDedupSection(FilterSection):
    """Near-duplicate removal (MinHash + LSH + connected components).

    Survivor rule (``survivor``): ``lowest_doc_id`` keeps the smallest ``doc_id`` of each cluster;
    ``longest`` keeps the document with the most characters; any other value names a numeric column
    present when the stage runs (e.g. a quality signal) and keeps the document with the highest value
    (``survivor_order: asc`` for the lowest); missing values lose; ties always go to the lowest
    ``doc_id``. A cluster that contains a document of the incremental index (kept by an earlier run)
    has no survivor in this run: all of this run's members are duplicates.
    """

    shingle: Literal["word", "char"] = Field(
        "word", description="word n-grams, or character n-grams for scripts without spaces."
    )
    ngram: int = Field(5, ge=1, le=64, description="Words (or characters) per shingle.")
    num_perm: int = Field(128, ge=2, le=1024, description="MinHash permutations (signature length).")
    seed: int = Field(1, ge=0, lt=2**32, description="Seed of the MinHash permutations.")
    threshold: float = Field(0.8, gt=0.0, lt=1.0, description="Jaccard similarity that makes near duplicates.")
    bands: Optional[int] = Field(
        None, ge=1, description="LSH bands; with `rows`, or neither (then derived from `threshold`)."
    )
    rows: Optional[int] = Field(None, ge=1, description="Signature values per band; with `bands`, or neither.")
    false_positive_weight: float = Field(
        0.5, gt=0.0, lt=1.0, description="Weight of false positives when deriving bands/rows (datasketch's)."
    )
    verification: Literal["none", "estimated", "exact"] = Field(
        "none",
        description="Check candidate edges against `threshold`: estimated Jaccard of the signatures, "
        "or exact Jaccard of the (hashed) shingle sets.",
    )
    survivor: str = Field("lowest_doc_id", description="lowest_doc_id | longest | <numeric column name>.")
    survivor_order: Literal["desc", "asc"] = Field(
        "desc", description="For a column survivor rule: keep the highest (desc) or lowest (asc) value."
    )
    max_bucket_size: int = Field(
        10_000, ge=2, description="Buckets with more members than this are 'huge' (boilerplate)."
    )
    on_huge_bucket: Literal["keep", "skip"] = Field(
        "keep",
        description="keep: link a huge bucket like any other (star edges to its minimum; memory-safe); "
        "skip: ignore its edges (members may still be linked through other bands).",
    )
    giant_cluster_share: float = Field(
        0.05, gt=0.0, le=1.0, description="A cluster holding more than this share of the documents is giant."
    )
    giant_cluster_min_size: int = Field(
        1000, ge=2, description="Clusters of at most this many documents are never giant (small runs)."
    )
    on_giant_cluster: Literal["fail", "flag"] = Field(
        "fail",
        description="fail: stop the run; flag: keep every member of a giant cluster and set dup_giant_cluster.",
    )
    checkpoint_interval: int = Field(
        3, ge=1, description="Connected components: checkpoint the edge table every this many iterations."
    )
    max_iterations: int = Field(100, ge=1, description="Connected components: fail if not converged by then.")
    stats_top_clusters: int = Field(20, ge=0, le=10_000, description="Largest clusters listed in the statistics.")
    driver_clustering_max_documents: int = Field(
        1_000_000,
        ge=0,
        description="Runs of at most this many documents (outside incremental mode) find buckets, connected "
        "components and survivors on the driver with numpy (same clusters and survivors; a few hundred bytes "
        "of driver (Python) memory per document, no Spark job per step); larger runs, and 0, use Spark jobs.",
    )
    index_path: Optional[str] = Field(
        None,
        description="Incremental dedup index (directory). The run dedups against it and, once its "
        "output is committed, adds the band keys of the documents it kept.",
    )

    @field_validator("survivor")
    @classmethod
    def _survivor_rule(cls, v: str) -> str:
        if v not in SURVIVOR_RULES and not _IDENTIFIER.match(v):
            raise ValueError(
                "must be 'lowest_doc_id', 'longest' or the name of a numeric column (letters, digits, '_')"
            )
        return v

    @model_validator(mode="after")
    def _bands_rows(self) -> "NearDedupSection":
        if (self.bands is None) != (self.rows is None):
            raise ValueError(
                "set both near_dedup.bands and near_dedup.rows, or neither (then they are derived from "
                "near_dedup.threshold)"
            )
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"near_dedup.bands * near_dedup.rows = {self.bands * self.rows} exceeds num_perm = "
                f"{self.num_perm}; lower bands or rows, or raise num_perm"
            )
        return self

    def lsh_params(self) -> tuple[int, int]:
        """The (bands, rows) in use: the configured pair, or datasketch's optimum for the threshold."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        fp_weight = self.false_positive_weight
        return optimal_param(self.threshold, self.num_perm, fp_weight, 1.0 - fp_weight)
