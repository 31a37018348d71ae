"""Configuration section ``decontaminate``: evaluation benchmarks kept out of the training data.

Every document is compared with the evaluation items of one or more sets by word n-grams (13 by
default) after the same normalization on both sides; a document sharing at least ``min_matches``
n-grams with a set (or containing a whole short item of it) is rejected as ``decontaminate:<set>``,
the first matching set in config order::

    decontaminate:
      enabled: true
      mode: drop
      sets:
        - {name: gsm8k, path: /data/eval/gsm8k/test.jsonl, fields: [question, answer]}
        - {name: my_qa, path: /data/eval/my_qa.txt}          # text: one item per line

docs/decontaminate.md describes the normalization, the short-item rule, memory and the report section.
"""
from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from .base import FilterSection, Section

_SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class EvalSet(Section):
    """One evaluation set: a local JSONL, Parquet or text file, or a folder of them."""

    name: str = Field(
        description="Short name used in drop reasons (decontaminate:<name>), columns and the report "
        "(letters, digits, '_', '.', '-'; at most 64 characters)."
    )
    path: str = Field(
        description="A .jsonl/.jsonl.gz/.json (one JSON object per line), .parquet or .txt file, or a folder "
        "whose files of those kinds are all read (sorted by path). A path under pipelines/ names a bundled file."
    )
    fields: list[str] = Field(
        default_factory=list,
        description="JSONL/Parquet: the fields whose text is joined (in this order) into one item, e.g. "
        "[question, answer]. Required for JSONL and Parquet; not used for text files (one item per line).",
    )
    id_field: Optional[str] = Field(
        None,
        description="JSONL/Parquet: the field holding an item's id (shown in decontam_items and the report). "
        "Default: '<file>:<line or row number>'.",
    )

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not _SET_NAME.match(v):
            raise ValueError(
                "a set name must start with a letter or digit and use only letters, digits, '_', '.', '-' "
                "(at most 64 characters)"
            )
        return v

    @field_validator("fields")
    @classmethod
    def _fields_unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v) or any(not f for f in v):
            raise ValueError("list each field once, and no empty field name")
        return v


class DecontaminateSection(FilterSection):
    """Benchmark decontamination by n-gram overlap with evaluation items (docs/decontaminate.md)."""

    sets: list[EvalSet] = Field(
        default_factory=list,
        description="The evaluation sets, in priority order: a document's reason names the first set it matches.",
    )
    ngram: int = Field(13, ge=3, le=64, description="Tokens per n-gram (words; characters for zh, ja, th and "
                       "other scripts written without spaces).")
    min_matches: int = Field(
        1, ge=1,
        description="Distinct n-grams of one set a document must contain to be flagged for that set.",
    )
    short_items: Literal["match", "skip"] = Field(
        "match",
        description="Items with fewer than 'ngram' tokens: 'match' flags a document that contains the whole "
        "normalized item as a contiguous token sequence (when it has at least min_item_tokens tokens); "
        "'skip' ignores them. Either way they are counted in run.json and the report.",
    )
    min_item_tokens: int = Field(
        8, ge=1,
        description="Short items with fewer tokens than this are skipped and counted (too generic to match: "
        "'yes', '42', 'Paris').",
    )
    max_item_ids: int = Field(
        32, ge=1, le=1000,
        description="Cap of the decontam_items list per document (the items with most matched n-grams first).",
    )
    bloom_above_ngrams: int = Field(
        4_000_000, ge=0,
        description="Above this many distinct eval n-grams (about 21 bytes each in the exact table, held by every "
        "Python worker), workers get a Bloom filter instead of the exact hash table, and the (rare) hits are "
        "confirmed and mapped to item ids by a join of the hits only.",
    )
    bloom_fpr: float = Field(
        0.001, gt=0, lt=0.5,
        description="Target false positive rate of the Bloom filter (per n-gram; false positives cost join "
        "work, never a wrong flag: every hit is confirmed exactly).",
    )

    @model_validator(mode="after")
    def _check(self) -> "DecontaminateSection":
        if self.enabled and not self.sets:
            raise ValueError(
                "decontaminate is enabled but lists no evaluation set; add sets: [{name, path, fields}] "
                "or set decontaminate.enabled: false"
            )
        names = [s.name for s in self.sets]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"decontaminate.sets: set names must be unique (repeated: {', '.join(dup)})")
        if self.min_item_tokens > self.ngram:
            raise ValueError("decontaminate.min_item_tokens must not exceed decontaminate.ngram")
        return self


__all__ = ["DecontaminateSection", "EvalSet"]
