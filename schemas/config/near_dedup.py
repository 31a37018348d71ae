"""Configuration section `near_dedup` (placeholder until the stage is built: enabling it fails with
"not built yet", see pipelines.stages.registry)."""
from __future__ import annotations

from .base import FilterSection


class NearDedupSection(FilterSection):
    """Near-duplicate removal (MinHash + LSH); not built yet."""
