"""``OUT/run.json``: what ran, on what, with what, and what came out. Written last; its presence marks a
complete run."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict

RUN_MANIFEST_VERSION = 1


class InputFileRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    rel_path: str
    source: str
    format: str
    compression: Optional[str]
    bytes: int
    sha256: str
    encoding: Optional[str] = None
    records: int  # what the reader saw: documents + quarantined records
    curated: int
    rejected: int
    quarantined: int
    skipped: dict[str, int] = {}


class Counts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: int
    curated: int
    rejected: int
    quarantined: int
    curated_bytes: int
    rejected_by_reason: dict[str, int]
    quarantined_by_reason: dict[str, int]
    skipped_by_reason: dict[str, int]
    by_source: dict[str, dict[str, int]]


class RunManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manifest_version: int = RUN_MANIFEST_VERSION
    run_id: str
    started_at: str
    finished_at: str
    duration_s: float
    status: str  # "complete"
    config: dict[str, Any]
    config_sha256: str
    code_version: dict[str, Optional[str]]
    library_versions: dict[str, Optional[str]]
    spark: dict[str, Any]
    assets: dict[str, dict[str, Any]]
    inputs: list[InputFileRecord]
    counts: Counts
    stages: list[dict[str, Any]]
    stage_info: dict[str, Any]
    outputs: dict[str, Any]
