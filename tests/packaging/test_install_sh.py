"""packaging/install.sh on fake kits (a stub project, seconds per install): the manifest is checked
first, every mismatch is refused with its reason, and an upgrade keeps KB_HOME, backs it up with the
old version's `kb backup` before the new version opens it, and rolls back (the old version's `kb restore`)
when `kb doctor` stays unclean. The stub's backup and restore are the product's kb/backup code, and each
backup is checked here with the product's own manifest verification and restore."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.storage.backup import restore, verify_backup
from kb.storage.locking import IngestLock
from kb.settings import Settings
from tests.packaging.conftest import build_kit, run_install

# Each install creates a venv and installs pip and a stub project (5-10 s on a busy 2-core machine);
# the tests that install two or three times are marked slow (still run by `make test`).


def _the_backup(target: Path, version: str) -> tuple[Path, dict]:
    """The one `kb backup` folder the upgrade to `version` made, and its verified manifest."""
    found = [p for p in (target / "backups").iterdir() if p.name.endswith(f"-before-{version}")]
    assert len(found) == 1 and found[0].is_dir(), found
    return found[0], verify_backup(found[0])  # every file present, sizes and sha256 as recorded


def _rewrite_kit_json(kit: Path, **changes) -> None:
    data = json.loads((kit / "kit.json").read_text())
    data.update(changes)
    (kit / "kit.json").write_text(json.dumps(data))
    build_kit.write_sha256sums(kit)  # a consistent kit, so the check under test is the one that refuses


def test_a_damaged_wheel_is_refused_before_anything_is_installed(fake_kit, tmp_path):
    kit = fake_kit()
    wheel = next((kit / "wheels").glob("kaocha_kb-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"x")
    proc = run_install(kit, tmp_path / "target")
    assert proc.returncode != 0
    assert "checksum mismatch" in proc.stderr and wheel.name in proc.stderr + proc.stdout
    assert not (tmp_path / "target").exists()


def test_a_wheel_not_in_the_manifest_is_refused(fake_kit, tmp_path):
    kit = fake_kit()
    (kit / "wheels" / "evil-1.0-py3-none-any.whl").write_bytes(b"")
    proc = run_install(kit, tmp_path / "target")
    assert proc.returncode != 0 and "not in SHA256SUMS" in proc.stderr and "evil-1.0" in proc.stderr
    assert not (tmp_path / "target").exists()


def test_another_python_version_is_refused_with_the_fix(fake_kit, tmp_path):
    kit = fake_kit()
    _rewrite_kit_json(kit, python_version="3.99")
    proc = run_install(kit, tmp_path / "target")
    assert proc.returncode != 0
    assert "Python 3.99" in proc.stderr and "PYTHON=" in proc.stderr and "nothing installed" in proc.stderr
    assert not (tmp_path / "target").exists()


def test_an_older_patch_release_than_a_package_needs_is_refused(fake_kit, tmp_path):
    kit = fake_kit()
    _rewrite_kit_json(kit, min_python="%d.%d.99" % sys.version_info[:2])
    proc = run_install(kit, tmp_path / "target")
    assert proc.returncode != 0 and "requires Python >= %d.%d.99" % sys.version_info[:2] in proc.stderr


def test_another_machine_and_an_older_glibc_are_refused(fake_kit, tmp_path):
    kit = fake_kit()
    _rewrite_kit_json(kit, machine="riscv64", min_glibc="9.99")
    proc = run_install(kit, tmp_path / "target")
    assert proc.returncode != 0
    assert "kit for riscv64" in proc.stderr and "make bundle PLATFORM=manylinux2014_" in proc.stderr
    assert "glibc >= 9.99" in proc.stderr
    assert not (tmp_path / "target").exists()


def test_a_python_older_than_3_10_is_refused(fake_kit, tmp_path):
    kit = fake_kit()
    old = tmp_path / "python3.8"
    # answers like Python 3.8 would: the version check fails, -V says 3.8
    old.write_text("#!/bin/sh\ncase \"$1\" in -V) echo 'Python 3.8.10';; *) exit 1;; esac\n")
    old.chmod(0o755)
    proc = run_install(kit, tmp_path / "target", python=str(old))
    assert proc.returncode != 0 and "3.10" in proc.stderr and "Python 3.8.10" in proc.stderr


def test_a_missing_python_is_named(fake_kit, tmp_path):
    proc = run_install(fake_kit(), tmp_path / "target", python="/nonexistent/python3")
    assert proc.returncode != 0 and "/nonexistent/python3" in proc.stderr


@pytest.mark.slow
def test_install_then_upgrade_keeps_the_data_and_backs_it_up_first(fake_kit, tmp_path):
    target = tmp_path / "target"
    first = run_install(fake_kit("0.0.1"), target)
    assert first.returncode == 0, first.stderr
    assert "no problems found" in first.stdout  # kb doctor on a fresh KB_HOME
    home = target / "home"
    assert (target / "settings.yaml").read_text().strip().endswith(f"home: {target}/home")
    launcher = subprocess.run([str(target / "kb"), "doctor"], capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert launcher.returncode == 0 and (home / "opened_by").read_text() == "0.0.1"
    (home / "users.json").write_text('{"张三": {}}')
    with open(target / "settings.yaml", "a") as fh:
        fh.write("llm: {mode: openai}\n")  # the site's own settings survive the upgrade
    old_venv = (target / "current").resolve()

    second = run_install(fake_kit("0.0.2"), target)
    assert second.returncode == 0, second.stderr
    assert "llm: {mode: openai}" in (target / "settings.yaml").read_text()
    assert (home / "users.json").read_text() == '{"张三": {}}'
    assert (home / "opened_by").read_text() == "0.0.2"  # the new version checked the real KB_HOME
    assert (target / "previous").resolve() == old_venv and (target / "current").resolve() != old_venv
    backup, manifest = _the_backup(target, "0.0.2")
    assert manifest["format"] == "kb-backup" and manifest["kb_version"] == "0.0.1"  # the old version's kb backup
    # taken before the new version opened the data: what 0.0.1 left
    assert (backup / "opened_by").read_text() == "0.0.1"
    assert (backup / "users.json").read_text() == '{"张三": {}}'
    assert not any(p.name == "ingest.lock" for p in backup.iterdir())
    assert "0.0.1" in second.stdout  # the backup message names the version it came from
    # and the product's `kb restore` takes it back: the home as 0.0.1 left it
    restored = tmp_path / "restored"
    assert restore(Settings(home=restored), backup)["restored"] == len(manifest["files"])
    assert (restored / "opened_by").read_text() == "0.0.1" and (restored / "users.json").read_text() == '{"张三": {}}'

    third = run_install(fake_kit("0.0.3"), target)
    assert third.returncode == 0, third.stderr
    venvs = sorted(p.name for p in (target / "venvs").iterdir())
    assert len(venvs) == 2 and all("0.0.1" not in v for v in venvs)  # current and previous only


@pytest.mark.slow
def test_doctor_problems_after_an_upgrade_are_repaired(fake_kit, tmp_path):
    target = tmp_path / "target"
    assert run_install(fake_kit("0.0.1"), target).returncode == 0
    (target / "home").mkdir(exist_ok=True)
    (target / "home" / "BROKEN").write_text("")
    proc = run_install(fake_kit("0.0.2"), target)
    assert proc.returncode == 0, proc.stderr
    assert "repairing" in proc.stdout and not (target / "home" / "BROKEN").exists()
    calls = (target / "home" / "calls.log").read_text().splitlines()
    assert calls[-2:] == ["0.0.2 doctor", "0.0.2 doctor --repair"]


@pytest.mark.slow
def test_an_upgrade_that_stays_unclean_is_rolled_back(fake_kit, tmp_path):
    target = tmp_path / "target"
    assert run_install(fake_kit("0.0.1"), target).returncode == 0
    home = target / "home"
    home.mkdir(exist_ok=True)
    (home / "data.txt").write_text("before")
    (home / "UNREPAIRABLE").write_text("")
    before = (target / "current").resolve()
    proc = run_install(fake_kit("0.0.2"), target)
    assert proc.returncode != 0 and "rolled back" in proc.stderr
    assert (target / "current").resolve() == before
    assert (home / "data.txt").read_text() == "before" and (home / "opened_by").exists() is False
    failed = list(target.glob("home.failed-*"))  # the state the new version left is kept for a look
    assert len(failed) == 1 and (failed[0] / "opened_by").read_text() == "0.0.2"
    assert [p.name for p in (target / "venvs").iterdir()] == [before.name]  # the new venv is gone
    # put back by the old version's `kb restore` from the `kb backup` folder taken before the upgrade
    _, manifest = _the_backup(target, "0.0.2")
    assert manifest["kb_version"] == "0.0.1"
    assert (home / "calls.log").read_text().splitlines()[-1] == "0.0.1 restore"
    assert sorted(p.name for p in home.iterdir()) == sorted([e["path"] for e in manifest["files"]] + ["calls.log"])


@pytest.mark.slow
def test_an_old_version_without_kb_backup_is_backed_up_by_the_new_one_and_rolled_back(fake_kit, tmp_path):
    target = tmp_path / "target"
    assert run_install(fake_kit("0.0.1", backup=False), target).returncode == 0
    home = target / "home"
    home.mkdir(exist_ok=True)
    (home / "data.txt").write_text("before")
    (home / "UNREPAIRABLE").write_text("")
    before = (target / "current").resolve()
    proc = run_install(fake_kit("0.0.2"), target)
    assert proc.returncode != 0 and "rolled back" in proc.stderr
    # the new version's kb backup copied the files before anything of 0.0.2 opened the home
    backup, manifest = _the_backup(target, "0.0.2")
    assert manifest["kb_version"] == "0.0.2" and not (backup / "opened_by").exists()
    assert (backup / "data.txt").read_text() == "before"
    # 0.0.1 has no kb restore: the files are copied back, without the manifest
    assert (target / "current").resolve() == before
    assert (home / "data.txt").read_text() == "before" and not (home / "opened_by").exists()
    assert not (home / "manifest.json").exists()


@pytest.mark.slow
def test_an_upgrade_while_an_ingest_holds_the_lock_changes_nothing(fake_kit, tmp_path):
    target = tmp_path / "target"
    assert run_install(fake_kit("0.0.1"), target).returncode == 0
    home = target / "home"
    home.mkdir(exist_ok=True)
    (home / "data.txt").write_text("x")
    before = (target / "current").resolve()
    with IngestLock(home / "ingest.lock"):
        proc = run_install(fake_kit("0.0.2"), target)
    assert proc.returncode != 0 and "an ingest is running" in proc.stderr and "unchanged" in proc.stderr
    assert (target / "current").resolve() == before and not (home / "opened_by").exists()
    assert not any((target / "backups").iterdir())  # no partial backup left behind
    assert [p.name for p in (target / "venvs").iterdir()] == [before.name]


@pytest.mark.slow
def test_a_kb_migrate_command_runs_after_the_backup(fake_kit, tmp_path):
    target = tmp_path / "target"
    assert run_install(fake_kit("0.0.1"), target).returncode == 0
    (target / "home").mkdir(exist_ok=True)
    (target / "home" / "data.txt").write_text("x")
    proc = run_install(fake_kit("0.0.2", migrate=True), target)
    assert proc.returncode == 0, proc.stderr
    assert (target / "home" / "migrated").read_text() == "0.0.2"
    backup, manifest = _the_backup(target, "0.0.2")
    assert "migrated" not in {e["path"] for e in manifest["files"]} and not (backup / "migrated").exists()


def test_pip_configuration_of_the_machine_is_ignored(fake_kit, tmp_path):
    """A PIP_INDEX_URL / find-links / config file on the target must not be used (nor needed)."""
    bogus = tmp_path / "pip.conf"
    bogus.write_text("[global]\nindex-url = http://127.0.0.1:9/simple\nno-index = false\n")
    proc = run_install(fake_kit(), tmp_path / "target", env={
        "PIP_CONFIG_FILE": str(bogus), "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_FIND_LINKS": str(tmp_path / "nowhere"), "PIP_NO_INDEX": "0",
    })
    assert proc.returncode == 0, proc.stderr
    assert "127.0.0.1:9" not in proc.stdout + proc.stderr


def test_default_target_is_kb_in_the_working_directory(fake_kit, tmp_path):
    kit = fake_kit()
    proc = run_install(kit, None)
    assert proc.returncode == 0, proc.stderr
    assert (kit.parent / "kb" / "kb").is_file() and (kit.parent / "kb" / "current" / "bin" / "kb").exists()
    assert sys.executable  # (the fake kit installs with this test's Python)
