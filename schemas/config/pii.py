"""Configuration section `pii` (placeholder until the stage is built: enabling it fails with
"not built yet", see pipelines.stages.registry)."""
from __future__ import annotations

from .base import FilterSection


class PiiSection(FilterSection):
    """PII scrubbing; not built yet."""
