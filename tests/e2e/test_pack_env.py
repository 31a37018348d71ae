"""``corpusforge pack-env``: an archive whose ``bin/python`` runs corpusforge without the source checkout.

The project venv has corpusforge installed editable (``make install``); pack-env replaces the editable
hook by the built wheel. The full test packs this venv without torch and the test tools (executors never
train or test), unpacks it as Spark's ``--archives`` would, and loads every bundled asset with the
unpacked interpreter from a temporary directory.
"""
from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

from pipelines.packenv import PackEnvError, excluded_distributions, pack_environment
from tests.e2e.asset_check import assert_same_as_checkout, checkout_summary, clean_env, run_check

pytest.importorskip("venv_pack", reason="pack-env needs the 'pack' extra (make install installs it)")

CLI = str(Path(sys.executable).parent / "corpusforge")
# What the cluster executors do not need: training (torch) and the test tools.
EXCLUDE = ("torch", "pytest", "ruff", "faker")


class _Dist:
    def __init__(self, requires=()):
        self.requires = list(requires)


def test_exclusion_takes_dependencies_that_nothing_else_needs():
    dists = {
        "corpusforge": _Dist(["torch>=2", "pydantic", "numpy"]),
        "torch": _Dist(["sympy", "typing-extensions", "jinja2 ; extra == 'x'"]),
        "sympy": _Dist(["mpmath"]),
        "mpmath": _Dist(),
        "typing-extensions": _Dist(),
        "jinja2": _Dist(),
        "pydantic": _Dist(["typing_extensions>=4"]),
        "numpy": _Dist(),
        "spacy": _Dist(["jinja2"]),
    }
    assert excluded_distributions(dists, ["Torch"]) == ["mpmath", "sympy", "torch"]
    # corpusforge's requirements come from the freshly built wheel when the install is editable
    assert excluded_distributions(dists, ["torch"], {"corpusforge": {"torch", "sympy"}}) == ["torch"]
    with pytest.raises(PackEnvError, match="not installed"):
        excluded_distributions(dists, ["tensorflow"])
    with pytest.raises(PackEnvError, match="ship corpusforge"):
        excluded_distributions(dists, ["corpusforge"])


def _fake_venv(root: Path, editable: dict[str, str]) -> Path:
    sp = root / "lib" / "python3.11" / "site-packages"
    sp.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
    for name in ("corpusforge", "foo"):
        info = sp / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        if name in editable:
            (info / "direct_url.json").write_text(json.dumps({"url": editable[name], "dir_info": {"editable": True}}))
    return root


def test_refuses_other_editable_installs_and_non_venvs_with_a_clear_message(tmp_path):
    fake = _fake_venv(tmp_path / "venv", {"foo": "file:///src/foo"})
    with pytest.raises(PackEnvError, match=r"editable installs cannot be packed: foo \(from /src/foo\)"):
        pack_environment(tmp_path / "env.tar.gz", prefix=fake)
    r = subprocess.run([CLI, "pack-env", "--output", str(tmp_path / "env.tar.gz"), "--prefix", str(tmp_path)],
                       capture_output=True, text=True, env=clean_env(), timeout=60)
    assert r.returncode == 2 and "is not a virtual environment" in r.stderr, r.stderr
    r = subprocess.run([CLI, "pack-env", "--output", str(tmp_path / "env.rar")], capture_output=True, text=True,
                       env=clean_env(), timeout=60)
    assert r.returncode == 2 and "unknown archive type" in r.stderr, r.stderr


@pytest.mark.slow
def test_packed_environment_runs_corpusforge_without_the_checkout(tmp_path):
    installed = [d for d in metadata.distributions(path=[sysconfig.get_paths()["purelib"]])
                 if d.metadata["Name"] == "corpusforge"]
    assert installed, "corpusforge is not installed in this venv: run make install"
    editable = '"editable": true' in (installed[0].read_text("direct_url.json") or "")
    archive = tmp_path / "env.tar.gz"
    work = tmp_path / "cwd"
    work.mkdir()
    args = [CLI, "pack-env", "--output", str(archive), "--compress-level", "1"]
    for name in EXCLUDE:
        args += ["--exclude", name]
    r = subprocess.run(args, cwd=work, capture_output=True, text=True, env=clean_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout)
    assert result["output"] == str(archive) and archive.stat().st_size == result["bytes"]
    assert {"torch", "pytest", "sympy"} <= set(result["excluded"]) and "pyspark" not in result["excluded"]
    assert result["project_from_wheel"] is editable and Path(result["interpreter"]).is_file()

    env_dir = tmp_path / "environment"  # as spark-submit --archives env.tar.gz#environment unpacks it
    env_dir.mkdir()
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(env_dir)], check=True, timeout=300)
    python = str(env_dir / "bin" / "python")
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    assert not list(site.glob("__editable__*")) and not (site / "torch").exists()
    assert not list(site.glob("corpusforge-*.dist-info/direct_url.json"))

    code = ("import sys, pipelines, schemas, storage, jobs, quality, train, pyspark\n"
            "from pipelines.text.bias import load_lexicon\n"
            "lex = load_lexicon(None)\n"
            "print(sys.prefix, pipelines.__file__, pyspark.__file__, lex.version)\n"
            "try:\n    import torch\nexcept ImportError:\n    print('no torch')\n")
    r = subprocess.run([python, "-c", code], cwd=work, capture_output=True, text=True, env=clean_env(), timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    prefix, pipelines_file, pyspark_file, _version = r.stdout.split("\n")[0].split(" ")
    assert prefix == str(env_dir)
    assert pipelines_file.startswith(str(site)) and pyspark_file.startswith(str(site))
    assert "no torch" in r.stdout

    summary = run_check(python, str(site), work)
    assert_same_as_checkout(summary, checkout_summary())
    r = subprocess.run([python, "-m", "jobs.cli", "--help"], cwd=work, capture_output=True, text=True,
                       env=clean_env(), timeout=120)
    assert r.returncode == 0 and "pack-env" in r.stdout, r.stderr[-3000:]
