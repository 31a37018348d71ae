"""Example rows: the first removed documents per reason (scrubbed previews) and quarantined records per reason.

Only a bounded prefix of each chosen text reaches the driver, and it is scrubbed (:mod:`quality.scrub`)
before it goes anywhere. Quarantined records show their content-free shape only.
"""
from __future__ import annotations

import re

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas.columns import DROP_REASON
from schemas.report import Example, QuarantineExample

from ..scrub import scrub_example
from .tables import RunTables

_SHAPE_ONLY = re.compile(r"^[xX9 ?!-/:-@\[-`{-~]*$")


def first_n(df: DataFrame, group: str, keys: list[str], n: int) -> DataFrame:
    """The ``n`` smallest ``keys`` tuples per ``group`` value, as a lazy DataFrame (group, *keys).

    A ``row_number() <= n`` window over the narrow projection: Spark plans it with a partial
    per-partition group limit before the shuffle (WindowGroupLimit), so at most ``n`` rows per group
    and input partition are shuffled and sorted, however many rows a reason has. One job, computed
    as part of the query that uses it.
    """
    w = Window.partitionBy(group).orderBy(*keys)
    return (
        df.select(group, *keys)
        .withColumn("_rn", F.row_number().over(w))
        .where(F.col("_rn") <= n)
        .drop("_rn")
    )


def removal_examples(t: RunTables, n: int, example_chars: int) -> dict[str, list[Example]]:
    """Up to ``n`` removed documents per drop reason (smallest doc ids), texts scrubbed and truncated."""
    rejected = t.rejected
    out: dict[str, list[Example]] = {}
    chosen = first_n(rejected.where(F.col(DROP_REASON).isNotNull()), DROP_REASON, ["doc_id"], n)
    lang = F.col("lang") if "lang" in rejected.columns else F.lit(None).cast("string")
    rows = (
        rejected.join(F.broadcast(chosen), [DROP_REASON, "doc_id"])
        .select(
            DROP_REASON, "doc_id", "source", lang.alias("lang"), "n_chars",
            # Only a bounded prefix of the text ever reaches the driver.
            F.substring("text", 1, 4 * example_chars).alias("head"),
        )
        .collect()
    )
    for r in sorted(rows, key=lambda r: (r[DROP_REASON] or "", r["doc_id"])):
        out.setdefault(r[DROP_REASON] or "(none)", []).append(Example(
            doc_id=r["doc_id"], source=r["source"], lang=r["lang"], n_chars=int(r["n_chars"] or 0),
            text=scrub_example(r["head"] or "", example_chars),
        ))
    return out


def quarantine_examples(t: RunTables, n: int) -> dict[str, list[QuarantineExample]]:
    """Up to ``n`` quarantined records per reason (first by file and offset), as file, offset and shape."""
    q = t.quarantine
    out: dict[str, list[QuarantineExample]] = {}
    chosen = first_n(q, "reason", ["source_file", "source_offset"], n)
    rows = (
        q.join(F.broadcast(chosen), ["reason", "source_file", "source_offset"])
        .select("reason", "source_file", "source_offset", "offset_unit", "raw_bytes", "raw_prefix")
        .collect()
    )
    for r in sorted(rows, key=lambda r: (r["reason"], r["source_file"], r["source_offset"])):
        # raw_prefix is a content-free shape (pipelines.text.scrub.shape_prefix: x, X, 9, space,
        # ASCII punctuation, ?). Anything else in it was not written by that function: scrub it.
        prefix = r["raw_prefix"]
        shape = None
        if prefix:
            shape = prefix if _SHAPE_ONLY.match(prefix) else scrub_example(prefix, 96)
        out.setdefault(r["reason"], []).append(QuarantineExample(
            file=t.file_names.get(r["source_file"], "(not an input of run.json)"),
            offset=int(r["source_offset"]), offset_unit=r["offset_unit"],
            raw_bytes=None if r["raw_bytes"] is None else int(r["raw_bytes"]), shape=shape,
        ))
    return out


def examples(t: RunTables, removed: int, quarantined: int, n: int,
             example_chars: int) -> tuple[dict[str, list[Example]], dict[str, list[QuarantineExample]]]:
    """Removal and quarantine examples; none when ``n`` is 0 or the run removed / quarantined nothing."""
    out = removal_examples(t, n, example_chars) if n > 0 and t.rejected is not None and removed else {}
    qout = quarantine_examples(t, n) if n > 0 and t.quarantine is not None and quarantined else {}
    return out, qout


__all__ = ["examples", "first_n", "quarantine_examples", "removal_examples"]
