"""MinHash signatures and LSH band keys: a compiled kernel, with numpy as the fallback (no pyspark here).

The pieces, and the contract each one keeps:

Normalization (:func:`normalize_for_shingles`)
    Unicode NFKC, then ``str.casefold()``, then every run of characters that are not alphanumeric in
    ``str.isalnum``'s sense (punctuation, symbols, whitespace, control characters, combining marks,
    ``_``) becomes one space, and the result is stripped. "Hello,  World!" and "hello world" shingle
    identically.

Shingles
    ``word``: n consecutive words of the normalized text (a document with fewer than n words has no
    shingle); ``char``: n consecutive code points of the normalized text, spaces included (for scripts
    without spaces). Either way a shingle is a substring of the normalized text: for words it is
    ``"w1 w2 ... wn"`` exactly, because normalization leaves single spaces between words.

Shingle hashing, scheme version 1 (:data:`SHINGLE_HASH_VERSION`; persisted indexes depend on it, so
it never changes silently: a change is a new version)
    For the code points ``c_0 .. c_{L-1}`` of the shingle string,
    ``p = sum_k (c_k + 1) * B**k  mod 2**64`` with ``B = 0x9E3779B97F4A7C15``, then
    ``h64 = fmix64(p ^ (L * 0xC2B2AE3D27D4EB4F mod 2**64))`` (the MurmurHash3 64-bit finalizer), and the
    shingle hash is the upper 32 bits, ``h64 >> 32``. :func:`shingle_hash_reference` is the plain
    Python definition; the vectorized code computes the polynomial for every shingle of a batch at once
    from prefix sums (``p(s, e) = (P[e] - P[s]) * B**-s mod 2**64``; B is odd so it is invertible).

Signatures (:func:`signatures`)
    datasketch's ``affine32`` scheme (its default since 2.0): for the shingle hashes ``h`` (32-bit),
    ``sig[k] = min over shingles of (a_k * fmix32(h) + b_k) mod 2**32``, with ``a_k, b_k`` drawn from
    ``numpy.random.RandomState(seed)`` exactly as datasketch draws them. For the same shingle hashes,
    seed and num_perm the result equals
    ``datasketch.MinHash(num_perm, seed, hashfunc=lambda h: h).update_batch(hashes)`` bit for bit, so
    datasketch's LSH theory and parameters apply unchanged. Documents without a shingle keep the empty
    signature (all ``2**32 - 1``) and are flagged by ``n_shingles == 0``.

Band keys (:func:`band_keys`)
    Band ``j`` covers signature values ``[j*r, (j+1)*r)``. Its key is a 64-bit hash of those ``r``
    values (chained fmix64), stored as int64. Two documents share a key exactly when datasketch's
    ``MinHashLSH`` would put them in the same bucket of that band, up to 64-bit hash collisions
    (probability about ``n**2 / 2**65`` per band for ``n`` documents, negligible below billions).

LSH parameters (:func:`optimal_param`, defined in :mod:`schemas.lsh` and re-exported here)
    datasketch's ``_optimal_param`` search (minimize the weighted false positive and false negative
    probability areas), with the integrals computed exactly by Gauss-Legendre quadrature: the
    integrands are polynomials of degree ``b*r <= num_perm``. It lives in ``schemas`` because config
    validation derives the default bands and rows from it.

Implementations (:data:`KERNEL_ENV`, :func:`active_kernel`)
    Both give the same values bit for bit (``tests/unit/test_minhash_kernel.py`` compares them with each
    other and with the plain-Python reference on fixed and random texts).

    * **compiled** (``pipelines/text/_minhash_kernel.c``, the extension ``pipelines.text._minhash_kernel``
      that ``setup.py`` builds on install): per batch, Python runs only NFKC (``unicodedata``) on the
      non-ASCII texts that fail its quick check, line by line (:func:`_nfkc`); the kernel then, per text, with the
      GIL released, case-folds (a per-process table that ``str.casefold`` fills for the code points that
      occur: case folding works code point by code point), classifies (CPython's own ``str.isalnum``
      test, cached in a table), collapses separator runs and lower-cases ASCII, accumulates the prefix
      sums, hashes every shingle span, and folds ``fmix32`` and the permutations into the running
      minimum in blocks of 64 permutations held in vector registers (gcc builds AVX-512, AVX2 and
      baseline variants of that loop and picks one when the module loads). No (permutations x shingles)
      matrix is formed. Batches are cut at about 2**20 code points per call.
    * **numpy**: normalization as array operations over the batch (:func:`_normalized_codepoints`:
      NFKC and case folding per non-ASCII text, one lookup of every code point in a lazily filled
      ``str.isalnum`` table, separator runs collapsed and ASCII lower-cased over the whole batch), the
      prefix sums and span hashes as array passes, and the permutations over chunks of a (permutations x
      shingles) matrix of at most 8 MiB. 4-5x slower than the kernel on real web pages.

    ``CORPUSFORGE_MINHASH_KERNEL``: ``auto`` (default) uses the kernel when it is built, else numpy with one
    warning per process; ``compiled`` raises :class:`KernelUnavailableError` when it is not built;
    ``numpy`` forces the fallback. The kernel is missing when the install had no C compiler, and when the
    code runs from a zip (``spark-submit --py-files``), from which Python cannot load extensions.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Literal, Optional, Sequence

import numpy as np

from schemas.lsh import collision_probability, optimal_param

try:  # the compiled kernel (setup.py builds it; absent without a C compiler, see _kernel())
    from pipelines.text import _minhash_kernel as _KERNEL
    _KERNEL_ERROR = ""
except ImportError as _exc:  # pragma: no cover - depends on the build
    _KERNEL = None
    _KERNEL_ERROR = str(_exc)

log = logging.getLogger(__name__)

#: Environment variable that picks the implementation: ``auto`` (default: the compiled kernel when it is
#: built, else numpy with one warning per process), ``compiled`` (an error when it is not built) or
#: ``numpy``. Both give the same values bit for bit.
KERNEL_ENV = "CORPUSFORGE_MINHASH_KERNEL"
_KERNEL_MODES = ("auto", "compiled", "numpy")
_fallback_warned = threading.Event()

SHINGLE_HASH_VERSION = 1
#: datasketch permutation scheme these signatures match.
PERMUTATION_SCHEME = "affine32"

ShingleKind = Literal["word", "char"]

_B = 0x9E3779B97F4A7C15
_B_INV = pow(_B, -1, 1 << 64)
_LEN_MUL = 0xC2B2AE3D27D4EB4F
_MASK64 = (1 << 64) - 1
EMPTY_HASH_VALUE = np.uint32(0xFFFFFFFF)

_U64 = np.uint64
_U32 = np.uint32

# Alphanumeric characters (str.isalnum) survive; everything else (incl. "_" and combining marks) separates words.
_SEPARATORS = re.compile(r"[\W_]+", re.UNICODE)

# Cells of the (num_perm x shingles) uint32 matrix computed at once: 8 MiB whatever the document sizes.
_CHUNK_CELLS = 1 << 21
# Code points per vectorized hashing pass: the uint64 work arrays (2 MiB each) stay in cache.
_MAX_BATCH_CODEPOINTS = 1 << 18
# Code points per compiled-kernel call: bounds its hash buffer (4 bytes per code point) and the
# NFKC-normalized copies of one call's texts.
_KERNEL_BATCH_CODEPOINTS = 1 << 20


# ASCII fast path of the same rule: ASCII is NFKC-invariant and casefold() == lower() there; letters
# and digits stay (upper case folded), every other byte separates words.
_ASCII_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c) if (chr(c).isascii() and chr(c).isalnum()) else 32 for c in range(256)
)


def normalize_for_shingles(text: str) -> str:
    """Normalize a text before shingling (see the module docstring for the exact rule).

    Args:
        text: any string.

    Returns:
        The NFKC-normalized, case-folded text with every run of non-alphanumeric characters replaced by
        one space, stripped.
    """
    if text.isascii():
        return b" ".join(text.encode("ascii").translate(_ASCII_TABLE).split()).decode("ascii")
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SEPARATORS.sub(" ", folded).strip()


def shingle_strings(text: str, kind: ShingleKind = "word", ngram: int = 5) -> list[str]:
    """The shingles of ``text`` as strings (reference implementation; slow, for tests and checks)."""
    norm = normalize_for_shingles(text)
    if kind == "word":
        words = norm.split(" ") if norm else []
        return [" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)]
    if kind == "char":
        return [norm[i : i + ngram] for i in range(len(norm) - ngram + 1)]
    raise ValueError(f"unknown shingle kind {kind!r}; use 'word' or 'char'")


def fmix64_int(x: int) -> int:
    """MurmurHash3's 64-bit finalizer on a Python int (the reference for the vectorised hashes)."""
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & _MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & _MASK64
    return x ^ (x >> 33)


def shingle_hash_reference(shingle: str) -> int:
    """The 32-bit hash of one shingle string, in plain Python (the definition of scheme version 1)."""
    p = 0
    power = 1
    for ch in shingle:
        p = (p + (ord(ch) + 1) * power) & _MASK64
        power = (power * _B) & _MASK64
    return fmix64_int(p ^ ((len(shingle) * _LEN_MUL) & _MASK64)) >> 32


def true_jaccard(a: str, b: str, kind: ShingleKind = "word", ngram: int = 5) -> float:
    """Exact Jaccard similarity of the shingle *string* sets of two texts (no hashing).

    Two texts without any shingle have similarity 0.0 (they are never clustered).
    """
    sa, sb = set(shingle_strings(a, kind, ngram)), set(shingle_strings(b, kind, ngram))
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


def _fmix64(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> _U64(33))
    x = x * _U64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> _U64(33))
    x = x * _U64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> _U64(33))


def _fmix32(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> _U32(16))
    x = x * _U32(0x85EBCA6B)
    x = x ^ (x >> _U32(13))
    x = x * _U32(0xC2B2AE35)
    return x ^ (x >> _U32(16))


class PowerTable:
    """``base**k`` and ``base**-k`` mod 2**64 for k < capacity, grown by doubling (one table per base and
    Python worker). ``inverse`` is ``base``'s inverse mod 2**64 (``base`` odd). Shared by the shingle hashes
    here and the n-gram hashes of :mod:`pipelines.text.decontam`."""

    def __init__(self, base: int, inverse: int, min_capacity: int = 1024) -> None:
        self.base, self.inverse, self.min_capacity = base, inverse, min_capacity
        self.pow = np.ones(1, dtype=_U64)
        self.inv = np.ones(1, dtype=_U64)

    def ensure(self, n: int) -> None:
        if n <= len(self.pow):
            return
        cap = max(n, 2 * len(self.pow), self.min_capacity)
        with np.errstate(over="ignore"):
            seq = np.full(cap, self.base, dtype=_U64)
            seq[0] = 1
            self.pow = np.cumprod(seq, dtype=_U64)
            seq[1:] = self.inverse
            self.inv = np.cumprod(seq, dtype=_U64)


_POWERS = PowerTable(_B, _B_INV)


def _hash_spans(prefix: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """32-bit hashes of the code point spans [starts, ends) given the weighted prefix sums."""
    lengths = (ends - starts).astype(_U64)
    p = (prefix[ends] - prefix[starts]) * _POWERS.inv[starts]
    return (_fmix64(p ^ (lengths * _U64(_LEN_MUL))) >> _U64(32)).astype(_U32)


class _WordCharTable:
    """``is_word[c]``: code point ``c`` is alphanumeric (``str.isalnum``), i.e. not matched by ``[\\W_]``.

    Filled lazily, only for the code points that occur (one per process, 1.1 MB), so a worker never pays
    for classifying all of Unicode up front.
    """

    def __init__(self) -> None:
        self.known = np.zeros(0x110000, dtype=bool)
        self.is_word = np.zeros(0x110000, dtype=bool)
        ascii_cps = np.arange(128)
        self.known[ascii_cps] = True
        self.is_word[ascii_cps] = [chr(c).isalnum() for c in range(128)]

    def lookup(self, cps: np.ndarray) -> np.ndarray:
        unknown = ~self.known[cps]
        if unknown.any():
            new = np.unique(cps[unknown])
            self.is_word[new] = [chr(int(c)).isalnum() for c in new]
            self.known[new] = True
        return self.is_word[cps]


_WORD_CHARS = _WordCharTable()


class KernelUnavailableError(RuntimeError):
    """``CORPUSFORGE_MINHASH_KERNEL=compiled`` but the compiled kernel is not built in this installation."""


def _kernel_mode() -> str:
    mode = os.environ.get(KERNEL_ENV, "").strip().lower() or "auto"
    if mode not in _KERNEL_MODES:
        raise ValueError(f"{KERNEL_ENV}={mode!r}: use one of {', '.join(_KERNEL_MODES)}")
    return mode


def _kernel():
    """The compiled kernel module when it is to be used, else None (numpy), per :data:`KERNEL_ENV`."""
    mode = _kernel_mode()
    if mode == "numpy":
        return None
    if _KERNEL is not None:
        return _KERNEL
    if mode == "compiled":
        raise KernelUnavailableError(
            f"{KERNEL_ENV}=compiled but pipelines.text._minhash_kernel is not importable ({_KERNEL_ERROR}); "
            "reinstall corpusforge where a C compiler is available (pip install -e . or make install)"
        )
    if not _fallback_warned.is_set():
        _fallback_warned.set()
        log.warning(
            "the compiled MinHash kernel (pipelines.text._minhash_kernel) is not built (%s); MinHash uses the "
            "numpy implementation: same signatures, several times slower. Reinstall corpusforge where a C "
            "compiler is available (pip install -e . or make install) to build it", _KERNEL_ERROR,
        )
    return None


def active_kernel() -> str:
    """``"compiled"`` or ``"numpy"``: the implementation that :func:`signatures` and :func:`shingle_hashes`
    use now (per :data:`KERNEL_ENV` and whether the kernel is built)."""
    return "compiled" if _kernel() is not None else "numpy"


def code_point_batches(texts: Sequence[str], limit: int) -> Iterable[tuple[int, int]]:
    """``(i, j)`` ranges of ``texts`` of at most ``limit`` code points each (a longer text alone)."""
    i = 0
    while i < len(texts):
        j, size = i, 0
        while j < len(texts) and (j == i or size + len(texts[j]) <= limit):
            size += len(texts[j])
            j += 1
        yield i, j
        i = j


def _nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, normalizing only the lines that need it.

    A line feed is ASCII: it has canonical combining class 0, is its own NFKC and composes with nothing,
    so NFKC never reorders or composes across it and the NFKC of a text is the NFKC of its lines joined
    by line feeds (UAX #15's stable-character boundaries). Web pages that fail the quick check usually do
    so on a few lines (a no-break space, a fraction, fullwidth punctuation), and most lines pass it.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    return "\n".join([
        line if line.isascii() or unicodedata.is_normalized("NFKC", line) else unicodedata.normalize("NFKC", line)
        for line in text.split("\n")
    ])


def _kernel_batch(
    kernel, texts: list[str], kind: ShingleKind, ngram: int, normalized: bool, perms: Optional[tuple], n_perm: int
) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Hashes, per-text shingle counts and (with ``perms``) signatures of ``texts`` by the compiled kernel.

    NFKC of non-ASCII texts runs here in Python (unicodedata); the kernel does the rest of the
    normalization (case folding through a table that ``str.casefold`` fills, code point by code point as
    ``str.casefold`` works; word characters by ``str.isalnum``'s own test; separator runs), the shingle
    hashes and the permutation minimum, with the GIL released.
    """
    n = len(texts)
    counts = np.zeros(n, dtype=np.int64)
    sig = np.empty((n, n_perm), dtype=_U32) if perms is not None else None
    a, b = perms if perms is not None else (None, None)
    parts = []
    for i, j in code_point_batches(texts, _KERNEL_BATCH_CODEPOINTS):
        part = texts[i:j]
        if not normalized:
            part = [t if t.isascii() else _nfkc(t) for t in part]
        raw = kernel.run(part, kind == "char", ngram, not normalized, a, b, None if sig is None else sig[i:j],
                         counts[i:j])
        parts.append(np.frombuffer(raw, dtype=_U32))
    hashes = np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else np.empty(0, dtype=_U32))
    return hashes, counts, sig


def _normalized_codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normalize_for_shingles` of a batch, vectorized: code points (uint64) of the normalized texts,
    concatenated, and each text's normalized length.

    Per text only NFKC and ``casefold`` run in Python (both skipped for ASCII, where they change nothing but
    case); separator runs, stripping and ASCII lower-casing are array operations over the whole batch.
    """
    parts = [t if t.isascii() else unicodedata.normalize("NFKC", t).casefold() for t in texts]
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=_U64), np.zeros(len(parts), dtype=np.int64)
    # surrogatepass: a lone surrogate is a separator, as for the regex rule
    cps = np.frombuffer("".join(parts).encode("utf-32-le", "surrogatepass"), dtype="<u4").copy()
    word = _WORD_CHARS.lookup(cps)
    doc_start = np.zeros(len(parts), dtype=np.int64)
    np.cumsum(lengths[:-1], out=doc_start[1:])
    prev = np.empty_like(word)
    prev[0] = False
    prev[1:] = word[:-1]
    prev[doc_start[lengths > 0]] = False
    starts = np.flatnonzero(word & ~prev)  # first character of every word
    owner = np.searchsorted(doc_start, starts, side="right") - 1
    first = np.ones(len(starts), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    spaces = starts[~first] - 1  # a separator character just before every word but a text's first
    keep = word
    keep[spaces] = True
    cps[spaces] = 32
    # ASCII texts were not case-folded yet (casefold == lower there): 'A'..'Z' -> 'a'..'z'
    cps[(cps - _U32(65)) <= _U32(25)] += _U32(32)
    kept_before = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    new_lengths = kept_before[doc_start + lengths] - kept_before[doc_start]
    return cps[keep].astype(_U64), new_lengths


def _shingle_hashes_flat(cps: np.ndarray, lengths: np.ndarray, kind: ShingleKind,
                         ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every shingle of every normalized text (given as concatenated uint64 code points and
    per-text lengths), and the index of the text each belongs to."""
    total = int(lengths.sum())
    n_texts = len(lengths)
    if total == 0:
        return np.empty(0, dtype=_U32), np.empty(0, dtype=np.int64)
    _POWERS.ensure(total + 1)
    prefix = np.empty(total + 1, dtype=_U64)
    prefix[0] = 0
    np.cumsum((cps + _U64(1)) * _POWERS.pow[:total], out=prefix[1:])
    doc_start = np.zeros(n_texts, dtype=np.int64)
    np.cumsum(lengths[:-1], out=doc_start[1:])
    doc_end = doc_start + lengths
    nonempty = lengths > 0
    if kind == "char":
        # A char n-gram starting at i is valid when it ends inside its own document.
        n_sh = np.maximum(lengths - ngram + 1, 0)
        owner = np.repeat(np.arange(n_texts), n_sh)
        first = np.repeat(doc_start, n_sh)
        offs = np.arange(int(n_sh.sum()), dtype=np.int64) - np.repeat(np.cumsum(n_sh) - n_sh, n_sh)
        starts = first + offs
        return _hash_spans(prefix, starts, starts + ngram), owner
    # Words: spaces split words; document boundaries also start and end words.
    # (Normalized texts have no leading, trailing or repeated spaces, so no position is marked twice.)
    space_pos = np.flatnonzero(cps == _U64(32))
    marks = np.zeros(total + 1, dtype=bool)
    marks[doc_start[nonempty]] = True
    marks[space_pos + 1] = True
    word_starts = np.flatnonzero(marks)
    marks[:] = False
    marks[doc_end[nonempty]] = True
    marks[space_pos] = True
    word_ends = np.flatnonzero(marks)
    owner_w = np.searchsorted(doc_end, word_starts, side="right")
    if len(word_starts) < ngram:
        return np.empty(0, dtype=_U32), np.empty(0, dtype=np.int64)
    m = len(word_starts) - ngram + 1
    valid = owner_w[: m] == owner_w[ngram - 1 :]
    starts = word_starts[:m][valid]
    ends = word_ends[ngram - 1 :][valid]
    return _hash_spans(prefix, starts, ends), owner_w[:m][valid]


def shingle_hashes(
    texts: Sequence[Optional[str]], kind: ShingleKind = "word", ngram: int = 5, normalized: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes (scheme version 1) of a batch of texts, vectorized.

    Args:
        texts: the documents (None counts as empty).
        kind: ``"word"`` or ``"char"`` shingles.
        ngram: words or code points per shingle.
        normalized: True when ``texts`` already went through :func:`normalize_for_shingles`.

    Returns:
        ``(hashes, owner)``: uint32 hashes of every shingle (duplicates included, in text order) and the
        int64 index of the text each one belongs to (non-decreasing).
    """
    _check_shingle_args(kind, ngram)
    raw = [t or "" for t in texts]
    kernel = _kernel()
    if kernel is not None:
        hashes, counts, _ = _kernel_batch(kernel, raw, kind, ngram, normalized, None, 0)
        return hashes, np.repeat(np.arange(len(raw), dtype=np.int64), counts)
    return _shingle_hashes_numpy(raw, kind, ngram, normalized)


def _check_shingle_args(kind: str, ngram: int) -> None:
    if kind not in ("word", "char"):
        raise ValueError(f"unknown shingle kind {kind!r}; use 'word' or 'char'")
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")


def _shingle_hashes_numpy(raw: list[str], kind: ShingleKind, ngram: int,
                          normalized: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingle_hashes` in numpy (the fallback, and the definition the compiled kernel is tested on)."""
    out_h: list[np.ndarray] = []
    out_o: list[np.ndarray] = []
    # Sub-batches bound the code point arrays; one huge document forms its own sub-batch.
    for i, j in code_point_batches(raw, _MAX_BATCH_CODEPOINTS):
        if normalized:
            lengths = np.fromiter(map(len, raw[i:j]), dtype=np.int64, count=j - i)
            joined = "".join(raw[i:j])
            cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(_U64)
        else:
            cps, lengths = _normalized_codepoints(raw[i:j])
        h, o = _shingle_hashes_flat(cps, lengths, kind, ngram)
        out_h.append(h)
        out_o.append(o + i)
    if not out_h:
        return np.empty(0, dtype=_U32), np.empty(0, dtype=np.int64)
    return np.concatenate(out_h), np.concatenate(out_o)


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The affine permutation parameters ``(a, b)`` (uint32, ``a`` odd) that datasketch draws for
    ``MinHash(num_perm, seed)`` with its default ``affine32`` scheme."""
    if num_perm < 1:
        raise ValueError("num_perm must be positive")
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=_U32) * _U32(2) + _U32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=_U32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def signatures_from_hashes(
    hashes: np.ndarray, owner: np.ndarray, n_docs: int, num_perm: int = 128, seed: int = 1
) -> np.ndarray:
    """MinHash signatures of ``n_docs`` documents from their shingle hashes.

    Args:
        hashes: uint32 shingle hashes of all documents, concatenated.
        owner: index of the document of each hash, non-decreasing.
        n_docs: number of documents (documents without a hash keep the empty signature).
        num_perm: permutations.
        seed: permutation seed.

    Returns:
        ``(n_docs, num_perm)`` uint32 array, equal row by row to datasketch's ``affine32`` MinHash.
    """
    a, b = permutations(num_perm, seed)
    kernel = _kernel()
    if kernel is not None and len(hashes):
        owner = np.asarray(owner, dtype=np.int64)
        if len(owner) != len(hashes) or owner[0] < 0 or owner[-1] >= n_docs or (np.diff(owner) < 0).any():
            raise ValueError("owner must be non-decreasing document indexes below n_docs, one per hash")
        sig = np.empty((n_docs, num_perm), dtype=_U32)
        bounds = np.searchsorted(owner, np.arange(n_docs + 1, dtype=np.int64)).astype(np.int64)
        kernel.fold(np.ascontiguousarray(hashes, dtype=_U32), bounds, a, b, sig)
        return sig
    return _signatures_from_hashes_numpy(hashes, owner, n_docs, a, b)


def _signatures_from_hashes_numpy(hashes: np.ndarray, owner: np.ndarray, n_docs: int, a: np.ndarray,
                                  b: np.ndarray) -> np.ndarray:
    num_perm = len(a)
    sig = np.full((n_docs, num_perm), EMPTY_HASH_VALUE, dtype=_U32)
    if len(hashes) == 0:
        return sig
    mixed = _fmix32(np.asarray(hashes, dtype=_U32))
    owner = np.asarray(owner, dtype=np.int64)
    # Permutations along rows, shingles along columns: the multiply-add runs in place over a reused
    # buffer and the per-document minimum is a segmented reduction along contiguous rows.
    cols = max(1, min(len(mixed), _CHUNK_CELLS // num_perm))
    buf = np.empty((num_perm, cols), dtype=_U32)
    a_col, b_col = a[:, None], b[:, None]
    for c0 in range(0, len(mixed), cols):
        c1 = min(c0 + cols, len(mixed))
        phv = buf[:, : c1 - c0]
        np.multiply(a_col, mixed[None, c0:c1], out=phv)
        np.add(phv, b_col, out=phv)
        d = owner[c0:c1]
        seg = np.flatnonzero(np.concatenate(([True], d[1:] != d[:-1])))
        mins = np.minimum.reduceat(phv, seg, axis=1).T
        docs = d[seg]
        sig[docs] = np.minimum(sig[docs], mins)
    return sig


@dataclass(frozen=True)
class SignatureBatch:
    """Signatures of a batch of documents."""

    signatures: np.ndarray  # (n, num_perm) uint32
    n_shingles: np.ndarray  # (n,) int64, shingles counted with repetition
    hashes: np.ndarray  # all shingle hashes, concatenated
    owner: np.ndarray  # document index of each hash


def signatures(
    texts: Sequence[Optional[str]], kind: ShingleKind = "word", ngram: int = 5, num_perm: int = 128, seed: int = 1
) -> SignatureBatch:
    """MinHash signatures of a batch of texts (normalize, shingle, hash, permute, minimum).

    Args:
        texts: the documents.
        kind: ``"word"`` or ``"char"`` shingles.
        ngram: shingle size.
        num_perm: permutations (signature length).
        seed: permutation seed.

    Returns:
        A :class:`SignatureBatch`.
    """
    _check_shingle_args(kind, ngram)
    n = len(texts)
    kernel = _kernel()
    if kernel is not None:
        perms = permutations(num_perm, seed)
        hashes, counts, sig = _kernel_batch(kernel, [t or "" for t in texts], kind, ngram, False, perms, num_perm)
        return SignatureBatch(sig, counts, hashes, np.repeat(np.arange(n, dtype=np.int64), counts))
    hashes, owner = shingle_hashes(texts, kind, ngram)
    sig = signatures_from_hashes(hashes, owner, n, num_perm, seed)
    counts = np.bincount(owner, minlength=n).astype(np.int64) if len(owner) else np.zeros(n, dtype=np.int64)
    return SignatureBatch(sig, counts, hashes, owner)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """64-bit LSH bucket keys, one per band: ``(n, bands)`` int64.

    Args:
        sig: ``(n, num_perm)`` uint32 signatures.
        bands: number of bands b.
        rows: values per band r; ``b * r <= num_perm`` (trailing values are unused, as in datasketch).
    """
    n, num_perm = sig.shape
    if bands < 1 or rows < 1 or bands * rows > num_perm:
        raise ValueError(f"bands*rows must be between 1 and num_perm={num_perm}, got {bands}x{rows}")
    v = sig[:, : bands * rows].astype(_U64).reshape(n, bands, rows)
    h = np.broadcast_to(_fmix64(np.arange(1, bands + 1, dtype=_U64) * _U64(_LEN_MUL)), (n, bands)).copy()
    for k in range(rows):
        h = _fmix64(h * _U64(_B) + v[:, :, k] + _U64(1))
    return h.view(np.int64)


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Row-wise estimated Jaccard (share of equal signature values), as datasketch's ``MinHash.jaccard``."""
    return np.mean(np.asarray(sig_a) == np.asarray(sig_b), axis=-1)


def exact_jaccard_hashed(set_a: np.ndarray, set_b: np.ndarray) -> float:
    """Jaccard similarity of two shingle *hash* sets (each sorted unique uint32); 0.0 when both are empty."""
    if len(set_a) == 0 and len(set_b) == 0:
        return 0.0
    inter = len(np.intersect1d(set_a, set_b, assume_unique=True))
    return inter / (len(set_a) + len(set_b) - inter)


def sorted_unique(hashes: Iterable[int]) -> np.ndarray:
    """Sorted unique uint32 shingle hashes (the set used for exact verification)."""
    return np.unique(np.asarray(list(hashes) if not isinstance(hashes, np.ndarray) else hashes, dtype=_U32))


__all__ = [
    "EMPTY_HASH_VALUE",
    "KERNEL_ENV",
    "KernelUnavailableError",
    "PERMUTATION_SCHEME",
    "SHINGLE_HASH_VERSION",
    "SignatureBatch",
    "active_kernel",
    "band_keys",
    "collision_probability",
    "estimated_jaccard",
    "exact_jaccard_hashed",
    "normalize_for_shingles",
    "optimal_param",
    "permutations",
    "shingle_hash_reference",
    "shingle_hashes",
    "shingle_strings",
    "signatures",
    "signatures_from_hashes",
    "sorted_unique",
    "true_jaccard",
]
