"""Configuration section `bias` (placeholder until the stage is built: enabling it fails with
"not built yet", see pipelines.stages.registry)."""
from __future__ import annotations

from .base import StageSection


class BiasSection(StageSection):
    """Bias indicators (flag only, never drops); not built yet."""
