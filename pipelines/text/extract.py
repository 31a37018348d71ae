"""Main-text extraction from HTML with trafilatura or Resiliparse, under a per-page time budget.

Pure Python, no Spark: the WARC reader (``pipelines.readers.warc``) calls :func:`extract_html` for every
HTML payload, and ``benchmarks/extraction.py`` calls the same function to score the extractors.

Extractors (``ingest.warc.extractor``):

* ``trafilatura``: article extraction on an lxml tree (content heuristics, then jusText/readability
  fallbacks unless ``fast``). Lets less boilerplate through, at about ten times Resiliparse's CPU cost
  (docs/ingest.md has the measurements).
  Its ``deduplicate`` option is never used: it is a process-wide cache of text seen earlier, so a
  paragraph would be kept or dropped depending on which pages the same worker happened to read before,
  which breaks re-run determinism; duplicates are the job of the dedup stages.
* ``resiliparse``: ``extract_plain_text`` on a Lexbor DOM, with its main-content heuristics
  (``main_content``), plus optional CSS selectors of elements to skip.

Time budget. Neither library has a timeout, and some pages are pathological: trafilatura's time grows with
the number of elements, Resiliparse's main-content pass is quadratic in the nesting depth (20,000 nested
``<div>`` cost about 8 s in one C call). :func:`extract_html` enforces ``timeout_seconds`` one of two ways:

* ``process`` (default): the extraction runs in a helper process that this process forks once and keeps
  (one per Spark Python worker; it is fed page after page through a pipe). A page that overruns the budget
  gets the helper killed (SIGKILL) and a fresh one is forked for the next page. This stops anything,
  including a C loop that never returns to the interpreter, and a crash of the helper (a segfault in a
  parser) costs only that page. Overhead: the HTML and the text cross a pipe (about 0.4 ms of this
  process's CPU per typical page) and each page wakes the helper.
* ``signal``: a one-shot ``SIGALRM`` timer in the calling thread; the handler raises an exception that
  unwinds the extraction. No helper process, but Python can only run the handler between bytecodes, so a
  long C call (Resiliparse, lxml's parser) is interrupted only when it returns. Usable only in the main
  thread of a process whose real-time timer is free; elsewhere it falls back to ``process``.

Without ``fork`` (Windows) the budget needs ``signal`` mode's conditions, else pages run unbudgeted with a
warning.

Either way an overrun raises :class:`ExtractionTimeout`, which the reader turns into a quarantine row with
reason ``ingest:html_extraction_timeout``; the task goes on with the next record.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

log = logging.getLogger(__name__)

EXTRACTORS = ("trafilatura", "resiliparse")
FAVOR = ("precision", "balanced", "recall")
TIMEOUT_MODES = ("process", "signal")

_CHARSET_RE = re.compile(r"charset=[\"']?([\w.:-]+)", re.I)


@dataclass(frozen=True)
class ExtractionSettings:
    """How one HTML page becomes text (mirrors the ``ingest.warc`` config section; picklable)."""

    extractor: str = "trafilatura"
    #: Resiliparse: keep only the main content (False: all visible text; trafilatura always extracts the main
    #: content).
    main_content: bool = True
    #: trafilatura: which side to err on when unsure.
    favor: str = "recall"
    include_tables: bool = True
    include_comments: bool = False
    #: trafilatura: skip the jusText/readability fallbacks (faster, lower recall on odd layouts).
    fast: bool = False
    #: Resiliparse: treat comment sections as main content; keep blog post metadata; extra CSS selectors to skip.
    resiliparse_comments: bool = False
    resiliparse_post_meta: bool = False
    skip_elements: tuple[str, ...] = ()
    #: Wall-clock budget per page in seconds (None: no budget, for benchmarks only).
    timeout_seconds: Optional[float] = 5.0
    timeout_mode: str = "process"

    def __post_init__(self):
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"extractor must be one of {EXTRACTORS}, got {self.extractor!r}")
        if self.favor not in FAVOR:
            raise ValueError(f"favor must be one of {FAVOR}, got {self.favor!r}")
        if self.timeout_mode not in TIMEOUT_MODES:
            raise ValueError(f"timeout_mode must be one of {TIMEOUT_MODES}, got {self.timeout_mode!r}")
        if self.timeout_seconds is not None and not self.timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be > 0, got {self.timeout_seconds!r}")

    @classmethod
    def from_options(cls, warc: Any) -> "ExtractionSettings":
        """Settings from an ``ingest.warc`` config section (``schemas.config.ingest.WarcOptions``)."""
        t, r = warc.trafilatura, warc.resiliparse
        return cls(
            extractor=warc.extractor, main_content=warc.main_content, favor=t.favor,
            include_tables=t.include_tables, include_comments=t.include_comments, fast=t.fast,
            resiliparse_comments=r.comments, resiliparse_post_meta=r.post_meta,
            skip_elements=tuple(r.skip_elements), timeout_seconds=warc.timeout_seconds,
            timeout_mode=warc.timeout_mode,
        )


class ExtractionTimeout(Exception):
    """The page's extraction ran past its budget (and was stopped)."""

    def __init__(self, budget: float, elapsed: float, mode: str):
        super().__init__(f"HTML extraction ran past its budget of {budget:g} s (stopped after {elapsed:.2f} s, "
                         f"{mode} mode)")
        self.budget, self.elapsed, self.mode = budget, elapsed, mode


class ExtractionFailed(Exception):
    """The extractor raised, or its helper process died; ``kind`` names the error type (no page content)."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


# ------------------------------------------------------------------------------------------ extraction
def decode_html(payload: bytes, content_type: str = "") -> str:
    """The payload as text: the charset of the HTTP ``Content-Type`` when it names one, else detected."""
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    m = _CHARSET_RE.search(content_type or "")
    enc = m.group(1) if m else detect_encoding(payload)
    return bytes_to_str(payload, enc)


def extract_text(html: str, settings: ExtractionSettings) -> str:
    """Main text of one HTML page, in this thread, with no time budget ("" when nothing is found)."""
    if settings.extractor == "trafilatura":
        return _trafilatura(html, settings)
    return _resiliparse(html, settings)


def _trafilatura(html: str, s: ExtractionSettings) -> str:
    import trafilatura

    text = trafilatura.extract(
        html, fast=s.fast, favor_precision=s.favor == "precision", favor_recall=s.favor == "recall",
        include_comments=s.include_comments, include_tables=s.include_tables, include_images=False,
        include_links=False, include_formatting=False, deduplicate=False, with_metadata=False,
        output_format="txt",
    )
    return text or ""


def _resiliparse(html: str, s: ExtractionSettings) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    return extract_plain_text(
        tree, main_content=s.main_content, alt_texts=False, links=False, form_fields=False,
        comments=s.resiliparse_comments, post_meta=s.resiliparse_post_meta,
        skip_elements=list(s.skip_elements) or None,
    )


def extract_html(payload: bytes, content_type: str, settings: ExtractionSettings) -> str:
    """Decode and extract one HTML payload within ``settings.timeout_seconds``.

    Raises :class:`ExtractionTimeout` when the budget is exceeded and :class:`ExtractionFailed` when the
    extractor raised (or its helper process died).
    """
    html = decode_html(payload, content_type)
    return run_with_budget(html, settings)


def run_with_budget(html: str, settings: ExtractionSettings) -> str:
    """:func:`extract_text` under the settings' time budget and mode (see the module docstring)."""
    budget = settings.timeout_seconds
    if budget is None:
        return _guarded(html, settings)
    if settings.timeout_mode == "signal" and _alarm_usable():
        return _with_alarm(html, settings, budget)
    if not hasattr(os, "fork"):  # no helper process possible (Windows)
        if _alarm_usable():
            return _with_alarm(html, settings, budget)
        _warn_unbudgeted()
        return _guarded(html, settings)
    return _helper().run(html, settings, budget)


_WARNED: list[bool] = []


def _warn_unbudgeted() -> None:
    if not _WARNED:
        _WARNED.append(True)
        log.warning("HTML extraction runs without its time budget: this platform has neither fork nor SIGALRM")


def _guarded(html: str, settings: ExtractionSettings) -> str:
    try:
        return extract_text(html, settings)
    except Exception as exc:
        raise ExtractionFailed(type(exc).__name__) from exc


# ------------------------------------------------------------------------------------------ signal mode
class _AlarmFired(BaseException):
    """Raised by the SIGALRM handler. A BaseException, so that libraries' ``except Exception`` blocks do
    not swallow it (a bare ``except:`` would: a limitation of this mode that ``process`` does not have)."""


class _Alarm:
    fired = False


def _alarm_usable() -> bool:
    """SIGALRM can be ours: a Unix main thread, no real-time timer armed, no handler set from C code."""
    return (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getsignal(signal.SIGALRM) is not None)


def _on_alarm(signum, frame):
    _Alarm.fired = True
    raise _AlarmFired()


def _with_alarm(html: str, settings: ExtractionSettings, budget: float) -> str:
    # A one-shot timer: the handler raises at most once, so nothing can fire while the outcome is handled.
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    _Alarm.fired = False
    start = time.monotonic()
    outcome, text = "timeout", ""
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, budget)
            text = extract_text(html, settings)
            outcome = "ok"
        except _AlarmFired:
            pass
        except Exception as exc:
            outcome = type(exc).__name__
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _AlarmFired:  # the one shot landed while an except clause above ran
        outcome = "timeout"
    finally:
        signal.signal(signal.SIGALRM, previous)
    if _Alarm.fired:  # also when a library swallowed the exception and returned late
        outcome = "timeout"
    if outcome == "ok":
        return text
    if outcome == "timeout":
        raise ExtractionTimeout(budget, time.monotonic() - start, "signal")
    raise ExtractionFailed(outcome)


# ------------------------------------------------------------------------------------------ process mode
def _serve(conn) -> None:
    """Helper process loop: (html, settings) in, ("ok", text) or ("error", type name) out; ends on EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the helper ends
    while True:
        try:
            html, settings = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = ("ok", extract_text(html, settings))
        except Exception as exc:  # reported by type only: messages may quote page content
            reply = ("error", type(exc).__name__)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


_WARM: set[ExtractionSettings] = set()
_WARMUP_HTML = "<html><body><article><p>Warm-up page.</p></article></body></html>"


def _preload(settings: ExtractionSettings) -> None:
    """Import the extractor and run it once in this process, so that every forked helper starts warm
    (trafilatura loads its fallbacks' word lists on first use: a quarter of a second)."""
    if settings not in _WARM:
        try:
            extract_text(_WARMUP_HTML, settings)
        except Exception:  # the helper will report the extractor's errors page by page
            return
        _WARM.add(settings)


class _Helper:
    """One long-lived extraction process per Python process, replaced after a timeout or a crash.

    Started with a plain ``os.fork`` (not ``multiprocessing.Process``): it works inside daemonic processes
    such as a ``multiprocessing`` pool worker, and no exit handler of the parent waits for it. The helper
    ends when it reads end-of-file, i.e. when this process closes its end of the pipe or exits."""

    def __init__(self):
        self._child: Optional[int] = None  # pid of the helper
        self._conn = None
        self._owner: Optional[int] = None  # pid of the process that forked it (a forked child starts its own)
        self._lock = threading.Lock()  # one page at a time through the pipe

    def _alive(self) -> bool:
        if self._child is None or self._owner != os.getpid():
            return False
        try:
            return os.waitpid(self._child, os.WNOHANG) == (0, 0)
        except ChildProcessError:  # SIGCHLD ignored: children are reaped as they exit, so alive = exists
            try:
                os.kill(self._child, 0)
                return True
            except ProcessLookupError:
                return False

    def _start(self, settings: ExtractionSettings) -> None:
        _preload(settings)  # imported and warmed up once here, so that every forked helper starts warm
        parent_end, child_end = multiprocessing.Pipe(duplex=True)
        pid = os.fork()
        if pid == 0:  # the helper
            code = 0
            try:
                parent_end.close()
                _serve(child_end)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        child_end.close()
        self._child, self._conn, self._owner = pid, parent_end, os.getpid()

    def stop(self) -> None:
        child, conn, owner = self._child, self._conn, self._owner
        self._child = self._conn = self._owner = None
        if owner != os.getpid():
            return  # inherited from the process that forked this one: not ours to stop
        if conn is not None:
            conn.close()
        if child is not None:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass

    def run(self, html: str, settings: ExtractionSettings, budget: float) -> str:
        with self._lock:
            return self._run(html, settings, budget)

    def _run(self, html: str, settings: ExtractionSettings, budget: float) -> str:
        if not self._alive():
            self.stop()
            self._start(settings)
        start = time.monotonic()
        try:
            self._conn.send((html, settings))
            ready = self._conn.poll(max(0.0, budget - (time.monotonic() - start)))
        except (BrokenPipeError, EOFError, OSError):
            self.stop()
            raise ExtractionFailed("ExtractorProcessDied") from None
        if not ready:
            self.stop()
            raise ExtractionTimeout(budget, time.monotonic() - start, "process")
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError):
            self.stop()
            raise ExtractionFailed("ExtractorProcessDied") from None
        if status != "ok":
            raise ExtractionFailed(value)
        return value


_HELPER: Optional[_Helper] = None
_HELPER_LOCK = threading.Lock()


def _helper() -> _Helper:
    global _HELPER
    with _HELPER_LOCK:
        if _HELPER is None:
            _HELPER = _Helper()
        return _HELPER


def stop_helper() -> None:
    """End this process's extraction helper, if any (it also ends by itself when this process exits)."""
    if _HELPER is not None:
        _HELPER.stop()


__all__ = [
    "EXTRACTORS", "ExtractionFailed", "ExtractionSettings", "ExtractionTimeout", "decode_html", "extract_html",
    "extract_text", "run_with_budget", "stop_helper",
]
