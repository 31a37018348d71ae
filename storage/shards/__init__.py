"""The token shard format: what a shard folder holds, how it is written, and how it is checked.

Both the pipeline (which writes shards) and the trainer (which streams them) import this package, and
nothing else of the pipeline: it needs pyarrow, numpy and pydantic, never pyspark or torch.

* :mod:`.index`: the Parquet schema of a shard and the ``index.json`` model;
* :mod:`.layout`: file names, and resolving a folder or a dataset store's ``CURRENT`` to an index;
* :mod:`.writer`: :class:`ShardWriter`, which rolls shards at a size limit and writes the index last;
* :mod:`.verify`: :func:`check_shard_file` (per shard, before first use) and :func:`verify_shards`.
"""
from .index import (
    INDEX_FILE,
    OPTIONAL_SHARD_COLUMNS,
    SHARD_COLUMNS,
    SHARD_SCHEMA_VERSION,
    RowGroupInfo,
    ShardEntry,
    ShardIndex,
    numpy_dtype,
    shard_schema,
    token_dtype_for_vocab,
    unsafe_path_reason,
)
from .layout import (
    CURRENT_FILE,
    SHARD_NAME,
    TOKENIZER_FILE,
    ShardError,
    resolve_index_path,
    resolve_source_index,
)
from .verify import ShardProblem, VerifyReport, check_shard_file, verify_shards
from .writer import ShardWriter

__all__ = [
    "CURRENT_FILE",
    "INDEX_FILE",
    "OPTIONAL_SHARD_COLUMNS",
    "SHARD_COLUMNS",
    "SHARD_NAME",
    "SHARD_SCHEMA_VERSION",
    "TOKENIZER_FILE",
    "RowGroupInfo",
    "ShardEntry",
    "ShardError",
    "ShardIndex",
    "ShardProblem",
    "ShardWriter",
    "VerifyReport",
    "check_shard_file",
    "numpy_dtype",
    "resolve_index_path",
    "resolve_source_index",
    "shard_schema",
    "token_dtype_for_vocab",
    "unsafe_path_reason",
    "verify_shards",
]
