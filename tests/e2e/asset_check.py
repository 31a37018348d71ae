"""Load every bundled file of an installed corpusforge, outside the checkout, and compare with the checkout.

Used by tests/e2e/test_packaging.py (a zip on the path, a wheel in a fresh venv) and
tests/e2e/test_pack_env.py (an unpacked environment archive). :func:`run_check` runs this file's text with
``python -c`` from a temporary directory, so that the source checkout is not on ``sys.path``; ``main``
asserts that every corpusforge package comes from ``root`` (a folder or a zip) and prints a JSON summary.
"""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

PACKAGES = ("pipelines", "schemas", "storage", "jobs", "quality", "train")


def _walk(node, prefix: str):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        name = f"{prefix}/{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, name)
        else:
            yield name, hashlib.sha256(child.read_bytes()).hexdigest()


def main(root: str) -> None:
    import importlib

    modules = {name: importlib.import_module(name).__file__ for name in PACKAGES}
    outside = {k: v for k, v in modules.items() if not v.startswith(root)}
    assert not outside, f"imported from outside {root}: {outside}"

    from pipelines.runner import code_version
    from pipelines.stages.tokenize import TokenizeWriter
    from pipelines.text.assets import asset_spec, bundled, resolve_asset
    from pipelines.text.bias import BiasScorer, load_lexicon
    from pipelines.text.stopwords import STOPWORDS, stopwords_for
    from schemas.config import PRESETS, load_config, preset_names
    from storage.tokenizer import load_tokenizer

    lex = load_lexicon(None)
    BiasScorer(lex).score("She met them at the market.")
    section = load_config("demo").tokenize
    spec = asset_spec(section.tokenizer_path)  # what run.json records and the executors receive
    tok = load_tokenizer(TokenizeWriter(section, None).tokenizer_file)  # the driver-side resolution
    worker_path = resolve_asset(spec)  # the executor-side resolution
    load_tokenizer(worker_path, expected_sha256=tok.sha256)
    files = dict(_walk(bundled("assets"), "pipelines/assets"))
    files.update(_walk(PRESETS, "schemas/presets"))
    print(json.dumps({
        "modules": modules,
        "lexicon": {"name": lex.name, "version": lex.version, "sha256": lex.sha256, "terms": len(lex.identity)},
        "presets": {name: load_config(name).sha256() for name in preset_names()},
        "tokenizer": {"spec": spec, "sha256": tok.sha256, "vocab_size": tok.vocab_size, "path": str(worker_path)},
        "stopwords": {"languages": len(STOPWORDS), "en": sorted(stopwords_for("en"))},
        "code_version": code_version(),
        "files": files,
    }))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would put the checkout or another venv on ``sys.path``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH")}
    env.update(extra)
    return env


def run_check(python: str, root: str, cwd: Path, flags: Sequence[str] = (), prelude: str = "",
              env: Optional[dict[str, str]] = None, timeout: int = 120) -> dict:
    """Run :func:`main` under ``python`` from ``cwd`` and return its summary."""
    code = prelude + Path(__file__).read_text(encoding="utf-8")
    r = subprocess.run([python, *flags, "-c", code, root], cwd=cwd, env=env or clean_env(), capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-4000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def checkout_summary() -> dict:
    """What every installation must reproduce: the checkout's bundled files, presets, lexicon, tokenizer."""
    from pipelines.text.bias import load_lexicon
    from schemas.config import load_config, preset_names
    from storage.tokenizer import load_tokenizer

    repo = Path(__file__).resolve().parents[2]
    files = dict(_walk(repo / "pipelines" / "assets", "pipelines/assets"))
    files.update(_walk(repo / "schemas" / "presets", "schemas/presets"))
    return {
        "files": files,
        "presets": {name: load_config(name).sha256() for name in preset_names()},
        "lexicon_sha256": load_lexicon(None).sha256,
        "tokenizer_sha256": load_tokenizer(repo / "pipelines/assets/tokenizers/demo-bpe-4k.json").sha256,
    }


def assert_same_as_checkout(summary: dict, expected: dict) -> None:
    assert summary["files"] == expected["files"]  # every bundled file shipped, byte for byte
    assert summary["presets"] == expected["presets"]
    assert summary["lexicon"]["sha256"] == expected["lexicon_sha256"]
    assert summary["lexicon"]["name"] == "pipelines/assets/lexicons" and summary["lexicon"]["terms"] > 100
    assert summary["tokenizer"]["sha256"] == expected["tokenizer_sha256"]
    assert summary["tokenizer"]["spec"] == "pipelines/assets/tokenizers/demo-bpe-4k.json"
    assert summary["stopwords"]["languages"] >= 20 and "the" in summary["stopwords"]["en"]


if __name__ == "__main__":
    main(sys.argv[1])
