"""Configuration section `tokenize` (placeholder until the stage is built: enabling it fails with
"not built yet", see pipelines.stages.registry)."""
from __future__ import annotations

from .base import StageSection


class TokenizeSection(StageSection):
    """Tokenization into shards; not built yet."""
