"""The language mix: curated and rejected documents per detected language (when the language stage ran)."""
from __future__ import annotations

from typing import Optional

from pyspark.sql import functions as F

from schemas.report import LanguageRow, LanguageSummary

from ..rounding import rate
from .tables import RunTables


def languages(t: RunTables) -> Optional[LanguageSummary]:
    """The report's ``languages`` section, or None when the documents have no ``lang`` column."""
    if "lang" not in t.columns:
        return None
    rows = (
        t.docs.where(F.col("lang").isNotNull() | F.col("_kept"))
        .groupBy(F.coalesce(F.col("lang"), F.lit("und")).alias("lang"), "_kept")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("n_chars").alias("c"))
        .collect()
    )
    per: dict[str, dict[str, int]] = {}
    for r in rows:
        p = per.setdefault(r["lang"], {"cur": 0, "chars": 0, "rej": 0})
        if r["_kept"]:
            p["cur"] += r["n"]
            p["chars"] += int(r["c"] or 0)
        else:
            p["rej"] += r["n"]
    cur_total = sum(p["cur"] for p in per.values())
    out = [LanguageRow(lang=k, curated_docs=p["cur"], curated_share=rate(p["cur"], cur_total) or 0.0,
                       curated_chars=p["chars"], rejected_docs=p["rej"])
           for k, p in sorted(per.items(), key=lambda kv: (-kv[1]["cur"], -kv[1]["rej"], kv[0]))]
    return LanguageSummary(
        rows=out, evaluated_docs=sum(p["cur"] + p["rej"] for p in per.values()),
        mix={r.lang: r.curated_share for r in out if r.curated_docs},
    )


__all__ = ["languages"]
