"""Atomic checkpoints: ``ckpt-00000100.pt`` files plus a ``latest`` pointer, loaded with ``weights_only=True``.

A checkpoint holds only tensors and plain data (dicts, lists, strings, numbers), so loading it never runs
pickled code. It is written to a temp file in the same folder, fsynced and renamed, and only then is
``latest`` updated (also atomically): a crash at any point leaves the previous checkpoint usable.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Optional

import torch

from storage.files import atomic_write_text

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
LATEST = "latest"
_NAME = re.compile(r"^ckpt-(\d{8})\.pt$")


def checkpoint_name(step: int) -> str:
    return f"ckpt-{step:08d}.pt"


def save_checkpoint(out_dir: os.PathLike | str, step: int, payload: dict[str, Any], keep: int = 2) -> Path:
    """Write ``payload`` as the checkpoint of ``step``, point ``latest`` at it, keep the newest ``keep``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / checkpoint_name(step)
    tmp = out / f".{path.name}.tmp"
    data = dict(payload, format=CHECKPOINT_FORMAT, step=int(step))
    with open(tmp, "wb") as fh:
        torch.save(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    atomic_write_text(out / LATEST, path.name + "\n")
    if keep > 0:
        olds = sorted(p for p in out.iterdir() if _NAME.match(p.name))
        for p in olds[:-keep]:
            if p != path:
                p.unlink()
    log.info("checkpoint %s written", path)
    return path


def latest_checkpoint(out_dir: os.PathLike | str) -> Optional[Path]:
    """The checkpoint ``latest`` points at (or the highest step present), None when there is none."""
    out = Path(out_dir)
    pointer = out / LATEST
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        if _NAME.match(name) and (out / name).is_file():
            return out / name
    found = sorted(p for p in out.glob("ckpt-*.pt") if _NAME.match(p.name)) if out.is_dir() else []
    return found[-1] if found else None


def load_checkpoint(path: os.PathLike | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file, or the latest one of a folder, with ``weights_only=True``.

    Raises:
        FileNotFoundError: nothing to load (message says where it looked).
        ValueError: unknown checkpoint format.
    """
    p = Path(path)
    if p.is_dir():
        found = latest_checkpoint(p)
        if found is None:
            raise FileNotFoundError(f"no checkpoint (ckpt-*.pt) in {p}; train first or pass a checkpoint file")
        p = found
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} not found")
    data = torch.load(p, map_location=map_location, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{p} is not a corpusforge checkpoint of format {CHECKPOINT_FORMAT}")
    data["path"] = str(p)
    return data
