"""Sections of stages that are not built yet.

They exist so that every stage is addressed the same way in presets. Setting ``enabled: true`` on one of
them fails on the driver with a "not built yet" error (see ``pipelines.stages.registry``); it is never a
silent no-op. Each section is replaced by a full model in its own module when the stage is built.
"""
from __future__ import annotations

from .base import FilterSection, StageSection


class NearDedupSection(FilterSection):
    """Near-duplicate removal (MinHash + LSH); not built yet."""


class LanguageSection(FilterSection):
    """Language identification; not built yet."""


class QualitySection(FilterSection):
    """Quality rules; not built yet."""


class PiiSection(FilterSection):
    """PII scrubbing; not built yet."""


class BiasSection(StageSection):
    """Bias indicators (flag only, never drops); not built yet."""


class TokenizeSection(StageSection):
    """Tokenization into shards; not built yet."""
