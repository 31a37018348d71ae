"""A decoder-only Transformer (GPT): pre-norm blocks, causal self-attention, MLP, tied embeddings.

Attention is the scaled dot-product attention of "Attention Is All You Need",
softmax(Q K^T / sqrt(d_k)) V, computed by ``torch.nn.functional.scaled_dot_product_attention`` with
``is_causal=True`` (fused kernels on GPU, the same maths on CPU).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

log = logging.getLogger(__name__)


class ModelConfig(BaseModel):
    """Sizes of the model. ``vocab_size`` comes from the shards' index unless set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = Field(0, ge=0, description="0 = take it from the shards' index.json")
    n_layer: int = Field(4, gt=0)
    n_head: int = Field(4, gt=0)
    d_model: int = Field(128, gt=0)
    d_ff: Optional[int] = Field(None, gt=0, description="MLP width; default 4 x d_model")
    max_seq_len: int = Field(1024, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    bias: bool = False

    @model_validator(mode="after")
    def _heads_divide(self) -> "ModelConfig":
        if self.d_model % self.n_head:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})")
        return self


#: Named sizes for ``--model NAME``.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(n_layer=2, n_head=2, d_model=64, max_seq_len=512),
    "small": dict(n_layer=4, n_head=4, d_model=128, max_seq_len=1024),
    "base": dict(n_layer=6, n_head=6, d_model=384, max_seq_len=1024),
    "gpt2-124m": dict(n_layer=12, n_head=12, d_model=768, max_seq_len=1024),
}


def model_config_from(spec: str | Path | dict | None, **overrides: Any) -> ModelConfig:
    """A :class:`ModelConfig` from a preset name, a YAML file or a dict, with keyword overrides.

    Raises:
        ValueError: unknown preset name or invalid YAML/fields (message lists the presets).
    """
    data: dict[str, Any]
    if spec is None:
        data = dict(PRESETS["small"])
    elif isinstance(spec, dict):
        data = dict(spec)
    elif str(spec) in PRESETS:
        data = dict(PRESETS[str(spec)])
    elif Path(spec).is_file():
        loaded = yaml.safe_load(Path(spec).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{spec}: a model YAML must be a mapping of ModelConfig fields")
        data = loaded
    else:
        raise ValueError(f"--model {spec!r} is neither a preset ({', '.join(PRESETS)}) nor a YAML file")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return ModelConfig.model_validate(data)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=cfg.bias)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.proj.residual_scale = True  # type: ignore[attr-defined]
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        # [b, heads, t, d_k]
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        # softmax(Q K^T / sqrt(d_k)) V with a causal mask (the default scale is 1/sqrt(d_k))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        width = cfg.d_ff or 4 * cfg.d_model
        self.fc = nn.Linear(cfg.d_model, width, bias=cfg.bias)
        self.proj = nn.Linear(width, cfg.d_model, bias=cfg.bias)
        self.proj.residual_scale = True  # type: ignore[attr-defined]
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """The language model. ``forward(idx, targets)`` returns ``(logits, loss)`` (loss None without targets)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size <= 0:
            raise ValueError("ModelConfig.vocab_size must be set (the trainer takes it from index.json)")
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.max_seq_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # weight tying
        self.apply(self._init)
        for m in self.modules():
            if getattr(m, "residual_scale", False):
                # residual projections scaled down with depth so the residual stream's variance stays ~1
                nn.init.normal_(m.weight, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        """Parameters counted once (the tied embedding once)."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, targets: Optional[torch.Tensor] = None):
        b, t = idx.shape
        if t > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {t} tokens exceeds max_seq_len {self.cfg.max_seq_len}")
        pos = torch.arange(t, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    def optimizer_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups: decay matrices (linear weights, embeddings), not norms or biases."""
        decay, no_decay = [], []
        for p in self.parameters():
            if not p.requires_grad:
                continue
            (decay if p.dim() >= 2 else no_decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: Optional[int] = None,
        eos_id: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """Sample continuations of ``idx`` ([batch, t]); stops early when every row produced ``eos_id``.

        ``temperature <= 0`` means greedy decoding.
        """
        done = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
        for _ in range(max_new_tokens):
            ctx = idx[:, -self.cfg.max_seq_len :]
            logits, _ = self(ctx)
            logits = logits[:, -1, :].float()
            if temperature <= 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None and top_k > 0:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = F.softmax(logits, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)
            if eos_id is not None:
                nxt = torch.where(done.unsqueeze(1), torch.full_like(nxt, eos_id), nxt)
                done |= nxt.squeeze(1) == eos_id
            idx = torch.cat([idx, nxt], dim=1)
            if eos_id is not None and bool(done.all()):
                break
        return idx
