"""Remote inputs end to end through ``run_pipeline``: URLs, a gzipped path list, retries and the failure
policy, against a real HTTP server on 127.0.0.1 (tests/http_faults.py: Python's http.server in a thread,
which Spark's Python workers reach like any other server)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.runner import RunError, run_pipeline
from schemas.config import load_config
from tests.http_faults import FaultyServer

CORE = [f"{s}.enabled=false"
        for s in ("language", "quality", "classify", "decontaminate", "near_dedup", "pii", "bias", "tokenize")]
FAST = ["ingest.remote.backoff_seconds=0.01", "ingest.remote.backoff_max_seconds=0.05",
        "ingest.remote.timeout_seconds=10"]


def _lines(prefix: str, n: int) -> bytes:
    rows = [json.dumps({"id": f"{prefix}{i}", "text": f"{prefix} document {i} says something."}) for i in range(n)]
    rows.insert(3, '{"id": "broken", ')  # one malformed line: quarantined by the reader, not the fetcher
    return ("\n".join(rows) + "\n").encode()


def _cfg(*overrides):
    return load_config("demo", CORE + FAST + list(overrides))


def _rows(out: Path, table: str, drop=("source_file",)):
    rows = pq.read_table(out / table).to_pylist()
    return sorted((tuple((k, v) for k, v in sorted(r.items()) if k not in drop) for r in rows))


def test_a_url_input_gives_the_same_output_as_the_local_file(spark, tmp_path):
    body = _lines("web", 40)
    local = tmp_path / "web.jsonl"
    local.write_bytes(body)
    with FaultyServer({"/crawl/web.jsonl": body}) as srv:
        url = srv.url("/crawl/web.jsonl")
        remote = run_pipeline(_cfg(), [url], str(tmp_path / "remote"), spark=spark)
    here = run_pipeline(_cfg(), [str(local)], str(tmp_path / "local"), spark=spark)
    for table in ("curated", "rejected", "quarantine"):
        assert _rows(tmp_path / "remote", table) == _rows(tmp_path / "local", table), table
    assert {r["source_file"] for r in pq.read_table(tmp_path / "remote" / "curated").to_pylist()} == {url}
    r, h = remote.manifest, here.manifest
    assert r.counts == h.counts and r.counts.records == 41
    (rin,), (hin,) = r.inputs, h.inputs
    assert (rin.path, rin.rel_path, rin.source) == (url, "web.jsonl", "web")
    assert (rin.bytes, rin.sha256, rin.records) == (hin.bytes, hin.sha256, hin.records)
    assert r.stage_info["ingest"]["remote"]["retries"] == 0


def test_a_path_list_with_flaky_and_dead_servers(spark, tmp_path):
    files = {f"/cc/{name}.jsonl": _lines(name, 20) for name in ("good", "dropped", "busy", "dead")}
    faults = {"/cc/dropped.jsonl": ["drop"], "/cc/busy.jsonl": [503, 503]}
    with FaultyServer(files, faults=faults, forever={"/cc/dead.jsonl": 503}) as srv:
        lst = tmp_path / "crawl.paths.gz"
        lst.write_bytes(gzip.compress("".join(f"{p.lstrip('/')}\n" for p in files).encode()))
        cfg = _cfg(f"ingest.remote.base_url={srv.url('/')}", "ingest.remote.retries=3")
        res = run_pipeline(cfg, [str(lst)], str(tmp_path / "out"), spark=spark)
        gets = dict(srv.gets)
        with pytest.raises(RunError, match="ingest.on_unreadable=fail") as failed:
            run_pipeline(_cfg(f"ingest.remote.base_url={srv.url('/')}", "ingest.remote.retries=1",
                              "ingest.on_unreadable=fail"), [str(lst)], str(tmp_path / "failed"), spark=spark)
        with pytest.raises(RunError, match="max_unreadable_files=0"):
            run_pipeline(_cfg(f"ingest.remote.base_url={srv.url('/')}", "ingest.remote.retries=0",
                              "ingest.max_unreadable_files=0"), [str(lst)], str(tmp_path / "failed"), spark=spark)
    assert gets == {"/cc/good.jsonl": 1, "/cc/dropped.jsonl": 2, "/cc/busy.jsonl": 3, "/cc/dead.jsonl": 4}

    m = res.manifest
    by_file = {i.rel_path: i for i in m.inputs}
    assert set(by_file) == {"cc/good.jsonl", "cc/dropped.jsonl", "cc/busy.jsonl", "cc/dead.jsonl"}
    for name in ("good", "dropped", "busy"):  # complete: 20 documents + 1 malformed line each
        i = by_file[f"cc/{name}.jsonl"]
        assert (i.records, i.curated, i.quarantined, i.bytes) == (21, 20, 1, len(files[f"/cc/{name}.jsonl"]))
    dead = by_file["cc/dead.jsonl"]
    assert (dead.records, dead.quarantined, dead.bytes) == (1, 1, -1) and "HTTP 503" in dead.sha256
    assert m.counts.records == m.counts.curated + m.counts.rejected + m.counts.quarantined == 64
    assert m.counts.quarantined_by_reason == {"ingest:malformed_json": 3, "ingest:unreadable_file": 1}

    info = m.stage_info["ingest"]
    assert info["unreadable_files"] == 1 and info["unreadable"][0]["path"] == srv.url("/cc/dead.jsonl")
    assert "after 4 attempts" in info["unreadable"][0]["error"]
    assert info["remote"]["retries"] == 1 + 2 + 3
    assert info["remote"]["retried_files"] == {srv.url("/cc/dropped.jsonl"): 1, srv.url("/cc/busy.jsonl"): 2,
                                               srv.url("/cc/dead.jsonl"): 3}
    q = [r for r in pq.read_table(tmp_path / "out" / "quarantine").to_pylist()
         if r["reason"] == "ingest:unreadable_file"]
    assert [(r["source_file"], r["offset_unit"]) for r in q] == [(srv.url("/cc/dead.jsonl"), "file")]
    assert "HTTP 503" in q[0]["detail"]

    # on_unreadable=fail: a clear message, nothing committed, no staging directory left behind
    assert "cc/dead.jsonl" in str(failed.value) and "HTTP 503" in str(failed.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crawl.paths.gz", "out"]
