"""HTML main-text extraction benchmark: snippet precision, recall and F1, and pages per second per core.

    python -m benchmarks.extraction [--warc-dir ../shared/data/webtext/warc] [--repeat 3]
                                    [--settings NAME ...] [--json-out FILE]
    python -m benchmarks.extraction --annotate SPEC.txt [--out benchmarks/extraction_snippets.json]

The test set is ``benchmarks/extraction_snippets.json``: real pages of the Common Crawl samples under
``../shared/data/webtext/warc`` (a WARC file name and a ``WARC-Record-ID`` each), and for every page a few
hand-picked snippets of its main text that an extractor must keep and of its boilerplate (navigation,
footers, cookie and sign-in banners, related links, sidebars) that it must drop. The pages' text may not
be copied into this project, so a snippet is stored as the SHA-256 of its normalized words and their
number, never as text. Normalization (:func:`words`): Unicode NFKC, lower case, word tokens of the ``\\w``
class, with each Han, kana, Hangul or Thai character a token of its own (scripts written without spaces);
punctuation and white space only separate tokens. A snippet of ``n`` words is **present** in an extracted
text when some run of ``n`` consecutive words of that text has its hash.

Scores, over all snippets of all pages (micro-averaged):

* recall = keep snippets present / keep snippets;
* precision = keep snippets present / (keep snippets present + drop snippets present): of the checked text
  that the extractor kept, the share that belongs there;
* F1 = harmonic mean of the two; ``boilerplate_removed`` = 1 - drop snippets present / drop snippets;
* pages per CPU second (= pages per second per core: extraction is single-threaded), decoding included,
  measured in this process without the time budget (``--repeat`` passes, the fastest one counts). The
  default settings are also timed with their budget (``process`` mode: the helper process does the work)
  against the same passes without it, alternated, to show the budget's overhead in wall time.

``--annotate SPEC`` builds the JSON from a plain-text file kept outside the repository: ``@ WARC RECORD-ID``
starts a page, ``+ snippet`` is a must-keep, ``- snippet`` a must-drop line. Each snippet must occur in
the page's whole visible text, or the build fails naming it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
import unicodedata
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional

from pipelines.text.extract import ExtractionSettings, decode_html, extract_html, extract_text, stop_helper

REPO = Path(__file__).resolve().parents[1]
SNIPPETS = REPO / "benchmarks" / "extraction_snippets.json"
WARC_DIR = REPO.parent / "shared" / "data" / "webtext" / "warc"

_SPACELESS = re.compile("([\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])")
_WORD = re.compile(r"\w+")

#: Resiliparse main-content mode plus selectors of common boilerplate containers.
BOILERPLATE_SELECTORS = (
    "nav", "footer", "aside", "[role=navigation]", "[role=contentinfo]",
    "[class*=cookie]", "[id*=cookie]", "[class*=related]", "[class*=share]", "[class*=sidebar]",
    "[id*=sidebar]", "[class*=newsletter]", "[class*=breadcrumb]",
)

#: Named settings the benchmark compares; DEFAULT is what ingest.warc ships with (schemas/config/ingest.py).
SETTINGS: dict[str, ExtractionSettings] = {
    "trafilatura-recall": ExtractionSettings(extractor="trafilatura", favor="recall"),
    "trafilatura-balanced": ExtractionSettings(extractor="trafilatura", favor="balanced"),
    "trafilatura-precision": ExtractionSettings(extractor="trafilatura", favor="precision"),
    "trafilatura-recall-fast": ExtractionSettings(extractor="trafilatura", favor="recall", fast=True),
    "trafilatura-recall-no-tables": ExtractionSettings(extractor="trafilatura", favor="recall", include_tables=False),
    "trafilatura-recall-comments": ExtractionSettings(extractor="trafilatura", favor="recall", include_comments=True),
    "resiliparse": ExtractionSettings(extractor="resiliparse"),
    "resiliparse-skip": ExtractionSettings(extractor="resiliparse", skip_elements=BOILERPLATE_SELECTORS),
    "resiliparse-comments-meta": ExtractionSettings(extractor="resiliparse", resiliparse_comments=True,
                                                    resiliparse_post_meta=True),
    "resiliparse-all-text": ExtractionSettings(extractor="resiliparse", main_content=False),
}
DEFAULT = "trafilatura-recall"


# ------------------------------------------------------------------------------------------ snippets
def words(text: str) -> list[str]:
    """The normalized word tokens of a text (see the module docstring)."""
    t = unicodedata.normalize("NFKC", text).lower()
    return _WORD.findall(_SPACELESS.sub(r" \1 ", t))


def snippet_key(tokens: list[str]) -> str:
    return hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()


def present(text: str, snippets: Iterable[dict]) -> list[bool]:
    """For each ``{"words": n, "sha256": h}``: whether some run of n words of ``text`` hashes to h."""
    snippets = list(snippets)
    toks = words(text)
    windows: dict[int, set[str]] = {}
    for n in {s["words"] for s in snippets}:
        windows[n] = {snippet_key(toks[i:i + n]) for i in range(len(toks) - n + 1)}
    return [s["sha256"] in windows[s["words"]] for s in snippets]


def load_snippets(path: Path = SNIPPETS) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------ pages
def _http_payload(block: bytes) -> tuple[bytes, str]:
    """Body and Content-Type of an HTTP response block (chunked and gzip/deflate bodies are undone)."""
    sep = block.find(b"\r\n\r\n")
    head, body = block[:sep].decode("latin-1").split("\r\n"), block[sep + 4:]
    headers = {}
    for line in head[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out, pos = bytearray(), 0
        while True:
            nl = body.find(b"\r\n", pos)
            size = int(body[pos:nl].split(b";")[0] or b"0", 16) if nl >= 0 else 0
            if size == 0:
                break
            out += body[nl + 2:nl + 2 + size]
            pos = nl + 2 + size + 2
        body = bytes(out)
    ce = headers.get("content-encoding", "").lower()
    if ce in ("gzip", "x-gzip", "deflate"):
        body = zlib.decompressobj(wbits=47 if "gzip" in ce else 15).decompress(body)
    return body, headers.get("content-type", "")


def load_pages(warc_dir: Path, annotation: dict) -> list[dict]:
    """The annotated pages with their HTML payload: ``{warc, record_id, payload, content_type, keep, drop}``.

    Raises FileNotFoundError when a WARC file is missing and KeyError when a record is not in its file.
    """
    from fastwarc.warc import ArchiveIterator, WarcRecordType  # deferred: Resiliparse's WARC reader, benchmark only

    wanted: dict[str, dict[str, dict]] = {}
    for page in annotation["pages"]:
        wanted.setdefault(page["warc"], {})[page["record_id"]] = page
    found: dict[tuple[str, str], tuple[bytes, str]] = {}
    for name, ids in wanted.items():
        with open(Path(warc_dir) / name, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response | WarcRecordType.resource,
                                       parse_http=False):
                rid = rec.headers.get("WARC-Record-ID")
                if rid in ids:
                    block = rec.reader.read()
                    if rec.headers.get("WARC-Type") == "response":
                        found[(name, rid)] = _http_payload(block)
                    else:
                        found[(name, rid)] = (block, rec.headers.get("Content-Type", ""))
    pages = []
    for page in annotation["pages"]:
        key = (page["warc"], page["record_id"])
        if key not in found:
            raise KeyError(f"record {page['record_id']} not found in {page['warc']}")
        payload, ctype = found[key]
        pages.append(dict(page, payload=payload, content_type=ctype))
    return pages


# ------------------------------------------------------------------------------------------ scoring
def score(pages: list[dict], settings: ExtractionSettings, budget: bool = False) -> dict:
    """Snippet scores of one setting over the pages (see the module docstring); ``budget=True`` runs
    through :func:`extract_html` with the settings' time budget, else in-process without one."""
    keep_hit = keep_all = drop_hit = drop_all = 0
    per_page = []
    for page in pages:
        if budget:
            text = extract_html(page["payload"], page["content_type"], settings)
        else:
            text = extract_text(decode_html(page["payload"], page["content_type"]), settings)
        k = present(text, page["keep"])
        d = present(text, page["drop"])
        keep_hit += sum(k)
        keep_all += len(k)
        drop_hit += sum(d)
        drop_all += len(d)
        per_page.append({"record_id": page["record_id"], "keep": f"{sum(k)}/{len(k)}", "drop": f"{sum(d)}/{len(d)}"})
    recall = keep_hit / keep_all if keep_all else 0.0
    precision = keep_hit / (keep_hit + drop_hit) if keep_hit + drop_hit else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pages": len(pages), "keep_snippets": keep_all, "drop_snippets": drop_all, "recall": round(recall, 4),
            "precision": round(precision, 4), "f1": round(f1, 4),
            "boilerplate_removed": round(1 - drop_hit / drop_all, 4) if drop_all else None, "per_page": per_page}


def _pass(pages: list[dict], settings: ExtractionSettings, budget: bool) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    for page in pages:
        if budget:
            extract_html(page["payload"], page["content_type"], settings)
        else:
            extract_text(decode_html(page["payload"], page["content_type"]), settings)
    return time.perf_counter() - t0, time.process_time() - c0


def speed(pages: list[dict], settings: ExtractionSettings, repeat: int = 3) -> dict:
    """Pages per CPU second in this process, without the budget (the fastest of ``repeat`` passes)."""
    cpu = min(_pass(pages, settings, False)[1] for _ in range(max(1, repeat)))
    return {"cpu_s": round(cpu, 3), "pages_per_cpu_s": round(len(pages) / cpu, 1) if cpu else None}


def budget_overhead(pages: list[dict], settings: ExtractionSettings, repeat: int = 3) -> dict:
    """Wall time of passes with the settings' budget (helper process in ``process`` mode) against passes
    without, alternated so that both see the same machine load; the fastest pass of each counts."""
    _pass(pages, settings, True)  # starts the helper
    with_budget, without = [], []
    for _ in range(max(1, repeat)):
        with_budget.append(_pass(pages, settings, True)[0])
        without.append(_pass(pages, replace(settings, timeout_seconds=None), False)[0])
    w, wo = min(with_budget), min(without)
    return {"timeout_seconds": settings.timeout_seconds, "mode": settings.timeout_mode, "wall_s": round(w, 3),
            "wall_s_without_budget": round(wo, 3), "overhead": round(w / wo - 1, 3)}


# ------------------------------------------------------------------------------------------ annotation
def build_annotation(spec: Path, warc_dir: Path) -> dict:
    """The hashed snippet set from a plain-text spec (see the module docstring); validates every snippet."""
    pages: list[dict] = []
    for lineno, raw in enumerate(Path(spec).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            warc, rid = line[1:].split()
            pages.append({"warc": warc, "record_id": rid, "keep": [], "drop": []})
            continue
        if line[0] not in "+-" or not pages:
            raise ValueError(f"{spec}:{lineno}: expected '@ WARC RECORD-ID', '+ snippet' or '- snippet'")
        toks = words(line[1:])
        if len(toks) < 2 and not _SPACELESS.search(line):
            raise ValueError(f"{spec}:{lineno}: a snippet needs at least two words")
        pages[-1]["keep" if line[0] == "+" else "drop"].append(
            {"words": len(toks), "sha256": snippet_key(toks), "_line": lineno})
    annotation = {"pages": pages}
    loaded = load_pages(warc_dir, annotation)
    whole = ExtractionSettings(extractor="resiliparse", main_content=False)
    missing = []
    for page in loaded:
        full = extract_text(decode_html(page["payload"], page["content_type"]), whole)
        for kind in ("keep", "drop"):
            missing += [f"{spec}:{snip['_line']}" for snip, ok in zip(page[kind], present(full, page[kind])) if not ok]
    if missing:
        raise ValueError("snippets not found in their page's visible text: " + ", ".join(missing))
    for page in pages:
        for kind in ("keep", "drop"):
            for snip in page[kind]:
                del snip["_line"]
    return {
        "about": "Hand-picked must-keep (main text) and must-drop (boilerplate) snippets of real pages of "
                 "../shared/data/webtext/warc, stored as sha256 of their normalized words (see "
                 "benchmarks/extraction.py); no page text is stored.",
        "normalization": "NFKC, lower case, \\w+ tokens; Han, kana, Hangul and Thai characters one token each; "
                         "tokens joined by one space, UTF-8, sha256 hex",
        "pages": pages,
    }


# ------------------------------------------------------------------------------------------ main
def run(warc_dir: Path, names: list[str], repeat: int) -> list[dict]:
    pages = load_pages(warc_dir, load_snippets())
    results = []
    for name in names:
        settings = replace(SETTINGS[name], timeout_seconds=None)
        res = {"setting": name, **{k: v for k, v in score(pages, settings).items() if k != "per_page"},
               **speed(pages, settings, repeat)}
        if name == DEFAULT:
            res["with_budget"] = budget_overhead(pages, SETTINGS[name], repeat)
        results.append(res)
    stop_helper()
    return results


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warc-dir", default=str(WARC_DIR))
    ap.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per setting; the fastest counts")
    ap.add_argument("--json-out", default=None, help="also write the results here")
    ap.add_argument("--annotate", default=None, metavar="SPEC", help="build the snippet JSON from a plain-text spec")
    ap.add_argument("--out", default=str(SNIPPETS), help="with --annotate: where the JSON goes")
    args = ap.parse_args(argv)
    warc_dir = Path(args.warc_dir)
    if not warc_dir.is_dir():
        print(f"no WARC folder at {warc_dir} (the Common Crawl samples of ../shared/data)", file=sys.stderr)
        return 2
    if args.annotate:
        ann = build_annotation(Path(args.annotate), warc_dir)
        Path(args.out).write_text(json.dumps(ann, indent=1) + "\n", encoding="utf-8")
        n = sum(len(p["keep"]) + len(p["drop"]) for p in ann["pages"])
        print(f"{len(ann['pages'])} pages, {n} snippets -> {args.out}")
        return 0
    results = run(warc_dir, args.settings, args.repeat)
    print(f"{'setting':<30}{'precision':>10}{'recall':>8}{'F1':>7}{'bp removed':>11}{'pages/CPU-s':>13}")
    for r in results:
        print(f"{r['setting']:<30}{r['precision']:>10.3f}{r['recall']:>8.3f}{r['f1']:>7.3f}"
              f"{r['boilerplate_removed']:>11.3f}{r['pages_per_cpu_s']:>13.1f}")
    for r in results:
        if "with_budget" in r:
            b = r["with_budget"]
            print(f"{r['setting']} with its budget ({b['timeout_seconds']} s, {b['mode']} mode): {b['wall_s']} s "
                  f"wall for the pages vs {b['wall_s_without_budget']} s without (overhead {b['overhead']:+.1%})")
    print(json.dumps(results))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
