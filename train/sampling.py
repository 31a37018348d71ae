"""Generating text from a checkpoint (the tokenizer travels inside the checkpoint)."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Optional

import torch

from storage.tokenizer import LoadedTokenizer, load_tokenizer, load_tokenizer_from_string
from train.checkpoint import load_checkpoint
from train.model import GPT, ModelConfig

log = logging.getLogger(__name__)


@dataclass
class Sampler:
    """A model ready to generate, with its tokenizer and EOS id."""

    model: GPT
    tokenizer: LoadedTokenizer
    eos_id: Optional[int]
    device: torch.device
    step: int

    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 64,
        temperature: float = 0.8,
        top_k: Optional[int] = 50,
        seed: int = 0,
    ) -> str:
        """Continue ``prompt``; returns the generated continuation only (special tokens removed)."""
        ids = self.tokenizer.tokenizer.encode(prompt, add_special_tokens=False).ids
        if not ids:
            ids = [self.eos_id if self.eos_id is not None else 0]  # an empty prompt starts a new document
        idx = torch.tensor([ids], dtype=torch.long, device=self.device)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        out = self.model.generate(idx, max_new_tokens, temperature=temperature, top_k=top_k, eos_id=self.eos_id,
                                  generator=gen)
        new = out[0, len(ids) :].tolist()
        if self.eos_id is not None and self.eos_id in new:
            new = new[: new.index(self.eos_id)]
        return self.tokenizer.tokenizer.decode(new, skip_special_tokens=True)


def load_sampler(
    checkpoint: os.PathLike | str, tokenizer_path: Optional[os.PathLike | str] = None, device: str = "cpu"
) -> Sampler:
    """Load a checkpoint (file or folder: the latest) and its tokenizer for generation.

    Args:
        checkpoint: ``ckpt-*.pt`` or a checkpoint folder.
        tokenizer_path: a tokenizer.json to use instead of the one stored in the checkpoint; it must have
            the sha256 the shards were tokenized with.
        device: torch device.
    """
    dev = torch.device(device)
    ck = load_checkpoint(checkpoint, map_location=dev)
    expected_sha = ck["dataset"]["tokenizer_sha256"]
    if tokenizer_path is not None:
        tok = load_tokenizer(tokenizer_path, expected_sha256=expected_sha)
    elif ck.get("tokenizer_json"):
        tok = load_tokenizer_from_string(ck["tokenizer_json"])
        if tok.sha256 != expected_sha:
            raise ValueError(f"{ck['path']}: the embedded tokenizer does not match the shards' tokenizer sha256")
    else:
        raise FileNotFoundError(
            f"{ck['path']} holds no tokenizer (the shard folder had no tokenizer.json); pass --tokenizer tok.json"
        )
    model = GPT(ModelConfig.model_validate(ck["model_config"])).to(dev)
    model.load_state_dict(ck["model"])
    model.eval()
    return Sampler(model, tok, ck["dataset"].get("eos_id"), dev, int(ck["step"]))
