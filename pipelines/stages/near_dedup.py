"""Near-duplicate removal on Spark: MinHash signatures, LSH buckets, connected components.

The plan, step by step (all intermediate tables are written under ``ctx.work_dir/near_dedup/``):

1. **Signatures** (``mapInArrow``, :mod:`pipelines.text.minhash`): per document its shingle count,
   MinHash signature and one 64-bit key per LSH band; with ``verification: exact`` also its sorted
   shingle hash set. Documents without a shingle get no band key and are never clustered. A batch
   that fails is retried document by document; a document that still fails is marked
   ``near_dedup:error``.
2. **Buckets**: band keys are exploded to ``(band, key, doc_id)`` rows (plus the index's rows that
   share a key with this run, in incremental mode) and aggregated per ``(band, key)`` into
   ``(minimum doc_id, size)``; no bucket's member list is ever built, so a huge bucket costs no memory.
   Each member is linked to its bucket's minimum (star edges: ``size - 1`` edges, never all pairs).
   Buckets larger than ``max_bucket_size`` are counted and, with ``on_huge_bucket: skip``, ignored;
   with ``keep`` they are linked like any other (the join is streaming; AQE splits the skewed
   partition). Buckets holding only index documents are dropped: they cannot change this run.
3. **Verification** (optional): each candidate edge is checked against ``threshold`` with the estimated
   Jaccard of the two signatures, or the exact Jaccard of the two hashed shingle sets (for edges to an
   index document, whose shingles are not stored, the estimate is used).
4. **Connected components**: alternating Large-Star / Small-Star (Kiveris et al., 2014) on DataFrames
   until every component is a star around its smallest doc_id; each iteration's edge table is
   persisted and every ``checkpoint_interval`` iterations it is *reliably* checkpointed (lineage cut)
   to ``ctx.work_dir/near_dedup/checkpoints`` (``SparkContext.setCheckpointDir``; on a cluster the
   work dir must be on a shared filesystem).
5. **Survivors**: the cluster id is the smallest doc_id of the component (deterministic whatever the
   input order or partitioning). The survivor follows ``survivor`` (see the config section). A
   cluster that contains an index document keeps none of this run's members. Giant clusters fail the
   run or are flagged (kept whole), per ``on_giant_cluster``.

**Two plans for steps 2 to 5.** Runs of at most ``driver_clustering_max_documents`` documents (default one
million) outside incremental mode do them on the driver (:meth:`NearDedupStage._cluster_on_driver`): the
signatures table is read once with pyarrow, buckets and star edges are found with numpy sorts
(:func:`pipelines.text.components.bucket_star_edges`), connected components by vectorised hooking and
pointer jumping (:func:`pipelines.text.components.component_labels`), survivors by one ``lexsort``; only
candidate verification, when configured, is a Spark job. The result (clusters, survivors, flags, the
stage figures and ``cluster_stats.json``) is the Spark plan's, which ``tests/spark/test_near_dedup_driver.py``
checks rule by rule; it saves a dozen small Spark jobs (about 25 s of a 20,000-document run on two cores)
at the cost of a few hundred bytes of driver memory per document. ``stage_info.near_dedup.clustering``
says which plan ran. With the driver plan and a result of up to :data:`BROADCAST_RESULT_ROWS` rows, the
stage's output is a broadcast join of the documents with that result, cheap enough that the runner does
not write it once more (``materialize`` is False for that run).

Columns added: ``dup_cluster_id`` (string; the doc's own id when it is in no cluster),
``dup_cluster_size`` (int; this run's documents in the cluster, 1 for singletons; the tokenize step copies
it into the shard rows, where the trainer's rehydration reads it),
``dup_giant_cluster`` (bool), ``near_dedup_reason`` (``near_dedup:duplicate`` for non-survivors).

Side outputs in ``ctx.side_output_dir("near_dedup")``: ``cluster_stats.json`` (clusters by size, the
largest clusters with their source mix) and, in incremental mode, ``index_delta/`` written by
:meth:`NearDedupStage.finalize` (see :mod:`pipelines.stages.near_dedup_index`).
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.text import components
from pipelines.text import minhash as mh

from . import near_dedup_index as dedup_index
from .base import RunContext, Stage, StageConfigError

log = logging.getLogger(__name__)

DUPLICATE_REASON = "near_dedup:duplicate"
ERROR_REASON = "near_dedup:error"
#: Result rows (clustered or failed documents) up to which the result is broadcast to the join with the
#: documents and the stage's output is not materialized by the runner (about 100 bytes a row).
BROADCAST_RESULT_ROWS = 200_000


class GiantClusterError(RuntimeError):
    """A cluster holds more documents than the giant-cluster guard allows."""


def _signature_udf(kind: str, ngram: int, num_perm: int, seed: int, bands: int, rows: int, with_shingles: bool):
    """The mapInArrow function: Arrow batches of (doc_id, source, n_chars, priority, text) -> signatures."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        def compute(texts: list) -> tuple:
            sb = mh.signatures(texts, kind, ngram, num_perm, seed)
            keys = mh.band_keys(sb.signatures, bands, rows)
            sets: Optional[list] = None
            if with_shingles:
                order = np.lexsort((sb.hashes, sb.owner))
                h, o = sb.hashes[order], sb.owner[order]
                keep = np.ones(len(h), dtype=bool)
                keep[1:] = (h[1:] != h[:-1]) | (o[1:] != o[:-1])
                h, o = h[keep], o[keep]
                bounds = np.searchsorted(o, np.arange(len(texts) + 1))
                sets = [h[bounds[i] : bounds[i + 1]].astype("<u4").tobytes() for i in range(len(texts))]
            return sb.signatures, sb.n_shingles, keys, sets

        for batch in batches:
            texts = batch.column("text").to_pylist()
            n = len(texts)
            try:
                sig, n_sh, keys, sets = compute(texts)
                failed = np.zeros(n, dtype=bool)
            except mh.KernelUnavailableError:  # a setup error, not a bad document: fail the run
                raise
            except Exception:  # retry one by one so that one bad document does not fail the batch
                sig = np.full((n, num_perm), mh.EMPTY_HASH_VALUE, dtype=np.uint32)
                n_sh = np.zeros(n, dtype=np.int64)
                keys = np.zeros((n, bands), dtype=np.int64)
                sets = [b""] * n if with_shingles else None
                failed = np.zeros(n, dtype=bool)
                for i, t in enumerate(texts):
                    try:
                        s1, c1, k1, z1 = compute([t])
                        sig[i], n_sh[i], keys[i] = s1[0], c1[0], k1[0]
                        if with_shingles:
                            sets[i] = z1[0]
                    except Exception:
                        failed[i] = True
            n_sh = np.where(failed, -1, n_sh).astype(np.int32)
            has = n_sh > 0
            offsets = np.zeros(n + 1, dtype=np.int32)
            offsets[1:] = np.cumsum(np.where(has, bands, 0))
            key_values = pa.array(keys[has].ravel(), type=pa.int64())
            band_list = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), key_values, mask=pa.array(~has))
            sig_bytes = sig.astype("<u4", copy=False)
            columns = {
                "doc_id": batch.column("doc_id"),
                "source": batch.column("source"),
                "n_chars": batch.column("n_chars"),
                "priority": batch.column("priority"),
                "n_shingles": pa.array(n_sh, type=pa.int32()),
                "band_keys": band_list,
                "signature": pa.array([sig_bytes[i].tobytes() for i in range(n)], type=pa.binary()),
                "shingles": pa.array(sets if with_shingles else [None] * n, type=pa.binary()),
            }
            yield pa.RecordBatch.from_pydict(columns)

    return run


_SIGNATURE_SCHEMA = (
    "doc_id string, source string, n_chars bigint, priority double, n_shingles int, "
    "band_keys array<bigint>, signature binary, shingles binary"
)


def _verify_udf(threshold: float, exact: bool):
    """mapInArrow: candidate edges with both ends' signatures (and shingle sets) -> edges + similarity."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            n = batch.num_rows
            sa = batch.column("sig_src").to_pylist()
            sb = batch.column("sig_dst").to_pylist()
            za = batch.column("sh_src").to_pylist()
            zb = batch.column("sh_dst").to_pylist()
            sim = np.zeros(n, dtype=np.float64)
            for i in range(n):
                if exact and za[i] is not None and zb[i] is not None:
                    sim[i] = mh.exact_jaccard_hashed(
                        np.frombuffer(za[i], dtype="<u4"), np.frombuffer(zb[i], dtype="<u4")
                    )
                elif sa[i] is not None and sb[i] is not None:
                    sim[i] = float(
                        mh.estimated_jaccard(np.frombuffer(sa[i], dtype="<u4"), np.frombuffer(sb[i], dtype="<u4"))
                    )
            yield pa.RecordBatch.from_pydict(
                {
                    "src": batch.column("src"),
                    "dst": batch.column("dst"),
                    "similarity": pa.array(sim, type=pa.float64()),
                    "passed": pa.array(sim >= threshold, type=pa.bool_()),
                }
            )

    return run


def _is_star_forest(e: DataFrame) -> bool:
    """True when oriented edges (src > dst) form stars: one parent per node, and parents are roots.

    One job: looks for any node with two parents, or any parent that has a parent itself.
    """
    violations = (
        e.groupBy("src").count().where(F.col("count") > 1).select(F.lit(1).alias("v"))
        .unionByName(
            e.join(e.select(F.col("src").alias("dst")).distinct(), "dst", "left_semi").select(F.lit(2).alias("v"))
        )
        .limit(1)
        .count()
    )
    return violations == 0


def _star_round(e: DataFrame) -> DataFrame:
    """One Large-Star then Small-Star round over oriented edges (src > dst); the result is oriented too."""
    # Large-Star: every edge (v > u) becomes (v, m(u)), m(u) = min of u and its smaller neighbours.
    m = e.groupBy("src").agg(F.min("dst").alias("m")).withColumnRenamed("src", "node")
    large = (
        e.join(m, e["dst"] == m["node"], "left")
        .select(e["src"].alias("src"), F.coalesce(m["m"], e["dst"]).alias("dst"))
        .distinct()
    )
    # Small-Star: every node v and its smaller neighbours are linked to the smallest of them.
    m2 = large.groupBy("src").agg(F.min("dst").alias("m"))
    joined = large.join(m2, "src")
    return (
        joined.select("src", F.col("m").alias("dst"))
        .unionByName(
            joined.where(F.col("dst") != F.col("m")).select(F.col("dst").alias("src"), F.col("m").alias("dst"))
        )
        .distinct()
    )


def _unpersist(tables: list[DataFrame]) -> None:
    for d in tables:
        d.unpersist()


def connected_components(
    edges: DataFrame,
    checkpoint_interval: int = 3,
    max_iterations: int = 100,
    checkpoint_dir: Optional[str] = None,
    output_path: Optional[str] = None,
) -> tuple[DataFrame, int]:
    """Connected components of an undirected graph with alternating Large-Star / Small-Star.

    Args:
        edges: DataFrame with string columns ``src`` and ``dst`` (any orientation, self loops ignored).
        checkpoint_interval: reliable checkpoint of the edge table every this many iterations.
        max_iterations: fail when not converged after this many Large-Star + Small-Star rounds.
        checkpoint_dir: directory for ``SparkContext.setCheckpointDir`` (required to checkpoint).
        output_path: when given, the labels are written there as Parquet (and the cached edge tables
            released); otherwise the last edge table stays cached behind the returned labels.

    Returns:
        ``(labels, iterations)``: labels is a DataFrame ``(node, root)`` for every node with an edge,
        ``root`` being the smallest node of its component.

    Raises:
        RuntimeError: not converged within ``max_iterations`` (raise it, or look for a bug upstream).
    """
    spark = edges.sparkSession
    if checkpoint_dir:
        spark.sparkContext.setCheckpointDir(checkpoint_dir)
    # Oriented edges: src > dst.
    e = (
        edges.where(F.col("src") != F.col("dst"))
        .select(F.greatest("src", "dst").alias("src"), F.least("src", "dst").alias("dst"))
        .distinct()
    )
    e = e.persist(StorageLevel.MEMORY_AND_DISK)
    held = [e]
    iterations = 0
    # LSH star edges often form stars already (small clusters whose buckets share one minimum).
    converged = _is_star_forest(e)
    while not converged:
        if iterations >= max_iterations:
            _unpersist(held)
            raise RuntimeError(
                f"near_dedup connected components did not converge in {max_iterations} iterations; raise "
                "near_dedup.max_iterations (the graph may have an unusually long chain)"
            )
        iterations += 1
        small = _star_round(e).persist(StorageLevel.MEMORY_AND_DISK)
        if checkpoint_dir and iterations % checkpoint_interval == 0:
            small = small.checkpoint(eager=True)
        converged = _is_star_forest(small)
        _unpersist(held)
        held = [small]
        e = small
    labels = (
        e.select(F.col("src").alias("node"), F.col("dst").alias("root"))
        .unionByName(e.select(F.col("dst").alias("node"), F.col("dst").alias("root")))
        .distinct()
    )
    if output_path:
        labels.write.mode("overwrite").parquet(output_path)
        _unpersist(held)
        labels = spark.read.parquet(output_path)
    log.info("near_dedup: connected components converged in %d iterations", iterations)
    return labels, iterations


def _parquet_rows(path: Path) -> int:
    """Rows of a folder of Parquet files, from their footers (no Spark job)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in sorted(Path(path).glob("*.parquet")))


def _count_pairs(sizes: np.ndarray, giant: np.ndarray) -> dict[tuple[int, bool], int]:
    """Clusters by (size, giant)."""
    out: dict[tuple[int, bool], int] = {}
    for k, g in zip(sizes.tolist(), giant.tolist()):
        out[(k, g)] = out.get((k, g), 0) + 1
    return out


class _Laps:
    """Wall seconds of the phases of :meth:`NearDedupStage.apply`, in order (``timings_s``)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = round(now - self._start, 3)
        self._start = now


class NearDedupStage(Stage):
    """MinHash + LSH + connected components near-duplicate removal (see the module docstring)."""

    name = "near_dedup"

    def __init__(self, section: Any, ctx: RunContext) -> None:
        super().__init__(section, ctx)
        self.bands, self.rows = section.lsh_params()
        self.params = dedup_index.signature_params(section)
        self.work = Path(ctx.work_dir) / "near_dedup"
        self._signatures_path: Optional[Path] = None
        self._index_versions: list[Path] = []

    # ------------------------------------------------------------------ driver-side checks
    def prepare(self) -> None:
        """Check the LSH parameters and, in incremental mode, that the index matches them."""
        s = self.section
        if self.bands * self.rows > s.num_perm:  # pragma: no cover - the config validates this
            raise StageConfigError("near_dedup.bands * near_dedup.rows must not exceed near_dedup.num_perm")
        if s.index_path:
            manifest = dedup_index.read_manifest(s.index_path)
            if manifest:
                dedup_index.check_compatible(manifest, self.params, s.index_path)
            self._index_versions = dedup_index.committed_versions(s.index_path)

    # ------------------------------------------------------------------ the stage
    def apply(self, df: DataFrame) -> DataFrame:
        """Add dup_cluster_id, dup_cluster_size, dup_giant_cluster and near_dedup_reason (same rows).

        Every step writes its table under ``ctx.work_dir/near_dedup/`` (:meth:`_checkpoint`) and the
        next one reads it back; the steps follow the plan of the module docstring.
        """
        s = self.section
        lap = _Laps()
        if s.index_path and not self._index_versions:
            self.prepare()
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True, exist_ok=True)

        sig = self._signatures(df)
        lap("signatures")
        n_docs = _parquet_rows(self.work / "signatures")
        planned = None
        if not self._index_versions and n_docs <= s.driver_clustering_max_documents:
            planned = self._cluster_on_driver(sig, lap)  # None when doc ids repeat (the Spark plan merges them)
        info, result = planned if planned is not None else self._cluster_on_spark(sig, lap)
        # The expensive work is done and written; what is left is a join with the result. A small result
        # (the driver plan's, up to BROADCAST_RESULT_ROWS rows) is broadcast and the stage's output is
        # cheap to recompute, so the runner need not write it once more (``materialize``).
        small = planned is not None and info["documents_in_clusters"] + info["errors"] <= BROADCAST_RESULT_ROWS
        self.materialize = not small
        if small:
            result = F.broadcast(result)
        info["timings_s"] = lap.timings
        self.ctx.stage_info[self.name] = info
        log.info(
            "near_dedup: %d documents, %d clusters, %d duplicates, %d iterations (%s)",
            info["documents"], info["clusters"], info["duplicates"], info["cc_iterations"], info["clustering"],
        )
        return self._join_back(df, result)

    def _cluster_on_driver(self, sig: DataFrame, lap: "_Laps") -> Optional[tuple[dict[str, Any], DataFrame]]:
        """Steps 2 to 5 on the driver, vectorised with numpy: the same clusters, survivors and statistics as
        :meth:`_cluster_on_spark`, without its dozen small Spark jobs (runs of up to
        ``driver_clustering_max_documents`` documents, outside incremental mode). Returns ``(info, result)``,
        or None (nothing done) when doc ids repeat.

        The signatures table is read once with pyarrow (doc_id, band keys and the survivor rule's inputs,
        about ``8 * bands`` bytes per document plus the ids); only candidate verification, when
        configured, runs as a Spark job (:meth:`_verify`). The result is written to
        ``ctx.work_dir/near_dedup/result`` like the Spark plan's.
        """
        s = self.section
        columns = ["doc_id", "source", "n_chars", "priority", "n_shingles", "band_keys"]
        table = pq.read_table(str(self.work / "signatures"), columns=columns)
        n_docs = table.num_rows
        if pc.count_distinct(table.column("doc_id")).as_py() != n_docs:
            log.warning("near_dedup: doc_id values repeat; clustering with Spark jobs, which treat them as one node")
            return None
        n_sh = table.column("n_shingles").to_numpy(zero_copy_only=False)
        with_shingles, errors = int((n_sh > 0).sum()), int((n_sh < 0).sum())
        info: dict[str, Any] = {
            "documents": n_docs,
            "documents_with_shingles": with_shingles,
            "documents_without_shingles": n_docs - with_shingles - errors,
            "errors": errors,
            "params": {**self.params, "threshold": s.threshold, "verification": s.verification, "survivor": s.survivor},
            "clustering": "driver",
        }
        # Nodes 0..m-1: the documents with a shingle in doc_id order, so that smaller node = smaller doc_id.
        order = pc.sort_indices(table.column("doc_id")).to_numpy()
        rows = order[n_sh[order] > 0]
        ids = table.column("doc_id").take(pa.array(rows)).to_numpy(zero_copy_only=False)
        m = len(rows)
        keys = table.column("band_keys").take(pa.array(rows)).combine_chunks().flatten().to_numpy()
        keys = keys.astype(np.int64, copy=False).reshape(m, self.bands)
        lap("read")

        src, dst, bstats = components.bucket_star_edges(keys, s.max_bucket_size, s.on_huge_bucket == "skip")
        info.update(bstats)
        if info["huge_buckets"]:
            log.warning(
                "near_dedup: %d buckets have more than %d members (largest %d); on_huge_bucket=%s",
                info["huge_buckets"], s.max_bucket_size, info["largest_bucket"], s.on_huge_bucket,
            )
        info["candidate_edges"] = len(src)
        if s.verification != "none" and len(src):
            src, dst = self._verify_on_driver(ids, src, dst, sig)
            info["verified_edges"] = len(src)
        lap("buckets")

        labels, info["cc_iterations"] = components.component_labels(m, src, dst)
        lap("components")

        clustered = np.zeros(m, dtype=bool)
        clustered[src] = True
        clustered[dst] = True
        node = np.flatnonzero(clustered)
        root = labels[node]
        roots, sizes = np.unique(root, return_counts=True)
        size_of = np.zeros(m, dtype=np.int64)
        size_of[roots] = sizes
        # Survivor: the smallest (rule keys..., node) of each cluster; node order is doc_id order, so
        # with lowest_doc_id it is the root itself.
        survivor_of = np.zeros(m, dtype=np.int64)
        rule_keys = self._driver_survivor_keys(table, rows[node])
        if rule_keys:
            best = np.lexsort((node, *reversed(rule_keys), root))  # lexsort: the last key is the primary one
            survivor_of[roots] = node[best[np.r_[0, np.cumsum(sizes)[:-1]]]]
        else:
            survivor_of[roots] = roots
        giant_limit = max(s.giant_cluster_share * n_docs, float(s.giant_cluster_min_size))
        giant_cluster = sizes > giant_limit
        groups = [
            {"size": int(k), "with_index": False, "giant": bool(g), "clusters": int(c)}
            for (k, g), c in _count_pairs(sizes, giant_cluster).items()
        ]
        self._guard_giant_clusters(groups, giant_limit, info)
        self._summarize(groups, info)
        giant = size_of[root] > giant_limit
        lap("clusters")

        err_ids = table.column("doc_id").filter(pa.array(n_sh < 0))
        result = pa.table({
            "doc_id": pa.concat_arrays([pa.array(ids[node], pa.string()), err_ids.combine_chunks().cast(pa.string())]),
            "_cluster_id": pa.array(list(ids[root]) + [None] * len(err_ids), pa.string()),
            "_cluster_size": pa.array(np.r_[size_of[root], np.zeros(len(err_ids), np.int64)].astype(np.int32),
                                      mask=np.r_[np.zeros(len(node), bool), np.ones(len(err_ids), bool)]),
            "_giant": pa.array(np.r_[giant, np.zeros(len(err_ids), bool)]),
            "_dup": pa.array(np.r_[~giant & (node != survivor_of[root]), np.zeros(len(err_ids), bool)]),
            "_error": pa.array(np.r_[np.zeros(len(node), bool), np.ones(len(err_ids), bool)]),
        })
        path = self.work / "result"
        path.mkdir(parents=True, exist_ok=True)
        pq.write_table(result, str(path / "part-00000.parquet"))
        result_df = self.ctx.spark.read.parquet(str(path))
        lap("result")

        top = []
        if s.stats_top_clusters:
            multi = np.flatnonzero(sizes > 1)
            pick = multi[np.lexsort((roots[multi], -sizes[multi]))][: s.stats_top_clusters]
            sources = table.column("source").take(pa.array(rows[node])).to_pylist()
            mix: dict[int, dict[str, int]] = {}
            wanted = set(roots[pick].tolist())
            for r, src_name in zip(root.tolist(), sources):
                if r in wanted:
                    key = src_name if src_name is not None else "(none)"
                    mix.setdefault(r, {})[key] = mix.setdefault(r, {}).get(key, 0) + 1
            top = [
                {
                    "cluster_id": ids[roots[i]],
                    "size": int(sizes[i]),
                    "index_members": 0,
                    "survivor": None if giant_cluster[i] else ids[survivor_of[roots[i]]],
                    "giant": bool(giant_cluster[i]),
                    "sources": dict(sorted(mix.get(int(roots[i]), {}).items())),
                }
                for i in pick
            ]
        self._write_stats_file(top, info)
        lap("statistics")
        return info, result_df

    def _driver_survivor_keys(self, table: pa.Table, rows: np.ndarray) -> list[np.ndarray]:
        """The survivor rule's sort keys (most significant first) for the given signature rows, ordered as
        Spark orders the struct of :meth:`_survivor_order` (a null sorts first, NaN last)."""
        rule = self.section.survivor
        if rule == "lowest_doc_id":
            return []
        if rule == "longest":
            col = table.column("n_chars").take(pa.array(rows))
            val = -col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)
            return [np.where(col.is_null().to_numpy(zero_copy_only=False), -np.inf, val)]  # null first
        col = table.column("priority").take(pa.array(rows))
        null = col.is_null().to_numpy(zero_copy_only=False)
        val = col.fill_null(0.0).to_numpy(zero_copy_only=False).astype(np.float64)
        if self.section.survivor_order == "desc":
            val = -val
        # Spark: null loses (k0), then NaN is larger than every number (numpy's lexsort agrees), then the id.
        return [null.astype(np.int8), val]

    def _verify_on_driver(
        self, ids: np.ndarray, src: np.ndarray, dst: np.ndarray, sig: DataFrame
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate verification of the driver plan: the edges go through :meth:`_verify` (a Spark job)."""
        path = self.work / "candidate_edges"
        path.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.table({"src": pa.array(ids[src], pa.string()), "dst": pa.array(ids[dst], pa.string()),
                      "i": pa.array(np.arange(len(src), dtype=np.int64))}),
            str(path / "part-00000.parquet"),
        )
        edges = self.ctx.spark.read.parquet(str(path))
        passed = self._verify(edges.select("src", "dst"), sig, None)
        node_of = {doc: i for i, doc in enumerate(ids.tolist())}
        kept = passed.toArrow() if hasattr(passed, "toArrow") else pa.Table.from_pandas(passed.toPandas())
        s_ids, d_ids = kept.column("src").to_pylist(), kept.column("dst").to_pylist()
        pairs = np.array(sorted((node_of[a], node_of[b]) for a, b in zip(s_ids, d_ids)), dtype=np.int64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]

    def _cluster_on_spark(self, sig: DataFrame, lap: "_Laps") -> tuple[dict[str, Any], DataFrame]:
        """Steps 2 to 5 as Spark jobs (any input size, incremental mode): ``(info, result)``."""
        info = self._totals(sig)
        info["clustering"] = "spark"
        keys, index_docs = self._band_keys(sig)
        lap("totals")
        buckets = self._buckets(keys, info)
        lap("buckets")
        edges, n_edges = self._edges(keys, buckets, sig, index_docs, info)
        lap("edges")
        labels = self._components(edges, n_edges, info)
        lap("components")
        members = self._members(labels, sig, keys, index_docs)
        lap("members")
        clusters = self._clusters(members, info)
        lap("clusters")
        result = self._result(members, clusters, sig)
        lap("result")
        self._write_stats(clusters, members, info)
        lap("statistics")
        return info, result

    # ------------------------------------------------------------------ the steps of apply
    def _checkpoint(self, df: DataFrame, name: str) -> DataFrame:
        """Write ``df`` as Parquet to ``ctx.work_dir/near_dedup/<name>`` and read it back.

        The table is computed once however often the later steps use it, and its lineage is cut.
        """
        path = self.work / name
        df.write.mode("overwrite").parquet(str(path))
        return self.ctx.spark.read.parquet(str(path))

    def _signatures(self, df: DataFrame) -> DataFrame:
        """Step 1: shingle count, signature, band keys (and shingle set) per document (``signatures``)."""
        s = self.section
        priority = self._priority_column(df)
        n_chars = F.col("n_chars") if "n_chars" in df.columns else F.length("text").cast("long")
        source = F.col("source") if "source" in df.columns else F.lit(None).cast("string")
        inputs = df.select(
            F.col("doc_id"),
            source.alias("source"),
            n_chars.cast("long").alias("n_chars"),
            priority.cast("double").alias("priority"),
            F.col("text"),
        )
        udf = _signature_udf(
            s.shingle, s.ngram, s.num_perm, s.seed, self.bands, self.rows, s.verification == "exact"
        )
        sig = self._checkpoint(inputs.mapInArrow(udf, _SIGNATURE_SCHEMA), "signatures")
        self._signatures_path = self.work / "signatures"
        return sig

    def _totals(self, sig: DataFrame) -> dict[str, Any]:
        """The stage info's document counts and parameters (one aggregation)."""
        s = self.section
        totals = sig.agg(
            F.count("*").alias("docs"),
            F.sum(F.when(F.col("n_shingles") > 0, 1).otherwise(0)).alias("with_shingles"),
            F.sum(F.when(F.col("n_shingles") < 0, 1).otherwise(0)).alias("errors"),
        ).first()
        n_docs = int(totals["docs"])
        with_shingles, errors = int(totals["with_shingles"] or 0), int(totals["errors"] or 0)
        return {
            "documents": n_docs,
            "documents_with_shingles": with_shingles,
            "documents_without_shingles": n_docs - with_shingles - errors,
            "errors": errors,
            "params": {**self.params, "threshold": s.threshold, "verification": s.verification, "survivor": s.survivor},
        }

    def _band_keys(self, sig: DataFrame) -> tuple[DataFrame, Optional[DataFrame]]:
        """Step 2a: ``(doc_id, band, key, is_index)`` rows of this run, plus the index's rows sharing a key.

        Returns ``(keys, index_docs)``; ``index_docs`` (``doc_id, signature`` of every index document)
        is None outside incremental mode. With an index, the keys are written once (``keys``).
        """
        run_keys = sig.where(F.col("n_shingles") > 0).select(
            "doc_id", F.posexplode("band_keys").alias("band", "key")
        ).withColumn("is_index", F.lit(False))
        if not self._index_versions:
            return run_keys, None
        idx = self._union_versions(
            "keys", lambda part: part.select("doc_id", F.col("band").cast("int").alias("band"), "key")
        )
        idx = idx.join(run_keys.select("band", "key").distinct(), ["band", "key"], "left_semi")
        keys = run_keys.unionByName(idx.withColumn("is_index", F.lit(True)).select(*run_keys.columns))
        index_docs = self._union_versions("docs", lambda part: part.select("doc_id", "signature"))
        # the index side is read once, not once per use
        return self._checkpoint(keys, "keys"), index_docs

    def _union_versions(self, table: str, project: Callable[[DataFrame], DataFrame]) -> DataFrame:
        """``project`` of the table ``keys`` or ``docs`` of every committed index version, unioned by name."""
        out = None
        for v in self._index_versions:
            part = project(self.ctx.spark.read.parquet(str(v / table)))
            out = part if out is None else out.unionByName(part)
        return out

    def _buckets(self, keys: DataFrame, info: dict[str, Any]) -> DataFrame:
        """Step 2b: ``(band, key, root, size, run_members)`` of buckets with two members or more.

        Only buckets with a member of this run; ``root`` is the minimum doc_id. Huge buckets are counted
        (and, with ``on_huge_bucket: skip``, dropped).
        """
        s = self.section
        buckets = (
            keys.groupBy("band", "key")
            .agg(
                F.min("doc_id").alias("root"),
                F.count("*").alias("size"),
                F.sum(F.when(~F.col("is_index"), 1).otherwise(0)).alias("run_members"),
            )
            .where((F.col("size") > 1) & (F.col("run_members") > 0))
        )
        buckets = self._checkpoint(buckets, "buckets")
        bstats = buckets.agg(
            F.count("*").alias("n"),
            F.sum(F.when(F.col("size") > s.max_bucket_size, 1).otherwise(0)).alias("huge"),
            F.max("size").alias("largest"),
        ).first()
        info["candidate_buckets"] = int(bstats["n"])
        info["huge_buckets"] = int(bstats["huge"] or 0)
        info["largest_bucket"] = int(bstats["largest"] or 0)
        if info["huge_buckets"]:
            log.warning(
                "near_dedup: %d buckets have more than %d members (largest %d); on_huge_bucket=%s",
                info["huge_buckets"], s.max_bucket_size, info["largest_bucket"], s.on_huge_bucket,
            )
        if s.on_huge_bucket == "skip":
            buckets = buckets.where(F.col("size") <= s.max_bucket_size)
        return buckets

    def _edges(
        self, keys: DataFrame, buckets: DataFrame, sig: DataFrame, index_docs: Optional[DataFrame], info: dict
    ) -> tuple[DataFrame, int]:
        """Steps 2c and 3: star edges ``(src = member, dst = bucket root)``, verified when configured.

        Returns ``(edges, count)``; sets ``info["candidate_edges"]`` (and ``info["verified_edges"]``).
        """
        edges = (
            keys.join(buckets.select("band", "key", "root"), ["band", "key"])
            .where(F.col("doc_id") != F.col("root"))
            .select(F.col("doc_id").alias("src"), F.col("root").alias("dst"))
            .distinct()
        )
        edges = self._checkpoint(edges, "edges")
        n_edges = info["candidate_edges"] = edges.count()
        if self.section.verification != "none" and n_edges:
            edges = self._verify(edges, sig, index_docs)
            n_edges = info["verified_edges"] = edges.count()
        return edges, n_edges

    def _components(self, edges: DataFrame, n_edges: int, info: dict[str, Any]) -> DataFrame:
        """Step 4: ``(node, root)`` labels of every node with an edge (``labels``)."""
        s = self.section
        if n_edges:
            labels, iterations = connected_components(
                edges,
                checkpoint_interval=s.checkpoint_interval,
                max_iterations=s.max_iterations,
                checkpoint_dir=str(self.work / "checkpoints"),
                output_path=str(self.work / "labels"),
            )
        else:
            labels, iterations = self.ctx.spark.createDataFrame([], "node string, root string"), 0
        info["cc_iterations"] = iterations
        return labels

    def _members(
        self, labels: DataFrame, sig: DataFrame, keys: DataFrame, index_docs: Optional[DataFrame]
    ) -> DataFrame:
        """Step 5a: every clustered node with its root, run facts, and whether it is in the run / index."""
        spark = self.ctx.spark
        if index_docs is not None:
            index_ids = (
                keys.where(F.col("is_index")).select(F.col("doc_id").alias("node")).distinct()
                .withColumn("in_index", F.lit(True))
            )
        else:
            index_ids = spark.createDataFrame([], "node string, in_index boolean")
        run_info = sig.select(
            F.col("doc_id").alias("node"), "source", "n_chars", "priority", F.lit(True).alias("in_run")
        )
        members = (
            labels.join(run_info, "node", "left")
            .join(index_ids, "node", "left")
            .select(
                "node", "root", "source", "n_chars", "priority",
                F.coalesce("in_run", F.lit(False)).alias("in_run"),
                F.coalesce("in_index", F.lit(False)).alias("in_index"),
            )
        )
        return self._checkpoint(members, "members")

    def _clusters(self, members: DataFrame, info: dict[str, Any]) -> DataFrame:
        """Step 5b: ``(root, size, index_members, survivor, giant)`` per cluster, then the giant guard."""
        s = self.section
        order = self._survivor_order()
        clusters = members.groupBy("root").agg(
            F.sum(F.col("in_run").cast("int")).alias("size"),
            F.sum(F.col("in_index").cast("int")).alias("index_members"),
            F.min(F.when(F.col("in_run"), F.struct(*order, F.col("node").alias("id")))).alias("best"),
        ).select("root", "size", "index_members", F.col("best.id").alias("survivor"))
        giant_limit = max(s.giant_cluster_share * info["documents"], float(s.giant_cluster_min_size))
        clusters = clusters.withColumn("giant", F.col("size") > F.lit(giant_limit))
        clusters = self._checkpoint(clusters, "clusters")

        # One small aggregation gives the size histogram, the duplicate count and the guard's input.
        groups = (
            clusters.groupBy("size", (F.col("index_members") > 0).alias("with_index"), "giant")
            .agg(F.count("*").alias("clusters"))
            .collect()
        )
        self._guard_giant_clusters(groups, giant_limit, info)
        self._summarize(groups, info)
        return clusters

    def _guard_giant_clusters(self, groups: list, giant_limit: float, info: dict[str, Any]) -> None:
        """Count giant clusters; with ``on_giant_cluster: fail`` raise :class:`GiantClusterError`."""
        giant_groups = [g for g in groups if g["giant"]]
        info["giant_cluster_limit"] = giant_limit
        info["giant_clusters"] = sum(int(g["clusters"]) for g in giant_groups)
        if giant_groups and self.section.on_giant_cluster == "fail":
            sizes = ", ".join(str(g["size"]) for g in sorted(giant_groups, key=lambda g: -g["size"])[:10])
            raise GiantClusterError(
                f"near_dedup: {info['giant_clusters']} cluster(s) exceed the giant-cluster guard of "
                f"{giant_limit:.0f} documents (sizes: {sizes}); this usually means boilerplate or a too "
                "permissive configuration: raise near_dedup.threshold or near_dedup.ngram, set "
                "near_dedup.verification: exact, or set near_dedup.on_giant_cluster: flag to keep those "
                "clusters and flag them (near_dedup.giant_cluster_share raises the guard)"
            )

    def _result(self, members: DataFrame, clusters: DataFrame, sig: DataFrame) -> DataFrame:
        """Step 5c: per clustered or failed document of the run, its cluster facts and verdict (``result``)."""
        per_doc = (
            members.where("in_run")
            .join(clusters, "root")
            .select(
                F.col("node").alias("doc_id"),
                F.col("root").alias("_cluster_id"),
                F.col("size").cast("int").alias("_cluster_size"),
                F.col("giant").alias("_giant"),
                (~F.col("giant") & ((F.col("index_members") > 0) | (F.col("node") != F.col("survivor")))).alias("_dup"),
            )
        )
        errors = sig.where(F.col("n_shingles") < 0).select(
            "doc_id",
            F.lit(None).cast("string").alias("_cluster_id"),
            F.lit(None).cast("int").alias("_cluster_size"),
            F.lit(False).alias("_giant"),
            F.lit(False).alias("_dup"),
        )
        result = per_doc.unionByName(errors).withColumn("_error", F.col("_cluster_id").isNull())
        return self._checkpoint(result, "result")

    def _join_back(self, df: DataFrame, result: DataFrame) -> DataFrame:
        """The documents with the stage's columns; singletons are their own one-document cluster."""
        out = df.join(result, "doc_id", "left")
        return out.select(
            *[F.col(c) for c in df.columns],
            F.coalesce(F.col("_cluster_id"), F.col("doc_id")).alias("dup_cluster_id"),
            F.coalesce(F.col("_cluster_size"), F.lit(1)).cast("int").alias("dup_cluster_size"),
            F.coalesce(F.col("_giant"), F.lit(False)).alias("dup_giant_cluster"),
            F.when(F.coalesce(F.col("_error"), F.lit(False)), F.lit(ERROR_REASON))
            .when(F.coalesce(F.col("_dup"), F.lit(False)), F.lit(DUPLICATE_REASON))
            .otherwise(F.lit(None).cast("string"))
            .alias(self.reason_column),
        )

    # ------------------------------------------------------------------ incremental index
    def finalize(self, kept: DataFrame) -> None:
        """Write the index delta (band keys + signatures of the kept documents) into the staging output.

        Only in incremental mode (``near_dedup.index_path``). The delta moves with the output; the
        runner publishes it with :func:`pipelines.stages.near_dedup_index.commit_index` after the commit.
        """
        s, spark = self.section, self.ctx.spark
        if not s.index_path:
            return
        if self._signatures_path is None:
            raise StageConfigError(
                "near_dedup.finalize() called before apply(); call apply() on the run's documents first"
            )
        delta = self.ctx.side_output_dir(self.name) / dedup_index.DELTA_DIRNAME
        if delta.exists():
            shutil.rmtree(delta)
        sig = spark.read.parquet(str(self._signatures_path)).where(F.col("n_shingles") > 0)
        docs = sig.join(kept.select("doc_id").distinct(), "doc_id", "left_semi")
        if self._index_versions:
            known = self._union_versions("docs", lambda part: part.select("doc_id"))
            docs = docs.join(known, "doc_id", "left_anti")
        docs = self._checkpoint(docs.select("doc_id", "signature", "band_keys"), "delta_docs")
        docs.select("doc_id", "signature").repartition(max(1, self.ctx.num_partitions), "doc_id").sortWithinPartitions(
            "doc_id"
        ).write.parquet(str(delta / "docs"))
        (
            docs.select("doc_id", F.posexplode("band_keys").alias("band", "key"))
            .repartition(self.bands, "band")
            .sortWithinPartitions("band", "key", "doc_id")
            .write.partitionBy("band")
            .parquet(str(delta / "keys"))
        )
        written = spark.read.parquet(str(delta / "docs")).count()
        n_keys = spark.read.parquet(str(delta / "keys")).count()
        dedup_index.write_delta_manifest(delta, self.ctx.run_id, self.params, written, n_keys)
        self.ctx.stage_info.setdefault(self.name, {})["index_delta"] = {
            "documents": written,
            "keys": n_keys,
            "index_path": s.index_path,
        }
        log.info("near_dedup: index delta of %d documents staged", written)

    # ------------------------------------------------------------------ helpers
    def _priority_column(self, df: DataFrame) -> Column:
        """The survivor rule's value column (null for ``lowest_doc_id`` and ``longest``), checked."""
        rule = self.section.survivor
        if rule in ("lowest_doc_id", "longest"):
            return F.lit(None).cast("double")
        fields = {f.name: f.dataType for f in df.schema.fields}
        numeric = sorted(n for n, t in fields.items() if isinstance(t, T.NumericType))
        if rule not in fields:
            raise StageConfigError(
                f"near_dedup.survivor names column {rule!r}, which the documents do not have at the near_dedup "
                f"stage; use lowest_doc_id, longest or one of the numeric columns: {', '.join(numeric) or '(none)'}"
            )
        if not isinstance(fields[rule], T.NumericType):
            raise StageConfigError(
                f"near_dedup.survivor column {rule!r} is not numeric; use one of: {', '.join(numeric) or '(none)'}"
            )
        return F.col(rule)

    def _survivor_order(self) -> list:
        """Struct fields whose minimum is the survivor (the member's own id is appended last)."""
        s = self.section
        if s.survivor == "lowest_doc_id":
            return []
        if s.survivor == "longest":
            return [(-F.col("n_chars")).alias("k1")]
        value = -F.col("priority") if s.survivor_order == "desc" else F.col("priority")
        # Missing values lose: (isnull, value) sorts non-null first.
        return [F.col("priority").isNull().alias("k0"), value.alias("k1")]

    def _verify(self, edges: DataFrame, sig: DataFrame, index_docs: Optional[DataFrame]) -> DataFrame:
        """Step 3: the edges whose similarity reaches ``threshold`` (all of them written, ``verified_edges``)."""
        s = self.section
        ends = sig.select("doc_id", "signature", "shingles")
        if index_docs is not None:
            ends = ends.unionByName(
                index_docs.join(sig.select("doc_id"), "doc_id", "left_anti").withColumn(
                    "shingles", F.lit(None).cast("binary")
                )
            )
        a = ends.select(
            F.col("doc_id").alias("src"), F.col("signature").alias("sig_src"), F.col("shingles").alias("sh_src")
        )
        b = ends.select(
            F.col("doc_id").alias("dst"), F.col("signature").alias("sig_dst"), F.col("shingles").alias("sh_dst")
        )
        joined = edges.join(a, "src", "left").join(b, "dst", "left").select(
            "src", "dst", "sig_src", "sig_dst", "sh_src", "sh_dst"
        )
        checked = joined.mapInArrow(
            _verify_udf(s.threshold, s.verification == "exact"),
            "src string, dst string, similarity double, passed boolean",
        )
        return self._checkpoint(checked, "verified_edges").where("passed").select("src", "dst")


    @staticmethod
    def _summarize(groups: list, info: dict) -> None:
        """Cluster counts from the (size, with_index, giant) -> clusters histogram."""
        by_size: dict[int, int] = {}
        duplicates = giant_docs = with_index = 0
        for g in groups:
            size, n = int(g["size"]), int(g["clusters"])
            if g["giant"]:
                giant_docs += size * n
            elif g["with_index"]:
                duplicates += size * n  # the kept copy is in an earlier run
            else:
                duplicates += (size - 1) * n
            if size > 1 or g["with_index"]:
                by_size[size] = by_size.get(size, 0) + n
                with_index += n if g["with_index"] else 0
        info["clusters_by_size"] = [
            {"size": k, "clusters": v, "documents": k * v} for k, v in sorted(by_size.items())
        ]
        info["clusters"] = sum(by_size.values())
        info["documents_in_clusters"] = sum(k * v for k, v in by_size.items())
        info["duplicates"] = duplicates
        info["giant_cluster_documents"] = giant_docs
        info["clusters_with_index_documents"] = with_index
        info["largest_cluster"] = max(by_size, default=1)

    def _write_stats(self, clusters: DataFrame, members: DataFrame, info: dict) -> None:
        """Write ``cluster_stats.json`` (clusters by size, the largest clusters with their source mix)."""
        s = self.section
        multi = clusters.where(F.col("size") + F.col("index_members") > 1)
        top = []
        if s.stats_top_clusters:
            top = multi.orderBy(F.desc("size"), "root").limit(s.stats_top_clusters).collect()
        mix: dict[str, dict[str, int]] = {}
        if top:
            roots = [r["root"] for r in top]
            for r in (
                members.where(F.col("in_run") & F.col("root").isin(roots)).groupBy("root", "source").count().collect()
            ):
                mix.setdefault(r["root"], {})[r["source"] if r["source"] is not None else "(none)"] = int(r["count"])
        largest = [
            {
                "cluster_id": r["root"],
                "size": int(r["size"]),
                "index_members": int(r["index_members"]),
                "survivor": None if (r["index_members"] or r["giant"]) else r["survivor"],
                "giant": bool(r["giant"]),
                "sources": dict(sorted(mix.get(r["root"], {}).items())),
            }
            for r in top
        ]
        self._write_stats_file(largest, info)

    def _write_stats_file(self, largest: list[dict], info: dict) -> None:
        """``cluster_stats.json`` from the run's figures and the largest clusters."""
        stats = {
            "stage": self.name,
            "documents": info["documents"],
            "duplicates": info["duplicates"],
            "clusters": info["clusters"],
            "clusters_by_size": info["clusters_by_size"],
            "largest_clusters": largest,
            "params": info["params"],
        }
        path = self.ctx.side_output_dir(self.name) / "cluster_stats.json"
        path.write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")


__all__ = ["DUPLICATE_REASON", "ERROR_REASON", "GiantClusterError", "NearDedupStage", "connected_components"]
