"""Keep Presidio offline and lean: tldextract must never fetch the public suffix list, and Presidio is
imported on the CPU and, when nothing needs it, without PyTorch (:func:`import_presidio`).

Presidio's e-mail recognizer validates the domain of every candidate with ``tldextract.extract``.
tldextract's module-level extractor downloads the public suffix list from the internet the first time it
is used (and waits for the connection to time out where there is no internet), then caches it on disk.
:func:`make_tldextract_offline` replaces that extractor with one that reads only the snapshot of the
list bundled inside the tldextract wheel: no network, no disk cache, no delay, the same answer on every
machine of a cluster.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pkgutil
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

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


#: Words in a spaCy pipeline's ``config.cfg`` or ``meta.json`` that say it runs PyTorch layers
#: (spacy-transformers, spacy-curated-transformers, thinc's PyTorchWrapper, ...).
_TORCH_MARKERS = ("torch", "transformer")


def spacy_model_dir(model: str) -> Optional[Path]:
    """The directory of a spaCy model (a directory path, or an installed package's directory), found
    without importing spaCy or the package; None when there is none."""
    path = Path(model)
    if path.is_dir():
        return path
    try:
        spec = importlib.util.find_spec(model)
    except (ImportError, ValueError):  # a dotted name whose parent is missing, an empty name
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def spacy_model_needs_torch(model: Optional[str]) -> bool:
    """Whether the spaCy pipeline ``model`` (None: no pipeline) may run PyTorch layers: its ``config.cfg``
    or ``meta.json`` (at the top of its directory or one level down, where packages keep the pipeline)
    names PyTorch or transformers. True when the model cannot be found or read (nothing is assumed)."""
    if not model:
        return False
    root = spacy_model_dir(model)
    if root is None:
        return True
    files = [f for pattern in ("config.cfg", "meta.json", "*/config.cfg", "*/meta.json") for f in root.glob(pattern)]
    if not any(f.name == "config.cfg" for f in files):
        return True
    try:
        return any(m in f.read_text(encoding="utf-8", errors="replace").lower() for f in files for m in _TORCH_MARKERS)
    except OSError:
        return True


@contextmanager
def _torch_hidden() -> Iterator[None]:
    """``import torch`` raises ImportError inside the block (unless torch is already imported)."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # the import system's "not importable" marker
    try:
        yield
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]


def import_presidio(spacy_model: Optional[str] = None) -> bool:
    """Import Presidio (and with it spaCy and thinc) as the scrubber needs it: on the CPU
    (:func:`presidio_cpu_only`) and without PyTorch unless ``spacy_model`` (the NER pipeline the scrubber
    will load; None when NER is off) runs PyTorch layers. Returns whether PyTorch was left out.

    Importing ``presidio_analyzer`` imports spaCy, whose ML library thinc imports PyTorch when it is
    installed (to offer PyTorch-backed layers), and Presidio's Hugging Face recognizer imports it too: about
    a second of CPU in every Python worker, for nothing the scrubber runs (spaCy's CPU pipelines such as
    ``en_core_web_sm`` run on thinc's NumPy operations either way). Both imports are guarded by
    ``except ImportError``, so with torch hidden for the duration of this import they take their no-PyTorch
    path, the one executors built by ``corpusforge pack-env`` (which leaves torch out) always take.
    torch itself stays importable afterwards: a later ``import torch`` in the same process loads it as
    usual; only thinc's PyTorch-backed layers stay off in this process, which is why a pipeline that needs
    them (``spacy_model_needs_torch``) keeps PyTorch. Nothing is hidden when Presidio or torch is already
    imported.
    """
    presidio_cpu_only()
    if "presidio_analyzer" in sys.modules:
        return False
    if "torch" in sys.modules or spacy_model_needs_torch(spacy_model):
        import presidio_analyzer  # noqa: F401  # deferred: Presidio is heavy, needed only to scrub

        return False
    before = set(sys.modules)
    try:
        with _torch_hidden():
            import presidio_analyzer  # noqa: F401,F811  # deferred: as above
    except ImportError as exc:  # a library that needs torch unconditionally: import as usual
        log.debug("importing Presidio without torch failed (%s); importing it with torch", type(exc).__name__)
        for name in set(sys.modules) - before:
            del sys.modules[name]
        import presidio_analyzer  # noqa: F401,F811  # deferred: as above

        return False
    return True


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
