"""Finding asset files (tokenizers, models, lexicons) named in a configuration.

A relative path is looked up in the current directory first, then under the installed ``pipelines``
package's parent (the repository root in a checkout), so that bundled assets such as
``pipelines/assets/tokenizers/demo-bpe-4k.json`` resolve from any working directory and inside the
Docker image alike. Absolute paths are used as they are.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

_ROOT = Path(__file__).resolve().parents[2]


def resolve_asset(path: Union[str, Path]) -> Path:
    """The absolute path of an asset named in the config (see the module docstring)."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve()
    candidate = _ROOT / p
    if candidate.exists():
        return candidate.resolve()
    return p.resolve()
