"""Input discovery: paths, directories and globs become files, formats and byte-range splits."""
from __future__ import annotations

import glob
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .remote import (
    HTTP_SCHEMES,
    FetchOptions,
    http_sizes,
    is_path_list,
    is_remote,
    list_object_store,
    local_path_of,
    read_path_list,
    url_name,
    url_scheme,
)
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

    path: str  # absolute path, or the URL of a remote file
    rel_path: str  # relative to its --input root (the file name when the input is a file)
    source: str
    fmt: str  # jsonl | parquet | text | warc | wet | unsupported
    compression: Optional[str]
    size: int  # -1: a remote file whose size the server did not tell


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
    if input_arg.startswith("@"):
        input_arg = input_arg[1:]
    if is_remote(input_arg):
        parsed = urllib.parse.urlparse(input_arg)
        input_arg = parsed.netloc + urllib.parse.unquote(parsed.path)
    p = Path(input_arg.rstrip("/"))
    name = p.name
    if any(ch in name for ch in "*?["):
        name = p.parent.name
    if p.is_file() or "." in name:
        # a file: drop all extensions (web.jsonl.gz -> web)
        name = name.split(".", 1)[0] or name
    return name or "input"


def expand_inputs(inputs: list[str], fmt: str = "auto", source: Optional[str] = None,
                  remote=None) -> list[InputFile]:
    """Expand ``--input`` arguments into sorted, unique input files.

    An argument is a file, a directory, a glob, an ``http(s)://`` URL (one file), an object-store URL
    (``s3://``, ``gs://``, ``hdfs://``...: file, folder or glob) or a path list (``@FILE``, or a name ending
    in ``.paths``/``.paths.gz``: one input per line, see ``remote.read_path_list``). Hidden files and
    Spark/Hadoop markers (names starting with ``.`` or ``_``) are ignored inside directories. ``remote`` is
    the ``ingest.remote`` section (retries and the base URL of path lists). Raises ``FileNotFoundError``
    naming any argument that matches nothing, and ``InputError`` for an input that cannot be used (a
    missing filesystem package, an unreadable path list).
    """
    opts = FetchOptions.of(remote) if remote is not None else FetchOptions()
    found: dict[str, InputFile] = {}
    web: dict[str, tuple[str, str]] = {}  # http(s) URL -> (relative path, source); sized together below
    for arg in inputs:
        if is_path_list(arg):
            src = source or _source_name(arg)
            for entry, rel in read_path_list(arg, opts, getattr(remote, "base_url", None)):
                _expand_one(entry, src, fmt, found, web, rel_hint=rel)
        else:
            _expand_one(arg, source or _source_name(arg), fmt, found, web)
    sizes = http_sizes(list(web), opts)
    for url, (rel, src) in web.items():
        f, comp = detect_format(url_name(url), fmt)
        found[url] = InputFile(url, rel, src, f, comp, sizes[url])
    return sorted(found.values(), key=lambda f: f.path)


def _expand_one(arg: str, src: str, fmt: str, found: dict, web: dict, rel_hint: Optional[str] = None) -> None:
    scheme = url_scheme(arg)
    if scheme in HTTP_SCHEMES:
        if arg not in web and arg not in found:
            web[arg] = (rel_hint or os.path.basename(url_name(arg)) or "index", src)
        return
    if scheme is not None and scheme != "file":
        for url, rel, size in list_object_store(arg):
            if url not in found:
                f, comp = detect_format(url_name(url), fmt)
                found[url] = InputFile(url, rel_hint if rel_hint and url == arg else rel, src, f, comp, size)
        return
    arg = local_path_of(arg)
    matches = sorted(glob.glob(arg, recursive=True)) if any(c in arg for c in "*?[") else [arg]
    if not matches or not any(os.path.exists(m) for m in matches):
        raise FileNotFoundError(f"input {arg!r} does not exist (check the path or quote the glob)")
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
            if rel_hint is not None and len(matches) == 1:
                _add(found, root, rel_hint, src, fmt)
                continue
            base = Path(arg).parent if any(c in arg for c in "*?[") else root.parent
            try:
                rel = root.resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                rel = root.name
            _add(found, root, rel, src, fmt)


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
        # Remote files are downloaded whole by one task (see remote.py), so they are never split.
        splittable = f.fmt == "jsonl" and f.compression is None and f.size > split_bytes and not is_remote(f.path)
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
