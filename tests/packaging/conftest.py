"""Helpers for the kit tests: packaging/build_kit.py loaded by path (packaging/ is not a Python package),
tiny wheels, and fake kits around a stub project so install.sh is tested in seconds."""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL_SH = REPO / "packaging" / "install.sh"

_spec = importlib.util.spec_from_file_location("build_kit", REPO / "packaging" / "build_kit.py")
build_kit = importlib.util.module_from_spec(_spec)
sys.modules["build_kit"] = build_kit
_spec.loader.exec_module(build_kit)


def make_wheel(directory: Path, name: str, version: str, files: dict[str, bytes], entry_points: str = "") -> Path:
    """A pure-Python wheel with a correct RECORD."""
    directory.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files = dict(files)
    files[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if entry_points:
        files[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


# A stand-in for the product: `kb doctor [--repair]`, `kb backup DEST`, `kb restore SRC`,
# `kb --settings S --home H …`, kb.settings.load_settings.
# Marker files in KB_HOME steer it: BROKEN (doctor finds a problem, --repair fixes it), UNREPAIRABLE
# (--repair does not help). Each doctor run records the version that opened the home in opened_by,
# as a real upgrade migrates the store when the new version first opens it.
# `kb backup` / `kb restore` are the product's own code (the backup module and what it imports, copied
# into the stub wheel under their module names), so what an upgrade writes to backups/ is a real
# `kb backup` folder that the real `kb restore` accepts.
_STUB_SETTINGS = '''
import os
from pathlib import Path
from types import SimpleNamespace


class _Settings:
    def __init__(self, home):
        self.home = home
        self.chroma = SimpleNamespace(url=None, collection="kb")

    @property
    def lock_file(self):
        return self.home / "ingest.lock"


Settings = _Settings


def load_settings(path=None, env=None):
    env = os.environ if env is None else env
    settings_file = Path(path or env.get("KB_SETTINGS", "settings.yaml"))
    home = ".kb_home"
    if settings_file.is_file():
        for line in settings_file.read_text(encoding="utf-8").splitlines():
            if line.startswith("home:"):
                home = line.split(":", 1)[1].strip()
    return _Settings(Path(env.get("KB_HOME", home)).expanduser().resolve())
'''

_STUB_CLI = '''
import argparse
import sys
from pathlib import Path

from {settings_module} import load_settings

VERSION = "{version}"
MIGRATE = {migrate}
BACKUP = {backup}


def main():
    p = argparse.ArgumentParser(prog="kb")
    p.add_argument("--settings")
    p.add_argument("--home")
    sub = p.add_subparsers(dest="cmd", required=True)
    doctor = sub.add_parser("doctor")
    doctor.add_argument("--repair", action="store_true")
    if MIGRATE:
        sub.add_parser("migrate")
    if BACKUP:
        sub.add_parser("backup").add_argument("dest")
        restore = sub.add_parser("restore")
        restore.add_argument("src")
        restore.add_argument("--force", action="store_true")
    args = p.parse_args()
    settings = load_settings(args.settings)
    if args.home:
        settings.home = Path(args.home)
    home = settings.home
    if args.cmd == "backup":  # opens nothing: the product's backup copies files
        from {backup_module} import backup
        from {locking_module} import LockHeld

        try:
            manifest = backup(settings, args.dest)
        except LockHeld as exc:  # exit code 3, as the product's `kb backup`
            print(exc, file=sys.stderr)
            return 3
        print(f"backed up {{len(manifest['files'])}} files")
        return 0
    home.mkdir(parents=True, exist_ok=True)
    if args.cmd == "restore":
        from {backup_module} import restore

        restore(settings, args.src, force=args.force)
    with open(home / "calls.log", "a") as fh:
        fh.write(f"{{VERSION}} {{args.cmd}}{{' --repair' if getattr(args, 'repair', False) else ''}}\\n")
    if args.cmd == "restore":  # the version that wrote the data finds it consistent
        print("restored; no problems found")
        return 0
    if args.cmd == "migrate":
        (home / "migrated").write_text(VERSION)
        return 0
    (home / "opened_by").write_text(VERSION)
    if (home / "BROKEN").exists() or (home / "UNREPAIRABLE").exists():
        if args.repair and not (home / "UNREPAIRABLE").exists():
            (home / "BROKEN").unlink()
            print("repaired")
            return 0
        print("problems found")
        return 1
    print("no problems found")
    return 0
'''


def _module_path(name: str) -> str:
    return name.replace(".", "/") + ".py"


def _product_backup_files() -> dict[str, bytes]:
    """The product's backup module and the kb modules it imports, at the paths of their module names
    (so the stub follows them when they move into subpackages), with the packages between."""
    import kb.storage.backup
    import kb.storage.doc_ids
    import kb.storage.locking

    files: dict[str, bytes] = {}
    for module in (kb.storage.backup, kb.storage.doc_ids, kb.storage.locking):
        files[_module_path(module.__name__)] = Path(module.__file__).read_bytes()
        parts = module.__name__.split(".")
        for i in range(2, len(parts)):
            files.setdefault("/".join(parts[:i]) + "/__init__.py", b"")
    return files


def stub_project_wheel(directory: Path, version: str, migrate: bool = False, backup: bool = True) -> Path:
    """backup=False: a version from before `kb backup` / `kb restore`."""
    import kb.storage.backup
    import kb.storage.locking
    import kb.settings

    files = _product_backup_files() if backup else {}
    files.update({
        "kb/__init__.py": b"",
        _module_path(kb.settings.__name__): _STUB_SETTINGS.encode(),
        "kb/cli.py": _STUB_CLI.format(version=version, migrate=migrate, backup=backup,
                                      settings_module=kb.settings.__name__, backup_module=kb.storage.backup.__name__,
                                      locking_module=kb.storage.locking.__name__).encode(),
    })
    return make_wheel(directory, "kaocha_kb", version, files, entry_points="[console_scripts]\nkb = kb.cli:main\n")


def bundled_pip_wheel() -> Path | None:
    """The pip wheel Python ships for ensurepip (some distributions strip it)."""
    try:
        import ensurepip
    except ImportError:
        return None
    found = sorted((Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl"))
    if not found:
        base = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "ensurepip" / "_bundled"
        found = sorted(base.glob("pip-*.whl"))
    return found[-1] if found else None


def write_kit(kit: Path, version: str, *, migrate: bool = False, backup: bool = True, **kit_json) -> Path:
    """A complete fake kit (stub project + pip) in `kit`, with a correct SHA256SUMS."""
    pip_wheel = bundled_pip_wheel()
    if pip_wheel is None:
        pytest.skip("this Python has no bundled pip wheel (ensurepip) to build a fake kit")
    wheels = kit / "wheels"
    wheels.mkdir(parents=True)
    project = stub_project_wheel(wheels, version, migrate=migrate, backup=backup)
    shutil.copy2(pip_wheel, wheels / pip_wheel.name)
    glibc = build_kit.host_glibc()
    manifest = {
        "name": "kaocha-kb", "version": version, "kit_name": kit.name,
        "platform": f"manylinux_2_17_{platform.machine()}", "machine": platform.machine(),
        "python_version": "%d.%d" % sys.version_info[:2], "min_glibc": "2.17" if glibc else "any", "min_python": "%d.%d.0" % sys.version_info[:2],
        "extras": [], "project_wheel": project.name, "pip_wheel": pip_wheel.name,
    }
    manifest.update(kit_json)
    (kit / "kit.json").write_text(json.dumps(manifest), encoding="utf-8")
    shutil.copy2(INSTALL_SH, kit / "install.sh")
    build_kit.write_sha256sums(kit)
    return kit


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without KB_* and PIP_* (install.sh must not depend on them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "PIP_"))}
    env.update(extra)
    return env


def run_install(kit: Path, target: Path | None, python: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = ["bash", str(kit / "install.sh")] + ([str(target)] if target is not None else [])
    env = clean_env(PYTHON=python or sys.executable, **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=kit.parent, timeout=600)


@pytest.fixture
def fake_kit(tmp_path):
    def make(version: str = "0.0.1", name: str | None = None, **kw) -> Path:
        return write_kit(tmp_path / (name or f"kb-offline-{version}"), version, **kw)
    return make
