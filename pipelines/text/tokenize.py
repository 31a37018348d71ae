"""Tokenizers: train a byte-level BPE and batch-encode documents into Arrow.

Pure Python over Hugging Face ``tokenizers`` and pyarrow (no pyspark). Loading a ``tokenizer.json``
(by path and sha256, cached per process) is part of the shard format: :mod:`storage.tokenizer`, whose
names are re-exported here for the pipeline's callers.
"""
from __future__ import annotations

import logging
import os
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np
import pyarrow as pa

from storage.files import atomic_write_text, file_sha256
from storage.shards.index import numpy_dtype
from storage.tokenizer import (
    BOS_TOKEN,
    DEFAULT_SPECIAL_TOKENS,
    EOS_TOKEN,
    PAD_TOKEN,
    LoadedTokenizer,
    TokenizerError,
    decode,
    load_tokenizer,
    load_tokenizer_from_string,
)

log = logging.getLogger(__name__)

__all__ = [
    "BOS_TOKEN", "DEFAULT_SPECIAL_TOKENS", "EOS_TOKEN", "PAD_TOKEN", "LoadedTokenizer", "TokenizerError",
    "binary_to_list_array", "decode", "encode_documents", "ids_to_binary", "iter_sample_texts",
    "load_tokenizer", "load_tokenizer_from_string", "save_tokenizer", "train_bpe_tokenizer",
]


def train_bpe_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    min_frequency: int = 2,
    special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS,
):
    """Train a byte-level BPE tokenizer (GPT-2 style pre-tokenization, 256 byte symbols always present).

    Args:
        texts: training texts; consumed once. Pass a deterministic sample for a reproducible tokenizer.
        vocab_size: final vocabulary size, special tokens and the 256 byte symbols included.
        min_frequency: merges seen fewer times than this are not learned.
        special_tokens: added first, so that their ids are ``0 .. len-1``.

    Returns:
        A ``tokenizers.Tokenizer``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    floor = 256 + len(special_tokens)
    if vocab_size < floor:
        raise TokenizerError(
            f"vocab_size {vocab_size} is too small for a byte-level BPE: it needs at least {floor} "
            f"(256 byte symbols + {len(special_tokens)} special tokens)"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    log.info("trained byte-level BPE: vocab %d", tok.get_vocab_size(with_added_tokens=True))
    return tok


def save_tokenizer(tok, path: os.PathLike | str) -> str:
    """Write ``tok`` as tokenizer.json atomically (permissions from the umask); returns its sha256."""
    atomic_write_text(path, tok.to_str(pretty=False))
    return file_sha256(path)


def encode_documents(
    tok: LoadedTokenizer,
    texts: Sequence[str],
    eos_id: Optional[int] = None,
    bos_id: Optional[int] = None,
    max_tokens: Optional[int] = None,
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Encode documents into a flat id array plus offsets (the layout of an Arrow list array).

    Args:
        tok: the tokenizer.
        texts: documents (no None).
        eos_id: appended to every document when given.
        bos_id: prepended to every document when given.
        max_tokens: a document's ids (BOS/EOS included) are cut to this many; EOS is kept as the last id.
        batch_size: documents per ``encode_batch_fast`` call (parallel inside tokenizers).

    Returns:
        ``(offsets, values)``: int64 offsets of length ``len(texts) + 1`` and ids in the smallest dtype.
    """
    dtype = numpy_dtype(tok.token_dtype)
    pieces: list[np.ndarray] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    prefix = [bos_id] if bos_id is not None else []
    suffix = [eos_id] if eos_id is not None else []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start : start + batch_size])
        encodings = tok.tokenizer.encode_batch_fast(chunk, add_special_tokens=False)
        for i, enc in enumerate(encodings):
            ids = enc.ids
            if max_tokens is not None and len(ids) + len(prefix) + len(suffix) > max_tokens:
                ids = ids[: max(0, max_tokens - len(prefix) - len(suffix))]
            arr = np.asarray(prefix + ids + suffix, dtype=dtype) if (prefix or suffix) else np.asarray(ids, dtype=dtype)
            pieces.append(arr)
            lengths[start + i] = arr.size
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)
    return offsets, values


def ids_to_binary(offsets: np.ndarray, values: np.ndarray) -> pa.Array:
    """Pack per-document ids as little-endian bytes in one Arrow ``large_binary`` array (no copy per row).

    Spark has no unsigned integer types; moving ids as bytes keeps uint16 ids at 2 bytes each between the
    Python workers and the JVM (an ``array<int>`` would double them).
    """
    le = values.astype(values.dtype.newbyteorder("<"), copy=False)
    data = pa.py_buffer(le.tobytes())
    byte_offsets = pa.array(offsets * le.dtype.itemsize, type=pa.int64())
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, byte_offsets.buffers()[1], data]
    )


def binary_to_list_array(binary: pa.Array, token_dtype: str) -> pa.Array:
    """Inverse of :func:`ids_to_binary`: a ``list<uint16|uint32>`` array over the same bytes."""
    dtype = numpy_dtype(token_dtype).newbyteorder("<")
    if isinstance(binary, pa.ChunkedArray):
        binary = binary.combine_chunks()
    if binary.null_count:
        raise ValueError("ids column has nulls; drop failed documents before converting")
    binary = binary.cast(pa.large_binary())
    _, offsets_buf, data_buf = binary.buffers()
    n = len(binary)
    byte_offsets = np.frombuffer(offsets_buf, dtype=np.int64)[binary.offset : binary.offset + n + 1]
    if np.any(byte_offsets % dtype.itemsize):
        raise ValueError(f"ids bytes are not a multiple of {dtype.itemsize}; wrong token dtype?")
    start, end = int(byte_offsets[0]), int(byte_offsets[-1])
    if end > start:
        values = np.frombuffer(data_buf, dtype=dtype, count=(end - start) // dtype.itemsize, offset=start)
    else:
        values = np.zeros(0, dtype)
    if (end - start) // dtype.itemsize >= 2**31:
        raise ValueError("more than 2**31 ids in one batch; use smaller Arrow batches")
    offs = ((byte_offsets - start) // dtype.itemsize).astype(np.int32)
    value_type = pa.uint16() if dtype.itemsize == 2 else pa.uint32()
    values_arr = pa.array(values.astype(dtype.newbyteorder("="), copy=False), type=value_type)
    return pa.ListArray.from_arrays(pa.array(offs, type=pa.int32()), values_arr)


def iter_sample_texts(texts: Iterable[str], max_chars: int) -> Iterator[str]:
    """Cut each text to ``max_chars`` (bounds the memory of tokenizer training on huge documents)."""
    for t in texts:
        if t:
            yield t[:max_chars]
