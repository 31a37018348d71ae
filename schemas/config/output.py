"""Configuration section ``output``: how a run's Parquet tables are laid out and what ``rejected/`` keeps.

``rejected_text`` is a data-minimisation choice (docs/compliance.md, "Data minimisation"): documents a
run removes are kept for audit (reasons, signals, the removal ledger, takedowns), and their text is by
default scrubbed with the ``pii`` section's pattern recognizers before it is written, whether or not the
``pii`` stage runs.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from .base import Section

#: What ``rejected/`` keeps of a removed document's text (see :class:`OutputSection`).
REJECTED_TEXT_MODES = ("scrubbed", "none", "raw")


class OutputSection(Section):
    """How a run's Parquet outputs are laid out, and what ``rejected/`` keeps of removed documents."""

    num_files: Optional[int] = Field(
        None, gt=0, description="Files per output table; default: from the input size (about 128 MiB per file)."
    )
    compression: Literal["zstd", "snappy", "gzip", "none"] = Field("zstd", description="Parquet codec of outputs.")
    rejected_text: Literal["scrubbed", "none", "raw"] = Field(
        "scrubbed",
        description=(
            "Text of removed documents in rejected/. scrubbed: documents removed before the pii stage (or in a run "
            "without it) go through the pii section's pattern recognizers (its entities, operator 'mask' kept, "
            "'pseudonymize' written as 'replace'); rows the pii stage already scrubbed are written as they are. "
            "none: text is null (n_chars, n_bytes, content_sha256 and every signal kept). raw: the text as "
            "ingested, stated in run.json and as a warning in the report; choose it only with a reason. url and "
            "metadata follow pii.fields in scrubbed and none. Hashes are computed at ingest, so takedowns and the "
            "removal ledger work in every mode."
        ),
    )
    rejected_text_ner: bool = Field(
        False,
        description=(
            "With rejected_text: scrubbed, also run the pii section's spaCy NER (PERSON, LOCATION, ...) on the "
            "rejected text (its model must be installed on every executor); slower, usually many times the "
            "pattern pass."
        ),
    )
