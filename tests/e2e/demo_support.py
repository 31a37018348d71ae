"""Clean documents of the bundled demo corpus, shared by the end-to-end tests that build their own inputs."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "assets" / "demo"


@lru_cache(maxsize=1)
def _clean_texts() -> dict[str, tuple[str, ...]]:
    truth = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
    special = {i for g in truth["exact_duplicates"] for i in g["ids"]}
    special |= {i for c in truth["near_duplicates"] for i in [c["base"]] + [m["id"] for m in c["members"]]}
    special |= {p["id"] for p in truth["pii"]} | {j["id"] for j in truth["junk"]}
    texts = {}
    for line in (DEMO / "part-00000.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        texts[rec["id"]] = rec["text"]
    return {lang: tuple(texts[i] for i in sorted(ids) if i not in special and i in texts)
            for lang, ids in truth["languages"].items()}


def clean_demo_texts(lang: str, n: int | None = None) -> list[str]:
    """Texts of the demo corpus's clean documents of ``lang`` (no planted duplicate, near duplicate, PII or
    junk), in document-id order (from its ground-truth manifest); the first ``n`` when given."""
    texts = _clean_texts()[lang]
    return list(texts if n is None else texts[:n])
