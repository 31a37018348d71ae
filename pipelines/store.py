"""The dataset store: runs, published versions, the ``CURRENT`` pointer, ledgers and the store lock.

Layout::

    STORE/
      CURRENT                        the published version's name; replaced by rename (the commit point)
      versions/<NAME>/index.json     shard manifest, same format as a run's shards/index.json (ShardIndex)
      versions/<NAME>/version.json   what the version is: parent, runs, inputs added, takedowns, status
      versions/<NAME>/<run_id>/shard-NNNNN.parquet   hard links to the runs' shards (or copies)
      versions/<NAME>/tokenizer.json
      runs/<run_id>/                 run directories written by the pipeline runner
      state/runs/<run_id>.json       nightly's record of a finished run (gate verdict, run.json hash)
      ledger/inputs.jsonl            processed raw inputs: path (relative to the raw root) and sha256
      ledger/takedowns.jsonl         erasure ledger (see pipelines.takedown)
      takedown/requests.jsonl        standing erasure requests, applied to every future run
      dedup_index/                   the incremental near-dedup index
      .lock                          flock(2) lock held by nightly and takedown while they change the store

Why versions hold hard links to the shards instead of ``../runs/...`` paths: the shard index forbids
``..`` and the trainer refuses any shard that resolves outside the version folder (a safety check
against tampered indexes), and a self-contained version folder can be copied, rsynced or served on its
own, and survives the clean-up of old runs. Hard links cost no space and no copy time; a shard is never
modified in place (an erasure writes a new file), so sharing an inode between a run and several
versions is safe. Where hard links are not possible (another filesystem, an object-store mount) the
file is copied.

Versions are immutable once listed by ``CURRENT``. Every version names its parent (the version that
was current when it was built), so the published history is the chain from ``CURRENT`` back through the
parents. A version folder that is not on that chain was built by a run that died before switching
``CURRENT``; :meth:`DatasetStore.recover` removes it, so the next attempt rebuilds the same version
under the same name.

The lock is ``fcntl.flock`` on ``STORE/.lock``: the kernel releases it when the holder dies, so a killed
nightly never leaves a stale lock behind (the store must be on a filesystem with working flock; NFS v4
and local disks have it).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from storage.files import (
    FileLock,
    LockHeldError,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    file_sha256,
    fsync_dir,
    utc_now,
)
from storage.shards import (
    CURRENT_FILE,
    INDEX_FILE,
    TOKENIZER_FILE,
    ShardEntry,
    ShardIndex,
    check_shard_file,
    unsafe_path_reason,
)

log = logging.getLogger(__name__)

VERSION_FILE = "version.json"
LOCK_FILE = ".lock"
STORE_FORMAT = "corpusforge-dataset-store"
STORE_FORMAT_VERSION = 1
_VERSION_RE = re.compile(r"^v(\d{6,})$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]*$")


class StoreError(RuntimeError):
    """The store cannot be used as asked; the message says what to do."""


class StoreLockedError(StoreError):
    """Another process holds the store lock."""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file (empty when it does not exist).

    Raises:
        StoreError: a line is not a JSON object (the file was edited by hand).
    """
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise StoreError(f"{path}:{i} is not valid JSON; restore the file from its last good copy") from None
        if not isinstance(row, dict):
            raise StoreError(f"{path}:{i} is not a JSON object; restore the file from its last good copy")
        rows.append(row)
    return rows


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Append rows to a JSON-lines ledger without ever exposing a torn line.

    The existing lines are kept byte for byte; the file is rewritten to a temporary file and renamed over
    the old one, so a crash leaves either the old or the new ledger. Callers hold the store lock.
    Returns the number of rows appended.
    """
    path = Path(path)
    rows = list(rows)
    if not rows:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_bytes() if path.is_file() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    new = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    atomic_write_bytes(path, old + new)
    return len(rows)


def link_or_copy(src: Path, dst: Path) -> str:
    """Hard-link ``src`` to ``dst`` (copy when the filesystem cannot link). Returns "link" or "copy"."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        return "link"
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    shutil.copyfile(src, dst)
    return "copy"


def check_run_id(run_id: str) -> str:
    """A run id usable as a folder name and shard path component (raises ValueError otherwise)."""
    if not _RUN_ID_RE.match(run_id) or unsafe_path_reason(run_id):
        raise ValueError(f"run id {run_id!r} must be letters, digits, '.', '_', '=', '-' (no slashes)")
    return run_id


@dataclass(frozen=True)
class VersionEntry:
    """One shard of a version being built: where its bytes come from and how the index lists it."""

    source: Path  # an existing file (a run's shard, the parent version's link, or a rewritten shard)
    entry: ShardEntry  # path relative to the version folder


class DatasetStore:
    """A dataset store rooted at ``root`` (see the module docstring for the layout).

    Args:
        root: the store directory (created on first use).
    """

    def __init__(self, root: os.PathLike | str) -> None:
        self.root = Path(root).absolute()

    # ------------------------------------------------------------------------------------ paths
    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def ledger_dir(self) -> Path:
        return self.root / "ledger"

    @property
    def takedown_dir(self) -> Path:
        return self.root / "takedown"

    @property
    def dedup_index_dir(self) -> Path:
        return self.root / "dedup_index"

    @property
    def inputs_ledger(self) -> Path:
        return self.ledger_dir / "inputs.jsonl"

    @property
    def current_file(self) -> Path:
        return self.root / CURRENT_FILE

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / check_run_id(run_id)

    def version_dir(self, name: str) -> Path:
        if not _VERSION_RE.match(name):
            raise StoreError(f"{name!r} is not a version name (v000001, v000002, ...)")
        return self.versions_dir / name

    def run_state_file(self, run_id: str) -> Path:
        return self.state_dir / "runs" / f"{check_run_id(run_id)}.json"

    # ------------------------------------------------------------------------------------ lock
    @contextmanager
    def lock(self, purpose: str = "update") -> Iterator["DatasetStore"]:
        """Hold the store's exclusive lock (non-blocking: fail at once when another process has it).

        Raises:
            StoreLockedError: another nightly or takedown is changing the store.
        """
        with ExitStack() as held:
            try:
                held.enter_context(FileLock(self.root / LOCK_FILE, purpose=purpose))
            except LockHeldError as exc:
                raise StoreLockedError(
                    f"the store {self.root} is locked by another process ({exc.holder or 'unknown'}); wait for "
                    f"it to finish (the lock is released automatically when that process exits)"
                ) from None
            yield self

    # ------------------------------------------------------------------------------------ versions
    def current_version(self) -> Optional[str]:
        """The name in ``CURRENT``, or None before the first publication."""
        if not self.current_file.is_file():
            return None
        name = self.current_file.read_text(encoding="utf-8").strip()
        if not _VERSION_RE.match(name):
            raise StoreError(f"{self.current_file} holds {name!r}, not a version name; restore it from version history")
        return name

    def version_info(self, name: str) -> dict[str, Any]:
        """``version.json`` of a version (raises StoreError when missing)."""
        path = self.version_dir(name) / VERSION_FILE
        if not path.is_file():
            raise StoreError(f"version {name} has no {VERSION_FILE}; it was never completed")
        return json.loads(path.read_text(encoding="utf-8"))

    def version_index(self, name: str) -> ShardIndex:
        """The shard index of a published version."""
        path = self.version_dir(name) / INDEX_FILE
        if not path.is_file():
            raise StoreError(f"version {name} has no {INDEX_FILE} (incomplete or withdrawn)")
        return ShardIndex.from_file(path)

    def chain(self) -> list[str]:
        """Published versions, newest first: CURRENT, its parent, and so on."""
        out: list[str] = []
        name = self.current_version()
        seen = set()
        while name:
            if name in seen:
                raise StoreError(f"version history loops at {name}; a version.json was edited by hand")
            seen.add(name)
            out.append(name)
            try:
                name = self.version_info(name).get("parent")
            except StoreError:
                break
        return out

    def next_version_name(self) -> str:
        """The name of the next version: one more than the highest published sequence number."""
        seqs = [int(_VERSION_RE.match(n).group(1)) for n in self.chain()]
        return f"v{(max(seqs) if seqs else 0) + 1:06d}"

    def build_version(
        self,
        name: str,
        entries: list[VersionEntry],
        template: ShardIndex,
        info: dict[str, Any],
        tokenizer_source: Optional[Path] = None,
        verify_paths: Optional[set[str]] = None,
        config_sha256: Optional[str] = None,
    ) -> Path:
        """Build ``versions/NAME`` from shard files, atomically (temp folder, index last, rename).

        Args:
            name: the version name.
            entries: the shards, in index order.
            template: a shard index whose tokenizer fields (tokenizer, vocabulary, dtype, EOS) the version
                shares; every source run must have the same ones.
            info: the content of version.json (name and creation time are added).
            tokenizer_source: a tokenizer.json to place in the version.
            verify_paths: shard paths whose sha256 is checked after linking (new or rewritten shards);
                all others are checked by size.
            config_sha256: the pipeline config hash when every run of the version used one config, else None.

        Returns:
            The version folder.

        Raises:
            StoreError: a shard does not match its entry (nothing is published).
        """
        final = self.version_dir(name)
        if final.exists():
            raise StoreError(f"{final} already exists; run recovery first (it removes unpublished versions)")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.versions_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            modes = {"link": 0, "copy": 0}
            for ve in entries:
                modes[link_or_copy(ve.source, tmp / ve.entry.path)] += 1
            tok_name = None
            if tokenizer_source is not None and Path(tokenizer_source).is_file():
                link_or_copy(Path(tokenizer_source), tmp / TOKENIZER_FILE)
                if file_sha256(tmp / TOKENIZER_FILE) != template.tokenizer_sha256:
                    raise StoreError(f"{tokenizer_source} is not the tokenizer the shards were written with")
                tok_name = TOKENIZER_FILE
            index = ShardIndex(
                dataset_version=name,
                tokenizer_sha256=template.tokenizer_sha256,
                config_sha256=config_sha256,
                vocab_size=template.vocab_size,
                token_dtype=template.token_dtype,
                eos_id=template.eos_id,
                eos_appended=template.eos_appended,
                tokenizer_file=tok_name,
                total_rows=sum(ve.entry.rows for ve in entries),
                total_tokens=sum(ve.entry.tokens for ve in entries),
                shards=[ve.entry for ve in entries],
            )
            problems = []
            for ve in entries:
                level = "hash" if verify_paths is None or ve.entry.path in verify_paths else "size"
                problems += check_shard_file(tmp, ve.entry, index.token_dtype, index.tokenizer_sha256,
                                             index.vocab_size, level)
            if problems:
                raise StoreError(
                    f"version {name} not published: {len(problems)} shard problem(s), first: {problems[0]}; "
                    "re-run the affected run"
                )
            atomic_write_json(tmp / VERSION_FILE, {**info, "name": name, "created_at": utc_now(),
                                                   "status": "published", "link_mode": modes})
            atomic_write_text(tmp / INDEX_FILE, index.to_json())  # last: the version is complete
            fsync_dir(tmp)
            os.replace(tmp, final)
            fsync_dir(self.versions_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("built version %s: %d shards, %d rows, %d tokens (%s)", name, len(entries), index.total_rows,
                 index.total_tokens, modes)
        return final

    def switch_current(self, name: str) -> None:
        """Point ``CURRENT`` at a complete version (atomic rename: readers see the old or the new name)."""
        vdir = self.version_dir(name)
        if not (vdir / INDEX_FILE).is_file() or not (vdir / VERSION_FILE).is_file():
            raise StoreError(f"refusing to publish {name}: it is incomplete (no index.json or version.json)")
        atomic_write_text(self.current_file, name + "\n")
        log.info("CURRENT -> %s", name)

    def withdraw_version(self, name: str, reason: dict[str, Any]) -> None:
        """Make a superseded version unusable and remove its shards (erasure).

        ``index.json`` goes first (a folder without it is incomplete, so no reader starts on it), then
        the shard links; ``version.json`` stays as the record of what the version was and why it was
        withdrawn.
        """
        if name == self.current_version():
            raise StoreError(f"cannot withdraw {name}: it is CURRENT; publish a replacement first")
        vdir = self.version_dir(name)
        info = self.version_info(name)
        idx = vdir / INDEX_FILE
        if idx.exists():
            info.setdefault("withdrawn_index", json.loads(idx.read_text(encoding="utf-8")).get("total_rows"))
            idx.unlink()
            fsync_dir(vdir)
        for p in sorted(vdir.rglob("*")):
            if p.is_file() and p.name != VERSION_FILE:
                p.unlink()
        for p in sorted(vdir.rglob("*"), reverse=True):
            if p.is_dir():
                p.rmdir()
        history = info.get("withdrawals", [])
        if reason not in history:
            history.append(reason)
        info.update(status="withdrawn", withdrawals=history)
        atomic_write_json(vdir / VERSION_FILE, info)
        log.info("version %s withdrawn", name)

    # ------------------------------------------------------------------------------------ recovery
    def recover(self) -> dict[str, list[str]]:
        """Remove what interrupted runs left behind (call with the lock held).

        * run staging folders of the runner (``runs/.<run>.tmp-*``, ``runs/.<run>.old-*``);
        * half-built version folders (``versions/.<name>.tmp-*``);
        * complete versions that never became CURRENT (not on the chain from CURRENT);
        * temporary files of atomic writes.

        Returns:
            What was removed, by kind.
        """
        removed: dict[str, list[str]] = {"staging": [], "versions": [], "temp": []}
        if self.runs_dir.is_dir():
            for p in sorted(self.runs_dir.iterdir()):
                if p.name.startswith(".") and (".tmp-" in p.name or ".old-" in p.name):
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                    removed["staging"].append(p.name)
        chain = set(self.chain())
        if self.versions_dir.is_dir():
            for p in sorted(self.versions_dir.iterdir()):
                if p.name.startswith("."):
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                    removed["temp"].append(p.name)
                elif _VERSION_RE.match(p.name) and p.name not in chain:
                    shutil.rmtree(p)
                    removed["versions"].append(p.name)
        for d in (self.root, self.ledger_dir, self.state_dir / "runs", self.takedown_dir):
            if d.is_dir():
                for p in d.iterdir():
                    if p.is_file() and p.name.startswith(".") and p.name.endswith(".tmp"):
                        p.unlink(missing_ok=True)
                        removed["temp"].append(p.name)
        if any(removed.values()):
            log.warning("store recovery removed leftovers of interrupted runs: %s",
                        {k: len(v) for k, v in removed.items()})
        return removed

    # ------------------------------------------------------------------------------------ ledger
    def processed_inputs(self) -> dict[str, dict[str, Any]]:
        """The processed-input ledger as ``{rel_path: last entry}``."""
        out: dict[str, dict[str, Any]] = {}
        for row in read_jsonl(self.inputs_ledger):
            out[row["path"]] = row
        return out

    def record_inputs(self, rows: list[dict[str, Any]]) -> int:
        """Append processed inputs not yet in the ledger (by path and sha256). Returns rows added."""
        have = {(r["path"], r["sha256"]) for r in read_jsonl(self.inputs_ledger)}
        new = [r for r in rows if (r["path"], r["sha256"]) not in have]
        return append_jsonl(self.inputs_ledger, new)


def entries_of(store: DatasetStore, name: str) -> list[VersionEntry]:
    """The shards of a published version as :class:`VersionEntry` objects (sources inside that version)."""
    vdir = store.version_dir(name)
    return [VersionEntry(vdir / e.path, e) for e in store.version_index(name).shards]


def run_entries(run_dir: Path, run_id: str) -> tuple[ShardIndex, list[VersionEntry]]:
    """A committed run's shard index and its shards placed under ``<run_id>/`` in a version.

    Raises:
        StoreError: the run has no complete shards folder.
    """
    idx_path = Path(run_dir) / "shards" / INDEX_FILE
    if not idx_path.is_file():
        raise StoreError(
            f"{run_dir} has no shards/index.json: the nightly pipeline publishes token shards, enable the "
            "tokenize stage (tokenize.enabled: true with a tokenizer_path)"
        )
    index = ShardIndex.from_file(idx_path)
    out = []
    for e in index.shards:
        out.append(VersionEntry(Path(run_dir) / "shards" / e.path, e.model_copy(update={"path": f"{run_id}/{e.path}"})))
    return index, out


def check_compatible_index(a: ShardIndex, b: ShardIndex, what: str) -> None:
    """Fail when two shard indexes cannot be published together (other tokenizer or id layout)."""
    fields = ("tokenizer_sha256", "vocab_size", "token_dtype", "eos_id", "eos_appended")
    diff = [f for f in fields if getattr(a, f) != getattr(b, f)]
    if diff:
        raise StoreError(
            f"{what} was tokenized differently from the published version ({', '.join(diff)} differ); a store "
            "holds one tokenization: start a new store for the new tokenizer, or re-tokenize with the old one"
        )


__all__ = [
    "DatasetStore",
    "StoreError",
    "StoreLockedError",
    "VersionEntry",
    "append_jsonl",
    "check_compatible_index",
    "entries_of",
    "link_or_copy",
    "read_jsonl",
    "run_entries",
]
