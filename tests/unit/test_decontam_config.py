"""The ``decontaminate`` config section, the presets' sections and the bundled demo evaluation set."""
from __future__ import annotations

import re

import pytest
import yaml

from pipelines.stages.decontaminate import _set_path
from pipelines.text.decontam import build_index, read_eval_set
from schemas.config import PRESETS, ConfigError, load_config, validate_config


def _cfg(**kw):
    return validate_config({"decontaminate": {"enabled": True, **kw}})


def test_defaults():
    s = load_config(None).decontaminate
    assert (s.enabled, s.mode, s.ngram, s.min_matches, s.short_items, s.min_item_tokens) == \
        (False, "drop", 13, 1, "match", 8)
    assert s.sets == []


@pytest.mark.parametrize("kw, message", [
    ({}, "lists no evaluation set"),
    ({"sets": [{"name": "a", "path": "x.txt"}, {"name": "a", "path": "y.txt"}]}, "must be unique"),
    ({"sets": [{"name": "bad name!", "path": "x.txt"}]}, "set name must start"),
    ({"sets": [{"name": "a", "path": "x.txt", "fields": ["q", "q"]}]}, "each field once"),
    ({"sets": [{"name": "a", "path": "x.txt"}], "min_item_tokens": 20}, "must not exceed"),
    ({"sets": [{"name": "a", "path": "x.txt"}], "ngram": 2}, "decontaminate.ngram"),
    ({"sets": [{"name": "a", "path": "x.txt"}], "short_items": "maybe"}, "decontaminate.short_items"),
    ({"sets": [{"name": "a", "path": "x.txt", "colour": 1}]}, "unknown key 'decontaminate.sets.0.colour'"),
])
def test_invalid_sections_are_clear_errors(kw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _cfg(**kw)


def test_demo_preset_runs_it_on_the_bundled_set():
    s = load_config("demo").decontaminate
    assert s.enabled and [x.name for x in s.sets] == ["demo_eval"]
    spec = s.sets[0]
    data = read_eval_set(spec.name, _set_path(spec.path), spec.fields, spec.id_field)
    assert len(data.texts) == 16 and not data.skipped and data.ids[0] == "demo-001"
    idx = build_index([data], ngram=s.ngram, min_item_tokens=s.min_item_tokens)
    st = idx.stats["demo_eval"]
    assert st.ngram_items + st.short_matched + st.short_skipped == 16 and st.short_matched >= 1


def test_web_preset_is_off_and_its_commented_example_validates():
    text = (PRESETS / "web.yaml").read_text(encoding="utf-8")
    assert load_config("web").decontaminate.enabled is False
    block = text[text.index("\ndecontaminate:"):]
    block = block[: block.index("\nnear_dedup:")]
    lines = block.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "# sets:")
    example = [ln.replace("# ", "", 1) for ln in lines[start:] if ln.strip().startswith("#")]
    sets = yaml.safe_load("\n".join(example))["sets"]
    cfg = validate_config({"decontaminate": {"enabled": True, "sets": sets}})
    assert [x.name for x in cfg.decontaminate.sets] == ["gsm8k", "my_qa"]
    assert cfg.decontaminate.sets[0].fields == ["question", "answer"]
