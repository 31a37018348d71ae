"""Contamination figures: per evaluation set, documents matched and distinct items matched, by source."""
from __future__ import annotations

from typing import Optional

from pyspark.sql import functions as F

from schemas.columns import DROP_REASON
from schemas.report import ContaminationSet, ContaminationSource, ContaminationSummary

from ..rounding import rate
from .tables import RunTables


def contamination(t: RunTables) -> Optional[ContaminationSummary]:
    """The report's ``contamination`` section, or None when the decontaminate stage did not run."""
    if "decontam_sets" not in t.columns or "decontam_items" not in t.columns:
        return None
    info = t.manifest.stage_info.get("decontaminate") or {}
    cfg = t.manifest.config.get("decontaminate") or {}
    sets_info = info.get("sets") or []
    names = [s["name"] for s in sets_info]
    docs = t.docs
    src = F.coalesce(F.col("source"), F.lit("unknown")) if "source" in t.columns else F.lit("unknown")
    scanned = docs.where(F.col("decontam_ngrams").isNotNull())
    head = scanned.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(F.size("decontam_sets") > 0, 1).otherwise(0)).alias("matched"),
    ).collect()[0]
    n_error = docs.where(F.col("decontaminate_reason") == "decontaminate:error").count() \
        if "decontaminate_reason" in t.columns else 0
    flagged = scanned.where(F.size("decontam_sets") > 0).select(src.alias("_src"), "decontam_sets", "decontam_items",
                                                                F.col(DROP_REASON))
    # documents per (set, source)
    doc_rows = (flagged.select("_src", F.explode("decontam_sets").alias("_set"))
                .groupBy("_set", "_src").count().collect())
    # distinct items per (set, source) and per set; an item "set:id" counts for its set when flagged for it
    item_pairs = (flagged.select("_src", "decontam_sets", F.explode("decontam_items").alias("_item"))
                  .select("_src", "decontam_sets", F.substring_index("_item", ":", 1).alias("_set"), "_item")
                  .where(F.array_contains("decontam_sets", F.col("_set"))))
    item_rows = item_pairs.groupBy("_set", "_src").agg(F.countDistinct("_item").alias("n")).collect()
    item_totals = {r["_set"]: int(r["n"]) for r in
                   item_pairs.groupBy("_set").agg(F.countDistinct("_item").alias("n")).collect()}
    removed = {}
    if t.rejected is not None and DROP_REASON in t.columns:
        removed = {r[DROP_REASON]: int(r["count"]) for r in
                   docs.where(F.col(DROP_REASON).startswith("decontaminate:")).groupBy(DROP_REASON).count().collect()}
    by_set: dict[str, dict[str, dict[str, int]]] = {n: {} for n in names}
    for r in doc_rows:
        by_set.setdefault(r["_set"], {}).setdefault(r["_src"], {"docs_matched": 0, "items_matched": 0})[
            "docs_matched"] = int(r["count"])
    for r in item_rows:
        by_set.setdefault(r["_set"], {}).setdefault(r["_src"], {"docs_matched": 0, "items_matched": 0})[
            "items_matched"] = int(r["n"])
    out_sets = []
    for s in sets_info:
        name = s["name"]
        per_src = by_set.get(name, {})
        n_items = int(s.get("items") or 0)
        out_sets.append(ContaminationSet(
            name=name, sha256=s.get("sha256"), items=n_items,
            docs_matched=sum(v["docs_matched"] for v in per_src.values()),
            docs_removed=removed.get(f"decontaminate:{name}", 0),
            items_matched=item_totals.get(name, 0), items_matched_share=rate(item_totals.get(name, 0), n_items),
            short_items_matched_whole=int(s.get("short_items_matched_whole") or 0),
            short_items_skipped=int(s.get("short_items_skipped") or 0),
            skipped_records={k: int(v) for k, v in sorted((s.get("skipped_records") or {}).items())},
            by_source={k: ContaminationSource(**v) for k, v in sorted(per_src.items())},
        ))
    return ContaminationSummary(
        mode=str(cfg.get("mode", "drop")), ngram=int(info.get("ngram") or cfg.get("ngram") or 0),
        min_matches=int(info.get("min_matches") or cfg.get("min_matches") or 1),
        index=str((info.get("index") or {}).get("kind", "exact")), docs_scanned=int(head["n"] or 0),
        docs_matched=int(head["matched"] or 0), docs_error=int(n_error), sets=out_sets,
    )


__all__ = ["contamination"]
