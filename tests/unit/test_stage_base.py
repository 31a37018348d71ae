"""DocumentStage's Arrow loop without Spark: declared columns, per-document errors, rewrites, string types,
the worker model cache, the driver-side input check."""
from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pytest

from pipelines.stages import base
from pipelines.stages.base import Batch, DocumentStage, StageConfigError, worker_model

#: (stage name, payload) of every FakeStage.load call.
LOADS: list = []


class FakeStage(DocumentStage):
    """Length and a tag per document; raises on the text "boom" (and on any batch that holds it)."""

    name = "fake"
    columns = (
        ("fake_len", pa.int64()),
        ("fake_tags", pa.list_(pa.string())),
        ("fake_reason", pa.string()),
    )

    @classmethod
    def load(cls, payload):
        LOADS.append((cls.name, payload))
        return {"suffix": payload}

    @classmethod
    def process(cls, model, batch: Batch):
        texts = batch.column("text")
        if "boom" in texts:
            raise ValueError("boom")
        return {
            "fake_len": [len(t) for t in texts],
            "fake_tags": [[t[:1] + model["suffix"]] for t in texts],
            "fake_reason": ["fake:short" if len(t) < 3 else None for t in texts],
        }


class UpperStage(FakeStage):
    """Rewrites ``text`` in place (upper case)."""

    name = "upper"
    columns = (("upper_reason", pa.string()),)
    rewrites = ("text",)

    @classmethod
    def process(cls, model, batch: Batch):
        texts = batch.column("text")
        if "boom" in texts:
            raise ValueError("boom")
        return {"text": [t.upper() for t in texts], cls.columns[-1][0]: [None] * len(texts)}


class WithholdStage(UpperStage):
    """Like pii: a failed document's rewritten text is withheld, never passed through."""

    name = "withhold"
    columns = (("withhold_reason", pa.string()),)

    @classmethod
    def error_values(cls, model, batch, exc):
        return {"text": [""], "withhold_reason": [f"withhold:error:{type(exc).__name__}"]}


def _batch(texts, text_type=None):
    return pa.RecordBatch.from_arrays(
        [pa.array([f"d{i}" for i in range(len(texts))]), pa.array(texts, type=text_type or pa.string())],
        names=["doc_id", "text"],
    )


def test_declared_columns_are_appended_in_order_with_their_types():
    out = FakeStage.process_arrow({"suffix": "!"}, _batch(["hello", "hi"]))
    assert out.schema.names == ["doc_id", "text", "fake_len", "fake_tags", "fake_reason"]
    assert out.schema.field("fake_len").type == pa.int64()
    assert out.schema.field("fake_tags").type == pa.list_(pa.string())
    assert out.to_pydict()["fake_len"] == [5, 2]
    assert out.to_pydict()["fake_tags"] == [["h!"], ["h!"]]
    assert out.to_pydict()["fake_reason"] == [None, "fake:short"]


def test_a_failing_document_gets_the_error_reason_and_the_others_keep_their_results():
    out = FakeStage.process_arrow({"suffix": "!"}, _batch(["hello", "boom", "hi"])).to_pydict()
    assert out["doc_id"] == ["d0", "d1", "d2"] and out["text"] == ["hello", "boom", "hi"]
    assert out["fake_reason"] == [None, "fake:error", "fake:short"]
    assert out["fake_len"] == [5, None, 2]
    assert out["fake_tags"] == [["h!"], None, ["h!"]]


def test_rewrites_replace_the_column_in_place_and_keep_the_input_on_error():
    out = UpperStage.process_arrow({"suffix": ""}, _batch(["abc", "boom", "x"]))
    assert out.schema.names == ["doc_id", "text", "upper_reason"]
    assert out.to_pydict()["text"] == ["ABC", "boom", "X"]
    assert out.to_pydict()["upper_reason"] == [None, "upper:error", None]


def test_error_values_override_can_withhold_a_rewritten_column():
    out = WithholdStage.process_arrow({"suffix": ""}, _batch(["abc", "boom"])).to_pydict()
    assert out["text"] == ["ABC", ""]
    assert out["withhold_reason"] == [None, "withhold:error:ValueError"]


def test_large_string_input_gives_large_string_outputs():
    out = FakeStage.process_arrow({"suffix": "!"}, _batch(["hello", "boom"], pa.large_string()))
    assert out.schema.field("text").type == pa.large_string()
    assert out.schema.field("fake_reason").type == pa.large_string()
    assert out.schema.field("fake_tags").type == pa.list_(pa.large_string())
    assert out.schema.field("fake_len").type == pa.int64()
    assert out.to_pydict()["fake_reason"] == [None, "fake:error"]
    rewritten = UpperStage.process_arrow({"suffix": ""}, _batch(["abc"], pa.large_string()))
    assert rewritten.schema.field("text").type == pa.large_string()
    assert rewritten.schema.field("upper_reason").type == pa.large_string()


def test_optional_read_is_none_when_absent():
    batch = Batch(_batch(["a"]))
    assert batch.column("lang") is None and batch.column("text") == ["a"]
    assert len(batch.row(0)) == 1


def test_worker_model_loads_once_per_stage_class_and_key(monkeypatch):
    monkeypatch.setattr(base, "_WORKER_MODELS", {})
    LOADS.clear()
    first = worker_model(FakeStage, "k1", "!")
    assert worker_model(FakeStage, "k1", "?") is first  # cached by key: not loaded again
    assert LOADS == [("fake", "!")]
    assert worker_model(FakeStage, "k2", "?") == {"suffix": "?"}
    worker_model(UpperStage, "k1", "!")  # another stage class: its own entry under the same key
    assert LOADS == [("fake", "!"), ("fake", "?"), ("upper", "!")]


def test_a_missing_required_column_fails_on_the_driver():
    stage = FakeStage(section="!", ctx=SimpleNamespace())
    with pytest.raises(StageConfigError, match="text"):
        stage.check_input(SimpleNamespace(columns=["doc_id"]))
    stage.check_input(SimpleNamespace(columns=["doc_id", "text"]))


def test_ensure_prepared_runs_prepare_once():
    calls = []

    class Prepared(FakeStage):
        def prepare(self):
            calls.append(1)

    stage = Prepared(section="!", ctx=SimpleNamespace())
    stage.ensure_prepared()
    stage.ensure_prepared()
    assert calls == [1]
