"""corpusforge's trainer: a streaming dataset over token shards, a GPT, the training loop and sampling.

Run it with ``corpusforge train``, ``python -m train`` or ``torchrun --nproc-per-node N -m train``.
"""
