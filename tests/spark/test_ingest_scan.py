"""The Spark ingest scan: worker-written part files, statistics and file hashes; small lookup tables
joined by broadcast; the quick JIT of embedded sessions."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.readers import expand_inputs, plan_splits
from pipelines.stages import ingest as ingest_mod
from pipelines.stages.base import RunContext
from pipelines.stages.exact_dedup import ExactDedupStage
from pipelines.stages.ingest import scan_to_parquet, write_split_part
from schemas.config import load_config


def _corpus(root: Path) -> Path:
    root.mkdir()
    lines = [json.dumps({"id": f"d{i}", "text": f"Document number {i} with some words."}) for i in range(300)]
    lines.insert(100, '{"id": "broken", "text": ')
    (root / "big.jsonl").write_text("\n".join(lines) + "\n")
    (root / "small.jsonl").write_text(json.dumps({"id": "s1", "text": "Small file."}) + "\n[1, 2]\n")
    return root


def test_scan_writes_one_part_per_split_and_hashes_every_file(spark, tmp_path):
    cfg = load_config("demo", ["ingest.split_bytes=4096"]).ingest
    files = expand_inputs([str(_corpus(tmp_path / "web"))], cfg.format, cfg.source)
    splits = plan_splits(files, cfg.split_bytes)
    assert len(splits) > len(files)  # the big file is read as several byte ranges

    out = tmp_path / "work"
    table, stats, hashes = scan_to_parquet(spark, splits, cfg, out)

    names = sorted(os.listdir(out))
    assert names == [f"split-{i:06d}.parquet" for i in range(len(splits))]  # no temporary file is left
    for f in files:
        data = Path(f.path).read_bytes()
        assert hashes[f.path] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert [s["split_index"] for s in stats] == [s.split_index for s in splits]

    rows = table.collect()
    docs = [r for r in rows if r["kind"] == "doc"]
    quarantined = [r for r in rows if r["kind"] == "quarantine"]
    assert len(docs) == 301 and sorted(r["reason"] for r in quarantined) == ["ingest:malformed_json",
                                                                             "ingest:not_an_object"]
    assert sum(s["records"] for s in stats) == len(rows) == 303
    assert len({r["doc_id"] for r in docs}) == 301  # every line read exactly once across the splits


def test_a_retried_split_replaces_its_part_with_the_same_rows(tmp_path):
    cfg = load_config("demo", []).ingest
    files = expand_inputs([str(_corpus(tmp_path / "web"))], cfg.format, cfg.source)
    split = plan_splits(files, cfg.split_bytes)[0]
    out = tmp_path / "work"
    out.mkdir()
    first = write_split_part(3, split, cfg, str(out))
    rows1 = pq.read_table(out / first["part_file"]).to_pylist()
    second = write_split_part(3, split, cfg, str(out))
    assert first == second and os.listdir(out) == ["split-000003.parquet"]
    assert pq.read_table(out / "split-000003.parquet").to_pylist() == rows1


def test_a_failing_split_leaves_no_part_file(tmp_path, monkeypatch):
    cfg = load_config("demo", []).ingest
    files = expand_inputs([str(_corpus(tmp_path / "web"))], cfg.format, cfg.source)
    split = plan_splits(files, cfg.split_bytes)[0]

    def broken(rows, **kw):
        raise OSError("disk full")
        yield  # pragma: no cover

    monkeypatch.setattr(ingest_mod, "rows_to_batches", broken)
    out = tmp_path / "work"
    out.mkdir()
    with pytest.raises(OSError):
        write_split_part(0, split, cfg, str(out))
    assert os.listdir(out) == []  # neither a partial part nor its temporary file


def _ctx(spark, tmp_path, *overrides):
    config = load_config("demo", list(overrides))
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return RunContext(spark=spark, config=config, run_id="t", staging_dir=tmp_path / "stage", work_dir=work,
                      num_partitions=4)


def _docs(spark):
    rows = [(f"{i:032x}", "h-dup" if i % 3 == 0 else f"h{i}", "x" * 200) for i in range(60)]
    return spark.createDataFrame(rows, "doc_id string, content_sha256 string, text string")


def _plan(df) -> str:
    return df._jdf.queryExecution().executedPlan().toString()


def test_exact_dedup_joins_a_small_group_table_by_broadcast(spark, tmp_path):
    with _no_auto_broadcast(spark):  # so that only the lookup's hint can make the join a broadcast
        out = ExactDedupStage(load_config("demo", []).exact_dedup, _ctx(spark, tmp_path)).apply(_docs(spark))
        plan = _plan(out)
    assert "BroadcastHashJoin" in plan and "SortMergeJoin" not in plan
    rows = {r["doc_id"]: r for r in out.collect()}
    survivor = f"{0:032x}"
    assert rows[survivor]["exact_dedup_reason"] is None and rows[survivor]["exact_dup_count"] == 20
    assert rows[f"{3:032x}"]["exact_dup_of"] == survivor


def test_exact_dedup_over_the_broadcast_limit_uses_a_shuffle_join_with_the_same_result(spark, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    small_ctx = _ctx(spark, tmp_path / "a")
    expected = sorted(
        map(tuple, ExactDedupStage(small_ctx.config.exact_dedup, small_ctx).apply(_docs(spark)).collect())
    )
    big_ctx = _ctx(spark, tmp_path / "b", "spark.broadcast_lookup_rows=0")
    with _no_auto_broadcast(spark):
        out = ExactDedupStage(big_ctx.config.exact_dedup, big_ctx).apply(_docs(spark))
        assert "BroadcastHashJoin" not in _plan(out)
        assert sorted(map(tuple, out.collect())) == expected


class _no_auto_broadcast:
    """Switch off Spark's own size-based broadcast, so only our hint could make the join a broadcast."""

    def __init__(self, spark):
        self.spark = spark

    def __enter__(self):
        self.old = self.spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
        self.spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")

    def __exit__(self, *exc):
        self.spark.conf.set("spark.sql.autoBroadcastJoinThreshold", self.old)


def test_exact_dedup_without_duplicates_needs_no_join(spark, tmp_path):
    df = spark.createDataFrame([(f"{i:032x}", f"h{i}", "t") for i in range(10)],
                               "doc_id string, content_sha256 string, text string")
    out = ExactDedupStage(load_config("demo", []).exact_dedup, _ctx(spark, tmp_path)).apply(df)
    assert "Join" not in _plan(out)
    assert {(r["exact_dup_count"], r["exact_dup_of"], r["exact_dedup_reason"]) for r in out.collect()} == {
        (1, None, None)
    }


def test_test_session_runs_with_the_quick_jit(spark):
    from pipelines.jvm_archive import archive_option
    from pipelines.runtime import QUICK_JIT_OPTION

    args = list(spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert QUICK_JIT_OPTION in args
    archive = archive_option()  # built by `make test` (pipelines/jvm_archive.py): the session maps it
    if archive is not None:
        assert archive in args
