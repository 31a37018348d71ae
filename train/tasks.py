"""Multiple-choice tasks scored by log-likelihood, the way lm-evaluation-harness scores them.

A task file is JSONL, one item per line::

    {"id": "cloze-0001", "context": "The city council approved", "choices": [" a new bike lane.", ...], "label": 0}

``choices`` are continuations of ``context`` (put the separating space at the start of each choice, as
HellaSwag's and ARC's harness tasks do); ``label`` is the 0-based index of the right one.

Scoring (per item): each choice's log-likelihood ``ll_i = sum log p(choice tokens | context)``, where the
context is preceded by the EOS token (a document start, as in training) and the split between context
and choice tokens is made as the harness makes it: ``context + choice`` is encoded whole and the choice
tokens are what follows the encoding of the context alone (a tokenizer that merges across the boundary
cannot shift tokens between the two); trailing spaces of the context move to the choice. Then

* ``acc``: the item is right when ``argmax_i ll_i`` is the label;
* ``acc_norm``: the same with ``ll_i / bytes_i`` (``bytes_i`` = UTF-8 bytes of the choice), which removes
  the bias towards short choices (the harness divides by the choice's length in characters; the two
  agree on ASCII text).

Ties go to the lower index (``numpy.argmax``). A context longer than the model's window is cut on the
left. Bad files are refused with the line and what is wrong, never skipped silently.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from storage.files import file_sha256
from train.eval import EvalInputError, EvalModel, continuation_window, score_windows


class TaskFileError(EvalInputError):
    """A task file that cannot be used; the message names the file, the line and what is wrong."""


@dataclass(frozen=True)
class TaskItem:
    """One multiple-choice item."""

    id: str
    context: str
    choices: tuple[str, ...]
    label: int


def _item_from(obj: Any, where: str) -> TaskItem:
    if not isinstance(obj, dict):
        raise TaskFileError(f"{where}: an item must be a JSON object with id, context, choices, label")
    missing = [k for k in ("id", "context", "choices", "label") if k not in obj]
    if missing:
        raise TaskFileError(f"{where}: the item lacks {', '.join(missing)}")
    item_id = obj["id"]
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool) or str(item_id) == "":
        raise TaskFileError(f"{where}: id must be a non-empty string or an integer")
    where = f"{where} (id {str(item_id)[:64]!r})"
    if not isinstance(obj["context"], str):
        raise TaskFileError(f"{where}: context must be a string")
    choices = obj["choices"]
    if not isinstance(choices, list) or len(choices) < 2:
        raise TaskFileError(f"{where}: choices must be a list of at least 2 strings")
    for i, c in enumerate(choices):
        if not isinstance(c, str) or not c.strip():
            raise TaskFileError(f"{where}: choice {i} must be a non-empty string")
    label = obj["label"]
    if not isinstance(label, int) or isinstance(label, bool):
        raise TaskFileError(f"{where}: label must be an integer (0-based index into choices)")
    if not 0 <= label < len(choices):
        raise TaskFileError(
            f"{where}: label {label} is out of range for {len(choices)} choices (0..{len(choices) - 1})")
    return TaskItem(str(item_id), obj["context"], tuple(choices), label)


def load_tasks(path: str | Path) -> list[TaskItem]:
    """Read and validate a task file (JSONL; blank lines are allowed).

    Raises:
        FileNotFoundError: no such file.
        TaskFileError: a line that is not a valid item (its number and the problem are named), a duplicate
            id, or a file without any item.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"task file {p} not found")
    items: list[TaskItem] = []
    seen: set[str] = set()
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise TaskFileError(f"{p} is not UTF-8 text; task files are UTF-8 JSONL") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{p}:{no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        item = _item_from(obj, where)
        if item.id in seen:
            raise TaskFileError(f"{where}: id {item.id[:64]!r} appears twice; ids must be unique")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise TaskFileError(f"{p} holds no usable item (an empty file); write one JSON object per line")
    return items


def split_context(tok, context: str, choice: str) -> tuple[list[int], list[int]]:
    """Context and choice token ids, split as lm-evaluation-harness splits them (module docstring)."""
    stripped = context.rstrip(" ")
    moved = context[len(stripped):]
    choice = moved + choice
    ctx_ids = list(tok.tokenizer.encode(stripped, add_special_tokens=False).ids) if stripped else []
    whole = list(tok.tokenizer.encode(stripped + choice, add_special_tokens=False).ids)
    return ctx_ids, whole[len(ctx_ids):]


def score_tasks(em: EvalModel, items: Sequence[TaskItem], *, batch_size: int = 8,
                keep_items: bool = False, path: Optional[str | Path] = None) -> dict[str, Any]:
    """``acc`` and ``acc_norm`` of ``em`` over ``items`` (plus the chance level and, optionally, per-item scores)."""
    windows = []
    spans: list[tuple[int, int]] = []
    key = 0
    for item in items:
        first = key
        for choice in item.choices:
            ctx_ids, cont_ids = split_context(em.tokenizer, item.context, choice)
            try:
                windows.append(continuation_window([em.eos_id] + ctx_ids, cont_ids, em.context, key))
            except EvalInputError as exc:
                raise TaskFileError(f"item {item.id[:64]!r}: {exc}") from None
            key += 1
        spans.append((first, key))
    lls, _, _ = score_windows(em.model, windows, batch_size=batch_size, device=em.device, autocast=em.autocast,
                              max_tokens=batch_size * em.context)
    result = score_from_loglikelihoods(items, [[-lls[k] for k in range(a, b)] for a, b in spans], keep_items)
    if path is not None:
        result = {"file": str(path), "sha256": file_sha256(path), **result}
    return result


def _argmax(values: Sequence[float]) -> int:
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def score_from_loglikelihoods(items: Sequence[TaskItem], lls: Sequence[Sequence[float]],
                              keep_items: bool = False) -> dict[str, Any]:
    """acc / acc_norm from each item's per-choice log-likelihoods (nats; higher is likelier)."""
    correct = correct_norm = 0
    per_item = []
    for item, ll in zip(items, lls):
        norm = [v / len(c.encode("utf-8")) for v, c in zip(ll, item.choices)]
        pick, pick_norm = _argmax(ll), _argmax(norm)
        correct += pick == item.label
        correct_norm += pick_norm == item.label
        if keep_items:
            per_item.append({"id": item.id, "label": item.label, "pred": pick, "pred_norm": pick_norm,
                             "loglikelihoods": [round(v, 6) for v in ll]})
    n = len(items)
    out: dict[str, Any] = {
        "items": n, "acc": correct / n if n else math.nan, "acc_norm": correct_norm / n if n else math.nan,
        "chance": sum(1 / len(i.choices) for i in items) / n if n else math.nan,
        "acc_stderr": math.sqrt(max(correct / n * (1 - correct / n), 0.0) / max(n - 1, 1)) if n else math.nan,
    }
    if keep_items:
        out["per_item"] = per_item
    return out


__all__ = ["TaskFileError", "TaskItem", "load_tasks", "score_from_loglikelihoods", "score_tasks", "split_context"]
