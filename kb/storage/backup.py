"""`kb backup DEST` / `kb restore SRC`: a consistent copy of everything under KB_HOME — the Chroma
store, the lexical index, users, grants, API keys, conversations, the audit log — taken while app
instances keep serving, and put back into a KB_HOME.

Why it is consistent:
  - it holds the ingest lock (kb/storage/locking.py) for the whole copy, so no ingest, `kb docs remove` or
    `kb doctor --repair` of this KB_HOME writes the store or the lexical index meanwhile;
  - every SQLite database (found by its header, not its name: chroma.sqlite3, audit.sqlite3,
    conversations.sqlite3, …) is copied with SQLite's online backup API, which gives one
    transactionally consistent snapshot even while the app writes conversations or audit rows; a
    plain file copy could catch a page half-written or miss what is still in the -wal file;
  - chroma.sqlite3 is copied before the vector segment files: a segment newer than the catalogue
    that names it is brought up to date again from the log, while an older one would miss vectors
    whose log rows were already purged. A segment file that changes while it is copied (a serving
    instance persisting its index) is copied again;
  - the manifest (format, versions, time, every file with size and sha256) is written last, so a
    backup interrupted half-way has none and `kb restore` refuses it.

Not copied: ``ingest.lock`` (a lock, not data), SQLite -wal/-shm/-journal files (the backup API has
folded them in), and ``cache/`` (word vectors converted from the cnsyn package, made again on first
use). With a shared `chroma run` server (chroma.url) the store is not under KB_HOME: back the
server's --path up on its host (see docs/reliability.md).
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kb.storage.doc_ids import file_sha256
from kb.storage.locking import IngestLock
from kb.settings import Settings

FORMAT = "kb-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MAGIC = b"SQLite format 3\x00"
_SKIP_FILES = {"ingest.lock"}
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal")
_SKIP_DIRS = {"cache"}
_COPY_TRIES = 3


class BackupError(Exception):
    """A backup or restore that cannot be done as asked (the message says why)."""


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("kaocha-kb")
    except Exception:  # running from a source tree that was never installed
        return "unknown"


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _files_to_copy(home: Path) -> list[Path]:
    """Relative paths under KB_HOME: SQLite databases first (see the module doc), then the rest."""
    found: list[Path] = []
    for folder, dirnames, filenames in os.walk(home):
        here = Path(folder)
        rel_dir = here.relative_to(home)
        dirnames[:] = sorted(
            d for d in dirnames
            if not (rel_dir == Path(".") and d in _SKIP_DIRS) and not d.startswith(".restore-")
        )
        for name in sorted(filenames):
            path = here / name
            if name in _SKIP_FILES and rel_dir == Path("."):
                continue
            if name.endswith(_SKIP_SUFFIXES) or not path.is_file() or path.is_symlink():
                continue
            found.append(path.relative_to(home))
    return sorted(found, key=lambda rel: (not _is_sqlite(home / rel), rel.as_posix()))


def _copy_sqlite(src: Path, dst: Path) -> None:
    source = sqlite3.connect(str(src), timeout=30.0)
    try:
        target = sqlite3.connect(str(dst))
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _signature(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _copy_file(src: Path, dst: Path) -> None:
    for _ in range(_COPY_TRIES):
        before = _signature(src)
        shutil.copyfile(src, dst)
        if _signature(src) == before:
            return
    raise BackupError(f"{src} kept changing while it was copied; is another process writing this KB_HOME?")


def backup(settings: Settings, dest: str | Path, wait_s: float = 0.0) -> dict[str, Any]:
    """Copy KB_HOME to `dest` (a new or empty folder) under the ingest lock; returns the manifest.
    Raises LockHeld while an ingest runs (after `wait_s` seconds), BackupError when refused."""
    home = settings.home
    dest = Path(dest).expanduser().resolve()
    if not home.is_dir():
        raise BackupError(f"KB_HOME {home} does not exist")
    if dest == home or home in dest.parents:
        raise BackupError(f"{dest} is inside KB_HOME {home}; choose a folder outside it")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder")
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o700)  # password hashes, API key hashes, the audit log and 保密 documents
    lock = IngestLock(settings.lock_file).acquire(timeout=wait_s)
    try:
        entries = []
        for rel in _files_to_copy(home):
            src, dst = home / rel, dest / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            sqlite = _is_sqlite(src)
            if sqlite:
                _copy_sqlite(src, dst)
            else:
                _copy_file(src, dst)
            os.chmod(dst, stat.S_IMODE(src.stat().st_mode))
            entries.append({"path": rel.as_posix(), "size": dst.stat().st_size, "sha256": file_sha256(dst), "sqlite": sqlite})
    finally:
        lock.release()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kb_version": _package_version(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_home": str(home),
        "store": settings.chroma.url or "embedded",
        "collection_prefix": settings.chroma.collection,
        "files": entries,
    }
    tmp = dest / f".{MANIFEST}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dest / MANIFEST)
    return manifest


def verify_backup(src: str | Path) -> dict[str, Any]:
    """The manifest of a complete, intact backup; BackupError naming the first thing wrong."""
    src = Path(src).expanduser().resolve()
    path = src / MANIFEST
    if not path.is_file():
        raise BackupError(f"{src} holds no {MANIFEST}: not a backup, or one that did not finish")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path} cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a kb backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"backup format version {manifest.get('format_version')} is not {FORMAT_VERSION}")
    listed = set()
    for entry in manifest.get("files") or []:
        rel = Path(str(entry.get("path", "")))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise BackupError(f"manifest names a path outside the backup: {entry.get('path')!r}")
        listed.add(rel.as_posix())
        file = src / rel
        if not file.is_file():
            raise BackupError(f"{rel} is missing from the backup")
        if file.stat().st_size != entry.get("size"):
            raise BackupError(f"{rel}: size {file.stat().st_size} is not the {entry.get('size')} bytes the manifest records")
        if file_sha256(file) != entry.get("sha256"):
            raise BackupError(f"{rel}: sha256 does not match the manifest (the file was changed or damaged)")
    extra = sorted(
        p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file() and p.name != MANIFEST
    )
    unlisted = [p for p in extra if p not in listed]
    if unlisted:
        raise BackupError(f"{unlisted[0]} is in the backup folder but not in its manifest")
    return manifest


def restore(settings: Settings, src: str | Path, force: bool = False) -> dict[str, Any]:
    """Put a verified backup into KB_HOME. A KB_HOME holding anything is refused unless `force`;
    then what it held is moved aside (never deleted) to ``<KB_HOME>.before-restore-<time>``.
    Stop the app instances of this KB_HOME first: they would keep the replaced files open."""
    src = Path(src).expanduser().resolve()
    manifest = verify_backup(src)
    home = settings.home
    if home == src or src in home.parents or home in src.parents:
        raise BackupError(f"the backup {src} and KB_HOME {home} overlap")
    home.mkdir(parents=True, exist_ok=True)
    lock = IngestLock(settings.lock_file).acquire()
    try:
        present = sorted(p for p in home.iterdir() if p.name != settings.lock_file.name)
        aside = None
        if present and not force:
            raise BackupError(
                f"KB_HOME {home} is not empty ({', '.join(p.name for p in present[:5])}); "
                f"restore into an empty folder, or pass --force to move what is there aside"
            )
        staging = home / f".restore-{uuid.uuid4().hex[:8]}"
        staging.mkdir(mode=0o700)
        try:
            for entry in manifest["files"]:
                dst = staging / entry["path"]
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src / entry["path"], dst)
                os.chmod(dst, stat.S_IMODE((src / entry["path"]).stat().st_mode))
                if file_sha256(dst) != entry["sha256"]:
                    raise BackupError(f"{entry['path']} changed while it was restored")
            if present:
                stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
                aside = home.parent / f"{home.name}.before-restore-{stamp}"
                aside.mkdir(mode=0o700)
                for p in present:
                    os.replace(p, aside / p.name)
            for p in sorted(staging.iterdir()):
                os.replace(p, home / p.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        lock.release()
    return {
        "restored": len(manifest["files"]),
        "from": str(src),
        "created_at": manifest.get("created_at"),
        "kb_version": manifest.get("kb_version"),
        "store": manifest.get("store"),
        "moved_aside": str(aside) if aside else None,
    }
