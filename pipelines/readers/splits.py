"""Input discovery: paths, directories and globs become files, formats and byte-range splits."""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .streams import compression_of, detect_bom

#: Extensions (after removing .gz/.zst) and the format they mean.
_EXTENSIONS = {
    ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
    ".txt": "text", ".text": "text", ".md": "text",
    ".warc": "warc",
    ".wet": "wet",
}


@dataclass(frozen=True)
class InputFile:
    """One input file and where it came from."""

    path: str  # absolute path
    rel_path: str  # relative to its --input root (the file name when the input is a file)
    source: str
    fmt: str  # jsonl | parquet | text | warc | wet | unsupported
    compression: Optional[str]
    size: int


@dataclass(frozen=True)
class InputSplit:
    """A unit of reading work: a whole file, or a byte range of an uncompressed JSONL file."""

    path: str
    rel_path: str
    source: str
    fmt: str
    compression: Optional[str]
    split_index: int
    start: int
    end: int  # exclusive; -1 = to the end of the file


def detect_format(path: str, configured: str = "auto") -> tuple[str, Optional[str]]:
    """(format, compression) of a file name; ``configured`` wins over the extension unless ``auto``."""
    comp = compression_of(path)
    name = path.lower()
    if comp:
        name = name.rsplit(".", 1)[0]
    if configured != "auto":
        return configured, comp
    if name.endswith(".warc.wet"):
        return "wet", comp
    ext = os.path.splitext(name)[1]
    return _EXTENSIONS.get(ext, "unsupported"), comp


def _source_name(input_arg: str) -> str:
    p = Path(input_arg.rstrip("/"))
    name = p.name
    if any(ch in name for ch in "*?["):
        name = p.parent.name
    if p.is_file() or "." in name:
        # a file: drop all extensions (web.jsonl.gz -> web)
        name = name.split(".", 1)[0] or name
    return name or "input"


def expand_inputs(inputs: list[str], fmt: str = "auto", source: Optional[str] = None) -> list[InputFile]:
    """Expand ``--input`` arguments (files, directories, globs) into sorted, unique input files.

    Hidden files and Spark/Hadoop markers (names starting with ``.`` or ``_``) are ignored inside
    directories. Raises ``FileNotFoundError`` naming any argument that matches nothing.
    """
    found: dict[str, InputFile] = {}
    for arg in inputs:
        matches = sorted(glob.glob(arg, recursive=True)) if any(c in arg for c in "*?[") else [arg]
        if not matches or not any(os.path.exists(m) for m in matches):
            raise FileNotFoundError(f"input {arg!r} does not exist (check the path or quote the glob)")
        src = source or _source_name(arg)
        for m in matches:
            root = Path(m)
            if root.is_dir():
                for dirpath, dirnames, filenames in os.walk(root):
                    dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
                    for fn in sorted(filenames):
                        if fn.startswith((".", "_")):
                            continue
                        full = Path(dirpath) / fn
                        rel = full.relative_to(root).as_posix()
                        _add(found, full, rel, src, fmt)
            elif root.is_file():
                base = Path(arg).parent if any(c in arg for c in "*?[") else root.parent
                try:
                    rel = root.resolve().relative_to(base.resolve()).as_posix()
                except ValueError:
                    rel = root.name
                _add(found, root, rel, src, fmt)
    return sorted(found.values(), key=lambda f: f.path)


def _add(found: dict, path: Path, rel: str, source: str, fmt: str) -> None:
    ap = str(path.resolve())
    if ap in found:
        return
    f, comp = detect_format(ap, fmt)
    found[ap] = InputFile(ap, rel, source, f, comp, path.stat().st_size)


def plan_splits(files: list[InputFile], split_bytes: int) -> list[InputSplit]:
    """One split per file, except uncompressed UTF-8 JSONL files larger than ``split_bytes``."""
    out: list[InputSplit] = []
    for f in files:
        splittable = f.fmt == "jsonl" and f.compression is None and f.size > split_bytes
        if splittable:
            with open(f.path, "rb") as fh:
                enc, _ = detect_bom(fh.read(64))
            splittable = enc in (None, "utf-8")
        if not splittable:
            out.append(InputSplit(f.path, f.rel_path, f.source, f.fmt, f.compression, 0, 0, -1))
            continue
        n = -(-f.size // split_bytes)
        for i in range(n):
            start = i * split_bytes
            end = min(f.size, (i + 1) * split_bytes)
            out.append(InputSplit(f.path, f.rel_path, f.source, f.fmt, None, i, start, end))
    return out
