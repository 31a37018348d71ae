"""The environment archive for ``spark-submit --archives`` (``corpusforge pack-env``).

Spark documents venv-pack for shipping a virtual environment to the executors: the archive is unpacked
in every executor's working directory (``--archives env.tar.gz#environment``) and
``spark.pyspark.python=./environment/bin/python`` runs the Python workers from it. This module packs the
running virtual environment (or ``prefix``) with venv-pack and adds what venv-pack cannot do by itself:

* **corpusforge installed editable** (``pip install -e .``, as ``make install`` does): venv-pack would
  archive an import hook that points at the source checkout, which the executors do not have (and it
  does not notice PEP 660 editable installs at all). The project wheel is built from the checkout (in a
  temporary copy, with ``pip wheel --no-deps --no-build-isolation``) and its files replace the editable
  hook in the archive's site-packages, so ``bin/python`` imports corpusforge without the source tree.
  Any *other* editable distribution is refused with a message that says what to do.
* **leaving out what executors never use** (``exclude``): torch, for example (executors never train).
  The named distributions are dropped together with their own dependencies that no remaining
  distribution requires (torch takes sympy, networkx, triton, ... with it); the result lists them.

The archive is written beside ``output`` and renamed into place when complete.

Limits (venv-pack's, documented in the README): the archive holds the virtual environment, not the
Python interpreter. ``bin/python`` is a symlink to the interpreter the venv was made with, so every
executor needs that same Python version at the same path (``PackResult.interpreter``); conda-pack or
PEX are the alternatives that carry or locate their interpreter. Packages with compiled code must match
the executors' platform (same OS, CPU architecture and glibc range).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Iterable, Optional
from urllib.parse import unquote, urlparse

from storage.files import fsync_dir

PROJECT = "corpusforge"
#: Files of a source checkout that the wheel build needs besides the packages in top_level.txt.
_BUILD_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in", "README.md", "LICENSE")
_FORMATS = {".tar.gz": "tar.gz", ".tgz": "tar.gz", ".tar.bz2": "tar.bz2", ".tar": "tar", ".zip": "zip"}


class PackEnvError(Exception):
    """The environment cannot be packed; the message says why and what to do."""


@dataclass
class PackResult:
    """What :func:`pack_environment` wrote."""

    output: Path
    bytes: int
    files: int
    interpreter: str  # the Python every executor needs at this path
    python_version: str
    excluded: list[str] = field(default_factory=list)  # distributions left out (named + orphaned deps)
    project_from_wheel: bool = False  # corpusforge was editable: its files come from a freshly built wheel

    def to_dict(self) -> dict:
        return {
            "output": str(self.output), "bytes": self.bytes, "files": self.files,
            "interpreter": self.interpreter, "python_version": self.python_version,
            "excluded": self.excluded, "project_from_wheel": self.project_from_wheel,
        }


def normalize_name(name: str) -> str:
    """PEP 503 normalized distribution name (``Typing_Extensions`` -> ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def archive_format(output: Path) -> str:
    """venv-pack's format name for ``output``'s extension."""
    for ext, fmt in _FORMATS.items():
        if output.name.endswith(ext):
            return fmt
    raise PackEnvError(f"unknown archive type {output.name!r}: use one of {', '.join(_FORMATS)}")


def site_packages(prefix: Path) -> Path:
    found = sorted(prefix.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise PackEnvError(f"{prefix} is not a virtual environment with one site-packages folder (found {found})")
    return found[0]


def _requirement_names(dist: metadata.Distribution) -> set[str]:
    # Markers and extras are ignored on purpose: counting every declared requirement keeps more, never less.
    out = set()
    for req in dist.requires or ():
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if m:
            out.add(normalize_name(m.group(1)))
    return out


def _editable_source(dist: metadata.Distribution) -> Optional[Path]:
    """The source folder of an editable install (PEP 610 ``direct_url.json``), else None."""
    raw = dist.read_text("direct_url.json")
    if not raw:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    if not (info.get("dir_info") or {}).get("editable"):
        return None
    url = urlparse(info.get("url", ""))
    return Path(unquote(url.path)) if url.scheme == "file" else Path(info.get("url", "?"))


def excluded_distributions(dists: dict[str, metadata.Distribution], exclude: Iterable[str],
                           requires_override: Optional[dict[str, set[str]]] = None) -> list[str]:
    """The named distributions plus their dependencies that no kept distribution needs (sorted).

    ``requires_override`` replaces the requirement names of some distributions (corpusforge's, read from
    the freshly built wheel when the installed one is editable).

    Raises:
        PackEnvError: a named distribution is not installed.
    """
    named = {normalize_name(n) for n in exclude}
    missing = sorted(named - dists.keys())
    if missing:
        raise PackEnvError(f"--exclude {', '.join(missing)}: not installed in this environment")
    if PROJECT in named:
        raise PackEnvError(f"--exclude {PROJECT}: the archive exists to ship {PROJECT}")
    requires = {name: _requirement_names(d) & dists.keys() for name, d in dists.items()}
    for name, names in (requires_override or {}).items():
        requires[name] = set(names) & dists.keys()

    def closure(start: set[str], stop: set[str]) -> set[str]:
        seen, todo = set(), list(start)
        while todo:
            n = todo.pop()
            if n not in seen and n not in stop:
                seen.add(n)
                todo.extend(requires.get(n, ()))
        return seen

    candidates = closure(named, set()) - named
    roots = set(dists) - named - candidates
    needed = closure(roots, named)  # what the kept distributions need, never through an excluded one
    return sorted(named | (candidates - needed))


def _dist_targets(dist: metadata.Distribution, sp: Path, prefix: Path) -> set[str]:
    """Archive targets (relative to ``prefix``) of the files a distribution's RECORD lists."""
    out = set()
    for f in dist.files or ():
        path = os.path.normpath(sp / str(f))
        rel = os.path.relpath(path, prefix)
        if not rel.startswith(".."):
            out.add(rel.replace(os.sep, "/"))
    return out


def _top_levels(targets: Iterable[str], sp_rel: str) -> set[str]:
    """First path components under site-packages (``torch``, ``torch-2.13.0.dist-info``, ``six.py``)."""
    out = set()
    for t in targets:
        if t.startswith(sp_rel + "/"):
            out.add(t[len(sp_rel) + 1:].split("/", 1)[0])
    return out


def build_project_wheel(source: Path, out_dir: Path, python: str = sys.executable) -> Path:
    """Build the corpusforge wheel from a source checkout, in a temporary copy (the checkout is not touched).

    Raises:
        PackEnvError: the build failed (the message ends with pip's output).
    """
    top_level = [p for p in ("pipelines", "jobs", "schemas", "storage", "quality", "train") if (source / p).is_dir()]
    if not (source / "pyproject.toml").is_file() or not top_level:
        raise PackEnvError(f"{source} does not look like the corpusforge source tree (no pyproject.toml or packages)")
    with tempfile.TemporaryDirectory(prefix="corpusforge-src-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in _BUILD_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, src / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for pkg in top_level:
            shutil.copytree(source / pkg, src / pkg, ignore=ignore)
        out_dir.mkdir(parents=True, exist_ok=True)
        cmd = [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
               "-w", str(out_dir), str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise PackEnvError(f"building the {PROJECT} wheel failed: {(proc.stdout + proc.stderr)[-2000:]}")
    wheels = sorted(out_dir.glob(f"{PROJECT}-*.whl"))
    if not wheels:
        raise PackEnvError(f"pip wheel produced no {PROJECT} wheel in {out_dir}")
    return wheels[-1]


def _installed(sp: Path) -> dict[str, metadata.Distribution]:
    dists: dict[str, metadata.Distribution] = {}
    for d in metadata.distributions(path=[str(sp)]):
        name = d.metadata["Name"]
        if name:
            dists.setdefault(normalize_name(name), d)
    return dists


def _wheel_requirements(wheel: Path) -> tuple[set[str], set[str]]:
    """``(all requirement names, those outside extras)`` from a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode("utf-8")
    every, core = set(), set()
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            req = line.split(":", 1)[1]
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
            if m:
                every.add(normalize_name(m.group(1)))
                if "extra ==" not in req:
                    core.add(normalize_name(m.group(1)))
    return every, core


def _unpack_wheel(wheel: Path, into: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if any(".data/" in n for n in names):
            raise PackEnvError(f"{wheel.name} has a .data folder; pack-env does not place those")
        zf.extractall(into)
    return sorted(names)


def pack_environment(
    output: os.PathLike | str,
    exclude: Iterable[str] = (),
    prefix: Optional[os.PathLike | str] = None,
    compress_level: int = 4,
) -> PackResult:
    """Pack a virtual environment (default: the running one) into ``output`` for ``--archives``.

    Args:
        output: ``.tar.gz``/``.tgz`` (what Spark's docs use), ``.tar``, ``.tar.bz2`` or ``.zip``.
        exclude: distributions to leave out, with their otherwise unused dependencies.
        prefix: the virtual environment (default: ``sys.prefix``).
        compress_level: gzip/bzip2 level 0-9 (lower is faster, larger).

    Raises:
        PackEnvError: not a venv, venv-pack missing, another editable distribution, unknown exclusion,
            a requirement of corpusforge not installed, wheel build failure.
    """
    try:
        import venv_pack  # deferred: optional extra 'pack'; only this command needs it
    except ImportError:
        raise PackEnvError(
            f"pack-env needs venv-pack: pip install '{PROJECT}[pack]' (or pip install venv-pack)"
        ) from None
    output = Path(output).expanduser().resolve()
    fmt = archive_format(output)
    prefix = Path(prefix or sys.prefix).resolve()
    if not (prefix / "pyvenv.cfg").is_file():
        raise PackEnvError(
            f"{prefix} is not a virtual environment (no pyvenv.cfg): run pack-env with the venv's own "
            "corpusforge (e.g. .venv/bin/corpusforge pack-env) or pass --prefix; for conda use conda-pack"
        )
    sp = site_packages(prefix)
    sp_rel = sp.relative_to(prefix).as_posix()
    dists = _installed(sp)
    if PROJECT not in dists:
        raise PackEnvError(f"{PROJECT} is not installed in {prefix}; install it there first")
    editable = {n: _editable_source(d) for n, d in dists.items()}
    others = {n: src for n, src in editable.items() if src is not None and n != PROJECT}
    named = {normalize_name(n) for n in exclude}
    others = {n: src for n, src in others.items() if n not in named}
    if others:
        listing = ", ".join(f"{n} (from {src})" for n, src in sorted(others.items()))
        raise PackEnvError(
            f"editable installs cannot be packed: {listing}. Executors would look for their code in those "
            "folders. Install them normally (pip install PATH) or leave them out with --exclude NAME"
        )
    project_source = editable.get(PROJECT)

    with tempfile.TemporaryDirectory(prefix="corpusforge-pack-") as tmp:
        extra: list = []
        requires_override: dict[str, set[str]] = {}
        if project_source is not None:
            # The checkout's wheel, not the metadata of the editable install (which may predate a new
            # dependency): its requirements decide what stays, and every core one must be installed.
            wheel = build_project_wheel(project_source, Path(tmp) / "wheel", python=str(prefix / "bin" / "python"))
            every, core = _wheel_requirements(wheel)
            missing = sorted(core - dists.keys() - named)
            if missing:
                raise PackEnvError(
                    f"{PROJECT} requires {', '.join(missing)}, not installed in {prefix}: reinstall the project "
                    "(make install, or pip install -e .) before packing"
                )
            requires_override[PROJECT] = every
            unpacked = Path(tmp) / "unpacked"
            extra = [venv_pack.File(str(unpacked / n), f"{sp_rel}/{n}") for n in _unpack_wheel(wheel, unpacked)]
        dropped = excluded_distributions(dists, exclude, requires_override)
        keep = _file_filter(dists, dropped, sp, prefix, drop_project_hook=project_source is not None)
        try:
            env = venv_pack.Env(str(prefix))
        except venv_pack.VenvPackException as exc:
            raise PackEnvError(f"venv-pack: {exc}") from None
        # venv-pack 0.2 archives exactly Env.files; filter it in place and add the wheel's files.
        env.files[:] = [f for f in env.files if keep(f.target.replace(os.sep, "/"))] + extra
        n_files = len(env.files)
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
        try:
            env.pack(output=str(partial), format=fmt, force=True, compress_level=compress_level)
            umask = os.umask(0o022)
            os.umask(umask)
            os.chmod(partial, 0o666 & ~umask)  # venv-pack's temp file is private (0600)
            os.replace(partial, output)
            fsync_dir(output.parent)
        finally:
            if partial.exists():
                partial.unlink()

    return PackResult(
        output=output, bytes=output.stat().st_size, files=n_files,
        interpreter=os.path.realpath(prefix / "bin" / "python"),
        python_version=_python_version(prefix), excluded=dropped, project_from_wheel=project_source is not None,
    )


def _file_filter(dists: dict[str, metadata.Distribution], dropped: list[str], sp: Path, prefix: Path,
                 drop_project_hook: bool):
    """A predicate on archive targets: False for the files of dropped distributions (and of the editable hook)."""
    sp_rel = sp.relative_to(prefix).as_posix()
    drop_targets: set[str] = set()
    owners: dict[str, set[str]] = {}
    for name, d in dists.items():
        targets = _dist_targets(d, sp, prefix)
        for top in _top_levels(targets, sp_rel):
            owners.setdefault(top, set()).add(name)
        if name in dropped:
            drop_targets |= targets
    drop_tops = {top for top, names in owners.items() if names <= set(dropped)}
    if drop_project_hook:
        # The editable hook (.pth, finder module, dist-info) goes; the console script in bin/ stays.
        drop_targets |= {t for t in _dist_targets(dists[PROJECT], sp, prefix) if t.startswith(sp_rel + "/")}

    def keep(target: str) -> bool:
        if target in drop_targets:
            return False
        if target.startswith(sp_rel + "/"):
            return target[len(sp_rel) + 1:].split("/", 1)[0] not in drop_tops
        return True

    return keep


def _python_version(prefix: Path) -> str:
    for line in (prefix / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip().lower() in ("version", "version_info"):
            return value.strip()
    return ".".join(map(str, sys.version_info[:3]))
