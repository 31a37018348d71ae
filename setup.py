"""Build hook for the one compiled part of corpusforge; everything else is declared in pyproject.toml.

``pipelines.text._minhash_kernel`` (``pipelines/text/_minhash_kernel.c``) computes MinHash shingle hashes
and signatures (``pipelines/text/minhash.py``, module docstring, "Implementations"). It is an optional
extension: where no C compiler is available the install still succeeds (setuptools prints a warning,
which pip shows with ``-v``), and ``pipelines.text.minhash`` uses its numpy implementation (bit-identical,
4-5x slower on real pages), logging one warning per process. ``tests/unit/test_minhash_kernel.py``
fails when the kernel is not built, so that a broken build does not go unnoticed.
"""
import os

from setuptools import Extension, setup

_FLAGS = [] if os.name == "nt" else ["-O3"]

setup(
    ext_modules=[
        Extension(
            "pipelines.text._minhash_kernel",
            sources=["pipelines/text/_minhash_kernel.c"],
            extra_compile_args=_FLAGS,
            optional=True,
        )
    ]
)
