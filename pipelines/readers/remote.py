"""Remote inputs: ``http(s)://`` URLs, object stores through fsspec, and path lists.

How a remote file is read: the worker task that reads it first downloads the whole file to a local
temporary file, hashing it on the way, and checks that it got as many bytes as the server announced
(``Content-Length``, or the object's size); only then does the ordinary reader parse the local copy. A
connection that drops mid-file, a timeout, a reset, or an HTTP 408/425/429/5xx answer is retried from
the start of the file, with exponential backoff (``ingest.remote``); a partial download is discarded, so
a partial file's records are never counted as complete. Whole-file retries were chosen over resuming with
``Range`` requests: they are simple, need nothing from the server, and can never splice two versions of
an object that changed between attempts. A file still unreadable after the retries becomes one
``ingest:unreadable_file`` quarantine row (see ``read_split``) and the run's policy decides
(``ingest.on_unreadable``, ``ingest.max_unreadable_files``).

``http``/``https`` use the standard library (``urllib``): no extra package, proxies from the usual
environment variables, and exact control over which failures are transient. Every other scheme
(``s3://``, ``gs://``, ``hdfs://``, ``abfs://``...) goes through fsspec and needs the matching filesystem
package (the ``s3``, ``gcs`` and ``azure`` extras; HDFS needs pyarrow, which is installed, and Hadoop's
libhdfs). Credentials come from those packages' usual configuration, never from corpusforge.

A path list (``--input @FILE``, or any input named ``*.paths`` / ``*.paths.gz``, the way Common Crawl
publishes ``warc.paths.gz``) is a text file, optionally gzip- or zstd-compressed, local or remote, of one
input per line; blank lines and lines starting with ``#`` are ignored.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

import zstandard

log = logging.getLogger(__name__)

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CHUNK = 1 << 20
HTTP_SCHEMES = ("http", "https")
#: HTTP statuses worth another attempt (besides every 5xx).
_TRANSIENT_STATUS = (408, 425, 429)
#: Which package serves which scheme, for the message when it is missing.
_PACKAGES = {
    "s3": "s3fs (pip install 'corpusforge[s3]')",
    "s3a": "s3fs (pip install 'corpusforge[s3]')",
    "gs": "gcsfs (pip install 'corpusforge[gcs]')",
    "gcs": "gcsfs (pip install 'corpusforge[gcs]')",
    "abfs": "adlfs (pip install 'corpusforge[azure]')",
    "abfss": "adlfs (pip install 'corpusforge[azure]')",
    "az": "adlfs (pip install 'corpusforge[azure]')",
    "hdfs": "pyarrow's HadoopFileSystem (Hadoop's libhdfs, HADOOP_HOME and CLASSPATH set)",
}
_USER_AGENT = "corpusforge (+https://github.com/corpusforge)"
#: Concurrent HEAD requests on the driver when sizing http(s) inputs.
HEAD_CONCURRENCY = 16


class InputError(ValueError):
    """An ``--input`` that cannot be used as given (a missing filesystem package, a bad path list)."""


def url_scheme(path: str) -> Optional[str]:
    """The lower-case scheme of ``scheme://...``, or None for a plain path."""
    m = _SCHEME_RE.match(path)
    return m.group(1).lower() if m else None


def is_remote(path: str) -> bool:
    """True for a URL other than ``file://``."""
    scheme = url_scheme(path)
    return scheme is not None and scheme != "file"


def local_path_of(path: str) -> str:
    """A ``file://`` URL as a plain path; any other path unchanged."""
    if url_scheme(path) == "file":
        return urllib.parse.unquote(urllib.parse.urlparse(path).path)
    return path


def url_name(url: str) -> str:
    """The path part of a URL (no query or fragment), for file names, formats and relative paths."""
    return urllib.parse.unquote(urllib.parse.urlparse(url).path)


def is_path_list(arg: str) -> bool:
    """``@FILE``, or a name ending in ``.paths`` / ``.paths.gz`` / ``.paths.zst``."""
    if arg.startswith("@"):
        return True
    name = (url_name(arg) if is_remote(arg) else arg).lower()
    return name.endswith((".paths", ".paths.gz", ".paths.zst"))


@dataclass(frozen=True)
class FetchOptions:
    """Retry policy of remote reads (the ``ingest.remote`` section carries the same fields)."""

    retries: int = 5
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    timeout_seconds: float = 60.0
    temp_dir: Optional[str] = None

    @classmethod
    def of(cls, section) -> "FetchOptions":
        return cls(section.retries, section.backoff_seconds, section.backoff_max_seconds, section.timeout_seconds,
                   section.temp_dir)


class _Failure(Exception):
    def __init__(self, detail: str, transient: bool, retry_after: Optional[float] = None):
        super().__init__(detail)
        self.detail = detail
        self.transient = transient
        self.retry_after = retry_after


@dataclass
class Fetched:
    """The outcome of downloading one remote file."""

    local_path: Optional[str]  # None when it could not be read
    bytes: int  # -1 when it could not be read
    sha256: Optional[str]
    attempts: int
    seconds: float
    error: Optional[str] = None  # why it could not be read, after every attempt


def _retry_after(value: Optional[str]) -> Optional[float]:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: ignored, the backoff applies


def _copy(src, dest: str, expected: Optional[int], what: str) -> tuple[int, str]:
    """Copy a readable stream to ``dest``; (bytes, sha256). Raises _Failure (transient) on a short read."""
    h = hashlib.sha256()
    n = 0
    with open(dest, "wb") as out:
        try:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
                n += len(chunk)
        except (OSError, http.client.HTTPException) as exc:
            of = f" of {expected}" if expected is not None else ""
            raise _Failure(f"connection lost after {n}{of} bytes ({type(exc).__name__})", True) from None
    if expected is not None and n != expected:
        raise _Failure(f"{what} announced {expected} bytes but {n} arrived (connection dropped)", True)
    return n, h.hexdigest()


def _download_http(url: str, dest: str, opts: FetchOptions) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
    try:
        resp = urllib.request.urlopen(req, timeout=opts.timeout_seconds)
    except urllib.error.HTTPError as exc:
        retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        exc.close()
        transient = exc.code >= 500 or exc.code in _TRANSIENT_STATUS
        raise _Failure(f"HTTP {exc.code} {exc.reason}", transient, retry_after) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        transient = not isinstance(reason, ssl.SSLCertVerificationError)
        raise _Failure(f"cannot connect: {reason}", transient) from None
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, bad status lines
        raise _Failure(f"cannot connect: {type(exc).__name__}", True) from None
    with resp:
        length = resp.headers.get("Content-Length")
        try:
            expected = int(length) if length is not None else None
        except ValueError:
            expected = None
        return _copy(resp, dest, expected, "the server")


def _download_fsspec(url: str, dest: str, opts: FetchOptions) -> tuple[int, str]:
    fs, path = _filesystem(url)
    try:
        size = fs.size(path)
        with fs.open(path, "rb") as src:
            return _copy(src, dest, size, "the object store")
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise _Failure(f"{type(exc).__name__}: {exc}", False) from None
    except _Failure:
        raise
    except Exception as exc:  # noqa: BLE001 - each filesystem package raises its own types
        raise _Failure(f"{type(exc).__name__}: {exc}", True) from None


def _filesystem(url: str):
    """(fsspec filesystem, path) of a URL; InputError when its package is not installed."""
    import fsspec  # deferred: fsspec and its filesystem plugins load only for object-store inputs

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        scheme = url_scheme(url)
        need = _PACKAGES.get(scheme or "", f"an fsspec filesystem for {scheme}://")
        raise InputError(f"cannot read {scheme}:// inputs: {need} is needed ({type(exc).__name__}: {exc})") from None


def fetch(url: str, opts: FetchOptions, sleep: Callable[[float], None] = time.sleep) -> Fetched:
    """Download ``url`` to a local temporary file, retrying transient failures from the start of the file.

    The caller deletes ``Fetched.local_path``. Never raises for a remote failure: ``Fetched.error`` says
    why the file could not be read after ``opts.retries`` further attempts (non-transient failures such as
    HTTP 404 or 403 are not retried).
    """
    t0 = time.time()
    download = _download_http if url_scheme(url) in HTTP_SCHEMES else _download_fsspec
    suffix = os.path.basename(url_name(url))[-40:]
    if opts.temp_dir:
        os.makedirs(opts.temp_dir, exist_ok=True)
    fd, dest = tempfile.mkstemp(prefix="corpusforge-remote-", suffix="-" + suffix, dir=opts.temp_dir)
    os.close(fd)
    attempt = 0
    while True:
        attempt += 1
        try:
            n, sha = download(url, dest, opts)
            return Fetched(dest, n, sha, attempt, round(time.time() - t0, 3))
        except (_Failure, InputError) as exc:
            transient = isinstance(exc, _Failure) and exc.transient
            detail = exc.detail if isinstance(exc, _Failure) else str(exc)
            if not transient or attempt > opts.retries:
                _unlink(dest)
                tries = f"{attempt} attempts" if attempt > 1 else "1 attempt"
                log.warning("remote input %s unreadable after %s: %s", _redact(url), tries, detail)
                return Fetched(None, -1, None, attempt, round(time.time() - t0, 3),
                               error=f"{detail} (after {tries})")
            delay = min(opts.backoff_max_seconds, opts.backoff_seconds * 2 ** (attempt - 1))
            if isinstance(exc, _Failure) and exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, opts.backoff_max_seconds))
            log.info("remote input %s: %s; attempt %d of %d in %.1fs", _redact(url), detail, attempt + 1,
                     opts.retries + 1, delay)
            sleep(delay)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _redact(url: str) -> str:
    """A URL without its query string (signed URLs carry credentials there) for log lines."""
    p = urllib.parse.urlparse(url)
    return urllib.parse.urlunparse(p._replace(query="", fragment="")) + ("?..." if p.query else "")


# -- the driver side: sizes, listings and path lists -----------------------------------------------------

def http_sizes(urls: list[str], opts: FetchOptions) -> dict[str, int]:
    """Content-Length of each URL by HEAD requests (-1 when unknown); used only to plan the run's size."""
    def one(url: str) -> int:
        req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": _USER_AGENT,
                                                                  "Accept-Encoding": "identity"})
        try:
            with urllib.request.urlopen(req, timeout=min(opts.timeout_seconds, 30)) as resp:
                return int(resp.headers.get("Content-Length", -1))
        except (OSError, ValueError, http.client.HTTPException):
            return -1  # the worker's download decides whether the file is readable

    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(HEAD_CONCURRENCY, len(urls))) as pool:
        return dict(zip(urls, pool.map(one, urls)))


def list_object_store(arg: str) -> list[tuple[str, str, int]]:
    """``(url, path relative to the argument, size)`` of every file an object-store argument names.

    A glob matches files; a folder is walked (names starting with ``.`` or ``_`` are ignored, as for local
    folders); anything else is one object. Raises FileNotFoundError when nothing matches.
    """
    fs, path = _filesystem(arg)
    try:
        if any(c in path for c in "*?["):
            root = path.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0].rsplit("/", 1)[0]
            found = {p: info for p, info in fs.glob(path, detail=True).items() if info.get("type") != "directory"}
        elif fs.isdir(path):
            root = path.rstrip("/")
            found = fs.find(path, detail=True)
        else:
            info = fs.info(path)
            return [(arg, os.path.basename(path.rstrip("/")), int(info.get("size") or 0))]
    except FileNotFoundError:
        raise FileNotFoundError(f"input {arg!r} does not exist") from None
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - each filesystem package raises its own types
        raise InputError(f"cannot list input {arg!r}: {type(exc).__name__}: {exc}") from None
    out = []
    for p, info in sorted(found.items()):
        rel = p[len(root):].lstrip("/") if p.startswith(root) else os.path.basename(p)
        if any(part.startswith((".", "_")) for part in rel.split("/")):
            continue
        out.append((fs.unstrip_protocol(p), rel, int(info.get("size") or 0)))
    if not out:
        raise FileNotFoundError(f"input {arg!r} matches no file")
    return out


def read_path_list(arg: str, opts: FetchOptions, base_url: Optional[str] = None) -> list[tuple[str, str]]:
    """The entries of a path list as ``(input, relative path)``.

    Relative entries are resolved against ``base_url`` when given (Common Crawl's lists are relative to
    ``https://data.commoncrawl.org/``), else against the list's own folder; the entry as written is its
    relative path (so positional ids stay short and stable). Raises InputError for an unreadable list.
    """
    where = arg[1:] if arg.startswith("@") else arg
    if is_remote(where):
        got = fetch(where, opts)
        if got.error:
            raise InputError(f"path list {where!r} cannot be read: {got.error}")
        try:
            with open(got.local_path, "rb") as fh:
                data = fh.read()
        finally:
            _unlink(got.local_path)
    else:
        where = local_path_of(where)
        try:
            with open(where, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise FileNotFoundError(f"path list {where!r} does not exist") from None
            raise InputError(f"path list {where!r} cannot be read: {exc.strerror}") from None
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        elif data[:4] == b"\x28\xb5\x2f\xfd":
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        text = data.decode("utf-8-sig")
    except (OSError, EOFError, zstandard.ZstdError, UnicodeDecodeError) as exc:
        raise InputError(f"path list {where!r} is not UTF-8 text, gzip or zstd ({type(exc).__name__})") from None
    out = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if url_scheme(entry) is not None or os.path.isabs(entry):
            rel = url_name(entry).lstrip("/") if is_remote(entry) else None
            out.append((local_path_of(entry), rel or os.path.basename(entry)))
        elif base_url:
            out.append((base_url.rstrip("/") + "/" + entry.lstrip("/"), entry))
        elif is_remote(where):
            out.append((urllib.parse.urljoin(where, entry), entry))
        else:
            out.append((os.path.join(os.path.dirname(os.path.abspath(where)), entry), entry))
    if not out:
        raise InputError(f"path list {where!r} lists no input")
    return out
