"""A minimal DocumentStage through Spark: the schema derived from the declared Arrow types, the values,
the rewritten column in place, a failing document marked ``<name>:error``, prepare run once."""
from __future__ import annotations

import pyarrow as pa
from pyspark.sql.types import ArrayType, LongType, MapType, StringType

from pipelines.stages.base import Batch, DocumentStage, RunContext
from schemas.config import load_config


class TinyStage(DocumentStage):
    name = "tiny"
    columns = (
        ("tiny_words", pa.int64()),
        ("tiny_first", pa.list_(pa.string())),
        ("tiny_counts", pa.map_(pa.string(), pa.int64())),
        ("tiny_reason", pa.string()),
    )
    rewrites = ("text",)

    def prepare(self) -> None:
        self.ctx.stage_info["tiny"] = self.ctx.stage_info.get("tiny", 0) + 1

    def worker_payload(self):
        return {"marker": self.section}

    @classmethod
    def load(cls, payload):
        return payload["marker"]

    @classmethod
    def process(cls, model, batch: Batch):
        texts = batch.column("text")
        if any(t == "boom" for t in texts):
            raise ValueError("boom")
        words = [t.split() for t in texts]
        return {
            "text": [f"{model}{t}" for t in texts],
            "tiny_words": [len(w) for w in words],
            "tiny_first": [w[:1] for w in words],
            "tiny_counts": [sorted({x: w.count(x) for x in w}.items()) for w in words],
            "tiny_reason": ["tiny:empty" if not w else None for w in words],
        }


def test_a_document_stage_runs_through_spark(spark, tmp_path):
    cfg = load_config(None, [])
    ctx = RunContext(spark=spark, config=cfg, run_id="t", staging_dir=tmp_path / "s", work_dir=tmp_path / "w",
                     num_partitions=2)
    stage = TinyStage(">", ctx)
    docs = [("a", "b b c"), ("b", "boom"), ("c", ""), ("d", "x")]
    df = spark.createDataFrame(docs, "doc_id string, text string").repartition(2)
    out = stage.apply(df)
    assert out.columns == ["doc_id", "text", "tiny_words", "tiny_first", "tiny_counts", "tiny_reason"]
    types = {f.name: f.dataType for f in out.schema.fields}
    assert types["tiny_words"] == LongType() and types["tiny_reason"] == StringType()
    assert types["tiny_first"] == ArrayType(StringType(), True)
    assert types["tiny_counts"] == MapType(StringType(), LongType(), True)
    rows = {r["doc_id"]: r.asDict() for r in out.collect()}
    assert rows["a"] == {"doc_id": "a", "text": ">b b c", "tiny_words": 3, "tiny_first": ["b"],
                         "tiny_counts": {"b": 2, "c": 1}, "tiny_reason": None}
    assert rows["b"] == {"doc_id": "b", "text": "boom", "tiny_words": None, "tiny_first": None,
                         "tiny_counts": None, "tiny_reason": "tiny:error"}
    assert rows["c"]["tiny_reason"] == "tiny:empty" and rows["c"]["text"] == ">"
    assert rows["d"]["text"] == ">x" and rows["d"]["tiny_words"] == 1
    assert stage.apply(out).columns == out.columns  # rerun: its own columns replaced, not duplicated
    assert ctx.stage_info["tiny"] == 1  # prepare ran once for both applies
