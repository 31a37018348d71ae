"""Erasure requests without Spark: validation, URL/domain matching, shard rewriting, hash-text."""
from __future__ import annotations

import hashlib

import numpy as np
import pyarrow.parquet as pq
import pytest

import pipelines.takedown as takedown_module
from jobs.cmd_hash_text import hash_text
from pipelines.readers.records import RecordBuilder
from pipelines.takedown import (
    RequestMatcher,
    TakedownError,
    load_requests,
    normalize_url,
    parse_request,
    rewrite_shard,
)
from schemas.config import IngestSection
from storage.shards import ShardWriter, check_shard_file

H = hashlib.sha256(b"x").hexdigest()


def test_module_is_this_repository():
    assert takedown_module.__file__.replace("\\", "/").endswith("pipelines/takedown/__init__.py")


def test_requests_are_validated_without_echoing_values(tmp_path):
    assert parse_request({"request_id": "r1", "domain": "*.Example.COM."}).value == "example.com"
    assert parse_request({"request_id": "r2", "content_sha256": H.upper()}).value == H
    assert parse_request({"request_id": "r3", "url": "HTTPS://Example.com:443/a#frag"}).value == "https://example.com/a"
    bad = [
        ({"doc_id": "x"}, "request_id"),
        ({"request_id": "r", "doc_id": "x", "url": "https://a.b/"}, "exactly one"),
        ({"request_id": "r", "content_sha256": "jane.doe@example.com"}, "64 hex"),
        ({"request_id": "r", "url": "jane doe"}, "absolute URL"),
        ({"request_id": "r", "email": "jane@example.com"}, "unknown keys"),
    ]
    for obj, msg in bad:
        with pytest.raises(TakedownError, match=msg) as err:
            parse_request(obj)
        assert "jane" not in str(err.value)
    f = tmp_path / "req.jsonl"
    f.write_text('{"request_id": "a", "doc_id": "d1"}\n\n{"request_id": "a", "doc_id": "d2"}\n')
    with pytest.raises(TakedownError, match="two different requests"):
        load_requests(f)
    f.write_text('{"request_id": "a", "doc_id": "d1"}\n{"request_id": "a", "doc_id": "d1"}\nnot json\n')
    with pytest.raises(TakedownError, match="req.jsonl:3"):
        load_requests(f)


def test_matcher_kinds():
    m = RequestMatcher(load_requests([
        {"request_id": "r-doc", "doc_id": "d1"},
        {"request_id": "r-url", "url": "https://news.example.com/a?x=1"},
        {"request_id": "r-pre", "url_prefix": "https://blog.example.org/people/"},
        {"request_id": "r-dom", "domain": "example.net"},
        {"request_id": "r-sha", "content_sha256": H},
    ]))
    assert m.match("d1", None, None) == [("r-doc", "doc_id")]
    assert m.match("z", "https://NEWS.example.com:443/a?x=1#top", None) == [("r-url", "url")]
    assert m.match("z", "https://news.example.com/a?x=2", None) == []
    assert m.match("z", "https://blog.example.org/people/jane", None) == [("r-pre", "url_prefix")]
    assert m.match("z", "https://blog.example.org/peoplex", None) == []
    assert m.match("z", "http://www.example.net/x", None) == [("r-dom", "domain")]
    assert m.match("z", "http://example.net.evil.io/x", None) == []
    assert m.match("z", "http://notexample.net/", None) == []
    assert m.match("z", None, H) == [("r-sha", "content_sha256")]
    assert m.match("d1", "http://a.example.net/", H) == [
        ("r-doc", "doc_id"), ("r-dom", "domain"), ("r-sha", "content_sha256")]
    assert normalize_url("not a url") is None and normalize_url("http://h:8080") == "http://h:8080/"


def test_matcher_compares_hosts_in_one_form():
    # The same host written as IDN or punycode, in upper case, with a trailing dot or a port: one host, for
    # every URL-based kind and whichever form the request or the document uses.
    m = RequestMatcher(load_requests([
        {"request_id": "r-idn", "domain": "B\u00dcCHER.example."},
        {"request_id": "r-puny", "domain": "xn--strae-oqa.example"},
        {"request_id": "r-url", "url": "https://xn--caf-dma.example/menu"},
        {"request_id": "r-pre", "url_prefix": "https://Caf\u00e9.example./people/"},
    ]))
    for url in ("https://xn--bcher-kva.example/a", "https://b\u00fccher.example/a", "https://B\u00dcCHER.EXAMPLE/a",
                "https://www.b\u00fccher.example./a", "http://xn--bcher-kva.example:8080/a",
                "https://WWW.XN--BCHER-KVA.EXAMPLE.:443/a"):
        assert m.match("z", url, None) == [("r-idn", "domain")], url
    for url in ("https://stra\u00dfe.example/", "https://xn--strae-oqa.example./", "https://STRA\u00dfE.example:81/"):
        # Python's IDNA codec (IDNA 2003) maps "ß" to "ss": the Unicode form compares as strasse.example.
        expected = [("r-puny", "domain")] if "xn--" in url else []
        assert m.match("z", url, None) == expected, url
    for url in ("https://caf\u00e9.example/menu", "https://CAF\u00c9.example.:443/menu", "https://xn--caf-dma.example/menu"):
        assert m.match("z", url, None) == [("r-url", "url")], url
    assert m.match("z", "https://xn--caf-dma.example/people/jane", None) == [("r-pre", "url_prefix")]
    assert m.match("z", "https://cafe.example/menu", None) == []
    assert m.match("z", "https://xn--bcher-kva.example.evil.io/a", None) == []
    assert load_requests([{"request_id": "r", "domain": "b\u00fccher.example"}])[0].value == "xn--bcher-kva.example"
    assert normalize_url("https://B\u00dcCHER.example.:8443/x#f") == "https://xn--bcher-kva.example:8443/x"
    # A host IDNA cannot encode (an empty label) still matches itself in another case, as before.
    odd = RequestMatcher(load_requests([{"request_id": "r-odd", "domain": "a..Example.com"}]))
    assert odd.match("z", "http://x.A..example.com/", None) == [("r-odd", "domain")]


def test_takedown_and_optout_share_the_host_normalization():
    import pipelines.takedown.requests as requests_module
    from pipelines.text import hosts, optout

    assert requests_module.url_host is hosts.url_host and optout.url_host is hosts.url_host
    assert optout.normalize_host is hosts.normalize_host


def test_rewrite_shard_removes_only_the_listed_rows(tmp_path):
    with ShardWriter(tmp_path / "s", vocab_size=500, tokenizer_sha256="ab" * 32, eos_id=0, eos_appended=True,
                     dataset_version="t", target_shard_bytes=10**6, row_group_bytes=400) as w:
        for i in range(40):
            w.write_document(f"d{i:03d}", np.arange(1, 30) + i, "src", "en")
    entry = w.index.shards[0]
    src = tmp_path / "s" / entry.path
    before = pq.read_table(src)
    drop = {"d005", "d017", "d039"}
    dst = tmp_path / "out.parquet"
    rows, tokens, groups = rewrite_shard(src, dst, drop)
    after = pq.read_table(dst)
    keep = [i for i, d in enumerate(before.column("doc_id").to_pylist()) if d not in drop]
    assert after.equals(before.take(keep))  # every other row, token for token
    assert rows == 37 and tokens == sum(after.column("n_tokens").to_pylist())
    assert [g.rows for g in groups] == [pq.ParquetFile(dst).metadata.row_group(i).num_rows
                                          for i in range(pq.ParquetFile(dst).metadata.num_row_groups)]
    orig_groups = [g.rows for g in entry.row_groups]
    assert len(groups) == len(orig_groups) and sum(orig_groups) - sum(g.rows for g in groups) == 3
    new_entry = entry.model_copy(update={"path": "out.parquet", "rows": rows, "tokens": tokens,
                                         "bytes": dst.stat().st_size,
                                         "sha256": hashlib.sha256(dst.read_bytes()).hexdigest(), "row_groups": groups})
    assert check_shard_file(tmp_path, new_entry, "uint16", "ab" * 32, 500, "deep") == []
    assert pq.read_schema(dst).metadata == pq.read_schema(src).metadata


def test_hash_text_equals_ingest_content_sha256():
    builder = RecordBuilder(IngestSection(), "src", "/x/f.jsonl", "f.jsonl")
    for text in ["  Café\r\nline two\u2028\x07 ", "e\u0301 plain", "\ufeffBOM text\n\n"]:
        row = builder.document(text, 0, "byte", text.encode("utf-8", "surrogatepass"))
        assert hash_text(text) == row["content_sha256"]
    assert hash_text("a\r\nb") == hash_text("a\nb") != hash_text("a b")


def test_hash_text_cli_reads_files(tmp_path, capsys):
    import argparse

    from jobs import cmd_hash_text

    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    cmd_hash_text.register(sub)
    f = tmp_path / "doc.txt"
    f.write_bytes("Hello\r\nWorld \n".encode())
    args = p.parse_args(["hash-text", "--file", str(f)])
    assert args.func(args) == 0
    out = capsys.readouterr().out.strip()
    assert out == hashlib.sha256("Hello\nWorld".encode()).hexdigest()
    assert "Hello" not in out
