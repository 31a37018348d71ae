"""Training texts for ``corpusforge classifier train``, read from anything the pipeline's readers accept.

A PATH is a file, a directory or a glob of JSONL (``.gz``/``.zst``), Parquet, plain text or WARC/WET files,
including a finished run's ``curated/`` or ``rejected/`` folder (Parquet with a ``text`` column). Texts are
read and normalized by the same readers and rules as ``ingest`` (Unicode NFC, control characters, CRLF), so
a classifier is trained on text in the form the ``classify`` stage will see.

Records that ingest would quarantine (malformed JSON, a missing or empty text, ...) are counted and left
out, never silently: the counts by reason go into the model card. A file that cannot be read at all (a
broken Parquet footer, an I/O error, an unsupported format) fails the command, because a training set that
silently lacks a file is not what the user asked for. Remote URLs are refused: download them first, so the
card can record their sha256.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from pipelines.readers import expand_inputs, plan_splits, read_split
from pipelines.readers.remote import InputError, is_remote
from pipelines.text.classifier import ClassifierTrainingError, FastTextClassifier, binary_metrics, train_classifier
from schemas.config.ingest import IngestSection
from storage.files import file_sha256

log = logging.getLogger(__name__)

#: Quarantine reasons that mean a whole file could not be used.
_FILE_REASONS = {"ingest:unreadable_file", "ingest:corrupt_parquet", "ingest:parquet_schema_mismatch",
                 "ingest:unsupported_format"}


@dataclass
class TrainingTexts:
    """Texts read from one side's PATHs, with the files they came from and what was left out."""

    texts: list[str]
    files: list[dict[str, Any]]  # {"path", "bytes", "sha256", "documents"}
    skipped: dict[str, int] = field(default_factory=dict)  # quarantine reason -> records left out

    def record(self) -> dict[str, Any]:
        """What the model card records about this side (no text)."""
        return {"files": self.files, "documents": len(self.texts),
                "skipped_records": dict(sorted(self.skipped.items()))}


def read_texts(paths: Sequence[str], *, fmt: str = "auto", text_field: str = "text",
               limit: Optional[int] = None, role: str = "input") -> TrainingTexts:
    """Every document text under ``paths``, in file order (files sorted by path, records in file order).

    Args:
        paths: files, directories or globs (see the module docstring).
        fmt: ``ingest.format`` (``auto`` = from each file's extension).
        text_field: the JSONL field or Parquet column holding the text.
        limit: stop after this many documents (None: all).
        role: ``positive`` or ``negative``, for error messages.

    Raises:
        ClassifierTrainingError: a PATH matches nothing, is remote, or holds a file that cannot be read.
    """
    try:
        cfg = IngestSection(format=fmt, text_field=text_field, id_field=None, url_field=None)
    except ValueError as exc:
        raise ClassifierTrainingError(f"--{role}: {exc}") from None
    remote = [p for p in paths if is_remote(p)]
    if remote:
        raise ClassifierTrainingError(
            f"--{role} {remote[0]}: remote inputs are not read for training; download the files first so the "
            "model card can record their sha256"
        )
    try:
        files = expand_inputs(list(paths), cfg.format)
    except (FileNotFoundError, InputError) as exc:
        raise ClassifierTrainingError(f"--{role}: {exc}") from None
    if not files:
        raise ClassifierTrainingError(f"--{role} {', '.join(paths)}: no input files found")
    out = TrainingTexts(texts=[], files=[])
    for split in plan_splits(files, 1 << 62):  # whole files: one reader pass each, in path order
        n_before = len(out.texts)
        for row in read_split(split, cfg):
            kind = row.get("kind")
            if kind == "doc":
                if limit is None or len(out.texts) < limit:
                    out.texts.append(row["text"])
            elif kind == "quarantine":
                reason = row["reason"]
                if reason in _FILE_REASONS or row.get("offset_unit") == "file":
                    raise ClassifierTrainingError(
                        f"--{role}: cannot read {split.path} ({reason}: {row.get('detail') or 'no detail'}); "
                        "fix or remove the file, or set --format/--text-field to read it"
                    )
                out.skipped[reason] = out.skipped.get(reason, 0) + 1
        out.files.append({"path": split.path, "bytes": os.path.getsize(split.path), "sha256": file_sha256(split.path),
                          "documents": len(out.texts) - n_before})
    if out.skipped:
        log.warning("--%s: %d record(s) left out (%s)", role, sum(out.skipped.values()),
                    ", ".join(f"{k}: {v}" for k, v in sorted(out.skipped.items())))
    return out


def train_from_paths(positive: Sequence[str], negative: Sequence[str], *, output: str, fmt: str = "auto",
                     text_field: str = "text", max_docs: Optional[int] = None, **params: Any) -> dict[str, Any]:
    """Read both sides (:func:`read_texts`) and train (:func:`pipelines.text.classifier.train_classifier`).

    ``params`` are :func:`~pipelines.text.classifier.train_classifier`'s keyword arguments. The card records
    every input file with its size and sha256, and what the readers left out.

    Raises:
        ClassifierTrainingError: unreadable inputs, empty or one-class data, invalid parameters.
    """
    pos = read_texts(positive, fmt=fmt, text_field=text_field, limit=max_docs, role="positive")
    neg = read_texts(negative, fmt=fmt, text_field=text_field, limit=max_docs, role="negative")
    inputs = {"positive": pos.record(), "negative": neg.record(),
              "format": fmt, "text_field": text_field, "max_docs": max_docs}
    return train_classifier(pos.texts, neg.texts, output=output, inputs=inputs, **params)


def evaluate_paths(model: str, label: str, positive: Sequence[str], negative: Sequence[str], *,
                   fmt: str = "auto", text_field: str = "text", max_docs: Optional[int] = None,
                   lowercase: bool = False, max_chars: Optional[int] = None,
                   threshold: float = 0.5) -> dict[str, Any]:
    """Precision, recall, F1 and ROC AUC of ``model`` on labelled documents read from PATHs.

    Raises:
        ClassifierTrainingError: unreadable inputs or a side without documents.
        ClassifierModelError: the model cannot be loaded or lacks ``label``.
    """
    pos = read_texts(positive, fmt=fmt, text_field=text_field, limit=max_docs, role="positive")
    neg = read_texts(negative, fmt=fmt, text_field=text_field, limit=max_docs, role="negative")
    for role, side in (("positive", pos), ("negative", neg)):
        if not side.texts:
            raise ClassifierTrainingError(f"--{role}: no documents to evaluate on")
    clf = FastTextClassifier(model, label)
    scores = clf.predict(pos.texts + neg.texts, lowercase=lowercase, max_chars=max_chars)
    truth = [True] * len(pos.texts) + [False] * len(neg.texts)
    return {"model": {"path": str(model), "sha256": file_sha256(model), "label": clf.label},
            "preparation": {"lowercase": lowercase, "max_chars": max_chars},
            "inputs": {"positive": pos.record(), "negative": neg.record()},
            "metrics": binary_metrics(scores, truth, threshold)}
