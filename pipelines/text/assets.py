"""Bundled files (lexicons, the demo tokenizer, ...) and asset paths named in a configuration.

Every file shipped inside the ``pipelines`` package is read through :mod:`importlib.resources`, never
relative to ``__file__``, so it loads the same from a source checkout, an installed wheel, an unpacked
environment archive and a zip on ``spark-submit --py-files``. A consumer that needs a real file path
(``tokenizers``' ``Tokenizer.from_file``, fastText, a copy into the shards folder) gets one from
:func:`materialize`: the file itself when the package lies on disk, otherwise a copy extracted once into
``<tmp>/corpusforge-assets-<uid>/<sha256>/<name>`` (written atomically, so concurrent Python workers of
one executor never see half a file; ``CORPUSFORGE_ASSET_CACHE`` overrides the folder).

Asset paths in a configuration (``tokenize.tokenizer_path``): a relative path that starts with
``pipelines/`` and names a bundled file *is* that bundled file, wherever the job runs (the driver and
every executor resolve it in their own copy of the package); any other path is a user file, used as it
is (relative paths against the current directory). The run manifest records the bundled name
(``pipelines/assets/tokenizers/demo-bpe-4k.json``) with the sha256, not a machine-specific location.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Optional, Union

from storage.files import atomic_write_bytes, file_sha256

PACKAGE = "pipelines"
_PREFIX = PACKAGE + "/"
_lock = threading.Lock()
_materialized: dict[str, Path] = {}


def bundled(name: str) -> Traversable:
    """The bundled resource ``name``, relative to the ``pipelines`` package (``assets/lexicons/VERSION``)."""
    node: Traversable = resources.files(PACKAGE)
    for part in name.strip("/").split("/"):
        node = node / part
    return node


def bundled_name(path: Union[str, Path, None]) -> Optional[str]:
    """``assets/...`` when ``path`` (``pipelines/assets/...``) names an existing bundled file, else None."""
    if path is None:
        return None
    text = str(path).replace(os.sep, "/")
    if not text.startswith(_PREFIX) or ".." in text.split("/"):
        return None
    name = text[len(_PREFIX):]
    return name if name and bundled(name).is_file() else None


def cache_dir() -> Path:
    """Where bundled files are extracted when the package is not on disk (a zip)."""
    override = os.environ.get("CORPUSFORGE_ASSET_CACHE")
    if override:
        return Path(override)
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"corpusforge-assets-{uid}"


def materialize(name: str) -> Path:
    """A real file path holding the bundled resource ``name`` (see the module docstring).

    Raises:
        FileNotFoundError: no such bundled file.
    """
    with _lock:
        hit = _materialized.get(name)
        if hit is not None and hit.is_file():
            return hit
        res = bundled(name)
        if not res.is_file():
            raise FileNotFoundError(f"no bundled file {_PREFIX}{name} in this corpusforge installation")
        if isinstance(res, Path):  # a checkout, a wheel install, an unpacked archive: the file is on disk
            path = res
        else:  # inside a zip: extract once, keyed by content
            path = _extract(res.read_bytes(), Path(name).name)
        _materialized[name] = path
        return path


def _extract(data: bytes, filename: str) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    dest = cache_dir() / sha / filename
    if not (dest.is_file() and file_sha256(dest) == sha):
        atomic_write_bytes(dest, data)  # concurrent workers see no file or a complete one, never a part
    return dest


def resolve_asset(path: Union[str, Path]) -> Path:
    """A real file path for an asset named in the config (a bundled name or a user path, see above)."""
    name = bundled_name(path)
    if name is not None:
        return materialize(name)
    return Path(path).expanduser().resolve()


def asset_spec(path: Union[str, Path]) -> str:
    """The portable name of an asset path: the bundled name, or the absolute user path.

    It is what the run manifest records and what the driver sends to the executors, which resolve it
    again with :func:`resolve_asset` (a bundled name in their own copy of the package).
    """
    name = bundled_name(path)
    return _PREFIX + name if name is not None else str(Path(path).expanduser().resolve())
