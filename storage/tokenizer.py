"""Loading the tokenizer that shards are encoded with (Hugging Face ``tokenizers``; nothing downloaded).

A tokenizer is a local ``tokenizer.json`` identified by its sha256, which goes into the run manifest and
into the shards' ``index.json``; a shard folder keeps a copy next to its shards. The pipeline encodes
with it and the trainer decodes samples with it, so it lives with the shard format. Loaded tokenizers
are cached per process (keyed by path and sha256): a Spark Python worker loads one once however many
batches it encodes.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from typing import Iterable, Optional

from tokenizers import Tokenizer

from storage.files import file_sha256
from storage.shards.index import token_dtype_for_vocab

log = logging.getLogger(__name__)

EOS_TOKEN = "<|endoftext|>"
BOS_TOKEN = "<|bos|>"
PAD_TOKEN = "<|pad|>"
#: Special tokens of tokenizers trained by corpusforge; their ids are 0, 1, 2 in this order.
DEFAULT_SPECIAL_TOKENS = (EOS_TOKEN, BOS_TOKEN, PAD_TOKEN)


class TokenizerError(ValueError):
    """A tokenizer file is missing, unreadable, changed or lacks a required token; says how to fix it."""


@dataclass(frozen=True)
class LoadedTokenizer:
    """A tokenizer with the facts the pipeline records about it."""

    tokenizer: object
    path: str
    sha256: str
    vocab_size: int

    @property
    def token_dtype(self) -> str:
        return token_dtype_for_vocab(self.vocab_size)

    def token_id(self, token: str, what: str = "token") -> int:
        """Id of a special token; raises TokenizerError naming the token when the vocabulary lacks it."""
        tid = self.tokenizer.token_to_id(token)
        if tid is None:
            raise TokenizerError(
                f"the tokenizer {self.path} has no {what} {token!r}; set tokenize.eos_token / bos_token to a "
                f"token it has, or train one with 'corpusforge tokenizer train' (which adds {EOS_TOKEN!r}, "
                f"{BOS_TOKEN!r}, {PAD_TOKEN!r})"
            )
        return int(tid)


_CACHE: dict[tuple[str, str], LoadedTokenizer] = {}
_CACHE_LOCK = threading.Lock()


def load_tokenizer(path: os.PathLike | str, expected_sha256: Optional[str] = None) -> LoadedTokenizer:
    """Load a ``tokenizer.json`` (cached per process by path and content hash).

    Args:
        path: the tokenizer file.
        expected_sha256: when given, the file must have this hash (a Spark worker checks that it sees the
            same file as the driver).

    Raises:
        TokenizerError: missing or unreadable file, or a hash mismatch.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise TokenizerError(
            f"tokenizer file {path} not found; train one with 'corpusforge tokenizer train --input OUT/curated "
            f"--vocab-size N --output {path}' or point tokenize.tokenizer_path at an existing tokenizer.json"
        )
    sha = file_sha256(path)
    if expected_sha256 and sha != expected_sha256:
        raise TokenizerError(
            f"tokenizer file {path} has sha256 {sha[:12]}..., expected {expected_sha256[:12]}...: the file changed "
            f"or this machine sees a different copy; make every node see the same tokenizer.json"
        )
    key = (os.path.abspath(path), sha)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        try:
            tok = Tokenizer.from_file(path)
        except Exception as exc:  # the tokenizers error text names the JSON problem, not the content
            raise TokenizerError(f"cannot load tokenizer {path}: {exc}; is it a Hugging Face tokenizer.json?") from None
        loaded = LoadedTokenizer(tok, path, sha, int(tok.get_vocab_size(with_added_tokens=True)))
        _CACHE[key] = loaded
        log.info("loaded tokenizer %s (vocab %d, sha256 %s...)", path, loaded.vocab_size, sha[:12])
        return loaded


def load_tokenizer_from_string(text: str) -> LoadedTokenizer:
    """A tokenizer from its JSON text (e.g. stored in a checkpoint); not cached."""
    tok = Tokenizer.from_str(text)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedTokenizer(tok, "<embedded>", sha, int(tok.get_vocab_size(with_added_tokens=True)))


def decode(tok: LoadedTokenizer, ids: Iterable[int]) -> str:
    """Decode ids to text (special tokens skipped)."""
    return tok.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)
