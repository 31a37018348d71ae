"""Evaluating a trained model on held-out text: loss, perplexity and bits per byte.

Documents arrive as strings (the ``corpusforge eval`` command reads them with the pipeline's readers;
this module imports nothing of the pipeline). Each document is encoded with the checkpoint's tokenizer,
without special tokens, and preceded by the EOS token, exactly as documents follow each other in the
training stream (``<eos> doc <eos> doc ...``): every token of the document, the first included, is then
predicted from a context the model has seen in training. The trailing EOS is not scored, so the scored
tokens cover exactly the document's UTF-8 bytes.

Metrics over all scored tokens (``nll`` = summed negative log-likelihood in nats):

* ``loss = nll / tokens`` and ``perplexity = exp(loss)``: depend on the tokenizer;
* ``bits_per_byte = nll / (ln 2 * bytes)``: the same quantity per UTF-8 byte of text, comparable
  across tokenizers and vocabularies (a model with uniform logits over V tokens scores
  ``tokens * ln V / (ln 2 * bytes)``).

Long documents are scored with a sliding window (Hugging Face's "perplexity of fixed-length models"
method): windows of at most ``context`` tokens that advance by ``stride`` tokens; each window scores
only the tokens no earlier window scored, so every token is scored exactly once, the first ``context``
tokens with all of their preceding context and every later one with at least ``context - stride``
tokens of it. ``stride = context`` gives disjoint windows (fastest, least context); the default
``context // 2`` doubles the compute of a long document for much more context per token.

Windows from all documents are sorted by length (stable, so the order is a function of the input)
and scored in batches of ``batch_size`` padded rows (more rows when they are short, up to
``batch_size x context`` tokens per forward pass); a causal model never lets padding on the right
change the positions before it. Sums are accumulated in float64 in a fixed order, so the same
checkpoint, text and device give the same figures on every run. On CUDA the forward pass runs under
bf16 autocast (the training precision); log-softmax is taken in float32.
"""
from __future__ import annotations

import contextlib
import logging
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from storage.files import file_sha256
from storage.tokenizer import LoadedTokenizer, TokenizerError, load_tokenizer, load_tokenizer_from_string
from train.allocator import tune_malloc
from train.checkpoint import load_checkpoint
from train.model import GPT, ModelConfig

log = logging.getLogger(__name__)


class EvalInputError(ValueError):
    """The evaluation input cannot be used (no documents, no tokenizer, a context that does not fit)."""


@dataclass(frozen=True)
class Window:
    """One row of a batch: ``inputs`` predict ``targets`` (shifted by one); positions ``>= score_from`` count.

    A window is a view of its document's token array (``seq[start:end]`` predicts ``seq[start+1:end+1]``):
    the overlapping windows of a long document share one array instead of copying their tokens.
    """

    seq: np.ndarray
    start: int
    end: int
    score_from: int
    key: int  # which request (document or choice) the scored tokens belong to

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def inputs(self) -> list[int]:
        return self.seq[self.start:self.end].tolist()

    @property
    def targets(self) -> list[int]:
        return self.seq[self.start + 1:self.end + 1].tolist()


@dataclass
class EvalModel:
    """A model ready for scoring, with the tokenizer and EOS id it was trained with."""

    model: torch.nn.Module
    tokenizer: LoadedTokenizer
    eos_id: int
    context: int
    device: torch.device
    info: dict[str, Any] = field(default_factory=dict)

    def autocast(self):
        """bf16 autocast on CUDA (as in training), nothing on CPU."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()


def pick_device(spec: str = "auto") -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EvalInputError("--device cuda was requested but CUDA is not available; use --device cpu")
    return device


def load_eval_model(checkpoint: str | Path, device: str | torch.device = "auto",
                    tokenizer_path: Optional[str | Path] = None) -> EvalModel:
    """Load a checkpoint (file, or the latest of a folder) for evaluation.

    The tokenizer is the one stored in the checkpoint (the trainer copies the shards' tokenizer.json);
    ``tokenizer_path`` is needed only for checkpoints trained on shards without one, and must then be the
    tokenizer the shards were made with (its sha256 is checked against the checkpoint's record).

    Raises:
        FileNotFoundError: no checkpoint there.
        EvalInputError: no tokenizer, or a tokenizer that is not the one of the training shards.
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    try:
        ck = load_checkpoint(checkpoint, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise EvalInputError(f"{checkpoint} is not a corpusforge checkpoint: torch cannot load it with "
                             f"weights_only=True ({type(exc).__name__}); pass a ckpt-*.pt file or its folder") from None
    dataset = ck.get("dataset") or {}
    expected_sha = dataset.get("tokenizer_sha256")
    if tokenizer_path is not None:
        tok = load_tokenizer(tokenizer_path)
        if expected_sha and tok.sha256 != expected_sha:
            raise EvalInputError(
                f"--tokenizer {tokenizer_path} has sha256 {tok.sha256[:12]}..., but the model was trained on shards "
                f"tokenized with {expected_sha[:12]}...; pass the tokenizer.json of the training shards")
    elif ck.get("tokenizer_json"):
        tok = load_tokenizer_from_string(ck["tokenizer_json"])
    else:
        raise EvalInputError(
            f"{ck['path']} holds no tokenizer (its shards had no tokenizer.json copy); pass --tokenizer with the "
            f"tokenizer.json the shards were made with")
    mcfg = ModelConfig.model_validate(ck["model_config"])
    if tok.vocab_size > mcfg.vocab_size:
        raise EvalInputError(f"the tokenizer has {tok.vocab_size} tokens, more than the model's vocabulary "
                             f"({mcfg.vocab_size}); it is not the tokenizer this model was trained with")
    model = GPT(mcfg)
    model.load_state_dict(ck["model"])
    model.to(dev).eval()
    eos_id = int(dataset.get("eos_id", 0))
    # Positions past the training windows' length were never trained (the model's max_seq_len may be
    # larger than the --seq-len it was trained with): score with the training length by default.
    trained_len = int((ck.get("train_config") or {}).get("seq_len") or mcfg.max_seq_len)
    context = min(mcfg.max_seq_len, trained_len)
    info = {"checkpoint": ck["path"], "step": int(ck.get("step", 0)), "tokens_seen": int(ck.get("tokens_seen", 0)),
            "model_config": mcfg.model_dump(), "parameters": model.num_parameters(), "tokenizer_sha256": tok.sha256,
            "checkpoint_sha256": file_sha256(ck["path"]), "device": str(dev),
            "precision": "bf16 autocast" if dev.type == "cuda" else "float32", "trained_seq_len": trained_len}
    return EvalModel(model=model, tokenizer=tok, eos_id=eos_id, context=context, device=dev, info=info)


def encode(tok: LoadedTokenizer, texts: Sequence[str], batch_size: int = 256) -> list[np.ndarray]:
    """Token ids of each text (int64 arrays), without special tokens (what the tokenize stage stores)."""
    out: list[np.ndarray] = []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start:start + batch_size])
        out.extend(np.asarray(e.ids, dtype=np.int64)
                   for e in tok.tokenizer.encode_batch_fast(chunk, add_special_tokens=False))
    return out


def document_windows(ids: Sequence[int], eos_id: int, context: int, stride: int, key: int) -> list[Window]:
    """Sliding windows over ``<eos> + ids`` that score every token of ``ids`` exactly once (module docstring).

    Raises:
        ValueError: ``stride`` outside ``1..context``.
    """
    if not 1 <= stride <= context:
        raise ValueError(f"stride {stride} must be between 1 and the context length {context}")
    seq = np.empty(len(ids) + 1, dtype=np.int64)
    seq[0] = int(eos_id)
    seq[1:] = np.asarray(ids, dtype=np.int64)
    n = len(seq) - 1  # tokens to score: positions 0..n-1 of seq predict seq[1..n]
    windows: list[Window] = []
    scored = 0
    while scored < n:
        end = min(n, context if scored == 0 else scored + stride)
        start = max(0, end - context)
        windows.append(Window(seq, start, end, scored - start, key))
        scored = end
    return windows


def continuation_window(context_ids: Sequence[int], cont_ids: Sequence[int], context: int, key: int) -> Window:
    """The window scoring ``cont_ids`` after ``context_ids`` (the context cut on the left to fit).

    Raises:
        EvalInputError: an empty continuation, or one longer than the model's context.
    """
    if not cont_ids:
        raise EvalInputError("a choice encodes to no tokens")
    if len(cont_ids) > context:
        raise EvalInputError(f"a choice of {len(cont_ids)} tokens does not fit the model's context of {context}")
    seq = np.asarray(list(context_ids) + list(cont_ids), dtype=np.int64)[-(context + 1):]
    return Window(seq, 0, len(seq) - 1, len(seq) - 1 - len(cont_ids), key)


def _batches(order: list[int], windows: Sequence[Window], batch_size: int,
             max_tokens: Optional[int]) -> list[list[int]]:
    """Consecutive groups of ``order`` (longest first): ``batch_size`` rows, or more short rows while the
    padded batch stays within ``max_tokens``."""
    out: list[list[int]] = []
    i = 0
    while i < len(order):
        width = windows[order[i]].length  # the longest row of this batch: rows are sorted by length
        rows = batch_size if max_tokens is None else max(batch_size, max_tokens // max(width, 1))
        out.append(order[i:i + rows])
        i += rows
    return out


@torch.no_grad()
def score_windows(model: torch.nn.Module, windows: Sequence[Window], *, batch_size: int, device: torch.device,
                  autocast=contextlib.nullcontext, pad_id: int = 0,
                  max_tokens: Optional[int] = None) -> tuple[list[float], list[int], list[bool]]:
    """Summed NLL (nats, float64), scored-token count and "all greedy" flag per request key.

    ``model(x)`` must return logits ``[batch, t, vocab]`` (or a tuple whose first item is them). Keys are
    ``0 .. max(key)``; a key without windows gets 0 nats and 0 tokens. Windows are scored longest first,
    ``batch_size`` per forward pass, or more short ones while ``rows x width <= max_tokens``.
    """
    tune_malloc()
    n_keys = (max(w.key for w in windows) + 1) if windows else 0
    nll = [0.0] * n_keys
    count = [0] * n_keys
    greedy = [True] * n_keys
    order = sorted(range(len(windows)), key=lambda i: (-windows[i].length, i))
    was_training = model.training
    model.eval()
    try:
        for batch in _batches(order, windows, batch_size, max_tokens):
            rows = [windows[i] for i in batch]
            width = max(w.length for w in rows)
            xs = np.full((len(rows), width), pad_id, dtype=np.int64)
            ys = np.full((len(rows), width), pad_id, dtype=np.int64)
            mask = torch.zeros((len(rows), width), dtype=torch.bool)
            for r, w in enumerate(rows):
                xs[r, :w.length] = w.seq[w.start:w.end]
                ys[r, :w.length] = w.seq[w.start + 1:w.end + 1]
                mask[r, w.score_from:w.length] = True
            x, y = torch.from_numpy(xs).to(device), torch.from_numpy(ys).to(device)
            with autocast():
                out = model(x)
            logits = (out[0] if isinstance(out, tuple) else out).float()
            logp = F.log_softmax(logits, dim=-1)
            tok_nll = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).double().cpu()
            hit = (logits.argmax(dim=-1) == y).cpu()
            for r, w in enumerate(rows):
                m = mask[r]
                nll[w.key] += float(tok_nll[r][m].sum())
                count[w.key] += int(m.sum())
                greedy[w.key] = greedy[w.key] and bool(hit[r][m].all())
    finally:
        model.train(was_training)
    return nll, count, greedy


@dataclass(frozen=True)
class TextMetrics:
    """Loss, perplexity and bits per byte over a set of documents."""

    documents: int
    tokens: int
    bytes: int
    nll_nats: float
    context: int
    stride: int
    seconds: float

    @property
    def loss(self) -> float:
        return self.nll_nats / self.tokens if self.tokens else float("nan")

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0))

    @property
    def bits_per_byte(self) -> float:
        return self.nll_nats / (math.log(2) * self.bytes) if self.bytes else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "tokens": self.tokens, "bytes": self.bytes,
                "nll_nats": round(self.nll_nats, 6), "loss": round(self.loss, 6),
                "perplexity": round(self.perplexity, 4), "bits_per_byte": round(self.bits_per_byte, 6),
                "context": self.context, "stride": self.stride, "seconds": round(self.seconds, 3)}


def evaluate_token_documents(model: torch.nn.Module, docs: Sequence[Sequence[int]], byte_counts: Sequence[int], *,
                             eos_id: int, context: int, stride: Optional[int] = None, batch_size: int = 8,
                             device: torch.device | str = "cpu", autocast=contextlib.nullcontext) -> TextMetrics:
    """Metrics over documents given as token ids, with their UTF-8 byte counts.

    Raises:
        EvalInputError: no document has a token.
    """
    t0 = time.perf_counter()
    stride = max(1, context // 2) if stride is None else int(stride)
    if not 1 <= stride <= context:
        raise EvalInputError(f"--stride {stride} must be between 1 and the context length {context}")
    if batch_size < 1:
        raise EvalInputError(f"--batch-size {batch_size} must be at least 1")
    windows: list[Window] = []
    kept = 0
    n_bytes = 0
    for ids, nb in zip(docs, byte_counts):
        if len(ids) == 0:
            continue
        windows.extend(document_windows(ids, eos_id, context, stride, kept))
        kept += 1
        n_bytes += int(nb)
    if not windows:
        raise EvalInputError("no usable document: every document is empty after tokenization")
    nll, count, _ = score_windows(model, windows, batch_size=batch_size, device=torch.device(device),
                                  autocast=autocast, max_tokens=batch_size * context)
    # summed per document in document order: the total does not depend on how windows were batched
    return TextMetrics(documents=kept, tokens=sum(count), bytes=n_bytes, nll_nats=math.fsum(nll),
                       context=context, stride=stride, seconds=time.perf_counter() - t0)


def evaluate_texts(em: EvalModel, texts: Iterable[str], *, stride: Optional[int] = None, batch_size: int = 8,
                   context: Optional[int] = None) -> TextMetrics:
    """Metrics of ``em`` over documents given as strings (empty strings are not documents and are skipped).

    Raises:
        EvalInputError: no non-empty document, or a context longer than the model's.
    """
    ctx = em.context if context is None else int(context)
    limit = int(em.info.get("model_config", {}).get("max_seq_len", em.context))
    if not 1 <= ctx <= limit:
        raise EvalInputError(f"--context {ctx} must be between 1 and the model's max_seq_len {limit}")
    docs = [t for t in texts if t]
    if not docs:
        raise EvalInputError("no usable document: the evaluation text holds no non-empty document")
    ids = encode(em.tokenizer, docs)
    return evaluate_token_documents(em.model, ids, [len(t.encode("utf-8")) for t in docs], eos_id=em.eos_id,
                                    context=ctx, stride=stride, batch_size=batch_size, device=em.device,
                                    autocast=em.autocast)


__all__ = [
    "EvalInputError", "EvalModel", "TextMetrics", "TokenizerError", "Window", "continuation_window",
    "document_windows", "encode", "evaluate_texts", "evaluate_token_documents", "load_eval_model", "pick_device",
    "score_windows",
]
