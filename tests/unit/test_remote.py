"""Remote inputs without Spark: downloads with retries, URL and path-list expansion, the output check.

The server is a real one on 127.0.0.1 (tests/http_faults.py: Python's http.server in a thread).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.readers import InputError, expand_inputs, plan_splits, read_split
from pipelines.readers.remote import FetchOptions, fetch, is_path_list, read_path_list
from pipelines.runner import OutputLocationError, check_output_location
from pipelines.stages.ingest import write_split_part
from schemas.config import load_config
from tests.http_faults import FaultyServer

FAST = FetchOptions(retries=3, backoff_seconds=0.001, backoff_max_seconds=0.01, timeout_seconds=5)
BODY = b"".join(json.dumps({"id": f"r{i}", "text": f"Remote document {i} " + "x" * 200}).encode() + b"\n"
                for i in range(500))


def _fetch(srv: FaultyServer, path: str, opts: FetchOptions = FAST):
    got = fetch(srv.url(path), opts, sleep=lambda s: None)
    data = Path(got.local_path).read_bytes() if got.local_path else None
    if got.local_path:
        Path(got.local_path).unlink()
    return got, data


def test_a_plain_download_is_complete_and_hashed():
    with FaultyServer({"/a.jsonl": BODY}) as srv:
        got, data = _fetch(srv, "/a.jsonl")
    assert data == BODY and got.bytes == len(BODY) and got.sha256 == hashlib.sha256(BODY).hexdigest()
    assert got.attempts == 1 and got.error is None


def test_a_connection_dropped_mid_file_is_retried_from_the_start():
    with FaultyServer({"/a.jsonl": BODY}, faults={"/a.jsonl": ["drop"]}) as srv:
        got, data = _fetch(srv, "/a.jsonl")
        assert srv.gets["/a.jsonl"] == 2
    assert data == BODY and got.attempts == 2  # the half file of the first attempt was discarded


def test_503_twice_then_200_succeeds_and_counts_the_attempts():
    waits = []
    with FaultyServer({"/a.jsonl": BODY}, faults={"/a.jsonl": [503, 503]}) as srv:
        got = fetch(srv.url("/a.jsonl"), FetchOptions(retries=5, backoff_seconds=0.5, backoff_max_seconds=0.75),
                    sleep=waits.append)
        Path(got.local_path).unlink()
    assert got.attempts == 3 and got.error is None
    assert waits == [0.5, 0.75]  # exponential (0.5, 1.0), capped by backoff_max_seconds


def test_always_503_gives_up_after_the_retries_and_says_why():
    with FaultyServer({"/a.jsonl": BODY}, forever={"/a.jsonl": 503}) as srv:
        got, data = _fetch(srv, "/a.jsonl")
        assert srv.gets["/a.jsonl"] == FAST.retries + 1
    assert data is None and got.bytes == -1 and got.local_path is None
    assert "HTTP 503" in got.error and "after 4 attempts" in got.error


def test_404_is_not_retried():
    with FaultyServer({}) as srv:
        got, _ = _fetch(srv, "/missing.jsonl")
        assert srv.gets["/missing.jsonl"] == 1
    assert "HTTP 404" in got.error and got.attempts == 1


def test_a_refused_connection_is_transient_and_retried():
    with FaultyServer({}) as srv:
        url = srv.url("/a.jsonl")
    got = fetch(url, FetchOptions(retries=2, backoff_seconds=0, timeout_seconds=2), sleep=lambda s: None)
    assert got.attempts == 3 and "cannot connect" in got.error


def test_url_inputs_are_sized_by_head_and_named_like_local_files():
    with FaultyServer({"/data/web.jsonl": BODY, "/data/b.warc.gz": b"x" * 10}) as srv:
        files = expand_inputs([srv.url("/data/web.jsonl"), srv.url("/data/b.warc.gz")])
    by_name = {f.rel_path: f for f in files}
    web = by_name["web.jsonl"]
    assert (web.source, web.fmt, web.compression, web.size) == ("web", "jsonl", None, len(BODY))
    assert web.path.startswith("http://127.0.0.1:")
    assert (by_name["b.warc.gz"].fmt, by_name["b.warc.gz"].compression) == ("warc", "gz")
    # a remote file is read whole by one task, never as byte ranges
    assert len(plan_splits(files, split_bytes=1024)) == 2


def test_a_gzipped_path_list_with_comments_relative_entries_and_a_base_url(tmp_path):
    lst = tmp_path / "warc.paths.gz"
    lst.write_bytes(gzip.compress(b"# a comment\n\ncrawl/a.jsonl\ncrawl/b.jsonl\n"))
    assert is_path_list(str(lst)) and is_path_list("@urls.txt") and not is_path_list("data.jsonl.gz")
    with FaultyServer({"/cc/crawl/a.jsonl": BODY, "/cc/crawl/b.jsonl": BODY[:100]}) as srv:
        remote = load_config("demo", [f"ingest.remote.base_url={srv.url('/cc/')}"]).ingest.remote
        files = expand_inputs([str(lst)], remote=remote)
    assert [(f.path, f.rel_path, f.source) for f in files] == [
        (srv.url("/cc/crawl/a.jsonl"), "crawl/a.jsonl", "warc"),
        (srv.url("/cc/crawl/b.jsonl"), "crawl/b.jsonl", "warc"),
    ]


def test_an_at_list_of_local_paths_and_urls(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.jsonl").write_bytes(BODY[:300])
    with FaultyServer({"/y.jsonl": BODY}) as srv:
        (tmp_path / "list.txt").write_text(f"sub/x.jsonl\n{srv.url('/y.jsonl')}\n")
        files = expand_inputs([f"@{tmp_path / 'list.txt'}"])
        # a path list can itself be remote; its relative entries are relative to its own folder
        srv.files["/lists/l.paths"] = b"../y.jsonl\n"
        assert read_path_list(srv.url("/lists/l.paths"), FAST) == [(srv.url("/y.jsonl"), "../y.jsonl")]
    assert [(f.rel_path, f.source) for f in files] == [("sub/x.jsonl", "list"), ("y.jsonl", "list")]
    assert files[0].path == str((tmp_path / "sub" / "x.jsonl").resolve())


def test_bad_inputs_are_usage_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        expand_inputs([f"@{tmp_path / 'nope.txt'}"])
    (tmp_path / "empty.paths").write_text("# nothing\n")
    with pytest.raises(InputError, match="lists no input"):
        expand_inputs([str(tmp_path / "empty.paths")])
    with FaultyServer({}) as srv:
        with pytest.raises(InputError, match="cannot be read"):
            read_path_list(srv.url("/gone.paths.gz"), FAST)


def test_an_object_store_scheme_without_its_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if the s3 extra were not installed (import fails)
    with pytest.raises(InputError, match=r"corpusforge\[s3\]"):
        expand_inputs(["s3://bucket/crawl/"])


def test_fsspec_filesystems_are_listed_and_fetched():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe({"/corpus/a.jsonl": BODY, "/corpus/sub/b.jsonl": BODY[:100], "/corpus/_SUCCESS": b""})
    files = expand_inputs(["memory://corpus/"])
    assert [(f.rel_path, f.size, f.source) for f in files] == [("a.jsonl", len(BODY), "corpus"),
                                                               ("sub/b.jsonl", 100, "corpus")]
    got = fetch(files[0].path, FAST)
    assert Path(got.local_path).read_bytes() == BODY
    Path(got.local_path).unlink()
    assert fetch("memory://corpus/none.jsonl", FAST).error.startswith("FileNotFoundError")


def test_a_remote_split_is_read_from_its_download_and_named_by_its_url(tmp_path):
    cfg = load_config("demo", ["ingest.remote.backoff_seconds=0.001"]).ingest
    with FaultyServer({"/a.jsonl": BODY}, faults={"/a.jsonl": ["drop", 503]}) as srv:
        files = expand_inputs([srv.url("/a.jsonl")], remote=cfg.remote)
        split = plan_splits(files, cfg.split_bytes)[0]
        out = tmp_path / "work"
        out.mkdir()
        st = write_split_part(0, split, cfg, str(out))
    assert st["records"] == 500 and st["unreadable"] is None and st["fetch"]["attempts"] == 3
    assert (st["file_bytes"], st["file_sha256"]) == (len(BODY), hashlib.sha256(BODY).hexdigest())
    rows = pq.read_table(out / st["part_file"]).to_pylist()
    assert len(rows) == 500 and {r["source_file"] for r in rows} == {srv.url("/a.jsonl")}
    assert not list(Path(tmp_path).glob("corpusforge-remote-*"))


def test_an_unreadable_remote_split_is_one_quarantine_row(tmp_path):
    cfg = load_config("demo", ["ingest.remote.retries=1", "ingest.remote.backoff_seconds=0"]).ingest
    with FaultyServer({"/a.jsonl": BODY}, forever={"/a.jsonl": 503}) as srv:
        split = plan_splits(expand_inputs([srv.url("/a.jsonl")], remote=cfg.remote), cfg.split_bytes)[0]
        rows = list(read_split(split, cfg, unreadable="HTTP 503 (after 2 attempts)"))
        (tmp_path / "w").mkdir()
        st = write_split_part(0, split, cfg, str(tmp_path / "w"))
    assert [r["kind"] for r in rows] == ["quarantine", "stats"]
    assert rows[0]["reason"] == "ingest:unreadable_file" and rows[1]["records"] == 1
    assert st["records"] == 1 and st["quarantine_rows"] == 1 and st["file_bytes"] == -1
    assert "HTTP 503" in st["unreadable"] and st["file_sha256"].startswith("unreadable: HTTP 503")


@pytest.mark.parametrize("uri", ["s3://bucket/out", "s3a://bucket/out", "gs://b/o", "abfs://c@acct/o",
                                 "hdfs://nn:8020/out"])
def test_an_object_store_output_fails_fast(uri):
    with pytest.raises(OutputLocationError, match="docs/cluster.md"):
        check_output_location(uri)


def test_a_file_url_output_is_a_local_path(tmp_path):
    assert check_output_location(f"file://{tmp_path}/out") == tmp_path / "out"
    assert check_output_location(str(tmp_path / "o")) == tmp_path / "o"
