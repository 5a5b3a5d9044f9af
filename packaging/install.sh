#!/usr/bin/env bash
# 考察知识库 offline installer:  ./install.sh [TARGET_DIR]      (default ./kb; PYTHON=/path/to/python3.11 to choose the Python)
#
# Never touches the network: pip runs with --no-index on this kit's wheels/ only, with every pip
# configuration file and PIP_* variable of the machine ignored (a mirror or find-links configured there
# must not decide what gets installed).
#
# Layout of TARGET_DIR (an upgrade keeps everything but the venv):
#   kb                  launcher: runs the current version with TARGET_DIR/settings.yaml
#   settings.yaml       written once, never overwritten (home: TARGET_DIR/home)
#   home/               KB_HOME: store, lexical index, users, audit log, feedback
#   venvs/<name>-<version>-<time>/   one venv per installation; current -> the one in use, previous -> the one before
#   backups/            KB_HOME as it was before a new version first opened it: a `kb backup` folder each
#                       (files + manifest.json with every size and sha256), put back with `kb restore`
#
# Order: manifest first (a damaged or altered kit installs nothing), then Python and platform, then a
# new venv beside the old one; only when it is complete does `current` switch. An existing KB_HOME is
# backed up with the installed (old) version's own `kb backup` before the new version opens it (Chroma
# migrates its database on first open, the lexical index is rebuilt when its format changed): it holds
# the ingest lock and copies SQLite databases with SQLite's backup API, so a `kb serve` still answering
# (and writing conversations, audit rows) cannot leave a torn copy, as a tar of the folder could. If
# `kb doctor` is not clean afterwards (after --repair), the old version is switched back and its own
# `kb restore` puts the backup back and checks it.
set -euo pipefail

KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET_ARG="${1:-./kb}"
case "$TARGET_ARG" in /*) ;; *) TARGET_ARG="$PWD/$TARGET_ARG" ;; esac  # relative to where it was run, not to the kit
PYTHON="${PYTHON:-python3}"

die() { echo "install.sh: 错误 (error): $*" >&2; exit 1; }
say() { echo "[install] $*"; }

# pip sees only what this script gives it.
while IFS='=' read -r name _; do
  case "$name" in PIP_*) unset "$name" ;; esac
done < <(env)
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONNOUSERSITE=1
# nor may a PYTHONPATH of this shell put other code ahead of the venv's (its `kb` would not be the kit's)
unset PYTHONPATH PYTHONHOME

# ---- 1. manifest -----------------------------------------------------------------------------------
cd "$KIT"
[ -f SHA256SUMS ] || die "$KIT/SHA256SUMS 缺失：安装包不完整 (the kit is incomplete; copy the whole .tar.gz again)"
if command -v sha256sum >/dev/null 2>&1; then
  if ! out="$(sha256sum --check --strict --quiet SHA256SUMS 2>&1)"; then
    die "校验失败，安装包损坏或被改动 (checksum mismatch: the kit is damaged or altered):
$out"
  fi
else
  # no coreutils sha256sum (rare): the same check in Python
  "$PYTHON" - <<'EOF' || die "校验失败，安装包损坏或被改动 (checksum mismatch: the kit is damaged or altered)"
import hashlib, sys
bad = []
for line in open("SHA256SUMS", encoding="utf-8"):
    digest, name = line.rstrip("\n").split("  ", 1)
    try:
        with open(name, "rb") as fh:
            ok = hashlib.sha256(fh.read()).hexdigest() == digest
    except OSError:
        ok = False
    if not ok:
        bad.append(name)
print("\n".join(f"{n}: FAILED" for n in bad), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
fi
# a wheel that the manifest does not list would be installable too: refuse it
unlisted="$(comm -13 <(awk '{print $2}' SHA256SUMS | sort) <(find wheels -type f | sort))"
[ -z "$unlisted" ] || die "wheels/ 中有清单之外的文件 (files not in SHA256SUMS): $unlisted"
say "SHA256SUMS: $(wc -l < SHA256SUMS) files verified"

# ---- 2. Python and platform ---------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die "找不到 Python ($PYTHON)：需要 Python 3.10 或更高版本；用 PYTHON=/path/to/python3 ./install.sh 指定"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "需要 Python 3.10 或更高版本，$PYTHON 是 $("$PYTHON" -V 2>&1) (Python >= 3.10 required)"
# kit.json says what the binary wheels were built for; every mismatch is named, with the fix
kitvars="$("$PYTHON" - kit.json <<'EOF'
import json, platform, shlex, sys
kit = json.load(open(sys.argv[1], encoding="utf-8"))
problems = []
here_py = "%d.%d" % sys.version_info[:2]
if here_py != kit["python_version"]:
    problems.append(
        f"此安装包的二进制 wheel 为 Python {kit['python_version']} 构建，{sys.executable} 是 Python {here_py} "
        f"(the kit's wheels are for Python {kit['python_version']}): install Python {kit['python_version']} and run "
        f"PYTHON=/path/to/python{kit['python_version']} ./install.sh, or build a kit on a networked machine with that Python "
        f"(make bundle PLATFORM=... PYTHON_VERSION={here_py})")
need_py = tuple(int(x) for x in kit.get("min_python", kit["python_version"]).split("."))
if here_py == kit["python_version"] and sys.version_info[:3] < need_py:
    problems.append(
        f"此安装包需要 Python >= {kit['min_python']}，{sys.executable} 是 {platform.python_version()} "
        f"(a package in the kit requires Python >= {kit['min_python']}): use a newer {kit['python_version']}.x, or build a kit "
        f"for this one on a networked machine (make bundle PLATFORM=... PYTHON_VERSION={platform.python_version()})")
machine = platform.machine().lower().replace("arm64", "aarch64").replace("amd64", "x86_64")
if machine != kit["machine"]:
    problems.append(
        f"此安装包为 {kit['machine']} 构建，本机是 {machine} (kit for {kit['machine']}, this machine is {machine}): "
        f"build one with make bundle PLATFORM=manylinux2014_{machine}")
lib, version = platform.libc_ver()
if lib != "glibc":
    problems.append("本机没有 glibc（musl?），manylinux wheel 无法运行 (no glibc on this machine: manylinux wheels cannot run)")
elif kit["min_glibc"] != "any":
    need = tuple(int(x) for x in kit["min_glibc"].split("."))
    have = tuple(int(x) for x in version.split(".")[:2])
    if have < need:
        problems.append(
            f"此安装包需要 glibc >= {kit['min_glibc']}，本机为 {version} (the kit needs glibc >= {kit['min_glibc']}): "
            f"build one with make bundle PLATFORM=manylinux_{have[0]}_{have[1]}_{machine} (or manylinux2014_{machine})")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
extras = ",".join(kit["extras"])
for key, value in (("KIT_NAME", kit["kit_name"]), ("KIT_VERSION", kit["version"]), ("PROJECT", kit["name"]),
                   ("PROJECT_WHEEL", kit["project_wheel"]), ("PIP_WHEEL", kit["pip_wheel"]), ("EXTRAS", extras)):
    print(f"{key}={shlex.quote(value)}")
EOF
)" || die "平台不符，未安装任何内容 (platform mismatch, nothing installed)"
eval "$kitvars"
say "$KIT_NAME: $PROJECT $KIT_VERSION [$EXTRAS] for $("$PYTHON" -V 2>&1) on $(uname -m)"

# ---- 3. venv ----------------------------------------------------------------------------------------------
mkdir -p "$TARGET_ARG" || die "无法创建 $TARGET_ARG (cannot create the target directory)"
TARGET="$(cd "$TARGET_ARG" && pwd)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
NEW="$TARGET/venvs/$PROJECT-$KIT_VERSION-$STAMP"
OLD=""
if [ -L "$TARGET/current" ] && [ -d "$TARGET/current/" ]; then
  OLD="$(readlink -f "$TARGET/current")"
fi
OLD_VERSION=""
if [ -n "$OLD" ] && [ -f "$OLD/kit.json" ]; then
  OLD_VERSION="$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$OLD/kit.json" 2>/dev/null || true)"
fi
mkdir -p "$TARGET/venvs"
SWITCHED=0
# a venv that never became `current` is half an installation: remove it however the script ends
trap '[ "$SWITCHED" = 1 ] || rm -rf "$NEW"' EXIT
# --without-pip: Debian-family systems ship venv without ensurepip; pip comes from the kit instead
"$PYTHON" -m venv --without-pip "$NEW" || die "python -m venv 失败 (venv creation failed)"
"$NEW/bin/python" "$KIT/wheels/$PIP_WHEEL/pip" install --no-index --find-links "$KIT/wheels" --quiet "$KIT/wheels/$PIP_WHEEL" \
  || die "pip 安装失败 (installing pip into the venv failed)"
say "installing $PROJECT $KIT_VERSION and its dependencies from wheels/ (--no-index)"
"$NEW/bin/python" -m pip install --no-index --find-links "$KIT/wheels" --only-binary=:all: --no-cache-dir --quiet \
  "$KIT/wheels/$PROJECT_WHEEL${EXTRAS:+[$EXTRAS]}" || die "依赖安装失败 (pip install from the kit failed)"
"$NEW/bin/python" -m pip check >/dev/null || die "依赖不一致 (pip check failed): $("$NEW/bin/python" -m pip check 2>&1 | head -5)"
cp "$KIT/kit.json" "$NEW/kit.json"

# a run with no settings file and no KB_* variable of this shell: the install itself is checked
clean_kb_env() { local v; for v in $(env | sed -n 's/^\(KB_[A-Za-z0-9_]*\)=.*/\1/p'); do printf -- '-u %s ' "$v"; done; }
FRESH="$(mktemp -d "${TMPDIR:-/tmp}/kb-install-check.XXXXXX")"
# shellcheck disable=SC2046
if ! env $(clean_kb_env) "$NEW/bin/kb" --settings /nonexistent/kb-install-check.yaml --home "$FRESH/home" doctor; then
  rm -rf "$FRESH"
  die "新安装的 kb doctor 在空知识库上失败 (kb doctor failed on a fresh KB_HOME); nothing was switched"
fi
rm -rf "$FRESH"

# ---- 4. settings, launcher ----------------------------------------------------------------------------------
if [ ! -f "$TARGET/settings.yaml" ]; then
  cat > "$TARGET/settings.yaml" <<EOF
# 考察知识库 settings of this installation (kept across upgrades; see the README's Settings table).
home: $TARGET/home
EOF
fi
cat > "$TARGET/kb.new" <<EOF
#!/bin/sh
# 考察知识库 launcher written by install.sh: this installation's version and settings.yaml
# (KB_SETTINGS / KB_* variables still win, as everywhere).
KB_SETTINGS="\${KB_SETTINGS:-$TARGET/settings.yaml}"
export KB_SETTINGS
exec "$TARGET/current/bin/kb" "\$@"
EOF
chmod 755 "$TARGET/kb.new"
mv -f "$TARGET/kb.new" "$TARGET/kb"

KB_HOME_DIR="$(cd "$TARGET" && KB_SETTINGS="${KB_SETTINGS:-$TARGET/settings.yaml}" "$NEW/bin/python" -c \
  'from kb.settings import load_settings; print(load_settings().home)')"

switch_to() { ln -sfn "$1" "$TARGET/current.new" && mv -fT "$TARGET/current.new" "$TARGET/current"; }

# ---- 5. existing data: backup, switch, migrate, check ----------------------------------------------------------
# `kb` of a venv, run as the launcher runs it (this installation's settings.yaml unless KB_SETTINGS says otherwise)
kb_of() { local venv="$1"; shift; (cd "$TARGET" && KB_SETTINGS="${KB_SETTINGS:-$TARGET/settings.yaml}" "$venv/bin/kb" "$@"); }
has_cmd() { [ -n "$1" ] && [ -x "$1/bin/kb" ] && kb_of "$1" "$2" --help >/dev/null 2>&1; }

BACKUP=""
if [ -d "$KB_HOME_DIR" ] && [ -n "$(ls -A "$KB_HOME_DIR" 2>/dev/null)" ]; then
  mkdir -p "$TARGET/backups"
  BACKUP="$TARGET/backups/home-$STAMP-before-$KIT_VERSION"
  # The version that wrote the data backs it up. A version older than `kb backup` (or a KB_HOME with no
  # installed version) is backed up by the new venv's `kb backup`: it only copies files (SQLite through its
  # backup API) and opens no store, so nothing is migrated before the copy is complete.
  if has_cmd "$OLD" backup; then BACKUP_BY="$OLD"; else BACKUP_BY="$NEW"; fi
  say "backing up KB_HOME $KB_HOME_DIR (${OLD_VERSION:-unknown version}) to $BACKUP with kb backup of $(basename "$BACKUP_BY")"
  rm -rf "$BACKUP.partial"
  set +e; kb_of "$BACKUP_BY" backup "$BACKUP.partial"; code=$?; set -e
  if [ "$code" != 0 ]; then
    rm -rf "$BACKUP.partial"
    [ "$code" = 3 ] && die "正在导入，无法备份，未切换版本 (an ingest is running on $KB_HOME_DIR: stop kb serve / kb ingest and install again; the installed version is unchanged)"
    die "备份失败，未切换版本 (kb backup failed with exit code $code; the installed version is unchanged)"
  fi
  # complete (kb backup writes its manifest last): only now does it get its final name
  mv "$BACKUP.partial" "$BACKUP"
fi
switch_to "$NEW"
SWITCHED=1
[ -n "$OLD" ] && [ "$OLD" != "$NEW" ] && ln -sfn "$OLD" "$TARGET/previous"

rollback() {
  echo "install.sh: $1" >&2
  if [ -n "$OLD" ]; then switch_to "$OLD"; else rm -f "$TARGET/current"; fi
  if [ -n "$BACKUP" ]; then
    # what the new version left is kept for a look; the backup goes into an empty KB_HOME
    mv "$KB_HOME_DIR" "$KB_HOME_DIR.failed-$STAMP"
    mkdir -m 700 "$KB_HOME_DIR"
    if has_cmd "$OLD" restore; then
      # the old version verifies the manifest (sizes, sha256), restores and checks the result like kb doctor
      set +e; kb_of "$OLD" restore "$BACKUP" >&2; code=$?; set -e
      [ "$code" = 0 ] || echo "install.sh: kb restore ended with exit code $code: see above; the backup is $BACKUP" >&2
    else
      # a version older than `kb restore` reads a plain copy: the backup folder is KB_HOME's files plus its manifest
      cp -a "$BACKUP/." "$KB_HOME_DIR/" && rm -f "$KB_HOME_DIR/manifest.json"
    fi
    echo "install.sh: KB_HOME restored from $BACKUP (the failed one is kept as $KB_HOME_DIR.failed-$STAMP)" >&2
  fi
  SWITCHED=0
  die "已回退到原版本 (rolled back to ${OLD_VERSION:-no installation})"
}

if [ -n "$BACKUP" ]; then
  # a future `kb migrate` runs here, after the backup; today the store migrates itself on open
  if "$TARGET/kb" migrate --help >/dev/null 2>&1; then
    "$TARGET/kb" migrate || rollback "kb migrate 失败 (data migration failed)"
  fi
  set +e; "$TARGET/kb" doctor; code=$?; set -e
  if [ "$code" = 3 ]; then
    rollback "正在导入，无法检查 (an ingest is running on $KB_HOME_DIR: stop kb serve / kb ingest and install again)"
  elif [ "$code" != 0 ]; then
    say "kb doctor found problems after the upgrade: repairing (the backup is $BACKUP)"
    "$TARGET/kb" doctor --repair || rollback "kb doctor --repair 未能修复 (still inconsistent after the upgrade)"
  fi
fi

# keep the current and the previous venv (the previous one is the way back)
for dir in "$TARGET"/venvs/*/; do
  dir="${dir%/}"
  [ "$dir" = "$NEW" ] || [ "$dir" = "$OLD" ] || rm -rf "$dir"
done

# ---- 6. optional system packages -----------------------------------------------------------------------------
command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1 \
  || say "optional: LibreOffice not found — .doc/.wps files cannot be ingested until it is installed (see README.md, Debian packages)"

say "done: $PROJECT $KIT_VERSION in $TARGET (KB_HOME $KB_HOME_DIR${BACKUP:+, backup $BACKUP})"
say "start: $TARGET/kb serve --host 0.0.0.0 --port 7860     (kb ingest / ask / doctor … likewise)"
