"""MinHash signatures, shingle hashing, band keys and LSH parameters (no Spark)."""
from __future__ import annotations

import random
import re
import unicodedata

import numpy as np
import pytest
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from pipelines.text import minhash as mh
from pipelines.text.components import UnionFind, connected_components, lsh_star_edges, partition
from schemas import lsh
from schemas.config import ConfigError, validate_config

_RNG = random.Random(1234)
_WORDS = ["alpha", "Beta", "gamma,", "délta", "ÉPSILON", "straße", "東京", "данные", "x", "42", "naïve", "🙂"]

TEXTS = [
    "",
    "one",
    "two words",
    "Hello, World! This is a test of the emergency broadcast system.",
    "ünïcödé straße ÉCOLE 東京都は日本の首都です and ﬁve more words here",
    "مرحبا بالعالم هذا نص عربي قصير للاختبار فقط",
    "tabs\tand\nnewlines   and    spaces___under_scores -- dashes",
    " ".join(_RNG.choice(_WORDS) for _ in range(20000)),  # very long
    "日本語の文章には空白がありませんので文字のシングルを使います",
]


def _datasketch(hashes, num_perm, seed):
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda h: h)
    m.update_batch(list(hashes))
    return m.hashvalues


@pytest.mark.parametrize("kind,ngram", [("word", 5), ("word", 1), ("word", 3), ("char", 5), ("char", 1)])
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 42), (256, 7)])
def test_signatures_equal_datasketch_bit_for_bit(kind, ngram, num_perm, seed):
    batch = mh.signatures(TEXTS, kind, ngram, num_perm, seed)
    assert batch.signatures.dtype == np.uint32 and batch.signatures.shape == (len(TEXTS), num_perm)
    for i, text in enumerate(TEXTS):
        hashes = [mh.shingle_hash_reference(s) for s in mh.shingle_strings(text, kind, ngram)]
        assert batch.n_shingles[i] == len(hashes)
        np.testing.assert_array_equal(batch.signatures[i], _datasketch(hashes, num_perm, seed))


def test_shingle_hashes_follow_the_reference_definition():
    for kind, ngram in (("word", 5), ("char", 4)):
        hashes, owner = mh.shingle_hashes(TEXTS, kind, ngram)
        for i, text in enumerate(TEXTS):
            expected = [mh.shingle_hash_reference(s) for s in mh.shingle_strings(text, kind, ngram)]
            assert hashes[owner == i].tolist() == expected
    # Scheme version 1 is frozen: persisted indexes depend on these exact values.
    assert mh.SHINGLE_HASH_VERSION == 1
    assert mh.shingle_hash_reference("a b c d e") == mh.shingle_hashes(["A, b; C d E!"])[0][0]
    assert len({mh.shingle_hash_reference(s) for s in ("ab", "ba", "a b", "abc", "")}) == 5


def test_frozen_values_of_scheme_version_1():
    # Literal values: a change here silently breaks every persisted index (bump SHINGLE_HASH_VERSION).
    got = [mh.shingle_hash_reference(s) for s in ("the quick brown fox jumps", "東京都", "a")]
    assert got == [477263499, 2321232593, 1848853994]
    sig = mh.signatures(["The quick brown fox jumps over the lazy dog"], "word", 5, 8, 1).signatures
    assert sig[0].tolist() == [
        167451431, 1385944568, 1196143377, 322431802, 440548898, 1230704191, 298791184, 191111348
    ]
    assert mh.band_keys(sig, 2, 4).tolist() == [[1141300413607600614, -1943495808399017807]]


def test_sub_batches_and_chunks_do_not_change_results(monkeypatch):
    expected = mh.signatures(TEXTS, "word", 5, 128, 3)
    monkeypatch.setattr(mh, "_MAX_BATCH_CODEPOINTS", 50)
    monkeypatch.setattr(mh, "_CHUNK_CELLS", 128 * 7)
    got = mh.signatures(TEXTS, "word", 5, 128, 3)
    np.testing.assert_array_equal(got.signatures, expected.signatures)
    np.testing.assert_array_equal(got.n_shingles, expected.n_shingles)


def test_documents_shorter_than_one_shingle_have_empty_signatures():
    batch = mh.signatures(["", "one two three four", "1 2 3 4 5"], "word", 5, 16, 1)
    assert batch.n_shingles.tolist() == [0, 0, 1]
    assert (batch.signatures[:2] == mh.EMPTY_HASH_VALUE).all()
    assert not (batch.signatures[2] == mh.EMPTY_HASH_VALUE).all()


def test_normalization_rule_and_ascii_fast_path():
    assert mh.normalize_for_shingles("  Hello,  World!\n") == "hello world"
    assert mh.normalize_for_shingles("snake_case-and.dots") == "snake case and dots"
    assert mh.normalize_for_shingles("ＦＵＬＬＷＩＤＴＨ Straße") == "fullwidth strasse"
    assert mh.normalize_for_shingles("...!!!") == ""
    general = re.compile(r"[\W_]+")
    rng = random.Random(9)
    for _ in range(300):
        s = "".join(chr(rng.randrange(0, 128)) for _ in range(rng.randrange(0, 40)))
        slow = general.sub(" ", unicodedata.normalize("NFKC", s).casefold()).strip()
        assert mh.normalize_for_shingles(s) == slow


def test_true_jaccard():
    a = "a b c d e f g"
    assert mh.true_jaccard(a, a) == 1.0
    assert mh.true_jaccard(a, "A, b c d e f g!") == 1.0
    assert mh.true_jaccard(a, "a b c d e f x") == pytest.approx(2 / 4)
    assert mh.true_jaccard("short", "short") == 0.0  # no shingle: never similar


def test_band_keys_equal_exactly_when_band_values_equal():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(6, 128), dtype=np.uint32)
    sig[1] = sig[0]
    sig[2, :13] = sig[0, :13]  # shares band 0 only
    sig[3, 13:26] = sig[0, 13:26]  # shares band 1 only
    keys = mh.band_keys(sig, 9, 13)
    assert keys.shape == (6, 9) and keys.dtype == np.int64
    assert (keys[1] == keys[0]).all()
    assert (keys[2] == keys[0]).tolist() == [True] + [False] * 8
    assert (keys[3] == keys[0]).tolist() == [False, True] + [False] * 7
    # the same values in different bands give different keys
    same = np.tile(sig[4, :13], 9)[None, :]
    k = mh.band_keys(np.concatenate([same, sig[5:, : 9 * 13]], axis=0), 9, 13)
    assert len(set(k[0].tolist())) == 9
    # unused trailing values do not matter (as in datasketch)
    sig2 = sig.copy()
    sig2[:, 117:] = 0
    np.testing.assert_array_equal(mh.band_keys(sig2, 9, 13), keys)
    with pytest.raises(ValueError, match="bands\\*rows"):
        mh.band_keys(sig, 20, 7)


@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95])
def test_optimal_param_equals_datasketch(threshold, num_perm):
    assert mh.optimal_param(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_optimal_param_with_weights():
    assert mh.optimal_param(0.7, 128, 0.3, 0.7) == _optimal_param(0.7, 128, 0.3, 0.7)


def test_lsh_math_lives_in_schemas_and_is_re_exported():
    # config validation derives bands/rows from schemas.lsh; minhash keeps the old names working
    assert mh.optimal_param is lsh.optimal_param and mh.collision_probability is lsh.collision_probability
    section = validate_config({"near_dedup": {"enabled": True, "threshold": 0.7, "false_positive_weight": 0.3}})
    assert section.near_dedup.lsh_params() == _optimal_param(0.7, 128, 0.3, 0.7)


def test_estimated_and_exact_jaccard():
    a = mh.signatures(["a b c d e f g h i j"], "word", 2, 256, 1).signatures[0]
    b = mh.signatures(["a b c d e f g h i x"], "word", 2, 256, 1).signatures[0]
    m1 = MinHash(256, 1, hashfunc=lambda h: h)
    m1.hashvalues = a.copy()
    m2 = MinHash(256, 1, hashfunc=lambda h: h)
    m2.hashvalues = b.copy()
    assert mh.estimated_jaccard(a, b) == pytest.approx(m1.jaccard(m2))
    sa = mh.sorted_unique([1, 2, 3, 3])
    assert mh.exact_jaccard_hashed(sa, mh.sorted_unique([2, 3, 4])) == pytest.approx(2 / 4)
    assert mh.exact_jaccard_hashed(mh.sorted_unique([]), mh.sorted_unique([])) == 0.0


def test_union_find_and_star_edges():
    uf = UnionFind()
    for a, b in [("d", "c"), ("c", "b"), ("x", "y")]:
        uf.union(a, b)
    assert uf.components() == {"d": "b", "c": "b", "b": "b", "x": "x", "y": "x"}
    labels = connected_components([(3, 2), (2, 1), (7, 8)], nodes=[9])
    assert partition(labels) == {frozenset({1, 2, 3}), frozenset({7, 8}), frozenset({9})}
    keys = np.array([[1, 2], [1, 5], [9, 2], [4, 4]], dtype=np.int64)
    edges = lsh_star_edges(["d1", "d2", "d3", "d4"], keys, [True, True, True, False])
    assert edges == [("d2", "d1"), ("d3", "d1")]


def test_config_validation():
    cfg = validate_config({"near_dedup": {"enabled": True}})
    assert cfg.near_dedup.lsh_params() == (9, 13)
    assert validate_config({"near_dedup": {"bands": 16, "rows": 8}}).near_dedup.lsh_params() == (16, 8)
    with pytest.raises(ConfigError, match="both near_dedup.bands and near_dedup.rows"):
        validate_config({"near_dedup": {"bands": 16}})
    with pytest.raises(ConfigError, match="exceeds num_perm"):
        validate_config({"near_dedup": {"bands": 20, "rows": 8}})
    with pytest.raises(ConfigError, match="survivor"):
        validate_config({"near_dedup": {"survivor": "drop table"}})
    with pytest.raises(ConfigError, match="unknown key 'near_dedup.treshold'"):
        validate_config({"near_dedup": {"treshold": 0.5}})
    with pytest.raises(ConfigError, match="verification"):
        validate_config({"near_dedup": {"verification": "maybe"}})
    assert validate_config({"near_dedup": {"survivor": "quality_score"}}).near_dedup.survivor == "quality_score"


def test_batch_normalization_equals_the_string_rule():
    # The vectorized path (code point table, separator runs, ASCII lower-casing) must reproduce
    # normalize_for_shingles exactly, text by text, whatever the mix of scripts and separators.
    rng = random.Random(5)
    alphabet = (
        "aZ09 _-.,\t\n\u00a0ßÉéﬁＡ東京\u0301\u0300ѐДдعربي\u0e01\u0e31\u200b\u2028½²\U0001f642\U00020000"
        "\ud800İΣσς"
    )
    texts = [""] + ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60))) for _ in range(400)]
    texts += TEXTS
    cps, lengths = mh._normalized_codepoints(texts)
    out = cps.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    pos = 0
    for text, n in zip(texts, lengths.tolist()):
        assert out[pos : pos + n] == mh.normalize_for_shingles(text), repr(text)
        pos += n
    # and the hashes follow the reference shingles for those texts too
    hashes, owner = mh.shingle_hashes(texts, "word", 2)
    for i, text in enumerate(texts):
        expected = [mh.shingle_hash_reference(s) for s in mh.shingle_strings(text, "word", 2)]
        assert hashes[owner == i].tolist() == expected
