"""The signature benchmark's peer paths give datasketch's signatures, equal to ours bit for bit (no Spark)."""
from __future__ import annotations

import numpy as np

from benchmarks import dedup
from benchmarks._webtext import _slice
from pipelines.text import minhash as mh

TEXTS = [
    "The quick brown fox jumps over the lazy dog near the river bank today.",
    "Ünïcödé straße ÉCOLE 東京都は日本の首都です and ﬁve more words here to shingle",
    "short",
    "",
    "Данные и ещё немного слов для проверки подписи документа здесь",
] * 3


def test_datasketch_bulk_path_equals_our_signatures():
    hashes, owner = mh.shingle_hashes(TEXTS, "word", 5)
    bounds = np.searchsorted(owner, np.arange(len(TEXTS) + 1))
    per_doc = [hashes[bounds[i] : bounds[i + 1]].tolist() for i in range(len(TEXTS))]
    bulk = np.stack([m.hashvalues for m in dedup._datasketch_bulk(per_doc, 64, 3)]).astype(np.uint32)
    naive = np.stack([m.hashvalues for m in dedup._datasketch_per_object(per_doc, 64, 3)]).astype(np.uint32)
    ours = mh.signatures(TEXTS, "word", 5, 64, 3).signatures
    np.testing.assert_array_equal(bulk, ours)
    np.testing.assert_array_equal(naive, ours)


def test_bench_signatures_reports_identical_and_rates():
    out = dedup.bench_signatures(TEXTS * 4, num_perm=32, rounds=1)
    assert out["identical"] is True and out["documents"] == len(TEXTS) * 4
    assert set(out["docs_per_cpu_s"]) == {
        "ours_text_to_signature", "ours_from_hashes", "datasketch_bulk_lean", "datasketch_per_object"
    }
    assert out["non_ascii_documents"] == 24
    assert out["kernel"] == mh.active_kernel()


def test_bench_records_the_numpy_fallback_when_forced(monkeypatch):
    monkeypatch.setenv(mh.KERNEL_ENV, "numpy")
    out = dedup.bench_signatures(TEXTS, num_perm=16, rounds=1, per_object=False)
    assert out["kernel"] == "numpy" and out["identical"] is True


def test_page_slicing_keeps_every_line():
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    pieces = _slice(text, target=1000)
    assert len(pieces) > 5 and all(len(p) <= 1100 for p in pieces)
    assert "\n".join(pieces) == text
