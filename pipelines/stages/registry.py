"""Which class implements which config section, in the order the pipeline runs them.

The order is code, reviewed like code: cheap per-document filters first, the near-dedup shuffle on what
they kept, PII (the most expensive) only on text that will be kept.
"""
from __future__ import annotations

import importlib
from typing import Any

from .base import StageConfigError

#: (section name, "module:Class"), in run order.
STAGE_ORDER: list[tuple[str, str]] = [
    ("optout", "pipelines.stages.optout:OptoutStage"),  # TDM reservations: before any stage sees the text
    ("exact_dedup", "pipelines.stages.exact_dedup:ExactDedupStage"),
    ("language", "pipelines.stages.language:LanguageStage"),
    ("quality", "pipelines.stages.quality:QualityStage"),
    ("classify", "pipelines.stages.classify:ClassifyStage"),
    ("decontaminate", "pipelines.stages.decontaminate:DecontaminateStage"),
    ("near_dedup", "pipelines.stages.near_dedup:NearDedupStage"),
    ("pii", "pipelines.stages.pii:PiiStage"),
    ("bias", "pipelines.stages.bias:BiasStage"),
]

#: Steps the runner drives itself, outside STAGE_ORDER: they are not document->document stages (ingest is
#: called directly; tokenize is a terminal writer that runs once on the curated output).
TERMINAL_STAGES: dict[str, str] = {"tokenize": "pipelines.stages.tokenize:TokenizeWriter"}


def load_stage_class(name: str) -> type:
    """The class of section ``name`` (a stage of STAGE_ORDER or a terminal step), imported on demand.

    Raises:
        KeyError: no stage or step has that name.
    """
    specs = {**dict(STAGE_ORDER), **TERMINAL_STAGES}
    if name not in specs:
        raise KeyError(f"no stage named {name!r}; known: {', '.join(specs)}")
    module, cls = specs[name].split(":")
    return getattr(importlib.import_module(module), cls)


def check_enabled_stages_built(config: Any) -> None:
    """Import the class of every enabled stage and step on the driver, so that a broken install (a missing
    optional library, an import error) fails before any data moves rather than halfway through a run.

    Raises:
        StageConfigError: an enabled stage's module cannot be imported; the message names the stage.
    """
    for name in [*(n for n, _ in STAGE_ORDER), *TERMINAL_STAGES]:
        if not getattr(config, name).enabled:
            continue
        try:
            load_stage_class(name)
        except ImportError as exc:
            raise StageConfigError(
                f"the {name} stage is enabled but cannot be loaded ({type(exc).__name__}: {exc}); install what "
                f"it needs, or set '{name}.enabled: false' (or --set {name}.enabled=false)"
            ) from exc
