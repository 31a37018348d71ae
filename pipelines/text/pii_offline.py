"""Keep Presidio offline: tldextract must never fetch the public suffix list.

Presidio's e-mail recognizer validates the domain of every candidate with ``tldextract.extract``.
tldextract's module-level extractor downloads the public suffix list from the internet the first time it
is used (and waits for the connection to time out where there is no internet), then caches it on disk.
:func:`make_tldextract_offline` replaces that extractor with one that reads only the snapshot of the
list bundled inside the tldextract wheel: no network, no disk cache, no delay, the same answer on every
machine of a cluster.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pkgutil
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_done = False


def presidio_cpu_only() -> None:
    """Tell Presidio its NLP engines run on the CPU (``PRESIDIO_DEVICE=cpu``, unless already set), before
    Presidio is imported.

    Without it, importing ``presidio_analyzer`` probes for a GPU through PyTorch when PyTorch is installed
    (on a GPU machine it creates a CUDA context, with its start-up time and memory, in every Python
    worker). The device only matters to Presidio's own NLP engines and transformer recognizers, which the
    scrubber never uses (it loads spaCy itself).
    """
    os.environ.setdefault("PRESIDIO_DEVICE", "cpu")


def offline_extractor():
    """A ``tldextract.TLDExtract`` that only reads the suffix-list snapshot bundled with the package."""
    import tldextract  # deferred: tldextract is a PII-only dependency (Presidio's e-mail recognizer)

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def make_tldextract_offline() -> None:
    """Replace tldextract's default extractor (used by ``tldextract.extract``) with the offline one.

    Idempotent and cheap after the first call. Called before any Presidio recognizer runs, on the driver
    and in every Python worker.
    """
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        import tldextract.tldextract as tld_module  # deferred: PII-only dependency, patched once per process

        extractor = offline_extractor()
        # Load the snapshot now, so that the first document does not pay for it (and so that a broken
        # install fails here, with a clear message, rather than inside a recognizer).
        extractor("example.com")
        tld_module.TLD_EXTRACTOR = extractor
        _done = True
        log.debug("tldextract configured offline (bundled public suffix list snapshot)")


def suffix_list_snapshot_sha256() -> str:
    """sha256 of the public suffix list snapshot shipped inside tldextract (recorded as an asset)."""
    data = pkgutil.get_data("tldextract", ".tld_set_snapshot")
    if data is None:  # pragma: no cover - depends on the installed wheel
        raise RuntimeError(
            "tldextract's bundled suffix list snapshot is missing; reinstall tldextract from its wheel"
        )
    return hashlib.sha256(data).hexdigest()


def suffix_list_snapshot_path() -> str:
    """Where the public suffix list snapshot shipped inside tldextract lies (recorded as an asset)."""
    import tldextract  # deferred: tldextract is a PII-only dependency, needed once on the driver

    return str(tldextract.__path__[0]) + "/.tld_set_snapshot"
