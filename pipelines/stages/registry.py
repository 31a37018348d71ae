"""Which stage class implements which config section, in the order the pipeline runs them.

The order is code, reviewed like code: cheap per-document filters first, the near-dedup shuffle on what
they kept, PII (the most expensive) only on text that will be kept. ``None`` marks a stage that is not
built yet: enabling it fails on the driver with a clear message instead of silently doing nothing.
"""
from __future__ import annotations

import importlib
from typing import Optional

from .base import Stage, StageConfigError

#: (section name, "module:Class" or None when not built yet), in run order. Ingest and tokenize are not
#: document->document stages and are driven by the runner itself.
STAGE_ORDER: list[tuple[str, Optional[str]]] = [
    ("exact_dedup", "pipelines.stages.exact_dedup:ExactDedupStage"),
    ("language", "pipelines.stages.language:LanguageStage"),
    ("quality", "pipelines.stages.quality:QualityStage"),
    ("near_dedup", "pipelines.stages.near_dedup:NearDedupStage"),
    ("pii", "pipelines.stages.pii:PiiStage"),
    ("bias", "pipelines.stages.bias:BiasStage"),
]

#: Stages driven by the runner outside STAGE_ORDER, with None when not built yet.
TERMINAL_STAGES: dict[str, Optional[str]] = {"tokenize": "pipelines.stages.tokenize:TokenizeStage"}


class NotBuiltError(StageConfigError):
    pass


def load_stage_class(name: str) -> type[Stage]:
    spec = dict(STAGE_ORDER).get(name, TERMINAL_STAGES.get(name))
    if spec is None:
        raise NotBuiltError(
            f"stage '{name}' is enabled in the configuration but is not built yet in this version of "
            f"corpusforge; set '{name}.enabled: false' (or --set {name}.enabled=false)"
        )
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)


def check_enabled_stages_built(config) -> None:
    """Fail fast on the driver when a section enables a stage that does not exist yet."""
    for name, _ in STAGE_ORDER:
        if getattr(config, name).enabled:
            load_stage_class(name)
    for name in TERMINAL_STAGES:
        if getattr(config, name).enabled:
            load_stage_class(name)
