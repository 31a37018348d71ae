"""Readers: one test per bad-input class, plus the good records around each bad one."""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pipelines.readers import expand_inputs, plan_splits, read_split
from schemas.config import IngestSection


def read_all(path: Path, split_bytes: int = 1 << 30, **cfg):
    section = IngestSection(**cfg)
    files = expand_inputs([str(path)], section.format, section.source)
    rows = []
    for sp in plan_splits(files, split_bytes):
        rows.extend(read_split(sp, section))
    docs = [r for r in rows if r["kind"] == "doc"]
    quar = [r for r in rows if r["kind"] == "quarantine"]
    stats = [r for r in rows if r["kind"] == "stats"]
    # Accounting invariant of every reader: records seen = documents + quarantined.
    assert sum(s["records"] for s in stats) == len(docs) + len(quar)
    return docs, quar, stats


def good(i: int) -> bytes:
    return (
        json.dumps({"id": f"g{i}", "text": f"Good document number {i}.", "url": f"https://example.org/{i}"}).encode()
        + b"\n"
    )


def jsonl_with(tmp_path: Path, bad: bytes, name="in.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(good(1) + bad + (b"" if bad.endswith(b"\n") else b"\n") + good(2))
    return p


def assert_one_bad(tmp_path, bad: bytes, reason: str, **cfg):
    docs, quar, _ = read_all(jsonl_with(tmp_path, bad), **cfg)
    assert [d["source_id"] for d in docs] == ["g1", "g2"], "good records before and after are kept"
    assert [q["reason"] for q in quar] == [f"ingest:{reason}"]
    q = quar[0]
    assert q["source_offset"] == len(good(1)) and q["offset_unit"] == "byte"
    raw = bad if bad.endswith(b"\n") else bad + b"\n"
    assert q["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    return q


def test_malformed_json(tmp_path):
    assert_one_bad(tmp_path, b'{"id": "x", "text": "unterminated', "malformed_json")


@pytest.mark.parametrize("bad", [b"[1, 2, 3]", b"42", b'"just a string"', b"null"])
def test_json_that_is_not_an_object(tmp_path, bad):
    assert_one_bad(tmp_path, bad, "not_an_object")


@pytest.mark.parametrize("bad", [b'{"id": "x"}', b'{"id": "x", "text": null}'])
def test_text_missing_or_null(tmp_path, bad):
    assert_one_bad(tmp_path, bad, "missing_text")


@pytest.mark.parametrize("bad", [b'{"id": "x", "text": 12}', b'{"id": "x", "text": ["a", "b"]}',
                                 b'{"id": "x", "text": {"a": 1}}', b'{"id": "x", "text": true}'])
def test_text_not_a_string(tmp_path, bad):
    assert_one_bad(tmp_path, bad, "text_not_string")


@pytest.mark.parametrize("bad", [b'{"id": "x", "text": ""}', b'{"id": "x", "text": "  \\n\\t  "}'])
def test_empty_or_whitespace_text(tmp_path, bad):
    assert_one_bad(tmp_path, bad, "empty_text")


def test_invalid_utf8_byte_mid_line_quarantined_by_default(tmp_path):
    q = assert_one_bad(tmp_path, b'{"id": "x", "text": "caf\xe9 au lait"}', "invalid_utf8")
    assert "caf" not in (q["raw_prefix"] or "")


def test_invalid_utf8_replace_policy_keeps_the_record(tmp_path):
    docs, quar, _ = read_all(jsonl_with(tmp_path, b'{"id": "x", "text": "caf\xe9 au lait"}'), invalid_utf8="replace")
    assert not quar
    assert docs[1]["text"] == "caf\ufffd au lait"


def test_utf8_bom_is_stripped(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + good(1) + good(2))
    docs, quar, stats = read_all(p)
    assert [d["source_id"] for d in docs] == ["g1", "g2"] and not quar
    assert stats[0]["encoding"] == "utf-8-sig"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_file_is_transcoded(tmp_path, encoding):
    p = tmp_path / "u16.jsonl"
    text = (good(1) + good(2)).decode() + json.dumps({"id": "g3", "text": "Grüße, 世界"}, ensure_ascii=False) + "\n"
    p.write_bytes(text.encode(encoding))
    docs, quar, stats = read_all(p)
    assert not quar
    assert [d["text"] for d in docs][-1] == "Grüße, 世界"
    assert stats[0]["encoding"].startswith("utf-16")


def test_nul_escape_is_removed_not_quarantined(tmp_path):
    p = jsonl_with(tmp_path, b'{"id": "x", "text": "A sentence with a\\u0000 NUL and a\\u0007 bell."}')
    docs, quar, _ = read_all(p)
    assert not quar and docs[1]["text"] == "A sentence with a NUL and a bell."


def test_lone_surrogate_escape(tmp_path):
    assert_one_bad(tmp_path, b'{"id": "x", "text": "half a pair \\ud800 here"}', "lone_surrogate")
    docs, quar, _ = read_all(jsonl_with(tmp_path, b'{"id": "x", "text": "half \\ud800 here"}', "b.jsonl"),
                             invalid_utf8="replace")
    assert not quar and docs[1]["text"] == "half \ufffd here"


def test_line_over_size_cap_is_skipped_in_bounded_memory(tmp_path):
    big = b'{"id": "x", "text": "' + b"a" * 50_000 + b'"}'
    q = assert_one_bad(tmp_path, big, "line_too_long", max_line_bytes=1000)
    assert q["raw_bytes"] == len(big) + 1


@pytest.mark.parametrize("policy", ["truncate", "quarantine"])
def test_document_over_max_length(tmp_path, policy):
    long = b'{"id": "x", "text": "' + b"word " * 100 + b'"}'
    docs, quar, _ = read_all(jsonl_with(tmp_path, long), max_doc_chars=50, on_too_long=policy)
    if policy == "truncate":
        assert not quar and docs[1]["truncated"] is True and len(docs[1]["text"]) <= 50
    else:
        assert [q["reason"] for q in quar] == ["ingest:doc_too_long"] and len(docs) == 2


def _payload(n: int) -> bytes:
    return b"".join(good(i) for i in range(n))


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    data = _payload(2000)
    comp = gzip.compress(data)
    p = tmp_path / "t.jsonl.gz"
    p.write_bytes(comp[: len(comp) // 2])
    docs, quar, _ = read_all(p)
    assert 100 < len(docs) < 2000
    assert [d["source_id"] for d in docs] == [f"g{i}" for i in range(len(docs))], "a prefix, in order"
    assert len(quar) == 1 and quar[0]["reason"] == "ingest:truncated_stream"
    assert quar[0]["raw_bytes"] > 0 and "bytes" in quar[0]["detail"]


def test_truncated_zstd_keeps_what_was_read(tmp_path):
    data = _payload(20000)  # several 128 KiB zstd blocks: the complete ones before the cut are readable
    comp = zstandard.ZstdCompressor().compress(data)
    p = tmp_path / "t.jsonl.zst"
    p.write_bytes(comp[: len(comp) // 2])
    docs, quar, _ = read_all(p)
    assert 1000 < len(docs) < 20000
    assert [d["source_id"] for d in docs] == [f"g{i}" for i in range(len(docs))]
    assert [q["reason"] for q in quar] == ["ingest:truncated_stream"]


def test_multi_member_gzip_and_zstd_frames(tmp_path):
    p = tmp_path / "m.jsonl.gz"
    p.write_bytes(gzip.compress(_payload(3)) + gzip.compress(good(99)))
    docs, quar, _ = read_all(p)
    assert len(docs) == 4 and not quar
    z = zstandard.ZstdCompressor()
    p2 = tmp_path / "m.jsonl.zst"
    p2.write_bytes(z.compress(_payload(3)) + z.compress(good(99)))
    docs, quar, _ = read_all(p2)
    assert len(docs) == 4 and not quar


def test_decompression_bomb_ratio_cap(tmp_path):
    bomb = good(1) + b'{"id": "b", "text": "' + b"\x20" * (20 << 20) + b'"}\n'
    p = tmp_path / "bomb.jsonl.gz"
    p.write_bytes(gzip.compress(bomb, 9))
    docs, quar, _ = read_all(p, max_compression_ratio=50, ratio_check_min_bytes=1 << 20, max_line_bytes=64 << 20)
    assert [q["reason"] for q in quar] == ["ingest:decompression_bomb"]
    assert [d["source_id"] for d in docs] == ["g1"]


def test_decompression_bomb_size_cap_zstd(tmp_path):
    p = tmp_path / "bomb.jsonl.zst"
    p.write_bytes(zstandard.ZstdCompressor(level=3).compress(b'{"id": "z", "text": "' + b"a" * (30 << 20)))
    docs, quar, _ = read_all(p, max_decompressed_bytes=4 << 20)
    assert [q["reason"] for q in quar] == ["ingest:decompression_bomb"] and not docs


def test_corrupt_parquet_file(tmp_path):
    p = tmp_path / "bad.parquet"
    p.write_bytes(b"PAR1" + b"\x00garbage" * 50)
    docs, quar, _ = read_all(p)
    assert not docs and [q["reason"] for q in quar] == ["ingest:corrupt_parquet"]
    assert quar[0]["raw_sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_parquet_with_wrong_schema(tmp_path):
    p = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"id": ["a"], "body": ["some text"]}), p)
    docs, quar, _ = read_all(p)
    assert [q["reason"] for q in quar] == ["ingest:parquet_schema_mismatch"]
    assert "body" in quar[0]["detail"]
    p2 = tmp_path / "wrongtype.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": [3]}), p2)
    _, quar2, _ = read_all(p2)
    assert [q["reason"] for q in quar2] == ["ingest:parquet_schema_mismatch"]


def test_parquet_rows_and_metadata(tmp_path):
    p = tmp_path / "ok.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["First doc.", None, "Third doc."],
                             "lang": ["en", "en", "fr"]}), p, row_group_size=2)
    docs, quar, _ = read_all(p)
    assert [d["source_id"] for d in docs] == ["a", "c"]
    assert docs[1]["metadata"] == {"lang": "fr"} and docs[1]["source_offset"] == 2
    assert [(q["reason"], q["source_offset"], q["offset_unit"]) for q in quar] == [("ingest:missing_text", 1, "row")]


def _warc_record(rtype: str, body: bytes, uri="http://example.com/", clen=None, rid="<urn:uuid:1>") -> bytes:
    head = (f"WARC/1.0\r\nWARC-Type: {rtype}\r\nWARC-Target-URI: {uri}\r\nWARC-Record-ID: {rid}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body) if clen is None else clen}\r\n\r\n").encode()
    return head + body + b"\r\n\r\n"


def test_wet_records_and_skipped_types(tmp_path):
    p = tmp_path / "a.warc.wet"
    p.write_bytes(_warc_record("warcinfo", b"software: test") +
                  _warc_record("conversion", "Première page.\nLine two.".encode(), rid="<urn:uuid:a>") +
                  _warc_record("conversion", b"Second page.", rid="<urn:uuid:b>"))
    docs, quar, stats = read_all(p)
    assert [d["text"] for d in docs] == ["Première page.\nLine two.", "Second page."]
    assert [d["source_id"] for d in docs] == ["<urn:uuid:a>", "<urn:uuid:b>"]
    assert docs[0]["url"] == "http://example.com/" and not quar
    assert stats[0]["skipped"] == {"warc:warcinfo": 1}


def test_truncated_warc_record(tmp_path):
    p = tmp_path / "t.warc"
    full = _warc_record("conversion", b"First page text.", rid="<urn:uuid:a>") + _warc_record("conversion", b"x" * 500)
    p.write_bytes(full[:-200])
    docs, quar, _ = read_all(p)
    assert [d["source_id"] for d in docs] == ["<urn:uuid:a>"]
    assert [q["reason"] for q in quar] == ["ingest:warc_truncated_record"]


@pytest.mark.parametrize("delta", [-5, +30])
def test_warc_record_with_wrong_content_length(tmp_path, delta):
    body = b"This page body is of some length."
    p = tmp_path / "cl.warc"
    p.write_bytes(_warc_record("conversion", b"Page one.", rid="<urn:uuid:1>") +
                  _warc_record("conversion", body, clen=len(body) + delta, rid="<urn:uuid:2>") +
                  _warc_record("conversion", b"Page three.", rid="<urn:uuid:3>"))
    docs, quar, _ = read_all(p)
    assert [d["source_id"] for d in docs] == ["<urn:uuid:1>", "<urn:uuid:3>"], "reading resumes at the next record"
    assert [q["reason"] for q in quar] == ["ingest:warc_bad_content_length"]


def test_warc_html_response_extracted(tmp_path):
    html = (
        b"<html><head><title>T</title><script>var x=1;</script></head><body><p>Hello readable world.</p></body></html>"
    )
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
    rec = (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://example.com/p\r\nWARC-Record-ID: <urn:uuid:r>\r\n"
        b"Content-Type: application/http; msgtype=response\r\nContent-Length: "
        + str(len(http)).encode()
        + b"\r\n\r\n"
        + http
        + b"\r\n\r\n"
    )
    img = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG...."
    rec2 = (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://example.com/i.png\r\n"
        b"Content-Type: application/http; msgtype=response\r\nContent-Length: "
        + str(len(img)).encode()
        + b"\r\n\r\n"
        + img
        + b"\r\n\r\n"
    )
    p = tmp_path / "r.warc.gz"
    p.write_bytes(gzip.compress(rec) + gzip.compress(rec2))
    docs, quar, stats = read_all(p)
    assert len(docs) == 1 and "Hello readable world." in docs[0]["text"] and "var x" not in docs[0]["text"]
    assert stats[0]["skipped"] == {"warc:non_text_content_type": 1} and not quar


def test_binary_content_in_text_field(tmp_path):
    assert_one_bad(
        tmp_path, json.dumps({"id": "x", "text": "".join(chr(i % 9) for i in range(200))}).encode(), "binary_content"
    )


def test_text_files_one_document_each(tmp_path):
    d = tmp_path / "texts"
    d.mkdir()
    (d / "a.txt").write_text("Alpha text.\r\nSecond line.\n", encoding="utf-8")
    (d / "b.txt").write_bytes(b"\x00\x01\x02\xff\xfe binary")
    (d / "_SUCCESS").write_text("")
    docs, quar, _ = read_all(d)
    assert [d_["text"] for d_ in docs] == ["Alpha text.\nSecond line."]
    assert docs[0]["source_id"] == "a.txt" and docs[0]["source"] == "texts"
    assert [q["reason"] for q in quar] == ["ingest:binary_content"]


def test_jsonl_byte_range_splits_read_every_line_once(tmp_path):
    p = tmp_path / "big.jsonl"
    p.write_bytes(_payload(500))
    whole, _, _ = read_all(p)
    split, _, stats = read_all(p, split_bytes=1000)
    assert len(stats) > 10
    assert [d["source_id"] for d in split] == [d["source_id"] for d in whole]
    assert [d["source_offset"] for d in split] == [d["source_offset"] for d in whole]


def test_unsupported_file_is_quarantined_not_dropped(tmp_path):
    p = tmp_path / "notes.docx"
    p.write_bytes(b"PK\x03\x04")
    docs, quar, _ = read_all(p)
    assert [q["reason"] for q in quar] == ["ingest:unsupported_format"]


def test_quarantine_prefix_is_scrubbed(tmp_path):
    secret = b'{"id": "x", "text": "mail jane.doe@example.com 555-0100", broken'
    q = assert_one_bad(tmp_path, secret, "malformed_json")
    assert "jane" not in q["raw_prefix"] and "555" not in q["raw_prefix"] and "example" not in q["raw_prefix"]
    assert q["raw_prefix"].startswith('{"xx": "x", "xxxx": "xxxx')


def test_oversized_line_memory_stays_bounded(tmp_path):
    import tracemalloc

    p = tmp_path / "huge.jsonl"
    with open(p, "wb") as fh:
        fh.write(good(1))
        fh.write(b'{"id": "x", "text": "')
        for _ in range(40):
            fh.write(b"y" * (1 << 20))
        fh.write(b'"}\n')
        fh.write(good(2))
    tracemalloc.start()
    docs, quar, _ = read_all(p, max_line_bytes=1 << 20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [q["reason"] for q in quar] == ["ingest:line_too_long"] and len(docs) == 2
    assert quar[0]["raw_bytes"] > 40 << 20
    assert peak < 12 << 20, f"peak {peak / 1e6:.1f} MB while skipping a 40 MB line"
