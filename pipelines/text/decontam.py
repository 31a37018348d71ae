"""Benchmark decontamination: evaluation items and documents compared by hashed token n-grams (no pyspark).

The pieces, and the contract each one keeps (docs/decontaminate.md is the user-facing description):

Normalization (:func:`normalize`), the same on both sides
    Unicode NFKC, then case folding (``str.casefold``, lower case that also folds ``ß`` to ``ss``),
    then every run of characters outside the Unicode ``\\w`` class (punctuation, symbols, whitespace,
    control characters) and every ``_`` becomes one space. Characters of scripts written without
    spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) become tokens of their own. The
    result is the tokens joined by single spaces: ``"What is 2+2?"`` -> ``"what is 2 2"``,
    ``"东京是日本的首都。"`` -> ``"东 京 是 日 本 的 首 都"``. ``\\w`` is the Unicode definition (the
    ``regex`` package): letters, combining marks, digits and connector punctuation, so Devanagari or Thai
    vowel signs stay with their word.

Hashing, scheme version 1 (:data:`HASH_VERSION`)
    A token ``t`` with code points ``c_0 .. c_{L-1}``: ``h(t) = fmix64(sum_k (c_k + 1) * B1**k ^ L * K1)``;
    a sequence of tokens ``t_0 .. t_{n-1}``: ``H = fmix64(sum_k h(t_k) * B2**k ^ n * K2)`` (all mod
    2**64; fmix64 is MurmurHash3's 64-bit finalizer). :func:`token_hash_reference` and
    :func:`sequence_hash_reference` are the plain Python definitions; :class:`Matcher` computes the same
    values for every n-gram of a batch at once from prefix sums over code points and over token hashes
    (a span's polynomial is ``(P[e] - P[s]) * B**-s``; both bases are odd, hence invertible).

Index (:func:`build_index`)
    The distinct ``ngram``-token hashes of every item, each mapped to the items that contain it (a sorted
    key array with CSR offsets into item numbers); items shorter than ``ngram`` tokens follow the
    short-item rule (a whole-item hash, found through the hash of its first ``min_item_tokens`` tokens,
    then confirmed at full length). Above ``bloom_above_ngrams`` keys, the key table is replaced by a
    Bloom filter for the workers (:class:`BloomFilter`); its hits are confirmed against the exact table
    elsewhere (the Spark stage joins them), so a Bloom false positive never flags a document.

Matching (:meth:`Matcher.match`)
    A document is flagged for a set when it contains ``min_matches`` distinct n-grams of that set, or a
    whole short item of it; its reason names the first flagged set in config order.
"""
from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import math
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import regex

from .minhash import PowerTable, code_point_batches, fmix64_int

HASH_VERSION = 1

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_B1 = 0x9E3779B97F4A7C15
_B2 = 0xD6E8FEB86659FD93
_K1 = 0xC2B2AE3D27D4EB4F
_K2 = 0x165667B19E3779F9
_B1_INV = pow(_B1, -1, 1 << 64)
_B2_INV = pow(_B2, -1, 1 << 64)

#: Scripts written without spaces between words: each of their characters is a token.
NO_SPACE_SCRIPTS = ("Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar")
_NOSPACE = regex.compile("[" + "".join(rf"\p{{{s}}}" for s in NO_SPACE_SCRIPTS) + "]")
_SEPARATORS = regex.compile(r"[\W_]+")
# ASCII fast path of the same rule: letters and digits stay (upper case folded), every other byte separates.
_ASCII_TABLE = bytes((c + 32 if 65 <= c <= 90 else c) if chr(c).isalnum() else 32 for c in range(128)) + bytes(
    [32] * 128
)

# Code points per vectorized pass (the uint64 work arrays stay small); one huge document is its own pass.
_MAX_BATCH_CODEPOINTS = 1 << 19

#: Item files read from a folder, by suffix.
ITEM_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".ndjson", ".parquet", ".txt", ".txt.gz")


# ------------------------------------------------------------------------------------------ normalization
def normalize(text: str) -> str:
    """The normalized token string of ``text`` (see the module docstring): tokens joined by single spaces."""
    if text.isascii():
        return b" ".join(text.encode("ascii").translate(_ASCII_TABLE).split()).decode("ascii")
    t = _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    if _NOSPACE.search(t):
        t = _NOSPACE.sub(r" \g<0> ", t)
    return " ".join(t.split())


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` after :func:`normalize`."""
    norm = normalize(text)
    return norm.split(" ") if norm else []


# ------------------------------------------------------------------------------------------------ hashing
def token_hash_reference(token: str) -> int:
    """The 64-bit hash of one token, in plain Python (the definition of scheme version 1)."""
    p, power = 0, 1
    for ch in token:
        p = (p + (ord(ch) + 1) * power) & _MASK64
        power = (power * _B1) & _MASK64
    return fmix64_int(p ^ ((len(token) * _K1) & _MASK64))


def sequence_hash_reference(toks: Sequence[str]) -> int:
    """The 64-bit hash of a token sequence (an n-gram or a whole short item), in plain Python."""
    p, power = 0, 1
    for t in toks:
        p = (p + token_hash_reference(t) * power) & _MASK64
        power = (power * _B2) & _MASK64
    return fmix64_int(p ^ ((len(toks) * _K2) & _MASK64))


def _fmix64(x: np.ndarray) -> np.ndarray:
    x ^= x >> _U64(33)
    x *= _U64(0xFF51AFD7ED558CCD)
    x ^= x >> _U64(33)
    x *= _U64(0xC4CEB9FE1A85EC53)
    x ^= x >> _U64(33)
    return x


_P1 = PowerTable(_B1, _B1_INV, 4096)
_P2 = PowerTable(_B2, _B2_INV, 4096)


@dataclass
class TokenBatch:
    """Token hashes of a batch of normalized texts, with what span hashes need.

    ``doc_tok[d]:doc_tok[d+1]`` are the tokens of text ``d``; :meth:`spans` hashes any token span.
    """

    n_docs: int
    doc_tok: np.ndarray  # int64, n_docs + 1 offsets into the tokens
    owner: np.ndarray  # int64, text index of every token
    prefix: np.ndarray  # uint64, T + 1 weighted prefix sums of the token hashes

    @property
    def n_tokens(self) -> int:
        return len(self.owner)

    def spans(self, starts: np.ndarray, length: int) -> np.ndarray:
        """Sequence hashes of the token spans ``[s, s + length)`` (callers keep them inside one text)."""
        with np.errstate(over="ignore"):
            p = (self.prefix[starts + length] - self.prefix[starts]) * _P2.inv[starts]
            p ^= _U64((length * _K2) & _MASK64)
            return _fmix64(p)

    def ngram_starts(self, n: int) -> np.ndarray:
        """Global token positions where an n-token span starts and ends inside the same text."""
        t = self.n_tokens
        if t < n:
            return np.empty(0, dtype=np.int64)
        m = t - n + 1
        return np.flatnonzero(self.owner[:m] == self.owner[n - 1:])


def hash_tokens(norms: Sequence[str]) -> TokenBatch:
    """Token hashes of normalized texts (:func:`normalize` output), vectorized.

    The texts' code points are hashed as one array: a token is a maximal run without spaces inside one
    text (normalized texts have no leading, trailing or repeated spaces).
    """
    n_docs = len(norms)
    lengths = np.fromiter((len(s) for s in norms), dtype=np.int64, count=n_docs)
    total = int(lengths.sum())
    if total == 0:
        return TokenBatch(n_docs, np.zeros(n_docs + 1, dtype=np.int64), np.empty(0, dtype=np.int64),
                          np.zeros(1, dtype=_U64))
    _P1.ensure(total + 1)
    raw = np.frombuffer("".join(norms).encode("utf-32-le"), dtype="<u4")
    cps = raw.astype(_U64)
    prefix = np.empty(total + 1, dtype=_U64)
    prefix[0] = 0
    with np.errstate(over="ignore"):
        cps += _U64(1)
        cps *= _P1.pow[:total]
        np.cumsum(cps, out=prefix[1:])
    doc_end = np.cumsum(lengths)
    doc_start = doc_end - lengths
    nonempty = lengths > 0
    space_pos = np.flatnonzero(raw == 32)
    marks = np.zeros(total + 1, dtype=bool)
    marks[doc_start[nonempty]] = True
    marks[space_pos + 1] = True
    starts = np.flatnonzero(marks)
    marks[:] = False
    marks[doc_end[nonempty]] = True
    marks[space_pos] = True
    ends = np.flatnonzero(marks)
    owner = np.searchsorted(doc_end, starts, side="right").astype(np.int64)
    with np.errstate(over="ignore"):
        th = (prefix[ends] - prefix[starts]) * _P1.inv[starts]
        th ^= (ends - starts).astype(_U64) * _U64(_K1)
        th = _fmix64(th)
        n_tok = len(th)
        _P2.ensure(n_tok + 1)
        th *= _P2.pow[:n_tok]
        tprefix = np.empty(n_tok + 1, dtype=_U64)
        tprefix[0] = 0
        np.cumsum(th, out=tprefix[1:])
    doc_tok = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_docs), out=doc_tok[1:])
    return TokenBatch(n_docs, doc_tok, owner, tprefix)


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """The distinct n-gram hashes (uint64, sorted) of one text; for tests, tools and index building."""
    tb = hash_tokens([normalize(text)])
    return np.unique(tb.spans(tb.ngram_starts(n), n))


# ------------------------------------------------------------------------------------------ evaluation sets
class EvalSetError(ValueError):
    """An evaluation set cannot be used; the message says which set and how to fix it."""


@dataclass
class EvalSetData:
    """The items of one evaluation set as read from its files, and what reading them found."""

    name: str
    ids: list[str]
    texts: list[str]
    #: Relative file name -> sha256 of the bytes read.
    files: dict[str, str]
    sha256: str  # of the file, or of the sorted "<name> <sha256>" lines of a folder's files
    records: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> records that gave no item


def _set_files(name: str, path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(ITEM_SUFFIXES)
                       and not p.name.startswith("."))
        if not files:
            raise EvalSetError(
                f"decontaminate set {name!r}: the folder holds no {', '.join(ITEM_SUFFIXES)} file; point 'path' "
                "at the evaluation file(s)"
            )
        return files
    raise EvalSetError(
        f"decontaminate set {name!r}: {path} does not exist; fix decontaminate.sets[].path (a local file or folder)"
    )


def _text_of(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):  # e.g. multiple-choice options
        parts = [_text_of(v) for v in value]
        return "\n".join(p for p in parts if p)
    if isinstance(value, (int, float, bool)):
        return str(value)
    if isinstance(value, dict):
        return "\n".join(t for t in (_text_of(v) for v in value.values()) if t)
    return str(value)


def _record_item(rec: Any, fields: Sequence[str], id_field: Optional[str], default_id: str,
                 skipped: Counter) -> Optional[tuple[str, str]]:
    if not isinstance(rec, dict):
        skipped["not_an_object"] += 1
        return None
    present = [f for f in fields if f in rec]
    if not present:
        skipped["missing_fields"] += 1
        return None
    text = "\n".join(t for t in (_text_of(rec.get(f)) for f in fields) if t)
    if not text.strip():
        skipped["empty_text"] += 1
        return None
    item_id = rec.get(id_field) if id_field else None
    return (default_id if item_id is None else str(item_id)), text


def read_eval_set(name: str, path: Path, fields: Sequence[str], id_field: Optional[str] = None,
                  display_root: Optional[Path] = None) -> EvalSetData:
    """Read the items of one evaluation set (a file or a folder of JSONL, Parquet and text files).

    JSONL and Parquet records give one item each: the text of ``fields`` joined by newlines (lists and
    mappings are flattened); text files give one item per non-blank line. Records that give no item
    (malformed JSON, none of the fields present, empty text, undecodable line) are skipped and counted by
    reason in :attr:`EvalSetData.skipped`.

    Raises:
        EvalSetError: the path does not exist, a file cannot be read, JSONL/Parquet without ``fields``,
            or the set has no usable item.
    """
    path = Path(path)
    files = _set_files(name, path)
    root = path if path.is_dir() else path.parent
    out = EvalSetData(name=name, ids=[], texts=[], files={}, sha256="")
    for f in files:
        rel = f.relative_to(root).as_posix()
        try:
            raw = f.read_bytes()
            data = gzip.decompress(raw) if f.name.endswith(".gz") else raw
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise EvalSetError(f"decontaminate set {name!r}: cannot read {rel} ({type(exc).__name__}); "
                               "check the file") from None
        out.files[rel] = hashlib.sha256(raw).hexdigest()
        base = f.name[:-3] if f.name.endswith(".gz") else f.name
        if base.endswith((".jsonl", ".json", ".ndjson", ".parquet")) and not fields:
            raise EvalSetError(
                f"decontaminate set {name!r}: {rel} is JSONL/Parquet; list the fields that make an item, e.g. "
                "fields: [question, answer]"
            )
        if base.endswith(".parquet"):
            _read_parquet(name, rel, data, fields, id_field, out)
        elif base.endswith((".jsonl", ".json", ".ndjson")):
            _read_jsonl(rel, data, fields, id_field, out)
        else:
            _read_text(rel, data, out)
    if len(out.files) == 1:
        out.sha256 = next(iter(out.files.values()))
    else:
        listing = "".join(f"{k} {v}\n" for k, v in sorted(out.files.items()))
        out.sha256 = hashlib.sha256(listing.encode("utf-8")).hexdigest()
    if not out.texts:
        why = ", ".join(f"{k}: {v}" for k, v in sorted(out.skipped.items())) or "no records"
        raise EvalSetError(
            f"decontaminate set {name!r} has no usable item ({out.records} records; skipped {why}); check the "
            f"path and 'fields'"
        )
    return out


def _read_jsonl(rel: str, data: bytes, fields: Sequence[str], id_field: Optional[str], out: EvalSetData) -> None:
    for lineno, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        out.records += 1
        try:
            rec = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            out.skipped["malformed_json"] += 1
            continue
        item = _record_item(rec, fields, id_field, f"{rel}:{lineno}", out.skipped)
        if item is not None:
            out.ids.append(item[0])
            out.texts.append(item[1])


def _read_parquet(name: str, rel: str, data: bytes, fields: Sequence[str], id_field: Optional[str],
                  out: EvalSetData) -> None:
    import pyarrow.parquet as pq  # deferred: only Parquet eval sets need it

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise EvalSetError(f"decontaminate set {name!r}: {rel} is not a readable Parquet file "
                           f"({type(exc).__name__})") from None
    wanted = [c for c in [*fields, id_field] if c and c in table.column_names]
    rows = table.select(wanted).to_pylist()
    for i, rec in enumerate(rows):
        out.records += 1
        item = _record_item(rec, fields, id_field, f"{rel}:{i}", out.skipped)
        if item is not None:
            out.ids.append(item[0])
            out.texts.append(item[1])


def _read_text(rel: str, data: bytes, out: EvalSetData) -> None:
    for lineno, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        out.records += 1
        try:
            text = line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            out.skipped["undecodable_line"] += 1
            continue
        out.ids.append(f"{rel}:{lineno}")
        out.texts.append(text)


# ---------------------------------------------------------------------------------------------- the index
class BloomFilter:
    """A Bloom filter over 64-bit hashes: ``m`` bits (a power of two), ``k`` probes by double hashing.

    Probe ``i`` of hash ``h`` is bit ``(h + i * (fmix64(h ^ C) | 1)) mod m``. The false positive rate for
    ``n`` keys is ``(1 - exp(-k n / m)) ** k`` (:attr:`fpr`).
    """

    _C = _U64(0x9FB21C651E98DF25)

    def __init__(self, keys: np.ndarray, target_fpr: float) -> None:
        n = max(1, len(keys))
        bits = -n * math.log(target_fpr) / (math.log(2) ** 2)
        self.m = 1 << max(6, math.ceil(math.log2(bits)))
        self.k = max(1, round(self.m / n * math.log(2)))
        self.n = len(keys)
        self.words = np.zeros(self.m // 64, dtype=_U64)
        for pos in self._probes(np.asarray(keys, dtype=_U64)):
            np.bitwise_or.at(self.words, pos >> _U64(6), _U64(1) << (pos & _U64(63)))

    @property
    def fpr(self) -> float:
        """The false positive rate for the keys it holds."""
        return (1.0 - math.exp(-self.k * self.n / self.m)) ** self.k

    @property
    def nbytes(self) -> int:
        return self.words.nbytes

    def _probes(self, h: np.ndarray) -> Iterable[np.ndarray]:
        mask = _U64(self.m - 1)
        with np.errstate(over="ignore"):
            step = _fmix64(h ^ self._C) | _U64(1)
            pos = h.copy()
            for _ in range(self.k):
                yield pos & mask
                pos += step

    def contains(self, h: np.ndarray) -> np.ndarray:
        """Boolean array: which hashes may be in the set (false positives at rate :attr:`fpr`)."""
        h = np.asarray(h, dtype=_U64)
        hit = np.ones(len(h), dtype=bool)
        for pos in self._probes(h):
            idx = np.flatnonzero(hit)
            if not len(idx):
                break
            p = pos[idx]
            hit[idx] = (self.words[p >> _U64(6)] >> (p & _U64(63))) & _U64(1) == _U64(1)
        return hit


@dataclass
class SetStats:
    """What the index holds of one set (recorded in run.json)."""

    items: int = 0
    ngram_items: int = 0  # items with at least ``ngram`` tokens
    short_matched: int = 0  # shorter items matched as a whole
    short_skipped: int = 0  # shorter items skipped (too short, or short_items: skip)
    empty_items: int = 0  # items with no token after normalization
    ngrams: int = 0  # distinct n-grams of the set


@dataclass
class DecontamIndex:
    """Everything a worker needs to match documents (picklable; broadcast by the Spark stage)."""

    ngram: int
    min_matches: int
    max_item_ids: int
    set_names: tuple[str, ...]
    item_set: np.ndarray  # int32: set number of every item
    item_ids: list[str]
    # exact key table (None in Bloom mode on the workers): sorted distinct n-gram hashes, CSR into items
    keys: Optional[np.ndarray]
    key_offsets: Optional[np.ndarray]
    key_items: Optional[np.ndarray]
    # short items: hash of the first ``short_prefix`` tokens (sorted, CSR) -> (length, whole hash, item)
    short_prefix: int
    short_keys: np.ndarray
    short_offsets: np.ndarray
    short_len: np.ndarray
    short_full: np.ndarray
    short_item: np.ndarray
    bloom: Optional[BloomFilter] = None  # Bloom mode: replaces the key table on the workers
    prefilter: Optional[BloomFilter] = None  # exact mode: answers most misses before the key table
    stats: dict[str, SetStats] = field(default_factory=dict)

    @property
    def n_keys(self) -> int:
        return 0 if self.keys is None else len(self.keys)

    def exact_nbytes(self) -> int:
        """Bytes of the exact key table and short-item table (what a worker holds in exact mode)."""
        arrays = [self.keys, self.key_offsets, self.key_items, self.short_keys, self.short_offsets,
                  self.short_len, self.short_full, self.short_item, self.item_set]
        return sum(a.nbytes for a in arrays if a is not None) + sum(len(s) + 50 for s in self.item_ids)

    def for_workers(self, use_bloom: bool, fpr: float) -> "DecontamIndex":
        """The index the workers get: with the exact key table, or with a Bloom filter in its place."""
        if not use_bloom:
            exact = copy.copy(self)
            exact.prefilter = BloomFilter(self.keys, 0.01) if self.n_keys else None
            return exact
        bloom = BloomFilter(self.keys if self.keys is not None else np.empty(0, dtype=_U64), fpr)
        return DecontamIndex(
            ngram=self.ngram, min_matches=self.min_matches, max_item_ids=self.max_item_ids,
            set_names=self.set_names, item_set=self.item_set, item_ids=self.item_ids, keys=None, key_offsets=None,
            key_items=None, short_prefix=self.short_prefix, short_keys=self.short_keys,
            short_offsets=self.short_offsets, short_len=self.short_len, short_full=self.short_full,
            short_item=self.short_item, bloom=bloom, stats=self.stats,
        )

    def key_table(self) -> tuple[np.ndarray, np.ndarray]:
        """``(hash, item)`` pairs of the exact key table (the join side of the Bloom mode's confirmation)."""
        assert self.keys is not None and self.key_offsets is not None and self.key_items is not None
        counts = np.diff(self.key_offsets)
        return np.repeat(self.keys, counts), self.key_items


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``(a, b)`` pairs, sorted by ``a`` then ``b`` (cheaper than ``np.unique(..., axis=0)``)."""
    if not len(a):
        return a, b
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    keep = np.concatenate(([True], (a[1:] != a[:-1]) | (b[1:] != b[:-1])))
    return a[keep], b[keep]


def _csr(keys: np.ndarray, values: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Sort ``(keys, values...)`` by key and group: distinct keys, offsets, values in key order."""
    order = np.lexsort((values[0], keys)) if len(keys) else np.empty(0, dtype=np.int64)
    k = keys[order]
    vals = [v[order] for v in values]
    if len(k):
        first = np.concatenate(([True], k[1:] != k[:-1]))
        uniq = k[first]
        offsets = np.concatenate((np.flatnonzero(first), [len(k)])).astype(np.int64)
    else:
        uniq, offsets = k, np.zeros(1, dtype=np.int64)
    return uniq, offsets, vals


def build_index(sets: Sequence[EvalSetData], ngram: int = 13, min_matches: int = 1, short_items: str = "match",
                min_item_tokens: int = 8, max_item_ids: int = 32) -> DecontamIndex:
    """The matching index of evaluation sets (in config order), with per-set statistics.

    Items with at least ``ngram`` tokens contribute their distinct n-grams; shorter items with at least
    ``min_item_tokens`` tokens are matched as a whole when ``short_items == "match"``; all others are
    counted as skipped.
    """
    item_set: list[int] = []
    item_ids: list[str] = []
    key_parts: list[np.ndarray] = []
    item_parts: list[np.ndarray] = []
    s_pre: list[int] = []
    s_len: list[int] = []
    s_full: list[int] = []
    s_item: list[int] = []
    stats: dict[str, SetStats] = {}
    for set_no, data in enumerate(sets):
        st = stats[data.name] = SetStats(items=len(data.texts))
        set_keys: list[np.ndarray] = []
        for lo in range(0, len(data.texts), 4096):
            chunk_texts = data.texts[lo: lo + 4096]
            norms = [normalize(t) for t in chunk_texts]
            tb = hash_tokens(norms)
            base = len(item_ids)
            item_ids.extend(data.ids[lo: lo + 4096])
            item_set.extend([set_no] * len(norms))
            n_tok = np.diff(tb.doc_tok)
            starts = tb.ngram_starts(ngram)
            if len(starts):
                h = tb.spans(starts, ngram)
                owner = tb.owner[starts]
                uh, uo = _unique_pairs(h, owner)
                key_parts.append(uh)
                item_parts.append(uo + base)
                set_keys.append(np.unique(uh))
            for i, n in enumerate(n_tok.tolist()):
                if n >= ngram:
                    st.ngram_items += 1
                elif n == 0:
                    st.empty_items += 1
                elif short_items == "match" and n >= min_item_tokens:
                    st.short_matched += 1
                    s0 = int(tb.doc_tok[i])
                    s_pre.append(int(tb.spans(np.array([s0]), min_item_tokens)[0]))
                    s_len.append(n)
                    s_full.append(int(tb.spans(np.array([s0]), n)[0]))
                    s_item.append(base + i)
                else:
                    st.short_skipped += 1
        st.ngrams = int(len(np.unique(np.concatenate(set_keys)))) if set_keys else 0
    keys = np.concatenate(key_parts) if key_parts else np.empty(0, dtype=_U64)
    items = np.concatenate(item_parts) if item_parts else np.empty(0, dtype=np.int64)
    uniq, offsets, (key_items,) = _csr(keys, [items])
    sk, so, (sl, sf, si) = _csr(np.array(s_pre, dtype=_U64),
                                [np.array(s_len, dtype=np.int32), np.array(s_full, dtype=_U64),
                                 np.array(s_item, dtype=np.int32)])
    return DecontamIndex(
        ngram=ngram, min_matches=min_matches, max_item_ids=max_item_ids, set_names=tuple(d.name for d in sets),
        item_set=np.array(item_set, dtype=np.int32), item_ids=item_ids, keys=uniq,
        key_offsets=offsets.astype(np.int64), key_items=key_items.astype(np.int32), short_prefix=min_item_tokens,
        short_keys=sk, short_offsets=so, short_len=sl, short_full=sf, short_item=si, stats=stats,
    )


# ---------------------------------------------------------------------------------------------- matching
@dataclass
class DocMatch:
    """The outcome for one document."""

    ngrams: int = 0  # distinct matched eval n-grams, plus whole short items found
    sets: list[str] = field(default_factory=list)  # flagged sets, in config order
    items: list[str] = field(default_factory=list)  # "<set>:<item id>", most matched n-grams first, capped
    reason: Optional[str] = None  # "decontaminate:<first flagged set>"
    candidates: list[int] = field(default_factory=list)  # Bloom mode: n-gram hashes to confirm (int64 view)
    short_items: list[int] = field(default_factory=list)  # Bloom mode: item numbers of whole short items found


def summarize(index: DecontamIndex, key_hashes: np.ndarray, key_items: np.ndarray,
              short_items: Sequence[int]) -> DocMatch:
    """A document's outcome from its confirmed matches.

    Args:
        index: the index (for set numbers, item ids, ``min_matches`` and the id cap).
        key_hashes, key_items: one row per (matched n-gram, item containing it).
        short_items: item numbers of whole short items found in the document.
    """
    short = np.unique(np.asarray(short_items, dtype=np.int64))
    if not len(key_hashes) and not len(short):
        return DocMatch()
    key_hashes = np.asarray(key_hashes, dtype=_U64)
    key_items = np.asarray(key_items, dtype=np.int64)
    n_sets = len(index.set_names)
    item_set = index.item_set
    # distinct n-grams per set: a (hash, set) pair counts once whatever the number of items behind it
    pair_sets = item_set[key_items] if len(key_items) else np.empty(0, dtype=np.int32)
    per_set = np.zeros(n_sets, dtype=np.int64)
    if len(key_hashes):
        _, hs = _unique_pairs(key_hashes, pair_sets.astype(np.int64))
        per_set += np.bincount(hs, minlength=n_sets)
    short_sets = np.bincount(item_set[short], minlength=n_sets) if len(short) else np.zeros(n_sets, dtype=np.int64)
    flagged = [s for s in range(n_sets) if short_sets[s] > 0 or per_set[s] >= index.min_matches]
    # items, most matched n-grams first (a whole short item counts as one), then set and item order
    counts: Counter = Counter(key_items.tolist())
    for it in short.tolist():
        counts[it] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], int(item_set[kv[0]]), kv[0]))[: index.max_item_ids]
    return DocMatch(
        ngrams=int(len(np.unique(key_hashes)) + len(short)),
        sets=[index.set_names[s] for s in flagged],
        items=[f"{index.set_names[int(item_set[i])]}:{index.item_ids[i]}" for i, _ in ranked],
        reason=f"decontaminate:{index.set_names[flagged[0]]}" if flagged else None,
    )


class Matcher:
    """Matches batches of documents against a :class:`DecontamIndex` (the worker-side model)."""

    def __init__(self, index: DecontamIndex) -> None:
        self.index = index
        self.bloom = index.bloom

    def match(self, texts: Sequence[Optional[str]]) -> list[DocMatch]:
        """One :class:`DocMatch` per text (None counts as empty).

        With an exact index the outcomes are final; with a Bloom index they carry the candidate hashes
        and whole short items to confirm (:func:`summarize` on the confirmed pairs gives the outcome).
        """
        norms = [normalize(t) if t else "" for t in texts]
        out: list[DocMatch] = []
        for i, j in code_point_batches(norms, _MAX_BATCH_CODEPOINTS):
            out.extend(self._match_flat(norms[i:j]))
        return out

    def _match_flat(self, norms: Sequence[str]) -> list[DocMatch]:
        idx = self.index
        n_docs = len(norms)
        tb = hash_tokens(norms)
        results = [DocMatch() for _ in range(n_docs)]
        hits_by_doc: dict[int, np.ndarray] = {}
        starts = tb.ngram_starts(idx.ngram)
        if len(starts) and (idx.bloom is not None or idx.n_keys):
            h = tb.spans(starts, idx.ngram)
            # The Bloom filter answers most lookups (the misses) from a few cache lines; in exact mode only
            # its hits are searched in the sorted key table.
            bloom = idx.bloom if idx.bloom is not None else idx.prefilter
            hit = np.flatnonzero(bloom.contains(h)) if bloom is not None else np.arange(len(h))
            if idx.bloom is not None:
                key_ref = h[hit]
            else:
                pos = np.searchsorted(idx.keys, h[hit])
                np.minimum(pos, len(idx.keys) - 1, out=pos)
                found = idx.keys[pos] == h[hit]
                hit, key_ref = hit[found], pos[found].astype(_U64)
            if len(hit):
                owners, refs = _unique_pairs(tb.owner[starts[hit]], key_ref)
                bounds = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1], [True])))
                for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
                    hits_by_doc[int(owners[a])] = refs[a:b]
        short_by_doc = self._short_matches(tb) if len(idx.short_keys) else {}
        for d in set(hits_by_doc) | set(short_by_doc):
            refs = hits_by_doc.get(d, np.empty(0, dtype=_U64))
            shorts = short_by_doc.get(d, [])
            if idx.bloom is not None:
                results[d] = DocMatch(candidates=refs.view(np.int64).tolist(), short_items=sorted(set(shorts)))
                continue
            kpos = refs.astype(np.int64)
            lo, hi = idx.key_offsets[kpos], idx.key_offsets[kpos + 1]
            reps = hi - lo
            flat = np.repeat(lo - np.cumsum(reps) + reps, reps) + np.arange(int(reps.sum()))
            results[d] = summarize(idx, np.repeat(idx.keys[kpos], reps), idx.key_items[flat], shorts)
        return results

    def _short_matches(self, tb: TokenBatch) -> dict[int, list[int]]:
        """Whole short items found: their first tokens' hash matched, then confirmed at full length."""
        idx = self.index
        m = idx.short_prefix
        starts = tb.ngram_starts(m)
        if not len(starts):
            return {}
        h = tb.spans(starts, m)
        pos = np.searchsorted(idx.short_keys, h)
        np.minimum(pos, len(idx.short_keys) - 1, out=pos)
        hit = np.flatnonzero(idx.short_keys[pos] == h)
        found: dict[int, list[int]] = {}
        for s, p in zip(starts[hit].tolist(), pos[hit].tolist()):
            doc = int(tb.owner[s])
            end_tok = int(tb.doc_tok[doc + 1])
            for e in range(int(idx.short_offsets[p]), int(idx.short_offsets[p + 1])):
                length = int(idx.short_len[e])
                if s + length <= end_tok and tb.spans(np.array([s]), length)[0] == idx.short_full[e]:
                    found.setdefault(doc, []).append(int(idx.short_item[e]))
        return found


def index_memory_estimate(n_keys: int, n_pairs: int, n_items: int) -> int:
    """Bytes of an exact key table: 8 per key + 8 per offset + 4 per (key, item) pair + ~60 per item."""
    return 16 * n_keys + 4 * n_pairs + 60 * n_items


__all__ = [
    "HASH_VERSION",
    "ITEM_SUFFIXES",
    "NO_SPACE_SCRIPTS",
    "BloomFilter",
    "DecontamIndex",
    "DocMatch",
    "EvalSetData",
    "EvalSetError",
    "Matcher",
    "SetStats",
    "TokenBatch",
    "build_index",
    "hash_tokens",
    "index_memory_estimate",
    "ngram_hashes",
    "normalize",
    "read_eval_set",
    "sequence_hash_reference",
    "token_hash_reference",
    "tokens",
]
