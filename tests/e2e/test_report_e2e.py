"""The report of a real pipeline run on a small planted corpus: golden counts, the PII canary, and the
page as a person sees it in headless Chromium.

The corpus is built here from clean documents of the bundled demo corpus (ids from its ground-truth
manifest) plus planted cases: an exact duplicate, two German documents (the run keeps only English),
three short documents full of unique fake personal data (removed by the quality rules, so they become
report examples), a malformed line that also holds that data, an empty text and a non-object line. The
pii stage is OFF: the report's own scrubber alone must keep the fake data out of report.json and
report.html.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import struct
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipelines.runner import run_pipeline
from quality.charts import COLORS
from quality.report import write_report
from schemas.config import load_config
from schemas.config.gates import GatesSection
from tests.e2e.demo_support import clean_demo_texts

CHROMIUM = os.environ.get("CORPUSFORGE_CHROMIUM", "/usr/bin/chromium")

NAME = "Quillon Vantablack"
EMAIL = "qv.canary7319@example.org"
PHONE = "+1 415 555 0199"
CARD = "4539 1488 0343 6467"
SSN = "512-43-7719"
IBAN = "GB82 WEST 1234 5698 7654 32"
IP = "198.51.100.23"
STREET = "742 Evergreen Terrace"
#: Every form in which the planted personal data could leak.
CANARIES = [NAME, "Quillon", "Vantablack", EMAIL, "qv.canary7319", PHONE, "4155550199", "555 0199", CARD,
            "4539148803436467", "0343", SSN, "512437719", IBAN, "GB82", "WEST 1234", "56987654", IP, "51.100",
            STREET, "Evergreen"]


def _line(**kw) -> str:
    return json.dumps(kw, ensure_ascii=False) + "\n"


def _corpus(root: Path) -> list[str]:
    en, de = clean_demo_texts("en", 11), clean_demo_texts("de", 2)
    web, forum = root / "web", root / "forum"
    web.mkdir(parents=True)
    forum.mkdir()
    a = "".join(_line(id=f"w{i + 1}", text=t) for i, t in enumerate(en[:6]))
    a += _line(id="w7", text=en[0])  # exact duplicate
    a += _line(id="w8", text=de[0]) + _line(id="w9", text=de[1])  # German: not kept
    a += _line(id="w10", text=f"Please call {NAME} at {PHONE} or write to {EMAIL} today.")
    a += _line(id="w11", text=f"My card is {CARD} and my SSN is {SSN}, said {NAME}.")
    a += '{"id": "w12", "text": "' + f"{NAME} lives at {STREET}, call {PHONE}" + "\n"  # malformed JSON
    a += _line(id="w13", text="")
    b = "".join(_line(id=f"f{i + 1}", text=t) for i, t in enumerate(en[6:10]))
    b += _line(id="f5", text=en[10] + f" You can reach {NAME} at {EMAIL} or {IP}.")  # kept, with PII inside
    b += _line(id="f6", text=f"Wire the money to {IBAN} for {NAME} from {IP}.")
    b += "[1, 2]\n"
    (web / "a.jsonl").write_text(a, encoding="utf-8")
    (forum / "b.jsonl").write_text(b, encoding="utf-8")
    return [str(web), str(forum)]


GATES = GatesSection(min_keep_rate=0.5, max_quarantine_rate=0.2,
                     signals=[{"signal": "q_words", "stat": "min", "min": 50}])


@pytest.fixture(scope="module")
def run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("report-e2e")
    inputs = _corpus(root / "in")
    cfg = load_config("demo", ["language.keep=[en]", "pii.enabled=false", "near_dedup.enabled=false",
                               "bias.enabled=true", "tokenize.enabled=true", "output.num_files=1"])
    out = root / "out"
    run_pipeline(cfg, inputs, str(out), spark=spark)
    result = write_report(out, spark=spark, gates=GATES)
    return out, result


def test_golden_counts(run):
    out, res = run
    r = res.report
    a = r.accounting
    assert (a.records_in, a.kept, a.removed, a.quarantined, a.balanced) == (20, 11, 6, 3, True)
    assert {k: (s.records, s.curated, s.rejected, s.quarantined) for k, s in r.sources.items()} == {
        "forum": (7, 5, 1, 1), "web": (13, 6, 5, 2)}
    assert {x.reason: x.count for x in r.removals} == {
        "exact_dedup:duplicate": 1, "language:not_kept": 2, "quality:gopher_short_doc": 3}
    assert {x.reason: x.count for x in r.quarantine} == {
        "ingest:empty_text": 1, "ingest:malformed_json": 1, "ingest:not_an_object": 1}
    assert [(s.step, s.docs_in, s.removed, s.docs_out) for s in r.funnel] == [
        ("ingest", 20, 3, 17), ("exact_dedup", 17, 1, 16), ("language", 16, 2, 14), ("quality", 14, 3, 11),
        ("classify", 11, 0, 11), ("decontaminate", 11, 0, 11), ("bias", 11, 0, 11), ("tokenize", 11, 0, 11)]
    assert [(x.lang, x.curated_docs, x.rejected_docs) for x in r.languages.rows] == [("en", 11, 3), ("de", 0, 2)]
    assert r.stages_not_run == ["optout", "near_dedup", "pii"] and r.pii is None and r.duplicates.near is None
    assert (r.duplicates.exact.groups, r.duplicates.exact.duplicates_removed) == (1, 1)
    assert r.bias.docs == 11
    index = json.loads((out / "shards" / "index.json").read_text())
    assert (r.outputs.tokens, r.outputs.shard_rows) == (index["total_tokens"], 11)
    assert sum(r.outputs.tokens_by_lang.values()) == index["total_tokens"]
    assert {k: len(v) for k, v in r.examples.items()} == {
        "exact_dedup:duplicate": 1, "language:not_kept": 2, "quality:gopher_short_doc": 3}
    assert res.gates_passed and [(v.gate, v.value, v.status) for v in res.verdicts][:3] == [
        ("accounting", 20.0, "pass"), ("min_keep_rate", 0.55, "pass"), ("max_quarantine_rate", 0.15, "pass")]
    q_words_min = min(pq.read_table(out / "curated", columns=["q_words"]).column(0).to_pylist())
    assert res.verdicts[3].value == q_words_min and res.verdicts[3].status == "pass"


def test_canary_personal_data_appears_in_neither_file(run):
    out, res = run
    # The pii stage is off, yet rejected/ keeps no pattern-detectable personal data (output.rejected_text defaults
    # to scrubbed, pattern recognizers only: the name, which only NER finds, stays) ...
    rejected = " ".join(pq.read_table(out / "rejected", columns=["text"]).column(0).to_pylist())
    assert NAME in rejected and "<CREDIT_CARD>" in rejected
    assert EMAIL not in rejected and CARD not in rejected and IBAN not in rejected
    # ... and in the examples, but only scrubbed.
    shown = " ".join(e.text for e in res.report.examples["quality:gopher_short_doc"])
    assert "[X]" in shown and "<EMAIL_ADDRESS>" in shown and EMAIL not in shown
    for path in (res.json_path, res.html_path):
        text = path.read_text(encoding="utf-8")
        for variant in (text, text.replace("\\u00a0", " "), re.sub(r"<[^>]+>", "", text)):
            for canary in CANARIES:
                assert canary not in variant, f"{canary!r} leaked into {path.name}"


# ---------------------------------------------------------------------------------------------- browser
def _decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB(A), non-interlaced PNG as a (height, width, channels) uint8 array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, [], 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            ch = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
    stride = width * ch
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        f, line = raw[y, 0], raw[y, 1:]
        if f == 0:
            cur = line.copy()
        elif f == 1:
            cur = np.cumsum(line.reshape(width, ch), axis=0, dtype=np.uint8).reshape(stride)
        elif f == 2:
            cur = line + prev
        else:  # average (3) and Paeth (4) depend on the reconstructed left neighbour: byte by byte
            lv, pv, cv = line.tolist(), prev.tolist(), [0] * stride
            for i in range(stride):
                left = cv[i - ch] if i >= ch else 0
                if f == 3:
                    cv[i] = (lv[i] + ((left + pv[i]) >> 1)) & 255
                else:
                    up_left = pv[i - ch] if i >= ch else 0
                    p = left + pv[i] - up_left
                    pa, pb, pc = abs(p - left), abs(p - pv[i]), abs(p - up_left)
                    cv[i] = (lv[i] + (left if pa <= pb and pa <= pc else pv[i] if pb <= pc else up_left)) & 255
            cur = np.array(cv, dtype=np.uint8)
        out[y] = prev = cur
    return out.reshape(height, width, ch)


class _Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fds 3/4)."""

    def __init__(self, user_data_dir: Path) -> None:
        self._r, child_w = os.pipe()
        child_r, self._w = os.pipe()

        def to_fds_3_and_4() -> None:
            a = fcntl.fcntl(child_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(child_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(args, pass_fds=(3, 4, child_r, child_w), preexec_fn=to_fds_3_and_4,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(child_r)
        os.close(child_w)
        self._buf, self._id, self.events = b"", 0, []

    def _next(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            if select.select([self._r], [], [], left)[0]:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._next(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method} failed: {m['error']}")
                return m["result"]
            self.events.append(m)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for e in self.events:
            if e.get("method") == method:
                return e
        deadline = time.time() + timeout
        while True:
            m = self._next(deadline)
            self.events.append(m)
            if m.get("method") == method:
                return m

    def new_page(self, width: int = 1100, height: int = 900) -> str:
        """Open a blank tab with the Page, Runtime, Log and Network domains enabled at a fixed viewport; returns
        its DevTools session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=sid)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=sid)
        return sid

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._r)
        os.close(self._w)


_CHARTS_JS = """JSON.stringify(Array.from(document.querySelectorAll('svg.chart')).map(e => {
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  return {id: e.dataset.chart, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
          visible: s.visibility === 'visible' && s.display !== 'none' && parseFloat(s.opacity) > 0,
          fills: Array.from(new Set(Array.from(e.querySelectorAll('rect.bar')).map(b => b.getAttribute('fill'))))};
}))"""


def _rgb(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)


def test_report_renders_in_headless_chromium(run, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"headless Chromium not found at {CHROMIUM}: run scripts/install_chromium.sh (Debian's "
                    "`chromium` package) or set CORPUSFORGE_CHROMIUM to a Chromium binary")
    _, res = run
    page = res.html_path
    browser = _Browser(tmp_path / "chromium-profile")
    try:
        sid = browser.new_page()
        browser.call("Page.navigate", {"url": page.resolve().as_uri()}, session=sid)
        browser.wait_for("Page.loadEventFired")
        charts = json.loads(browser.call("Runtime.evaluate", {"expression": _CHARTS_JS, "returnByValue": True},
                                         session=sid)["result"]["value"])
        shots = {}
        for c in charts:
            assert c["visible"] and c["w"] > 100 and c["h"] > 20, c
            shot = browser.call("Page.captureScreenshot", {
                "format": "png", "clip": {"x": c["x"], "y": c["y"], "width": c["w"], "height": c["h"], "scale": 1},
                "captureBeyondViewport": True, "optimizeForSpeed": True}, session=sid)
            shots[c["id"]] = _decode_png(base64.b64decode(shot["data"]))
        events = list(browser.events)
    finally:
        browser.close()

    html_text = page.read_text(encoding="utf-8")
    assert len(charts) == html_text.count('<svg class="chart"') >= 10
    ids = {c["id"] for c in charts}
    assert {"funnel", "removals", "quarantine", "languages", "bias-axes", "hist-q_words"} <= ids
    errors = [e for e in events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))]
    assert not errors, errors
    requests = {e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"}
    assert requests == {page.resolve().as_uri()}, requests  # nothing but the page itself is loaded
    for c in charts:
        img = shots[c["id"]][..., :3].astype(np.int16)
        assert img.shape[0] >= c["h"] - 1 and img.shape[1] >= c["w"] - 1
        painted = (img.min(axis=2) < 235).mean()
        assert painted > 0.01, f"chart {c['id']} looks empty ({painted:.4f} of its pixels painted)"
        for fill in c["fills"]:
            match = (np.abs(img - _rgb(fill)).max(axis=2) <= 8).sum()
            assert match >= 20, f"chart {c['id']}: bars of colour {fill} are not visible ({match} pixels)"
        assert c["fills"], f"chart {c['id']} has no bar"
    # The colours the charts use are the documented ones.
    assert {f for c in charts for f in c["fills"]} <= set(COLORS.values())
