"""Configuration: strict keys, typed overrides, presets, hashing."""

import pytest

from pipelines.stages.base import StageConfigError
from pipelines.stages.registry import (
    STAGE_ORDER,
    TERMINAL_STAGES,
    check_enabled_stages_built,
    load_stage_class,
)
from schemas.config import PRESETS, STAGE_SECTIONS, ConfigError, load_config, preset_names, validate_config


def test_bundled_presets_are_found():
    assert {"demo", "multilingual", "web"} <= set(preset_names())


def test_preset_paths_of_earlier_releases_still_name_the_bundled_preset():
    assert load_config("pipelines/presets/web.yaml").sha256() == load_config("web").sha256()
    assert load_config("web.yaml").sha256() == load_config("web").sha256()


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_validates_and_lists_every_stage(preset):
    cfg = load_config(preset)
    import yaml

    raw = yaml.safe_load((PRESETS / f"{preset}.yaml").read_text())
    for section in STAGE_SECTIONS:
        assert section in raw, f"{preset}.yaml should address section {section!r}"
        assert "enabled" in raw[section]
    assert cfg.sha256() == load_config(preset).sha256()


def test_unknown_key_names_the_key_and_the_allowed_ones():
    with pytest.raises(ConfigError) as e:
        validate_config({"ingest": {"text_feld": "body"}})
    msg = str(e.value)
    assert "unknown key 'ingest.text_feld'" in msg
    assert "text_field" in msg and "id_field" in msg


def test_unknown_top_level_section():
    with pytest.raises(ConfigError) as e:
        validate_config({"dedup": {}})
    assert "unknown key 'dedup'" in str(e.value) and "exact_dedup" in str(e.value)


def test_every_filter_stage_has_enabled_and_mode():
    cfg = validate_config({})
    for name in ("exact_dedup", "near_dedup", "language", "quality", "pii"):
        section = getattr(cfg, name)
        assert hasattr(section, "enabled") and section.mode in ("drop", "tag")
    for name in ("bias", "tokenize", "ingest"):
        assert hasattr(getattr(cfg, name), "enabled")


def test_set_overrides_are_typed():
    cfg = load_config("demo", ["ingest.max_doc_chars=1234", "exact_dedup.mode=tag", "ingest.metadata_fields=[a, b]"])
    assert cfg.ingest.max_doc_chars == 1234 and cfg.exact_dedup.mode == "tag"
    assert cfg.ingest.metadata_fields == ["a", "b"]
    with pytest.raises(ConfigError) as e:
        load_config("demo", ["ingest.max_doc_chars=lots"])
    assert "ingest.max_doc_chars" in str(e.value)
    with pytest.raises(ConfigError):
        load_config("demo", ["exact_dedup.mode=sometimes"])
    with pytest.raises(ConfigError) as e:
        load_config("demo", ["ingest.nope=1"])
    assert "unknown key 'ingest.nope'" in str(e.value)
    with pytest.raises(ConfigError):
        load_config("demo", ["no_equals_sign"])


def test_config_hash_changes_with_values():
    assert load_config("demo").sha256() != load_config("demo", ["ingest.max_doc_chars=99"]).sha256()


def test_ingest_cannot_be_disabled():
    with pytest.raises(ConfigError) as e:
        validate_config({"ingest": {"enabled": False}})
    assert "ingest cannot be disabled" in str(e.value)


def test_config_is_frozen():
    cfg = validate_config({})
    with pytest.raises(Exception):
        cfg.ingest.text_field = "x"


def test_an_enabled_stage_that_cannot_be_imported_fails_on_the_driver(monkeypatch):
    """check_enabled_stages_built imports every enabled stage: a broken one fails before data moves."""
    from pipelines.stages import registry

    order = [(n, "pipelines.stages.no_such_module:BiasStage" if n == "bias" else spec)
             for n, spec in registry.STAGE_ORDER]
    monkeypatch.setattr(registry, "STAGE_ORDER", order)
    check_enabled_stages_built(validate_config({"bias": {"enabled": False}}))  # disabled: not imported
    with pytest.raises(StageConfigError) as e:
        check_enabled_stages_built(validate_config({"bias": {"enabled": True}}))
    assert "no_such_module" in str(e.value) and "bias.enabled" in str(e.value)


def test_every_registered_stage_is_importable_and_named_after_its_section():
    for name in [*(n for n, _ in STAGE_ORDER), *TERMINAL_STAGES]:
        assert load_stage_class(name).name == name
    with pytest.raises(KeyError):
        load_stage_class("no_such_stage")


def test_missing_config_file_lists_presets():
    with pytest.raises(ConfigError) as e:
        load_config("does-not-exist")
    assert "demo" in str(e.value)
