"""The pipeline configuration: one frozen pydantic model per section, loaded from YAML presets.

Use :func:`load_config` to read a preset, apply ``--set key.path=value`` overrides and validate the
result. Every validation problem is turned into a :class:`ConfigError` whose message names the key,
what is wrong and, for unknown keys, the keys that are allowed there.
"""
from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from .base import FilterSection, Section, StageSection
from .bias import BiasSection
from .classify import ClassifierModelSpec, ClassifySection
from .decontaminate import DecontaminateSection, EvalSet
from .gates import GatesSection
from .ingest import ExactDedupSection, IngestSection, SparkSection
from .language import LanguageSection
from .near_dedup import NearDedupSection
from .optout import OptoutSection
from .output import OutputSection
from .pii import PiiSection
from .quality import QualitySection
from .sources import SourceInfo, check_source_names
from .tokenize import TokenizeSection

CONFIG_VERSION = 1

#: The stage sections, in the order the pipeline runs them. The order is code, not configuration.
STAGE_SECTIONS = (
    "ingest", "optout", "exact_dedup", "language", "quality", "classify", "decontaminate", "near_dedup", "pii", "bias",
    "tokenize",
)


class PipelineConfig(Section):
    """The whole configuration of a run."""

    version: int = Field(CONFIG_VERSION, description="Configuration schema version.")
    name: str = Field("unnamed", description="Run name, used in the Spark application name.")
    spark: SparkSection = SparkSection()
    output: OutputSection = OutputSection()
    ingest: IngestSection = IngestSection()
    optout: OptoutSection = OptoutSection()
    exact_dedup: ExactDedupSection = ExactDedupSection()
    language: LanguageSection = LanguageSection()
    quality: QualitySection = QualitySection()
    classify: ClassifySection = ClassifySection()
    decontaminate: DecontaminateSection = DecontaminateSection()
    near_dedup: NearDedupSection = NearDedupSection()
    pii: PiiSection = PiiSection()
    bias: BiasSection = BiasSection()
    tokenize: TokenizeSection = TokenizeSection()
    gates: GatesSection = GatesSection()
    sources: dict[str, SourceInfo] = Field(
        default_factory=dict, description="Per source (keyed by ingest's source name): category, description, "
        "licence, crawler and collection period; used by the report, `corpusforge summary` and the dataset card "
        "(docs/compliance.md). Sources not listed are shown as undescribed with licence 'unknown'.",
    )

    @field_validator("sources")
    @classmethod
    def _source_names(cls, v: dict[str, SourceInfo]) -> dict[str, SourceInfo]:
        return check_source_names(v)

    def resolved_dict(self) -> dict[str, Any]:
        """The fully resolved configuration (defaults included) as plain JSON-able data."""
        return self.model_dump(mode="json")

    def sha256(self) -> str:
        """sha256 of the canonical JSON of the resolved configuration."""
        return config_sha256(self)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says what to fix."""


def config_sha256(cfg: PipelineConfig) -> str:
    canonical = json.dumps(cfg.resolved_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _model_at(model: type[BaseModel], loc: tuple) -> Optional[type[BaseModel]]:
    """The pydantic model class found by following ``loc`` from ``model`` (None when not a model)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        current = field.annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _format_errors(err: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration ({origin}):"]
    for e in err.errors():
        loc = tuple(p for p in e["loc"])
        key = ".".join(str(p) for p in loc) or "<root>"
        if e["type"] == "extra_forbidden":
            parent = _model_at(PipelineConfig, loc[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            lines.append(f"  unknown key '{key}'; allowed keys here: {', '.join(allowed)}")
        else:
            # Never echo the offending value: it may be anything, including personal data.
            lines.append(f"  {key}: {e['msg']}")
    return "\n".join(lines)


def override_error_message(exc: Exception, section: str) -> Optional[str]:
    """``"invalid --set: <section>.<key>: <msg>; ..."`` for a pydantic validation error of one section (the
    what-if commands), naming the keys and never echoing values; None when ``exc`` is not one."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return None
    msgs = [f"{section}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors()]
    return "invalid --set: " + "; ".join(msgs)


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value``; the value is read as YAML (so ``5``, ``true``, ``[en, de]`` are typed)."""
    if "=" not in item:
        raise ConfigError(f"--set expects KEY.PATH=VALUE, got {item!r}")
    key, raw = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set expects KEY.PATH=VALUE, got {item!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() != "" else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value is not valid YAML ({exc.problem})") from None
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``KEY.PATH=VALUE`` override applied (validated later)."""
    out = copy.deepcopy(data)
    for item in overrides:
        parts, value = parse_override(item)
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {'.'.join(parts)}: '{p}' is a value, not a section")
            node = nxt
        node[parts[-1]] = value
    return out


def validate_config(data: dict[str, Any], origin: str = "<dict>") -> PipelineConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"invalid configuration ({origin}): the top level must be a mapping of sections")
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, origin)) from None


#: The bundled presets (``schemas/presets/*.yaml``), read through importlib.resources so that they load
#: from a checkout, an installed wheel and a zip on ``--py-files`` alike.
PRESETS: Traversable = resources.files("schemas") / "presets"


def preset_names() -> list[str]:
    """The names of the bundled presets (``demo``, ``multilingual``, ``web``)."""
    return sorted(p.name[: -len(".yaml")] for p in PRESETS.iterdir() if p.name.endswith(".yaml"))


def resolve_preset(path_or_name: Union[str, Path]) -> Union[Path, Traversable]:
    """A config path, or the name of a bundled preset (``demo``, ``web``, ...).

    An existing file wins. Otherwise the last path component names a bundled preset, with or without
    ``.yaml``, so that the paths of earlier releases (``pipelines/presets/web.yaml``) still work.
    """
    p = Path(path_or_name)
    if p.is_file():
        return p
    candidate = PRESETS / (p.name if p.suffix in (".yaml", ".yml") else f"{p.name}.yaml")
    if candidate.is_file():
        return candidate
    raise ConfigError(
        f"config file {str(path_or_name)!r} not found; bundled presets: {', '.join(preset_names())}"
    )


def load_config(path_or_name: Union[str, Path, None] = None, overrides: Iterable[str] = ()) -> PipelineConfig:
    """Load a YAML preset (path or bundled name), apply overrides and validate."""
    data: dict[str, Any] = {}
    origin = "defaults"
    if path_or_name is not None:
        path = resolve_preset(path_or_name)
        origin = str(path) if Path(path_or_name).is_file() else f"bundled preset schemas/presets/{path.name}"
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{origin}: not valid YAML: {exc}") from None
        data = loaded or {}
    overrides = list(overrides)
    if overrides:
        data = apply_overrides(data, overrides)
        origin += " with --set overrides"
    return validate_config(data, origin)


__all__ = [
    "CONFIG_VERSION",
    "STAGE_SECTIONS",
    "BiasSection",
    "ClassifierModelSpec",
    "ClassifySection",
    "ConfigError",
    "DecontaminateSection",
    "ExactDedupSection",
    "EvalSet",
    "FilterSection",
    "GatesSection",
    "IngestSection",
    "LanguageSection",
    "NearDedupSection",
    "OptoutSection",
    "OutputSection",
    "PiiSection",
    "PipelineConfig",
    "PRESETS",
    "QualitySection",
    "Section",
    "SparkSection",
    "SourceInfo",
    "StageSection",
    "TokenizeSection",
    "apply_overrides",
    "config_sha256",
    "load_config",
    "parse_override",
    "preset_names",
    "resolve_preset",
    "validate_config",
]
