"""On-disk formats and filesystem primitives shared by the pipeline and the trainer.

This package sits just above :mod:`schemas` and below everything else (see ``docs/architecture.md``):

* :mod:`storage.files`: the one atomic write, file sha256, UTC timestamp and lock of the project;
* :mod:`storage.shards`: the token shard format (index model, folder layout and dataset-store pointer,
  writer, per-shard checks and the verifier), which the trainer reads without the pipeline library;
* :mod:`storage.tokenizer`: loading the tokenizer that shards were encoded with.

It imports nothing of ours but :mod:`schemas`, and needs neither pyspark nor torch.
"""
