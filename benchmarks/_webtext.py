"""Real pages for the peer benchmarks, read from the shared development data (``../shared/data/webtext``).

Nothing here is copied into the project: the pages are read at benchmark time from the folder that
``CORPUSFORGE_WEBTEXT`` names (default: ``<repo>/../shared/data/webtext``), and the benchmarks that use
them say so and skip the real-text rows when it is absent.

What counts as a page:

* every HTML response of the WARC files under ``warc/`` (real Common Crawl, ClueWeb and wget captures:
  English, Chinese, Russian, spam), decoded and extracted with Resiliparse (all visible text), as the
  ingest stage does;
* every conversion record of the WET file (Common Crawl's own extracted text);
* every document of ``cc-text/*.jsonl.gz`` (CCNet-processed Common Crawl text);
* the State of the Union addresses and the Genesis texts, cut into page-sized pieces (paragraphs
  gathered up to about 3,000 characters), since each file is a whole book or speech.

:func:`pages_to_size` repeats that list (in a fixed order) until the requested number of documents.
"""
from __future__ import annotations

import glob
import gzip
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "webtext"
PAGE_CHARS = 3000


def webtext_dir() -> Optional[Path]:
    """The webtext folder, or None when it is absent."""
    path = Path(os.environ.get("CORPUSFORGE_WEBTEXT", str(_DEFAULT)))
    return path if path.is_dir() else None


def _slice(text: str, target: int = PAGE_CHARS) -> list[str]:
    """Lines gathered into pieces of about ``target`` characters (line breaks kept)."""
    out, cur, size = [], [], 0
    for line in text.replace("\r\n", "\n").split("\n"):
        cur.append(line)
        size += len(line) + 1
        if size >= target:
            piece = "\n".join(cur).strip()
            if piece:
                out.append(piece)
            cur, size = [], 0
    piece = "\n".join(cur).strip()
    if piece:
        out.append(piece)
    return out


def _read_text(path: str) -> str:
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:  # the older nltk_data files are Latin-1
        return data.decode("latin-1")


def _warc_pages(root: Path) -> list[tuple[str, str]]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from pipelines.text.extract import ExtractionSettings, decode_html, extract_text

    settings = ExtractionSettings(extractor="resiliparse", main_content=False, timeout_seconds=None)
    out = []
    for path in sorted(glob.glob(str(root / "warc" / "*.warc.gz"))):
        try:
            with open(path, "rb") as fh:
                for rec in ArchiveIterator(fh, record_types=WarcRecordType.response):
                    ct = rec.http_headers.get("Content-Type", "") if rec.http_headers else ""
                    if "html" not in ct.lower():
                        continue
                    text = extract_text(decode_html(rec.reader.read(), ct), settings)
                    if text.strip():
                        out.append(("warc", text))
        except Exception:  # noqa: BLE001 - truncated test captures: keep what was read
            continue
    return out


def _wet_pages(root: Path) -> list[tuple[str, str]]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    out = []
    for path in sorted(glob.glob(str(root / "warc" / "*.wet.gz"))):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.conversion):
                text = rec.reader.read().decode("utf-8", "replace")
                if text.strip():
                    out.append(("wet", text))
    return out


@lru_cache(maxsize=1)
def real_pages() -> tuple[tuple[str, str], ...]:
    """(origin, text) of every real page (see the module docstring); empty when the folder is absent."""
    root = webtext_dir()
    if root is None:
        return ()
    pages = _warc_pages(root) + _wet_pages(root)
    for path in sorted(glob.glob(str(root / "cc-text" / "*.jsonl.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            pages += [("cc-text", json.loads(line)["text"]) for line in fh if line.strip()]
    for folder, pattern in (("state_union", "*.txt"), ("genesis", "*.txt")):
        for path in sorted(glob.glob(str(root / folder / pattern))):
            if path.endswith("README"):
                continue
            pages += [(folder, piece) for piece in _slice(_read_text(path))]
    return tuple(pages)


def pages_to_size(n: int, english_only: bool = False) -> list[str]:
    """``n`` real page texts: the page list repeated in order (empty when the folder is absent)."""
    pages = real_pages()
    if english_only:
        pages = tuple(p for p in pages if p[0] in ("cc-text", "state_union") or (p[0] == "warc" and p[1].isascii()))
    if not pages:
        return []
    return [pages[i % len(pages)][1] for i in range(n)]


def describe() -> dict:
    """Counts and characters per origin (for the benchmark's output)."""
    counts: dict[str, list[int]] = {}
    for origin, text in real_pages():
        c = counts.setdefault(origin, [0, 0])
        c[0] += 1
        c[1] += len(text)
    non_ascii = sum(1 for _, t in real_pages() if not t.isascii())
    return {
        "folder": str(webtext_dir()),
        "pages": len(real_pages()),
        "non_ascii_pages": non_ascii,
        "by_origin": {k: {"pages": v[0], "chars": v[1]} for k, v in sorted(counts.items())},
    }
