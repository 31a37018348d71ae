"""Small raw date partitions and a fast nightly config shared by the nightly and takedown tests."""
from __future__ import annotations

import json
from pathlib import Path

from schemas.config import load_config

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "pipelines" / "assets" / "demo" / "part-00000.jsonl"

#: Cheap stages only (ingest, exact dedup, tokenize): what is tested here is the orchestration.
FAST = ["language.enabled=false", "quality.enabled=false", "classify.enabled=false", "decontaminate.enabled=false",
        "pii.enabled=false", "bias.enabled=false", "near_dedup.enabled=false", "spark.shuffle_partitions=2",
        "spark.master=local[2]",
        "tokenize.target_shard_bytes=8192", "tokenize.row_group_bytes=2048"]


def fast_config(*extra: str):
    return load_config("demo", FAST + list(extra))


def demo_records(start: int, n: int) -> list[dict]:
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[start:start + n]]


def write_partition(raw: Path, date: str, records: list[dict], name: str = "part-0.jsonl") -> Path:
    d = raw / f"date={date}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under a folder by relative path (to prove nothing changed)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}
