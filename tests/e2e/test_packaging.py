"""Bundled files load without the source checkout: from the README's zip and from the built wheel.

(a) ``zip -qr corpusforge.zip pipelines jobs schemas storage quality train`` (the README's command for
``spark-submit --py-files``) on an isolated interpreter whose path is only the zip and site-packages;
(b) the wheel installed with ``pip install --no-deps --no-index`` into a fresh venv that sees the
project's dependencies through a ``.pth`` file (nothing is reinstalled or downloaded). In both, every
lexicon, preset, the demo tokenizer (as the tokenize stage resolves it on the driver and on an executor)
and the stop-word lists load, and every bundled file is byte-identical to the checkout's.
"""
from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from pipelines.packenv import build_project_wheel
from tests.e2e.asset_check import assert_same_as_checkout, checkout_summary, clean_env, run_check

REPO = Path(__file__).resolve().parents[2]
SITE_PACKAGES = sysconfig.get_paths()["purelib"]  # the project's dependencies (this venv's site-packages)


@pytest.fixture(scope="module")
def expected():
    return checkout_summary()


def test_every_asset_loads_from_the_zip_of_the_readme(tmp_path, expected):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = "zip -qr corpusforge.zip pipelines jobs schemas storage quality train"
    assert command in readme
    zip_path = tmp_path / "corpusforge.zip"
    argv = [str(zip_path) if a == "corpusforge.zip" else a for a in command.split()]  # written outside the checkout
    subprocess.run(argv, cwd=REPO, check=True, env=clean_env())
    work = tmp_path / "cwd"
    work.mkdir()
    cache = tmp_path / "asset-cache"
    # -I -S: no PYTHONPATH, no site processing (so no editable hook), no script dir or cwd on sys.path.
    prelude = f"import sys; sys.path[:0] = [{str(zip_path)!r}]; sys.path.append({SITE_PACKAGES!r})\n"
    summary = run_check(sys.executable, str(zip_path), work, flags=("-I", "-S"), prelude=prelude,
                        env=clean_env(CORPUSFORGE_ASSET_CACHE=str(cache)))
    assert summary["modules"]["pipelines"] == str(zip_path / "pipelines" / "__init__.py")
    assert_same_as_checkout(summary, expected)
    # tokenizers needs a real file: the zip's copy was extracted once, into a folder named by its sha256
    extracted = Path(summary["tokenizer"]["path"])
    assert extracted.parent == cache / expected["tokenizer_sha256"] and extracted.name == "demo-bpe-4k.json"
    assert summary["code_version"]["git_commit"] is None  # no checkout to ask, and no failure either


def test_every_asset_loads_from_the_wheel_in_a_fresh_venv(tmp_path, expected):
    wheel = build_project_wheel(REPO, tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=clean_env())
    python = str(venv / "bin" / "python")
    new_site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True, env=clean_env()).stdout.strip()
    # The dependencies stay where they are: the new venv sees them through a .pth line (after its own
    # site-packages, and without running this venv's .pth files, so the editable hook is not loaded).
    (Path(new_site) / "corpusforge-test-deps.pth").write_text(SITE_PACKAGES + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, env=clean_env(), timeout=120)
    work = tmp_path / "cwd"
    work.mkdir()
    env = clean_env()
    # The wheel route of the README: spark-submit the installed entry point's file ...
    entry = subprocess.run([python, "-c", "import jobs.run_pipeline as m; print(m.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert entry.startswith(new_site)
    # ... and really submitted (local mode, ingest + exact dedup only: the point is the code's origin). It runs
    # in the background while the checks below use the same venv (they are independent of it).
    import pyspark

    spark_submit = str(Path(pyspark.__file__).parent / "bin" / "spark-submit")
    demo = str(REPO / "pipelines" / "assets" / "demo" / "part-00000.jsonl")
    off = [a for s in ("language", "quality", "classify", "decontaminate", "near_dedup", "pii", "bias", "tokenize")
           for a in ("--set", f"{s}.enabled=false")]
    submit_env = clean_env(PYSPARK_PYTHON=python, PYSPARK_DRIVER_PYTHON=python, SPARK_LOCAL_IP="127.0.0.1")
    submit_env.pop("PYTHONPATH", None)
    submit_log = tmp_path / "spark-submit.log"
    with open(submit_log, "w") as log:
        submitted = subprocess.Popen(
            [spark_submit, "--master", "local[1]", "--conf", f"spark.pyspark.python={python}",
             "--conf", f"spark.pyspark.driver.python={python}", "--conf", "spark.ui.enabled=false",
             entry, "--config", "demo", "--input", demo, "--output", str(work / "out"), *off],
            cwd=work, env=submit_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        summary = run_check(python, new_site, work)
        assert_same_as_checkout(summary, expected)
        assert summary["tokenizer"]["path"].startswith(new_site)  # on disk in site-packages: no extraction

        r = subprocess.run([str(venv / "bin" / "corpusforge"), "--help"], cwd=work, env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0 and "pack-env" in r.stdout, r.stderr
        r = subprocess.run([python, entry, "--help"], cwd=work, env=env, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0 and "--config" in r.stdout, r.stderr
        rc = submitted.wait(300)
    finally:
        if submitted.poll() is None:
            submitted.kill()
            submitted.wait(60)
    assert rc == 0, submit_log.read_text(errors="replace")[-3000:]
    run = json.loads((work / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["counts"]["curated"] > 0 and run["spark"]["master"] == "local[1]"
