"""Base classes shared by every configuration section."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A frozen configuration model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class StageSection(Section):
    """A pipeline stage's section: every stage can be switched on and off."""

    enabled: bool = False


class FilterSection(StageSection):
    """A filtering stage's section.

    ``mode: drop`` moves rejected documents to ``rejected/`` with their ``drop_reason``;
    ``mode: tag`` only annotates (the stage's ``<stage>_reason`` column is filled) and keeps everything.
    """

    mode: Literal["drop", "tag"] = "drop"
