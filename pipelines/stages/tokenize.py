"""The tokenize step: curated documents -> ``shards/`` (Parquet token shards + ``index.json``).

:class:`TokenizeWriter` is a terminal writer, not a :class:`~pipelines.stages.base.DocumentStage`: it
does not map documents to documents (no ``apply``, no ``<name>_reason``); the runner calls its
:meth:`~TokenizeWriter.run` once on the curated output, after the document stages. It is configured by
the ``tokenize`` section.

Design (why the shards are written from the driver):

* The expensive part, tokenization, runs in Spark: ``mapInArrow`` over Arrow batches, the tokenizer
  loaded once per Python worker (cached by path and sha256, which every worker checks against the
  driver's), ``encode_batch_fast`` over the batch. Ids leave the worker as raw little-endian bytes
  (Spark has no unsigned types; an ``array<int>`` would double uint16 ids).
* Spark then sorts the tokenized rows globally by ``doc_id`` (range partitioning) and writes them to the
  run's scratch space. The driver streams those files in partition order, one Arrow batch at a time,
  through :class:`~storage.shards.ShardWriter`. Memory stays bounded (one batch plus one row group) and
  the shard boundaries, row groups and ``index.json`` depend only on the sorted rows, so the same input
  gives byte-identical shards whatever the partitioning. The single writer moves ~2 bytes per token,
  which is cheap next to tokenization; writing shards inside Spark tasks and renaming them would make
  shard sizes depend on the partitioning, or need a second pass to re-cut them.
* ``index.json`` is written last and atomically: a ``shards/`` folder without it is incomplete.

Documents the tokenizer fails on are counted (``errors`` in the stage info, read back from the written
data, not from accumulators) and left out of the shards; their text never reaches the logs.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any, Iterator, Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.text.assets import asset_spec, resolve_asset
from pipelines.text.tokenize import (
    TokenizerError,
    binary_to_list_array,
    encode_documents,
    ids_to_binary,
    load_tokenizer,
)
from storage.shards import ShardWriter

from .base import RunContext, StageConfigError

log = logging.getLogger(__name__)

_OUT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        pa.field("ids", pa.binary()),
        pa.field("n_tokens", pa.int32()),
        pa.field("source", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("dup_cluster_size", pa.int32()),
    ]
)
_SPARK_SCHEMA = "doc_id string, ids binary, n_tokens int, source string, lang string, dup_cluster_size int"


def _encode_texts(
    tok: Any, texts: list, eos_id: Optional[int], bos_id: Optional[int], max_tokens: Optional[int], batch_size: int
) -> tuple[pa.Array, pa.Array]:
    """``(ids, lengths)`` of one batch of texts: little-endian id bytes and token counts, null on failure."""
    n = len(texts)
    ok = [t is not None for t in texts]
    try:
        offsets, values = encode_documents(
            tok, [t or "" for t in texts], eos_id=eos_id, bos_id=bos_id, max_tokens=max_tokens,
            batch_size=batch_size,
        )
        ids = ids_to_binary(offsets, values).cast(pa.binary())
        lengths = pa.array(offsets[1:] - offsets[:-1], pa.int32())
    except Exception:  # a batch the tokenizer cannot encode: retry per document, mark failures null
        ids_list, len_list = [], []
        for t in texts:
            try:
                o, v = encode_documents(tok, [t or ""], eos_id=eos_id, bos_id=bos_id, max_tokens=max_tokens)
                ids_list.append(v.astype(v.dtype.newbyteorder("<")).tobytes())
                len_list.append(int(v.size))
            except Exception:
                ids_list.append(None)
                len_list.append(None)
        ids = pa.array(ids_list, pa.binary())
        lengths = pa.array(len_list, pa.int32())
    if not all(ok):  # null text is an error too (the curated contract says text is not null)
        mask = pa.array([not o for o in ok])
        ids = pc.if_else(mask, pa.nulls(n, pa.binary()), ids)
        lengths = pc.if_else(mask, pa.nulls(n, pa.int32()), lengths)
    return ids, lengths


def _encoder(
    spec: str, sha256: str, eos_id: Optional[int], bos_id: Optional[int], max_tokens: Optional[int], batch_size: int
):
    """The mapInArrow function; it closes over plain values only (never a tokenizer object).

    ``spec`` is the tokenizer's portable name (:func:`~pipelines.text.assets.asset_spec`): a bundled
    tokenizer is resolved again in the executor's own copy of the package, a user file by its path.
    """

    def encode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        tok = load_tokenizer(resolve_asset(spec), expected_sha256=sha256)  # once per worker process (cached)
        for batch in batches:
            ids, lengths = _encode_texts(
                tok, batch.column("text").to_pylist(), eos_id, bos_id, max_tokens, batch_size
            )
            yield pa.RecordBatch.from_arrays(
                [batch.column("doc_id").cast(pa.string()), ids, lengths, batch.column("source").cast(pa.string()),
                 batch.column("lang").cast(pa.string()), batch.column("dup_cluster_size").cast(pa.int32())],
                schema=_OUT_SCHEMA,
            )

    return encode


class TokenizeWriter:
    """Terminal writer: tokenize the curated documents into ``ctx.staging_dir / "shards"``.

    Not a document stage (see the module docstring): :meth:`prepare` checks the tokenizer on the driver,
    :meth:`run` encodes the documents in Spark and writes the shards and ``index.json``.

    Args:
        section: the ``tokenize`` config section.
        ctx: the run context.
    """

    name = "tokenize"

    def __init__(self, section, ctx: RunContext) -> None:
        self.section = section
        self.ctx = ctx
        self._tok = None
        self.eos_id: Optional[int] = None
        self.bos_id: Optional[int] = None

    @property
    def output_dir(self) -> Path:
        return Path(self.ctx.staging_dir) / "shards"

    @property
    def tokenizer_file(self) -> Path:
        return resolve_asset(self.section.tokenizer_path)

    def prepare(self) -> None:
        """Check the tokenizer on the driver and record its sha256 in ``ctx.assets["tokenizer"]``."""
        s = self.section
        if not s.tokenizer_path:
            raise StageConfigError(
                "tokenize.tokenizer_path is not set; train a tokenizer with 'corpusforge tokenizer train --input "
                "OUT/curated --vocab-size N --output tok.json' and set tokenize.tokenizer_path"
            )
        try:
            self._tok = load_tokenizer(self.tokenizer_file)
            self.eos_id = self._tok.token_id(s.eos_token, "EOS token")
            self.bos_id = self._tok.token_id(s.bos_token, "BOS token") if s.add_bos else None
        except TokenizerError as exc:
            raise StageConfigError(str(exc)) from None
        self.ctx.assets["tokenizer"] = {
            "path": asset_spec(s.tokenizer_path), "sha256": self._tok.sha256, "vocab_size": self._tok.vocab_size,
        }

    def run(self, curated_df) -> dict[str, Any]:
        """Tokenize ``curated_df`` (DOCUMENT_SCHEMA columns, optionally ``lang``) and write the shards.

        ``lang`` and the near-dedup stage's ``dup_cluster_size`` travel into the shard rows when present
        (null otherwise): the trainer filters streams by ``lang`` and rehydrates by cluster size.

        Returns:
            Stage facts for run.json: shards, documents, tokens, bytes, errors, index path, tokenizer sha256.
        """
        from pyspark.sql import functions as F  # deferred: pyspark, as in the other stage modules (driver only)

        if self._tok is None:
            self.prepare()
        s, tok = self.section, self._tok
        lang = F.col("lang").cast("string") if "lang" in curated_df.columns else F.lit(None).cast("string")
        cluster = (F.col("dup_cluster_size").cast("int") if "dup_cluster_size" in curated_df.columns
                   else F.lit(None).cast("int"))
        docs = curated_df.select("doc_id", "text", "source", lang.alias("lang"), cluster.alias("dup_cluster_size"))
        eos = self.eos_id if s.eos == "append" else None
        tokenized = docs.mapInArrow(
            _encoder(asset_spec(s.tokenizer_path), tok.sha256, eos, self.bos_id, s.max_doc_tokens, s.encode_batch_size),
            _SPARK_SCHEMA,
        )
        scratch = Path(self.ctx.work_dir) / "tokenize"
        sorted_dir = scratch / "sorted"
        if scratch.exists():
            shutil.rmtree(scratch)
        # Global order by doc_id (ids break ties so the order is total even if an id repeats).
        (tokenized.repartitionByRange(self.ctx.num_partitions, "doc_id")
         .sortWithinPartitions("doc_id", "ids")
         .write.mode("overwrite").parquet(str(sorted_dir)))
        stats = self._write_shards(sorted_dir)
        shutil.rmtree(scratch, ignore_errors=True)
        self.ctx.stage_info[self.name] = stats
        return stats

    def _write_shards(self, sorted_dir: Path) -> dict[str, Any]:
        s, tok = self.section, self._tok
        parts = sorted(p for p in sorted_dir.glob("part-*.parquet"))  # part number = range partition order
        errors = 0
        last: Optional[str] = None
        with ShardWriter(
            self.output_dir,
            vocab_size=tok.vocab_size,
            tokenizer_sha256=tok.sha256,
            eos_id=self.eos_id,
            eos_appended=s.eos == "append",
            dataset_version=s.dataset_version or self.ctx.run_id,
            config_sha256=self.ctx.config.sha256(),
            target_shard_bytes=s.target_shard_bytes,
            row_group_bytes=s.row_group_bytes,
            compression=s.compression,
            tokenizer_file=str(self.tokenizer_file) if s.copy_tokenizer else None,
            overwrite=True,
        ) as writer:
            for part in parts:
                for batch in pq.ParquetFile(part).iter_batches(batch_size=4096):
                    if batch.num_rows == 0:
                        continue
                    doc_ids = batch.column("doc_id")
                    first, final = doc_ids[0].as_py(), doc_ids[-1].as_py()
                    if last is not None and first < last:
                        raise RuntimeError(
                            "tokenized rows are not in doc_id order across partitions; this is a bug in the "
                            "tokenize stage's sort (please report it)"
                        )
                    last = final
                    failed = batch.column("ids").is_null()
                    n_failed = int(pc.sum(failed).as_py() or 0)
                    if n_failed:
                        errors += n_failed
                        batch = batch.filter(pc.invert(failed))
                    table = pa.table(
                        {
                            "doc_id": batch.column("doc_id"),
                            "input_ids": binary_to_list_array(batch.column("ids"), tok.token_dtype),
                            "n_tokens": batch.column("n_tokens"),
                            "source": batch.column("source"),
                            "lang": batch.column("lang"),
                            "dup_cluster_size": batch.column("dup_cluster_size"),
                        }
                    )
                    writer.write_table(table)
        index = writer.index
        if errors:
            log.warning("tokenize: %d document(s) could not be tokenized and are not in the shards", errors)
        return {
            "shards": len(index.shards),
            "documents": index.total_rows,
            "tokens": index.total_tokens,
            "bytes": sum(e.bytes for e in index.shards),
            "errors": errors,
            "index": str(self.output_dir / "index.json"),
            "tokenizer_sha256": index.tokenizer_sha256,
            "dataset_version": index.dataset_version,
        }
