"""The ``decontaminate`` stage: documents that contain evaluation-benchmark items, by hashed n-grams.

Columns added: ``decontam_ngrams`` (distinct eval n-grams found in the document, plus whole short items),
``decontam_sets`` (the sets the document is flagged for, in config order), ``decontam_items`` (the
matched items as ``"<set>:<item id>"``, most matched n-grams first, at most ``max_item_ids``) and
``decontaminate_reason`` (``decontaminate:<first flagged set>``, ``decontaminate:error`` or null).

The driver reads the evaluation sets, builds the index (:func:`pipelines.text.decontam.build_index`) and
broadcasts it once; every Python worker unpickles it once and matches its documents map-side, so the
documents' n-grams never leave their task. Above ``bloom_above_ngrams`` distinct n-grams the workers get
a Bloom filter instead of the exact table: they emit their (few) candidate hashes, which are confirmed
and mapped to item ids by joining only those candidates with the exact (hash, item) table; the outcome is
the same as in exact mode (docs/decontaminate.md).
"""
from __future__ import annotations

import hashlib
import logging
import pickle
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.text.assets import bundled_name, materialize
from pipelines.text.decontam import (
    HASH_VERSION,
    DecontamIndex,
    EvalSetError,
    Matcher,
    build_index,
    read_eval_set,
    summarize,
)

from .base import Batch, DocumentStage, StageConfigError, worker_model

log = logging.getLogger(__name__)

_STR_LIST = pa.list_(pa.string())
_CANDIDATES = "_decontam_candidates"
_SHORT = "_decontam_short"
#: The stage's public columns (the internal Bloom-mode columns are dropped before the stage returns).
PUBLIC_COLUMNS = ("decontam_ngrams", "decontam_sets", "decontam_items", "decontaminate_reason")


def _set_path(path: str) -> Path:
    """A set path from the config: a bundled file (``pipelines/...``) or a user path."""
    name = bundled_name(path)
    return materialize(name) if name is not None else Path(path).expanduser().resolve()


class DecontaminateStage(DocumentStage):
    """Benchmark decontamination; see the module docstring for the columns it adds."""

    name = "decontaminate"
    columns = (
        ("decontam_ngrams", pa.int64()),
        ("decontam_sets", _STR_LIST),
        ("decontam_items", _STR_LIST),
        (_CANDIDATES, pa.list_(pa.int64())),
        (_SHORT, pa.list_(pa.int32())),
        ("decontaminate_reason", pa.string()),
    )

    def __init__(self, section: Any, ctx: Any) -> None:
        super().__init__(section, ctx)
        self._index: DecontamIndex | None = None
        self._use_bloom = False
        self._broadcast: Any = None
        self._fingerprint = ""

    # ------------------------------------------------------------------ driver side
    def prepare(self) -> None:
        """Read every set (fails before any data moves when one is missing, unreadable or empty), build the
        index, record each set's sha256 and counts, and broadcast the workers' index."""
        s = self.section
        data = []
        for spec in s.sets:
            try:
                data.append(read_eval_set(spec.name, _set_path(spec.path), spec.fields, spec.id_field))
            except (EvalSetError, FileNotFoundError) as exc:
                raise StageConfigError(str(exc)) from None
        index = build_index(data, ngram=s.ngram, min_matches=s.min_matches, short_items=s.short_items,
                            min_item_tokens=s.min_item_tokens, max_item_ids=s.max_item_ids)
        self._index = index
        self._use_bloom = index.n_keys > s.bloom_above_ngrams
        workers = index.for_workers(self._use_bloom, s.bloom_fpr)
        self._fingerprint = hashlib.sha256(
            "|".join([str(HASH_VERSION), repr(sorted(s.model_dump().items())), *(d.sha256 for d in data)]).encode()
        ).hexdigest()
        index_info: dict[str, Any] = {
            "kind": "bloom" if self._use_bloom else "exact",
            "distinct_ngrams": index.n_keys,
            "exact_bytes": index.exact_nbytes(),
            "short_items": int(len(index.short_item)),
        }
        if workers.prefilter is not None:
            index_info["prefilter_bytes"] = workers.prefilter.nbytes
        if workers.bloom is not None:
            bf = workers.bloom
            index_info.update(bloom_bytes=bf.nbytes, bloom_bits=bf.m, bloom_hashes=bf.k, bloom_fpr=round(bf.fpr, 8))
        sets_info = []
        for spec, d in zip(s.sets, data):
            st = index.stats[spec.name]
            self.ctx.assets[f"decontaminate:{spec.name}"] = {"path": spec.path, "sha256": d.sha256, "files": d.files}
            sets_info.append({
                "name": spec.name, "path": spec.path, "sha256": d.sha256, "files": dict(d.files),
                "records": d.records, "items": st.items, "ngram_items": st.ngram_items,
                "short_items_matched_whole": st.short_matched, "short_items_skipped": st.short_skipped,
                "empty_items": st.empty_items, "skipped_records": dict(sorted(d.skipped.items())),
                "distinct_ngrams": st.ngrams,
            })
            if d.skipped:
                why = ", ".join(f"{k}={v}" for k, v in sorted(d.skipped.items()))
                log.warning("decontaminate: set %s: %d of %d records gave no item (%s); see run.json", spec.name,
                            sum(d.skipped.values()), d.records, why)
        self.ctx.stage_info["decontaminate"] = {
            "hash_version": HASH_VERSION, "ngram": s.ngram, "min_matches": s.min_matches,
            "short_items": s.short_items, "min_item_tokens": s.min_item_tokens, "max_item_ids": s.max_item_ids,
            "index": index_info, "sets": sets_info,
        }
        self._broadcast = self.ctx.spark.sparkContext.broadcast(workers)
        log.info("decontaminate: %d sets, %d items, %d distinct %d-grams; workers get the %s index",
                 len(data), len(index.item_ids), index.n_keys, s.ngram, index_info["kind"])

    def worker_payload(self) -> tuple[str, Any]:
        """The index fingerprint (the worker cache key) and the broadcast index."""
        return self._fingerprint, self._broadcast

    # ------------------------------------------------------------------ worker side
    @classmethod
    def load(cls, payload: tuple[str, Any]) -> Matcher:
        return Matcher(payload[1].value)

    @classmethod
    def process(cls, model: Matcher, batch: Batch) -> dict[str, list]:
        results = model.match(batch.column("text"))
        return {
            "decontam_ngrams": [r.ngrams for r in results],
            "decontam_sets": [r.sets for r in results],
            "decontam_items": [r.items for r in results],
            _CANDIDATES: [r.candidates for r in results],
            _SHORT: [r.short_items for r in results],
            "decontaminate_reason": [r.reason for r in results],
        }

    # ------------------------------------------------------------------ the Spark plan
    def apply(self, df: Any) -> Any:
        """Match map-side; in Bloom mode, confirm the candidates by a join of the candidates only."""
        out = super().apply(df)
        if not self._use_bloom:
            return out.drop(_CANDIDATES, _SHORT)
        if "doc_id" not in df.columns:
            raise StageConfigError("the decontaminate stage's Bloom mode needs the doc_id column (ingest adds it)")
        return self._confirm(out)

    def _confirm(self, out: Any) -> Any:
        from pyspark.sql import functions as F  # deferred: pyspark, driver side only

        ctx, index = self.ctx, self._index
        assert index is not None
        # The first pass is written once: the confirmation reads it twice (candidates, then the join back).
        pass1_dir = ctx.work_dir / "decontaminate-pass1"
        out.write.mode("overwrite").option("compression", "lz4").parquet(str(pass1_dir))
        pass1 = ctx.spark.read.parquet(str(pass1_dir))
        hashes, items = index.key_table()
        keys_dir = ctx.work_dir / "decontaminate-keys"
        keys_dir.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"_h": hashes.view(np.int64), "_item": items.astype(np.int32)}),
                       keys_dir / "part-00000.parquet", compression="lz4")
        keys = ctx.spark.read.parquet(str(keys_dir))
        cand = pass1.where((F.size(_CANDIDATES) > 0) | (F.size(_SHORT) > 0)).select("doc_id", _CANDIDATES, _SHORT)
        pairs = (cand.select("doc_id", F.explode(_CANDIDATES).alias("_h")).join(keys, "_h")
                 .groupBy("doc_id").agg(F.collect_list("_h").alias("_hs"), F.collect_list("_item").alias("_its")))
        shorts = cand.where(F.size(_SHORT) > 0).select("doc_id", _SHORT)
        grouped = pairs.join(shorts, "doc_id", "full_outer")
        schema = "doc_id string, decontam_ngrams long, decontam_sets array<string>, decontam_items array<string>, " \
                 "decontaminate_reason string"
        payload = self.worker_payload()
        key = hashlib.sha256(pickle.dumps(payload)).hexdigest()  # the first pass's cache key: one copy per worker
        stage_cls = type(self)

        def resolve(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            matcher = worker_model(stage_cls, key, payload)
            for rb in batches:
                rows = rb.to_pylist()
                res = [summarize(matcher.index, np.array(r["_hs"] or [], dtype=np.int64).view(np.uint64),
                                 np.array(r["_its"] or [], dtype=np.int64), r[_SHORT] or []) for r in rows]
                yield pa.RecordBatch.from_pydict({
                    "doc_id": [r["doc_id"] for r in rows],
                    "decontam_ngrams": pa.array([m.ngrams for m in res], pa.int64()),
                    "decontam_sets": pa.array([m.sets for m in res], _STR_LIST),
                    "decontam_items": pa.array([m.items for m in res], _STR_LIST),
                    "decontaminate_reason": pa.array([m.reason for m in res], pa.string()),
                })

        resolved = grouped.mapInArrow(resolve, schema)
        lookup, rows = ctx.lookup_table(resolved, "decontaminate")
        base_cols = [c for c in pass1.columns if c not in PUBLIC_COLUMNS and c not in (_CANDIDATES, _SHORT)]
        ctx.stage_info.setdefault("decontaminate", {}).setdefault("index", {})["confirmed_docs"] = rows
        if not rows:
            return pass1.select(*base_cols, *PUBLIC_COLUMNS)
        r = lookup.select("doc_id", *[F.col(c).alias(f"_r_{c}") for c in PUBLIC_COLUMNS[:-1]],
                          F.col("decontaminate_reason").alias("_r_reason"))
        joined = pass1.join(r, "doc_id", "left")
        return joined.select(
            *base_cols,
            *[F.coalesce(F.col(f"_r_{c}"), F.col(c)).alias(c) for c in PUBLIC_COLUMNS[:-1]],
            F.coalesce(F.col("_r_reason"), F.col("decontaminate_reason")).alias("decontaminate_reason"),
        )


__all__ = ["DecontaminateStage", "PUBLIC_COLUMNS"]
