"""The training configuration: a pydantic model without torch, so that argument parsing stays light."""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainConfig(BaseModel):
    """Everything a training run is configured by (the CLI flags map onto these fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shards: Optional[str] = Field(None, description="Shard folder, dataset store (with CURRENT) or index.json")
    mix: Optional[Union[str, dict[str, Any], list[Any]]] = Field(
        None, description="A mixture instead of --shards: mix.yaml path, or its content (see train.mixture)")
    out: str = Field(description="Checkpoint folder (metrics.jsonl, ckpt-*.pt)")
    steps: int = Field(1000, gt=0)
    seq_len: int = Field(256, gt=0)
    batch_size: int = Field(8, gt=0, description="Windows per micro-batch per rank")
    grad_accum: int = Field(1, gt=0)
    model: str = "small"
    lr: float = Field(3e-4, gt=0)
    min_lr: float = Field(3e-5, ge=0)
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = Field(1.0, ge=0, description="0 disables clipping")
    seed: int = 0
    eval_every: int = Field(200, ge=0, description="0: evaluate only at the end")
    eval_batches: int = Field(20, gt=0)
    holdout_shards: Optional[int] = Field(
        None, ge=0, description="Default: 5% of the shards, at least 1 when >= 2"
    )
    log_every: int = Field(10, gt=0)
    ckpt_every: int = Field(200, ge=0, description="0: checkpoint only at the end")
    keep_checkpoints: int = Field(2, ge=1)
    num_workers: int = Field(0, ge=0)
    shuffle_buffer: int = Field(1024, gt=0)
    verify: Literal["hash", "size", "none"] = "hash"
    compile: bool = False
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    resume: bool = False
    allow_mixture_change: bool = Field(
        False, description="On resume, continue with a mixture that differs from the checkpoint's")

    @model_validator(mode="after")
    def _one_source(self) -> "TrainConfig":
        if (self.shards is None) == (self.mix is None):
            raise ValueError("give exactly one data source: shards (a shard folder or store) or mix (a mixture)")
        return self
