"""The compiled MinHash kernel (pipelines/text/_minhash_kernel.c) against the numpy path and the reference.

Every comparison runs both implementations in this process (``CORPUSFORGE_MINHASH_KERNEL`` picks one)
and the plain-Python definition (:func:`minhash.shingle_hash_reference` over :func:`minhash.shingle_strings`,
datasketch for the signatures). The first test fails when the kernel is not built in this checkout, so a
broken build step shows up as a failure rather than as a silent fallback to numpy.
"""
from __future__ import annotations

import importlib
import logging
import random
import threading
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from pipelines.packenv import build_project_wheel
from pipelines.text import minhash as mh

REPO = Path(__file__).resolve().parents[2]

TEXTS = [
    "",
    None,
    "one",
    "one two three four",  # fewer words than a 5-word shingle
    "1 2 3 4 5",
    "Hello, World! This is a test of the emergency broadcast system.",
    "  leading and trailing separators ... ___ ",
    "ünïcödé straße ÉCOLE 東京都は日本の首都です and ﬁve more words here",
    "İstanbul ŉ ﬃ ΣΊΣΥΦΟΣ ǅ ẞ Å Ω ﬀ µ ½ ¹ Ⅻ ①",  # multi-code-point case folds, compatibility forms
    "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ：ｗｏｒｄｓ！ 𝐁𝐨𝐥𝐝 𝕕𝕠𝕦𝕓𝕝𝕖 ",  # NFKC to ASCII
    "e\u0301 a\u0308 combining marks n\u0303o a\u030a",
    "مرحبا بالعالم هذا نص عربي قصير للاختبار فقط",
    "Данные и ещё немного слов для проверки подписи документа здесь",
    "emoji 🙂 between 😀😀 words 🙂🙂 and \U0001f600 here",
    "lone \ud800 surrogate \udfff here and there",
    "nbsp\u00a0separated\u00a0words\u2009thin\u3000ideographic",
    "tabs\tand\nnewlines   and    spaces___under_scores -- dashes",
    "日本語の文章には空白がありませんので文字のシングルを使います",
    "Latin-1 only: café naïve façade Ærø ÿ ß ª º",
    "\x00\x01 control \x7f chars \x85 and \u2028 separators",
]

_POOL = (
    [chr(c) for c in range(32, 127)] * 3
    + list(" \t\n\u00a0\u3000_-.,!?\n\n\n")
    + [chr(c) for c in range(0xA0, 0x180)]
    + [chr(c) for c in range(0x370, 0x3D0)]  # Greek (final sigma)
    + [chr(c) for c in range(0x400, 0x460)]  # Cyrillic
    + [chr(c) for c in range(0x300, 0x316)]  # combining marks
    + list("ﬀﬁﬂﬃﬄﬅﬆİŉǰΐΰẞᾈᾼῌῼ½¼²³ⅫⅨ①⑴㎏㍿")
    + [chr(c) for c in range(0xFF01, 0xFF5E, 3)]  # fullwidth
    + [chr(c) for c in range(0x4E00, 0x4E40)]  # CJK
    + [chr(c) for c in range(0xAC00, 0xAC10)] + [chr(c) for c in range(0x1100, 0x1108)]  # Hangul and jamo
    + ["\U0001d400", "\U0001d7ce", "\U0001f600", "\U00010400", "\U0001e900", "\ud800", "\udc00"]
)


def _fuzz_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n = rng.choice([0, 1, 3, 8, 20, 60, 200])
        pool = _POOL if rng.random() < 0.7 else [chr(c) for c in range(32, 127)]  # some pure-ASCII texts
        out.append("".join(rng.choice(pool) for _ in range(n)))
    return out


def _with(monkeypatch, mode: str, fn):
    with monkeypatch.context() as m:
        m.setenv(mh.KERNEL_ENV, mode)
        assert mh.active_kernel() == mode
        return fn()


def _reference(texts, kind, ngram):
    return [[mh.shingle_hash_reference(s) for s in mh.shingle_strings(t or "", kind, ngram)] for t in texts]


def _datasketch(hashes, num_perm, seed):
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda h: h)
    m.update_batch(list(hashes))
    return m.hashvalues.astype(np.uint32)


def test_the_kernel_is_built_in_this_checkout(monkeypatch):
    # `pip install -e .` (make install) and `pip wheel .` build it with setup.py; if this fails, the build
    # step is broken and every MinHash user would fall back to the slower numpy path.
    kernel = importlib.import_module("pipelines.text._minhash_kernel")
    assert kernel.SHINGLE_HASH_VERSION == mh.SHINGLE_HASH_VERSION
    assert mh._KERNEL is kernel
    monkeypatch.delenv(mh.KERNEL_ENV, raising=False)
    assert mh.active_kernel() == "compiled"


@pytest.mark.slow
def test_the_wheel_carries_the_compiled_kernel(tmp_path):
    # `pip wheel .` (what pack-env ships to executors, and what the Docker image installs) compiles it too;
    # a kernel left in the checkout by an editable install is not what ends up in the wheel.
    wheel = build_project_wheel(REPO, tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert [n for n in names if n.startswith("pipelines/text/_minhash_kernel.") and n.endswith((".so", ".pyd"))]


@pytest.mark.parametrize("kind,ngram", [("word", 5), ("word", 1), ("word", 3), ("char", 5), ("char", 1), ("char", 4)])
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 42), (256, 7), (7, 3), (200, 0)])
def test_compiled_equals_numpy_equals_reference(monkeypatch, kind, ngram, num_perm, seed):
    compiled = _with(monkeypatch, "compiled", lambda: mh.signatures(TEXTS, kind, ngram, num_perm, seed))
    numpy = _with(monkeypatch, "numpy", lambda: mh.signatures(TEXTS, kind, ngram, num_perm, seed))
    for field in ("signatures", "n_shingles", "hashes", "owner"):
        got, want = getattr(compiled, field), getattr(numpy, field)
        assert got.dtype == want.dtype and got.shape == want.shape, field
        np.testing.assert_array_equal(got, want, err_msg=field)
    for i, hashes in enumerate(_reference(TEXTS, kind, ngram)):
        assert compiled.hashes[compiled.owner == i].tolist() == hashes
        np.testing.assert_array_equal(compiled.signatures[i], _datasketch(hashes, num_perm, seed))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_texts(monkeypatch, seed):
    texts = _fuzz_texts(seed, 150)
    for kind, ngram in (("word", 5), ("word", 2), ("char", 3)):
        compiled = _with(monkeypatch, "compiled", lambda: mh.signatures(texts, kind, ngram, 32, seed))
        numpy = _with(monkeypatch, "numpy", lambda: mh.signatures(texts, kind, ngram, 32, seed))
        np.testing.assert_array_equal(compiled.signatures, numpy.signatures)
        np.testing.assert_array_equal(compiled.hashes, numpy.hashes)
        np.testing.assert_array_equal(compiled.n_shingles, numpy.n_shingles)
        for i, hashes in enumerate(_reference(texts[:40], kind, ngram)):
            assert compiled.hashes[compiled.owner == i].tolist() == hashes, repr(texts[i])


def test_case_folding_matches_str_casefold_code_point_by_code_point(monkeypatch):
    # The kernel folds through a table that str.casefold fills; every code point that folds to something
    # else (one or several code points) must shingle as its folding does.
    folding = [chr(c) for c in range(0x80, 0x20000) if chr(c).casefold() != chr(c)]
    assert len(folding) > 1000
    texts = [" ".join(folding[i : i + 50]) for i in range(0, len(folding), 50)]
    compiled = _with(monkeypatch, "compiled", lambda: mh.shingle_hashes(texts, "char", 2))
    numpy = _with(monkeypatch, "numpy", lambda: mh.shingle_hashes(texts, "char", 2))
    np.testing.assert_array_equal(compiled[0], numpy[0])
    np.testing.assert_array_equal(compiled[1], numpy[1])


def test_shingle_hashes_and_already_normalized_texts(monkeypatch):
    texts = TEXTS + _fuzz_texts(7, 40)
    normalized = [mh.normalize_for_shingles(t or "") for t in texts]
    for kind, ngram in (("word", 5), ("char", 5)):
        want = _with(monkeypatch, "numpy", lambda: mh.shingle_hashes(texts, kind, ngram))
        for args in ((texts, kind, ngram), (normalized, kind, ngram, True)):
            got = _with(monkeypatch, "compiled", lambda: mh.shingle_hashes(*args))
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
            assert got[0].dtype == np.uint32 and got[1].dtype == np.int64


def test_signatures_from_hashes(monkeypatch):
    hashes, owner = mh.shingle_hashes(TEXTS, "word", 3)
    n = len(TEXTS) + 2  # trailing documents without a hash
    for num_perm, seed in ((128, 1), (33, 5)):
        got = _with(monkeypatch, "compiled", lambda: mh.signatures_from_hashes(hashes, owner, n, num_perm, seed))
        want = _with(monkeypatch, "numpy", lambda: mh.signatures_from_hashes(hashes, owner, n, num_perm, seed))
        np.testing.assert_array_equal(got, want)
    empty = _with(monkeypatch, "compiled", lambda: mh.signatures_from_hashes(hashes[:0], owner[:0], 3, 16, 1))
    assert (empty == mh.EMPTY_HASH_VALUE).all() and empty.shape == (3, 16)
    with pytest.raises(ValueError, match="non-decreasing"):
        _with(monkeypatch, "compiled", lambda: mh.signatures_from_hashes(hashes, owner[::-1], n, 16, 1))


def test_kernel_sub_batches_do_not_change_results(monkeypatch):
    expected = _with(monkeypatch, "compiled", lambda: mh.signatures(TEXTS * 3, "word", 5, 64, 3))
    monkeypatch.setattr(mh, "_KERNEL_BATCH_CODEPOINTS", 40)
    got = _with(monkeypatch, "compiled", lambda: mh.signatures(TEXTS * 3, "word", 5, 64, 3))
    np.testing.assert_array_equal(got.signatures, expected.signatures)
    np.testing.assert_array_equal(got.hashes, expected.hashes)
    np.testing.assert_array_equal(got.owner, expected.owner)


def test_threads_share_the_kernel(monkeypatch):
    # The kernel releases the GIL; concurrent calls (and their lazily filled tables) give the same values.
    monkeypatch.setenv(mh.KERNEL_ENV, "compiled")
    texts = _fuzz_texts(11, 300)
    want = mh.signatures(texts, "word", 3, 64, 1).signatures
    results: list = [None] * 4
    errors: list = []

    def work(k: int) -> None:
        try:
            results[k] = mh.signatures(texts, "word", 3, 64, 1).signatures
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_kernel_rejects_bad_arguments():
    kernel = importlib.import_module("pipelines.text._minhash_kernel")
    a, b = mh.permutations(8, 1)
    counts = np.zeros(2, dtype=np.int64)
    sig = np.empty((2, 8), dtype=np.uint32)
    with pytest.raises(TypeError, match="texts\\[1\\]"):
        kernel.run(["a", b"bytes"], False, 5, True, a, b, sig, counts)
    with pytest.raises(ValueError, match="ngram"):
        kernel.run(["a", "b"], False, 0, True, a, b, sig, counts)
    with pytest.raises(ValueError, match="sig"):
        kernel.run(["a", "b"], False, 5, True, a, b, np.empty((2, 7), dtype=np.uint32), counts)
    with pytest.raises(ValueError, match="counts"):
        kernel.run(["a", "b"], False, 5, True, a, b, sig, np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError):
        kernel.run(["a", "b"], False, 5, True, a, b, sig.astype(np.uint64), counts)
    with pytest.raises(ValueError, match="ngram"):
        mh.signatures(["a b c"], "word", 0)
    with pytest.raises(ValueError, match="kind"):
        mh.shingle_hashes(["a b c"], "line", 5)


def test_kernel_environment_variable(monkeypatch, caplog):
    monkeypatch.setenv(mh.KERNEL_ENV, "numpy")
    assert mh.active_kernel() == "numpy"
    monkeypatch.setenv(mh.KERNEL_ENV, "fast")
    with pytest.raises(ValueError, match="CORPUSFORGE_MINHASH_KERNEL"):
        mh.signatures(["a b c d e"])
    # Not built: `compiled` is an error, `auto` falls back to numpy with one warning per process.
    monkeypatch.setattr(mh, "_KERNEL", None)
    monkeypatch.setattr(mh, "_KERNEL_ERROR", "No module named 'pipelines.text._minhash_kernel'")
    monkeypatch.setattr(mh, "_fallback_warned", threading.Event())
    monkeypatch.setenv(mh.KERNEL_ENV, "compiled")
    with pytest.raises(mh.KernelUnavailableError, match="C compiler"):
        mh.signatures(["a b c d e"])
    monkeypatch.setenv(mh.KERNEL_ENV, "auto")
    with caplog.at_level(logging.WARNING, logger=mh.__name__):
        first = mh.signatures(TEXTS, "word", 5, 16, 1)
        mh.signatures(TEXTS, "word", 5, 16, 1)
        assert mh.active_kernel() == "numpy"
    warnings = [r for r in caplog.records if "numpy implementation" in r.getMessage()]
    assert len(warnings) == 1
    monkeypatch.undo()
    np.testing.assert_array_equal(first.signatures, mh.signatures(TEXTS, "word", 5, 16, 1).signatures)


def test_line_by_line_nfkc_equals_whole_text_nfkc():
    # Combining marks, Hangul jamo (which compose across characters) and compatibility characters on both
    # sides of line feeds: normalizing line by line must give exactly the NFKC of the whole text.
    pieces = ["\n", "\n", "e", "\u0301", "\u0323", "\u1100", "\u1161", "\u11a8", "\uac00", "\u00bd", "\u00a0",
              "\ufb01", "\uff21", "\u2026", "\u0390", "\u1e9b", "\u0345", "\u0308", "a", " ", "\r", "\u0f73", "\u0cca"]
    rng = random.Random(5)
    texts = ["e\n\u0301", "\u1100\n\u1161", "\u0301\ne\u0301", "\n\n\u00bd\n", "x\u00a0\ny", "\u1161"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30))) for _ in range(3000)]
    for t in texts:
        assert mh._nfkc(t) == unicodedata.normalize("NFKC", t), ascii(t)
    assert mh._nfkc("plain é") == "plain é"


def test_nfkc_happens_before_case_folding(monkeypatch):
    # For these texts the order matters (case folding can leave text that NFKC would change); the rule
    # is NFKC first, then case folding, and the kernel folds after Python's NFKC.
    texts = ["\u0390 \u1e9b\u0323 x", "\u1fd3 \u0345 \u03d3"]
    for t in texts:
        nfkc_first = unicodedata.normalize("NFKC", t).casefold()
        assert nfkc_first != unicodedata.normalize("NFKC", t.casefold())
    got = _with(monkeypatch, "compiled", lambda: mh.shingle_hashes(texts, "char", 1))
    for i, expected in enumerate(_reference(texts, "char", 1)):
        assert got[0][got[1] == i].tolist() == expected
