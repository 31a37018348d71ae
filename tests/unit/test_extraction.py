"""HTML main-text extraction (pipelines/text/extract.py): both extractors, their settings, and the
per-page time budget on generated pathological pages, in both budget modes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from pipelines.text import extract as ex
from pipelines.text.extract import (
    ExtractionFailed,
    ExtractionSettings,
    ExtractionTimeout,
    decode_html,
    extract_html,
    extract_text,
    run_with_budget,
    stop_helper,
)
from schemas.config import load_config

ARTICLE = " ".join(
    f"Paragraph {i} of the article explains how river deltas form when sediment settles at the mouth of a river "
    f"and how tides and waves reshape the deposits over many centuries." for i in range(3))
PAGE = f"""<html><head><title>Deltas</title><script>var tracker = 1;</script></head><body>
<nav><ul><li><a href="/">Home page link</a></li><li><a href="/a">Archive index link</a></li>
<li><a href="/c">Contact form link</a></li></ul></nav>
<div id="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<main><article><h1>How deltas form</h1>
<p>{ARTICLE}</p>
<p>Sediment carried by the current slows down where the river meets the sea, and the heaviest grains settle first
while the finest clay travels furthest out before it sinks to the bottom of the basin.</p>
<table><tr><td>Nile delta area</td><td>24000 square kilometres</td></tr>
<tr><td>Ganges delta area</td><td>105000 square kilometres</td></tr></table>
<p>Vegetation then anchors the new land, and channels split again and again into the fan shape that gave the
delta its name after the Greek letter.</p>
</article></main>
<footer><p>Copyright 2024 Example Rivers Magazine. All rights reserved. Privacy policy and terms of use.</p></footer>
</body></html>"""

#: 20,000 nested <div>: Resiliparse's main-content pass is quadratic in depth (about 8 s in one C call).
DEEP = "<html><body>" + "<div>x " * 20000 + "deep" + "</div>" * 20000 + "</body></html>"
#: 60,000 sibling blocks: trafilatura needs several seconds of Python work.
WIDE = "<html><body>" + '<div><p>word soup here and more</p><a href="#">link</a></div>' * 60000 + "</body></html>"


@pytest.fixture(autouse=True)
def _fresh_helper():
    stop_helper()
    yield
    stop_helper()


@pytest.fixture()
def free_alarm():
    """SIGALRM and the real-time timer free for the test (pytest-timeout's signal method arms them), then
    given back to their owner with the time that is left."""
    handler = signal.getsignal(signal.SIGALRM)
    remaining, interval = signal.setitimer(signal.ITIMER_REAL, 0)
    start = time.monotonic()
    yield
    signal.signal(signal.SIGALRM, handler)
    if remaining:
        signal.setitimer(signal.ITIMER_REAL, max(0.001, remaining - (time.monotonic() - start)), interval)


def test_trafilatura_keeps_the_article_and_drops_navigation_banner_and_footer():
    text = extract_text(PAGE, ExtractionSettings(extractor="trafilatura"))
    assert "sediment settles at the mouth of a river" in text and "Vegetation then anchors" in text
    for boilerplate in ("Archive index link", "We use cookies", "All rights reserved", "var tracker"):
        assert boilerplate not in text


def test_resiliparse_main_content_and_whole_page():
    main = extract_text(PAGE, ExtractionSettings(extractor="resiliparse"))
    whole = extract_text(PAGE, ExtractionSettings(extractor="resiliparse", main_content=False))
    assert "sediment settles at the mouth of a river" in main and "Archive index link" not in main
    assert "Archive index link" in whole and "var tracker" not in whole


def test_trafilatura_tables_follow_the_setting():
    with_tables = extract_text(PAGE, ExtractionSettings(extractor="trafilatura", include_tables=True))
    without = extract_text(PAGE, ExtractionSettings(extractor="trafilatura", include_tables=False))
    assert "Ganges delta area" in with_tables and "Ganges delta area" not in without
    assert "Vegetation then anchors" in without


def test_trafilatura_settings_are_passed_through_and_deduplicate_stays_off(monkeypatch):
    import trafilatura

    seen = {}

    def spy(html, **kw):
        seen.update(kw)
        return None

    monkeypatch.setattr(trafilatura, "extract", spy)
    s = ExtractionSettings(extractor="trafilatura", favor="precision", include_comments=True, include_tables=False,
                           fast=True)
    assert extract_text(PAGE, s) == ""  # trafilatura found nothing: an empty text (quarantined later as empty)
    assert seen["favor_precision"] is True and seen["favor_recall"] is False
    assert seen["include_comments"] is True and seen["include_tables"] is False and seen["fast"] is True
    assert seen["deduplicate"] is False
    extract_text(PAGE, ExtractionSettings(extractor="trafilatura", favor="recall"))
    assert seen["favor_precision"] is False and seen["favor_recall"] is True


def test_resiliparse_skip_elements():
    s = ExtractionSettings(extractor="resiliparse", main_content=False, skip_elements=("table", "#cookie-banner"))
    text = extract_text(PAGE, s)
    assert "Ganges delta area" not in text and "We use cookies" not in text and "Vegetation then anchors" in text


def test_decode_html_uses_the_declared_charset_or_detects_one():
    page = "<html><body><p>Crème brûlée à la française</p></body></html>"
    assert "Crème brûlée" in decode_html(page.encode("cp1252"), "text/html; charset=windows-1252")
    assert "Crème brûlée" in decode_html(page.encode("utf-8"), "text/html")
    assert "Crème brûlée" in extract_html(page.encode("utf-8"), 'text/html; charset="utf-8"',
                                          ExtractionSettings(extractor="resiliparse", main_content=False))


@pytest.mark.parametrize("kw, message", [
    ({"extractor": "boilerpipe"}, "extractor"),
    ({"favor": "speed"}, "favor"),
    ({"timeout_mode": "thread"}, "timeout_mode"),
    ({"timeout_seconds": 0}, "timeout_seconds"),
])
def test_settings_are_validated(kw, message):
    with pytest.raises(ValueError, match=message):
        ExtractionSettings(**kw)


def test_settings_from_config():
    cfg = load_config("web", ["ingest.warc.extractor=resiliparse", "ingest.warc.timeout_seconds=0.5",
                              "ingest.warc.timeout_mode=signal", "ingest.warc.trafilatura.favor=balanced",
                              "ingest.warc.resiliparse.skip_elements=[nav, footer]"]).ingest.warc
    s = ExtractionSettings.from_options(cfg)
    assert (s.extractor, s.timeout_seconds, s.timeout_mode, s.favor, s.skip_elements) == (
        "resiliparse", 0.5, "signal", "balanced", ("nav", "footer"))
    with pytest.raises(Exception, match="main_content=false"):
        load_config("web", ["ingest.warc.main_content=false"])  # whole-page text needs resiliparse


# ------------------------------------------------------------------------------------------ time budget
def _timed(html, settings):
    start = time.monotonic()
    with pytest.raises(ExtractionTimeout) as info:
        run_with_budget(html, settings)
    return time.monotonic() - start, info.value


@pytest.mark.parametrize("extractor, page", [("resiliparse", DEEP), ("trafilatura", WIDE)])
def test_process_mode_stops_a_pathological_page_and_the_next_page_still_works(extractor, page):
    s = ExtractionSettings(extractor=extractor, timeout_seconds=0.3, timeout_mode="process")
    assert "sediment settles" in run_with_budget(PAGE, s)  # the helper is up and warm
    helper_pid = ex._HELPER._child
    elapsed, err = _timed(page, s)
    with pytest.raises(ProcessLookupError):
        os.kill(helper_pid, 0)  # killed and reaped
    assert err.mode == "process" and err.budget == 0.3
    assert elapsed < 3.0, f"the budget was not enforced: {elapsed:.1f} s"  # unbounded, the page takes ~8 s
    assert "0.3 s" in str(err) and "word soup" not in str(err)
    assert "sediment settles" in run_with_budget(PAGE, s)  # a fresh helper took over


def test_signal_mode_interrupts_python_work_and_restores_the_signal_state(free_alarm):
    before = signal.getsignal(signal.SIGALRM)
    s = ExtractionSettings(extractor="trafilatura", timeout_seconds=0.3, timeout_mode="signal")
    elapsed, err = _timed(WIDE, s)
    assert err.mode == "signal" and elapsed < 3.0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getsignal(signal.SIGALRM) == before
    assert "sediment settles" in run_with_budget(PAGE, s)
    time.sleep(0.4)  # no timer left armed: a stray SIGALRM would end the test process here


def test_signal_mode_outside_the_main_thread_falls_back_to_the_helper_process():
    s = ExtractionSettings(extractor="trafilatura", timeout_seconds=0.3, timeout_mode="signal")
    got = []

    def work():
        try:
            run_with_budget(WIDE, s)
        except ExtractionTimeout as e:
            got.append(e.mode)

    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    assert got == ["process"]


def test_signal_mode_leaves_an_armed_timer_alone(free_alarm):
    signal.signal(signal.SIGALRM, lambda *a: None)
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        s = ExtractionSettings(extractor="resiliparse", timeout_seconds=2, timeout_mode="signal")
        assert "sediment settles" in run_with_budget(PAGE, s)  # ran in the helper process
        assert ex._HELPER is not None and ex._HELPER._child is not None
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@pytest.mark.parametrize("mode", ["process", "signal"])
def test_an_extractor_error_is_reported_by_type_only(monkeypatch, mode, free_alarm):
    def boom(html, settings):
        raise ValueError("secret page content")

    monkeypatch.setattr(ex, "_resiliparse", boom)
    with pytest.raises(ExtractionFailed) as info:
        run_with_budget(PAGE, ExtractionSettings(extractor="resiliparse", timeout_seconds=2, timeout_mode=mode))
    assert info.value.kind == "ValueError" and "secret" not in str(info.value)


def test_the_helper_works_inside_a_daemonic_multiprocessing_worker():
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:  # pool workers are daemonic processes
        assert pool.apply(_extract_with_budget_in_pool) == ("process", True)


def _extract_with_budget_in_pool():
    s = ExtractionSettings(extractor="resiliparse", timeout_seconds=0.3, timeout_mode="process")
    try:
        run_with_budget(DEEP, s)
        mode = None
    except ExtractionTimeout as e:
        mode = e.mode
    ok = "sediment settles" in run_with_budget(PAGE, s)
    stop_helper()
    return mode, ok


@pytest.mark.parametrize("sigchld", [signal.SIG_DFL, signal.SIG_IGN])
def test_one_helper_serves_page_after_page(sigchld):
    previous = signal.signal(signal.SIGCHLD, sigchld)
    try:
        s = ExtractionSettings(extractor="resiliparse", timeout_seconds=5, timeout_mode="process")
        run_with_budget(PAGE, s)
        pid = ex._HELPER._child
        for _ in range(5):
            assert "sediment settles" in run_with_budget(PAGE, s)
        assert ex._HELPER._child == pid
        elapsed, err = _timed(DEEP, replace(s, timeout_seconds=0.3))
        assert ex._HELPER._child is None and "sediment settles" in run_with_budget(PAGE, s)
        assert ex._HELPER._child not in (None, pid)
    finally:
        stop_helper()
        signal.signal(signal.SIGCHLD, previous)


def test_the_helper_ends_when_its_process_exits_without_stopping_it():
    code = ("from pipelines.text.extract import ExtractionSettings, run_with_budget\n"
            "import pipelines.text.extract as ex\n"
            "run_with_budget('<p>hello there</p>', ExtractionSettings(extractor='resiliparse', timeout_seconds=5))\n"
            "print(ex._HELPER._child)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # exited but not yet reaped by its new parent (a container's init may never reap)
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except OSError:
            pass
        time.sleep(0.05)
    pytest.fail(f"extraction helper {pid} outlived its parent")


def test_a_crashing_helper_costs_only_its_page(monkeypatch):
    real = ex._resiliparse

    def crash_on_marker(html, settings):
        if "CRASH-HERE" in html:
            os._exit(3)  # like a segfault in a C parser
        return real(html, settings)

    monkeypatch.setattr(ex, "_resiliparse", crash_on_marker)
    s = ExtractionSettings(extractor="resiliparse", timeout_seconds=5, timeout_mode="process")
    with pytest.raises(ExtractionFailed) as info:
        run_with_budget("<html><body><p>CRASH-HERE</p></body></html>", s)
    assert info.value.kind == "ExtractorProcessDied"
    assert "sediment settles" in run_with_budget(PAGE, s)


def test_no_budget_runs_in_process():
    s = ExtractionSettings(extractor="resiliparse", timeout_seconds=None)
    assert "sediment settles" in run_with_budget(PAGE, s)
    assert ex._HELPER is None or ex._HELPER._child is None  # no helper process was started
