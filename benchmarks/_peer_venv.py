"""A separate virtual environment for peer tools (datatrove), built on first use by the benchmarks.

Peers are never project dependencies: they live in their own venv, by default
``~/.cache/corpusforge-bench/datatrove-venv`` (``CORPUSFORGE_PEER_VENV`` moves it), installed from the
package index with pip the first time a peer benchmark runs, and then reused. The benchmark talks to the
peer only through a worker script run with that venv's Python (``benchmarks/_datatrove_*.py``: they import
nothing of this project), so its start-up and imports are timed as a user's process would pay them.

Pinned to what the figures were taken with: datatrove 0.10.x, whose English word tokenizer is spaCy's
blank ``en`` pipeline (``spacy`` is installed with it; no model download).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Optional

PEER_PACKAGES = ("datatrove[processing,io]>=0.10,<0.11", "spacy>=3.8,<3.9", "orjson>=3")
DEFAULT_DIR = Path.home() / ".cache" / "corpusforge-bench" / "datatrove-venv"


def venv_dir() -> Path:
    return Path(os.environ.get("CORPUSFORGE_PEER_VENV", str(DEFAULT_DIR)))


def python() -> Path:
    return venv_dir() / "bin" / "python"


def ensure(log=print) -> Path:
    """The peer venv's Python, creating the venv and installing the peers when missing."""
    py = python()
    marker = venv_dir() / ".corpusforge-peers.json"
    wanted = list(PEER_PACKAGES)
    if py.exists() and marker.exists() and json.loads(marker.read_text()).get("packages") == wanted:
        return py
    log(f"installing {', '.join(wanted)} into {venv_dir()} (once)")
    if not py.exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(str(venv_dir()))
    subprocess.run([str(py), "-m", "pip", "install", "-q", *wanted], check=True)
    marker.write_text(json.dumps({"packages": wanted}))
    return py


def version(package: str = "datatrove") -> Optional[str]:
    """The installed version of a package in the peer venv (None when absent)."""
    try:
        out = subprocess.run(
            [str(python()), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
            capture_output=True, text=True, check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def run_worker(script: str, args: list[str], timeout: float = 1800) -> dict:
    """Run ``benchmarks/<script>`` with the peer Python; it prints one JSON object on its last line."""
    path = Path(__file__).resolve().parent / script
    proc = subprocess.run(
        [str(ensure()), str(path), *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(ensure())
    sys.exit(0)
