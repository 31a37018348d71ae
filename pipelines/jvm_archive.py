"""A class-data-sharing (CDS) archive of Spark's JVM classes, so that an embedded Spark starts in half the time.

Most of the seconds an embedded ``SparkSession`` takes to start (and a good part of its first job) go to
loading and verifying the few thousand classes of Spark, Hadoop, Parquet and Arrow from ~300 jars. The
HotSpot JVM (JDK 13+) can dump the classes a run loaded into an archive at exit
(``-XX:ArchiveClassesAtExit``) and map that archive into later JVMs (``-XX:SharedArchiveFile``), which
then skip parsing and verifying them. Measured on a 2-core machine with JDK 17: session start 4.8-5.7 s
-> 2.4 s, a first small job 2.9 s -> 1.2 s.

* :func:`build_archive` (``corpusforge jvm-archive``; ``make install`` runs it) starts a fresh embedded
  Spark in a child process with ``-XX:ArchiveClassesAtExit``, runs a small job through the code paths a run
  uses (Parquet write and read, Arrow batches to a Python worker, a shuffle), and moves the archive into
  place when the child's JVM has written it at exit. It takes about 15 seconds and about 150 MB of disk.
* :func:`archive_option` gives the ``-XX:SharedArchiveFile=...`` option when an archive for this machine's
  JVM and Spark jars exists; :func:`pipelines.runtime.build_spark_session` adds it to an embedded driver's
  JVM options. The archive's name is a fingerprint of the ``java`` executable and of Spark's jars (paths,
  sizes, modification times), so a new JDK or Spark install never picks up an old archive. A JVM that
  cannot use an archive anyway (other options, a changed class path) ignores it and loads classes as
  usual (``-Xshare:auto``, HotSpot's default): the archive changes start-up time, never behaviour.

Settings: environment variable ``CORPUSFORGE_JVM_ARCHIVE``: ``auto`` (default: use the archive when built),
``off`` (never). Archives live in ``$CORPUSFORGE_CACHE_DIR/jvm`` (default ``$XDG_CACHE_HOME/corpusforge/jvm``,
else ``~/.cache/corpusforge/jvm``); building one keeps the :data:`KEEP` most recent there.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)

ENV_SETTING = "CORPUSFORGE_JVM_ARCHIVE"
ENV_CACHE = "CORPUSFORGE_CACHE_DIR"
#: Archives kept in the cache directory (the most recently built ones; one per JDK and Spark install).
KEEP = 3
#: Child process time limit while building (a first JVM start plus a small job takes ~15 s on 2 cores).
BUILD_TIMEOUT_S = 300


class ArchiveError(RuntimeError):
    """The archive could not be built; the message says why (no ``java``, the child failed, ...)."""


def cache_dir() -> Path:
    """Where archives live (see the module docstring)."""
    base = os.environ.get(ENV_CACHE)
    if base:
        return Path(base) / "jvm"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "corpusforge" / "jvm"


def java_executable() -> Optional[Path]:
    """The ``java`` Spark's launcher runs: ``$JAVA_HOME/bin/java`` when ``JAVA_HOME`` is set, else the first
    ``java`` on ``PATH``; resolved through symbolic links. None when there is none."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found or not os.path.exists(found):
        return None
    return Path(os.path.realpath(found))


def spark_jars_dir() -> Optional[Path]:
    """Spark's jars: ``$SPARK_HOME/jars`` when set, else those of the installed pyspark package."""
    home = os.environ.get("SPARK_HOME")
    if home:
        return Path(home) / "jars"
    try:
        import pyspark  # deferred: only to locate its jars
    except ImportError:
        return None
    return Path(pyspark.__file__).parent / "jars"


def fingerprint() -> Optional[str]:
    """A digest of the JVM executable and Spark's jars (name, size, modification time of each); None
    without ``java`` or jars."""
    java, jars = java_executable(), spark_jars_dir()
    if java is None or jars is None or not jars.is_dir():
        return None
    h = hashlib.sha256()
    for path in [java] + sorted(jars.glob("*.jar")):
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:20]


def archive_path() -> Optional[Path]:
    """This machine's archive path (whether built or not); None when no fingerprint can be taken."""
    fp = fingerprint()
    return cache_dir() / f"spark-{fp}.jsa" if fp else None


def archive_option() -> Optional[str]:
    """``-XX:SharedArchiveFile=<path>`` when the setting allows it and the archive exists, else None."""
    setting = os.environ.get(ENV_SETTING, "auto").strip().lower()
    if setting in ("off", "0", "false", "no"):
        return None
    if setting not in ("auto", "on", "1", "true", "yes", ""):
        log.warning("%s=%r is not auto or off; using auto", ENV_SETTING, setting)
    path = archive_path()
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return None
    # Spark's launcher splits extraJavaOptions at whitespace outside double quotes.
    quoted = f'"{path}"' if any(ch.isspace() for ch in str(path)) else str(path)
    return f"-XX:SharedArchiveFile={quoted}"


def build_archive(force: bool = False, timeout_s: int = BUILD_TIMEOUT_S) -> Path:
    """Build this machine's archive (see the module docstring) and return its path.

    Does nothing when it exists already, unless ``force``. Raises :class:`ArchiveError` with the reason
    when it cannot be built; a partial archive is never left in place.
    """
    path = archive_path()
    if path is None:
        raise ArchiveError("no java executable or no Spark jars found (install Java 17+ and pyspark)")
    if path.is_file() and path.stat().st_size > 0 and not force:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="corpusforge-jvm-archive-") as tmp:
        partial = Path(tmp) / "spark.jsa"
        env = dict(os.environ, **{ENV_SETTING: "off"})  # the child must not map an old archive
        cmd = [sys.executable, "-m", "pipelines.jvm_archive_run", str(partial), tmp]
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise ArchiveError(f"the archive run took more than {timeout_s} s") from None
        if done.returncode != 0:
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise ArchiveError(f"the archive run failed with exit code {done.returncode}: {' | '.join(tail)}")
        if not partial.is_file() or partial.stat().st_size == 0:
            raise ArchiveError("the JVM wrote no archive (it needs a HotSpot JDK 13+ with its default CDS "
                               "archive; `java -Xshare:dump` creates that one)")
        tmp_final = path.with_suffix(".jsa.partial")
        shutil.move(str(partial), tmp_final)
        os.replace(tmp_final, path)
    # Other JDK or Spark installs (other virtual environments) keep theirs, up to KEEP archives in all.
    others = sorted((p for p in path.parent.glob("spark-*.jsa") if p != path), key=lambda p: p.stat().st_mtime)
    for old in others[: max(0, len(others) - (KEEP - 1))]:
        old.unlink(missing_ok=True)
    return path
