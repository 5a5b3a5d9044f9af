"""KB_HOME at rest: the folder private to its owner (0700), every file in it 0600.

KB_HOME holds the full text of restricted (保密) collections (the Chroma store, the lexical index
snapshots), password and API-key hashes, conversations and the audit log. Measured before this
existed: with the default umask those files were world-readable, and an unprivileged local account
read a restricted report straight from them.

- `secure_home(home)`: called when the services are built (kb/container.py), so every entry point
  — `kb serve`, every `kb` command — creates KB_HOME 0700 and sets the process umask to 0o077:
  whatever the product writes from then on (SQLite files, the Chroma directory, lexical index
  snapshots, exports, uploads Gradio stores for the server) is private to the owner.
- `loose_permissions(home)` / `repair_permissions(home)`: `kb doctor` reports anything in KB_HOME
  readable or writable by group or others, and `--repair` narrows it (a KB_HOME created by an
  older version, or copied in with `cp -r`).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

PRIVATE_UMASK = 0o077
_LOOSE = 0o077  # any group or other permission bit


def secure_home(home: str | Path) -> Path:
    """Set the private umask and create `home` 0700 (an existing folder is left as it is: doctor
    reports it, --repair narrows it — this may be a folder the owner chose for other uses too)."""
    os.umask(PRIVATE_UMASK)
    home = Path(home)
    if not home.exists():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(home, 0o700)  # mkdir's mode is filtered by the umask of the parent call; be explicit
    return home


def loose_permissions(home: str | Path, limit: int = 1000) -> list[dict[str, Any]]:
    """Paths in `home` (itself included) with group or other permissions, at most `limit`:
    [{"path", "mode", "kind"}] with the mode as an octal string. Symbolic links are not followed."""
    home = Path(home)
    if not home.is_dir():
        return []
    found: list[dict[str, Any]] = []

    def check(path: Path, kind: str) -> None:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except OSError:
            return
        if mode & _LOOSE and len(found) < limit:
            found.append({"path": str(path), "mode": oct(mode), "kind": kind})

    check(home, "dir")
    for folder, dirnames, filenames in os.walk(home):
        here = Path(folder)
        for name in dirnames:
            if not (here / name).is_symlink():
                check(here / name, "dir")
        for name in filenames:
            path = here / name
            if not path.is_symlink():
                check(path, "file")
        if len(found) >= limit:
            break
    return found


def repair_permissions(home: str | Path) -> int:
    """Remove group and other bits from `home` and everything in it; returns how many changed."""
    home = Path(home)
    changed = 0
    if not home.is_dir():
        return 0
    paths = [home]
    for folder, dirnames, filenames in os.walk(home):
        here = Path(folder)
        paths.extend(here / n for n in dirnames + filenames)
    for path in paths:
        try:
            if path.is_symlink():
                continue
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & _LOOSE:
                os.chmod(path, mode & ~_LOOSE)
                changed += 1
        except OSError:
            continue
    return changed


def permission_problems(home: str | Path) -> list[str]:
    """Human-readable problems for `kb doctor`; empty when KB_HOME is private."""
    loose = loose_permissions(home)
    if not loose:
        return []
    shown = ", ".join(f"{item['path']} ({item['mode']})" for item in loose[:3])
    more = f" and {len(loose) - 3} more" if len(loose) > 3 else ""
    return [f"{len(loose)} paths in KB_HOME readable or writable by other accounts: {shown}{more} "
            "(--repair makes them 0700/0600)"]


def doctor_check(result: dict[str, Any], home: str | Path, repair: bool) -> None:
    """Add KB_HOME's permissions to a `kb doctor` result (kb/cli/doctor_cmd.py): a loose path is a
    problem; with `repair` it is narrowed, and only what stays loose keeps the result from ok."""
    found = permission_problems(home)
    result["permissions"] = loose_permissions(home, limit=20)
    if not found:
        return
    result["problems"] = list(result.get("problems") or []) + found
    if not repair:
        result["ok"] = False
        return
    result["permissions_repaired"] = repair_permissions(home)
    left = permission_problems(home)
    result["repaired"] = True
    result["remaining"] = list(result.get("remaining") or []) + left
    result["ok"] = bool(result.get("ok", True)) and not left
    result["permissions"] = loose_permissions(home, limit=20)
