"""Canary: unique fake personal data planted in the input must not come out anywhere a reader looks.

Checked: curated text, token shards (decoded), run.json, quarantine rows (prefixes, details), reports
when present, everything the run printed (driver and worker logs), and, for pages the quality rules drop
long before the PII stage, rejected/ (text, url and metadata) and the removal ledger: clean in the default
``output.rejected_text: scrubbed`` and in ``none``; only an explicit ``raw`` brings the data back, in
rejected/ alone (docs/compliance.md, "Data minimisation").
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "pipelines" / "assets" / "demo"

# Unique, syntactically valid, fake values (cards pass Luhn; IBAN has a valid checksum; SSN not in
# the invalid ranges).
CANARIES = {
    "EMAIL_ADDRESS": "quillon.vester.canary@example-mail.org",
    "PHONE_NUMBER": "(212) 555-0187",
    "CREDIT_CARD": "4539 1488 0343 6467",
    "US_SSN": "536-22-8731",
    "IP_ADDRESS": "198.51.100.77",
    "IBAN_CODE": "DE89 3704 0044 0532 0130 00",
    "PERSON": "Rupert Quillsby",
}

#: Unique fake data planted only in short pages that quality drops (quality:gopher_short_doc), and in their
#: URL and metadata: what a reviewer would look for in rejected/.
REJECTED_CANARIES = {
    "EMAIL_ADDRESS": "marisol.vantrell.canary@example-mail.org",
    "CREDIT_CARD": "4916 3398 4123 8014",
    "EMAIL_ADDRESS_2": "odo.pennick.canary@example-mail.net",
    "CREDIT_CARD_2": "5425 2334 3010 9903",
}


def _prose() -> list[str]:
    texts = []
    for line in (DEMO / "part-00000.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec["text"].startswith(("The ", "A ", "In ", "Our ", "This ", "We ")) and len(rec["text"]) > 1500:
            texts.append(rec["text"])
    return texts


def _corpus(root: Path) -> Path:
    prose = _prose()
    assert len(prose) >= 6
    d = root / "canary"
    d.mkdir()
    lines = []
    for i, text in enumerate(prose[:6]):
        paras = text.split("\n\n")
        pii = (
            f"For questions, {CANARIES['PERSON']} can be reached by e-mail at {CANARIES['EMAIL_ADDRESS']} or by "
            f"phone at {CANARIES['PHONE_NUMBER']}. Payments were made with the card {CANARIES['CREDIT_CARD']} and "
            f"the refund went to the account {CANARIES['IBAN_CODE']}. The server logged the address "
            f"{CANARIES['IP_ADDRESS']}, and the form listed the social security number {CANARIES['US_SSN']}."
        )
        paras.insert(len(paras) // 2, pii)
        lines.append(json.dumps({"id": f"c{i}", "text": "\n\n".join(paras), "url": f"https://example.com/{i}"}))
    r = REJECTED_CANARIES
    pages = ((r["EMAIL_ADDRESS"], r["CREDIT_CARD"]), (r["EMAIL_ADDRESS_2"], r["CREDIT_CARD_2"]))
    for i, (email, card) in enumerate(pages):
        lines.append(json.dumps({"id": f"junk{i}", "text": (
            f"Thank you for your order number {i}. We will send the receipt to {email} and charge the "
            f"card {card} today. Please write to us if anything is wrong with your order."),
                                 "url": f"https://shop.example/order?mail={email}", "contact": email}))
    # A malformed record full of PII: it must be quarantined with a scrubbed prefix only.
    lines.append('{"id": "bad", "text": "' + CANARIES["EMAIL_ADDRESS"] + " " + CANARIES["PERSON"] + '"')
    (d / "canary.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


class _Run:
    """``corpusforge run`` over the canary corpus into ``root/name``, started in the background."""

    def __init__(self, root: Path, raw: Path, name: str, *overrides: str):
        self.out = root / name
        self.stdout, self.stderr = root / f"{name}.stdout", root / f"{name}.stderr"
        env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
                   PYTHONPATH=str(REPO))
        env.pop("PYSPARK_GATEWAY_PORT", None)
        sets = [a for o in ("language.keep=[en]", "pii.max_density=null", *overrides) for a in ("--set", o)]
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jobs.cli", "--log-level", "DEBUG", "run", "--config", "demo", "--input",
                 str(raw), "--output", str(self.out), "--master", "local[2]", *sets],
                cwd=REPO, env=env, stdout=out, stderr=err)

    def result(self) -> tuple[Path, str]:
        """The output folder and everything the run printed (stdout, then stderr), once it has finished."""
        rc = self.proc.wait(900)
        stdout = self.stdout.read_text(encoding="utf-8", errors="replace")
        stderr = self.stderr.read_text(encoding="utf-8", errors="replace")
        assert rc in (0, 3), stderr[-3000:]
        return self.out, stdout + stderr

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(60)


@pytest.fixture(scope="module")
def canary_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("canary")
    return root, _corpus(root)


#: The other two modes: cheaper runs (no NER, no near dedup), since what differs is rejected/ only.
_FAST = ("pii.ner=false", "near_dedup.enabled=false")


@pytest.fixture(scope="module")
def canary_runs(canary_corpus):
    """The three runs of the module, started together (independent outputs; a tiny local run leaves cores
    idle much of the time): the default configuration (``output.rejected_text: scrubbed``), ``none`` and
    ``raw``. Each test waits for the run it reads."""
    runs = {"default": _Run(*canary_corpus, "out")}
    runs["none"] = _Run(*canary_corpus, "out-none", "output.rejected_text=none", *_FAST)
    runs["raw"] = _Run(*canary_corpus, "out-raw", "output.rejected_text=raw", *_FAST)
    try:
        yield runs
    finally:
        for run in runs.values():
            run.stop()


@pytest.fixture(scope="module")
def canary_run(canary_runs):
    """The default configuration (``output.rejected_text: scrubbed``)."""
    return canary_runs["default"].result()


def _assert_clean(blob: str, where: str):
    for kind, value in CANARIES.items():
        assert value not in blob, f"{kind} canary found in {where}"
        compact = value.replace(" ", "")
        if len(compact) > 8:
            assert compact not in blob.replace(" ", ""), f"{kind} canary (without spaces) found in {where}"


def test_curated_text_is_scrubbed(canary_run):
    out, _ = canary_run
    rows = pq.read_table(out / "curated").to_pylist()
    assert len(rows) == 6, "all six prose documents are kept"
    blob = "\n".join(r["text"] for r in rows)
    _assert_clean(blob, "curated text")
    for placeholder in ("<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<CREDIT_CARD>", "<US_SSN>", "<IP_ADDRESS>",
                        "<IBAN_CODE>", "<PERSON>"):
        assert blob.count(placeholder) >= 6, placeholder
    assert all(r["pii_counts"] for r in rows)


def test_shards_decode_to_scrubbed_text(canary_run):
    from pipelines.text.tokenize import load_tokenizer

    out, _ = canary_run
    index = json.loads((out / "shards" / "index.json").read_text())
    tok = load_tokenizer(REPO / "pipelines" / "assets" / "tokenizers" / "demo-bpe-4k.json")
    assert index["tokenizer_sha256"] == tok.sha256
    decoded = []
    for shard in index["shards"]:
        for ids in pq.read_table(out / "shards" / shard["path"], columns=["input_ids"]).column(0).to_pylist():
            decoded.append(tok.tokenizer.decode(ids, skip_special_tokens=True))
    assert len(decoded) == 6
    _assert_clean("\n".join(decoded), "decoded shards")


def test_manifest_quarantine_reports_and_logs_are_clean(canary_run):
    out, logs = canary_run
    _assert_clean((out / "run.json").read_text(), "run.json")
    q = pq.read_table(out / "quarantine").to_pylist()
    assert [r["reason"] for r in q] == ["ingest:malformed_json"]
    _assert_clean(json.dumps(q), "quarantine")
    for f in (out / "report").glob("*") if (out / "report").exists() else []:
        _assert_clean(f.read_text(encoding="utf-8", errors="replace"), f"report/{f.name}")
    assert "pipelines.runner" in logs, "the run's logs were captured"
    _assert_clean(logs, "the run's logs")


def _assert_rejected_clean(blob: str, where: str):
    for kind, value in REJECTED_CANARIES.items():
        assert value not in blob, f"{kind} canary found in {where}"
        assert value.replace(" ", "") not in blob.replace(" ", ""), f"{kind} canary (without spaces) found in {where}"


def _rejected_and_ledger(out: Path) -> tuple[list[dict], str]:
    rejected = pq.read_table(out / "rejected").to_pylist()
    junk = [r for r in rejected if r["source_id"].startswith("junk")]
    assert [r["drop_reason"] for r in junk] == ["quality:gopher_short_doc"] * 2, "the planted pages are dropped"
    ledger = pq.read_table(out / "ledger" / "removals").to_pylist()
    assert {r["doc_id"] for r in junk} <= {r["doc_id"] for r in ledger}, "the ledger lists every removal"
    ledger_blob = json.dumps(ledger, default=str) + (out / "ledger" / "summary.json").read_text()
    return rejected, ledger_blob


def test_rejected_and_ledger_are_clean_by_default(canary_run):
    out, logs = canary_run
    rejected, ledger = _rejected_and_ledger(out)
    _assert_rejected_clean(json.dumps(rejected, default=str), "rejected/ (default: scrubbed)")
    _assert_clean(json.dumps(rejected, default=str), "rejected/ (default: scrubbed)")
    _assert_rejected_clean(ledger, "the removal ledger")
    assert json.loads((out / "run.json").read_text())["stage_info"]["rejected_text"]["mode"] == "scrubbed"
    _assert_rejected_clean(logs, "the run's logs")


def test_rejected_text_none_keeps_no_text(canary_runs):
    out, logs = canary_runs["none"].result()
    rejected, ledger = _rejected_and_ledger(out)
    assert all(r["text"] is None for r in rejected)
    _assert_rejected_clean(json.dumps(rejected, default=str), "rejected/ (none)")
    _assert_rejected_clean(ledger, "the removal ledger (none)")
    _assert_rejected_clean(logs, "the run's logs (none)")


def test_rejected_text_raw_brings_it_back_in_rejected_only(canary_runs):
    out, logs = canary_runs["raw"].result()
    rejected, ledger = _rejected_and_ledger(out)
    blob = json.dumps(rejected, default=str)
    assert all(v in blob for v in REJECTED_CANARIES.values()), "raw keeps the text as ingested"
    _assert_rejected_clean(ledger, "the removal ledger (raw)")
    _assert_rejected_clean(logs, "the run's logs (raw)")
    for f in (out / "report").glob("*"):
        _assert_rejected_clean(f.read_text(encoding="utf-8", errors="replace"), f"report/{f.name} (raw)")
    html = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert 'data-rejected-text="raw"' in html, "the report states that raw text was kept"
    assert json.loads((out / "run.json").read_text())["stage_info"]["rejected_text"]["raw_text_kept"] is True
