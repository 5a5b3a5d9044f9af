"""Build the offline installation kit: ``dist/kb-offline-<version>-<python>-<platform>.tar.gz``.

Run on a machine that can reach a package registry (``make bundle``, ``make bundle
PLATFORM=manylinux2014_aarch64``, ``make bundle EXTRAS=semantic``); the kit is then carried into the
internal network (内网), where ``install.sh`` installs it without any network access.

Steps:
  1. copy the source tree (tracked and untracked-but-not-ignored files) and build the project wheel
     there — an in-tree build would leave build/ behind, and setuptools never cleans build/lib, so a
     module deleted since the last build would end up in the wheel;
  2. add to the wheel the files the product reads from the source tree outside its packages (app.py for
     `kb serve`, prompts/*.yaml for kb/generation/prompts.py) when pyproject.toml does not already ship them;
  3. resolve the default install + the ``ocr`` extra (+ EXTRAS) to binary wheels for the target
     (pip ``--only-binary=:all:``, with ``--platform/--python-version/--abi`` for another platform).
     A requirement with no wheel is built from its sdist here; a pure-Python result (py3-none-any) works
     on every platform and is used, anything else is reported as unresolvable for a foreign platform;
  4. for a foreign platform, compare with this machine's resolution and say exactly which packages have
     no wheel at the version this machine gets, and what replaces them (an older release with a wheel,
     a locally built pure-Python wheel);
  5. download exactly the resolved files, write kit.json, README.md, install.sh, SHA256SUMS, and pack.

Run-time data: the product reads its word vectors and synonym groups from the installed ``cnsyn``
package (kb/retrieval/wordvectors.py), so they travel as that wheel; the build checks the wheel holds the two
files. Nothing else is downloaded at run time (no model, no tokenizer, no NLTK data).

``--check`` stops after step 4 (metadata only, nothing large downloaded): the documented ARM64 check.
"""
from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import platform as _platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_EXTRAS = ("ocr",)  # the default kit: the default install plus OCR for scanned PDFs
# Files kb/retrieval/wordvectors.py reads from the cnsyn wheel (kept in step with its TREE_FILE / SYNONYMS_FILE).
CNSYN_DATA = ("cnsyn/query/words_tree_mini.m", "cnsyn/chinese_dictionary/sim_words.txt")
# Extras and the feature each gives, for the "what replaces it" advice when an extra cannot be resolved.
EXTRA_FEATURES = {
    "ocr": "OCR of scanned PDFs (rapidocr_onnxruntime, pypdfium2)",
    "semantic": "local sentence-transformers embedder / cross-encoder reranker (torch CPU)",
}
# Legacy manylinux aliases and the glibc they stand for (PEP 600).
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_NO_MATCH = re.compile(r"No matching distribution found for ([^\s;]+)")


class KitError(Exception):
    """A build step failed; the message says what to do."""


# ------------------------------------------------------------------------------------------------
# platform tags
# ------------------------------------------------------------------------------------------------

def parse_platform(plat: str) -> tuple[tuple[int, int] | None, str]:
    """(glibc, arch) of a platform tag: manylinux2014_aarch64 → ((2, 17), 'aarch64');
    manylinux_2_28_x86_64 → ((2, 28), 'x86_64'); linux_x86_64 → (None, 'x86_64')."""
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", plat)
    if m:
        return (int(m.group(1)), int(m.group(2))), m.group(3)
    m = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)", plat)
    if m:
        return LEGACY_MANYLINUX[m.group(1)], m.group(2)
    m = re.fullmatch(r"linux_(\w+)", plat)
    if m:
        return None, m.group(1)
    raise KitError(f"unsupported platform {plat!r}: use a manylinux tag such as manylinux2014_aarch64 or manylinux_2_28_x86_64")


def expand_platform(plat: str) -> list[str]:
    """Every platform tag a system of `plat` accepts, newest first.

    pip expands manylinux2014 only to manylinux2010/1, and a ``manylinux_2_28`` tag not at all, so
    ``--platform manylinux2014_aarch64`` alone would miss a wheel tagged only ``manylinux_2_17_aarch64``.
    """
    glibc, arch = parse_platform(plat)
    if glibc is None:
        return [plat]
    major, minor = glibc
    tags = [f"manylinux_{major}_{y}_{arch}" for y in range(minor, 4, -1)]
    for legacy, (lmaj, lmin) in LEGACY_MANYLINUX.items():
        if (lmaj, lmin) <= glibc:
            tags.append(f"{legacy}_{arch}")
    if plat not in tags:
        tags.insert(0, plat)
    return tags


def wheel_tags(filename: str) -> tuple[str, str, list[str]]:
    """(python tags, abi tag, platform tags) of a wheel file name."""
    stem = filename[: -len(".whl")]
    parts = stem.split("-")
    if len(parts) < 5:
        raise KitError(f"not a wheel file name: {filename}")
    return parts[-3], parts[-2], parts[-1].split(".")


def wheel_min_glibc(filename: str) -> tuple[int, int] | None:
    """The oldest glibc a wheel runs on (None: any, e.g. py3-none-any); a linux_* wheel built here
    needs this machine's glibc."""
    _, _, plats = wheel_tags(filename)
    best: tuple[int, int] | None = None
    for plat in plats:
        if plat == "any":
            return None
        try:
            glibc, _ = parse_platform(plat)
        except KitError:
            continue
        if glibc is None:
            glibc = host_glibc()
        if glibc is not None and (best is None or glibc < best):
            best = glibc
    return best


def min_python(resolved_for: str, items: list[dict]) -> str:
    """The oldest Python of the resolved minor version that every package's Requires-Python admits:
    a kit resolved with 3.11.7 may hold a release requiring 3.11.5, which Debian 12's 3.11.2 cannot
    install; install.sh refuses that with this number instead of pip failing half way."""
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # pip's vendored copy
        from pip._vendor.packaging.specifiers import SpecifierSet
    major, minor = resolved_for.split(".")[:2]
    specs = [SpecifierSet(i["metadata"]["requires_python"]) for i in items if i["metadata"].get("requires_python")]
    for patch in range(0, 100):
        candidate = f"{major}.{minor}.{patch}"
        if all(spec.contains(candidate, prereleases=True) for spec in specs):
            return candidate
    return resolved_for


def host_glibc() -> tuple[int, int] | None:
    lib, version = _platform.libc_ver()
    if lib != "glibc" or not version:
        return None
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def host_platform() -> str:
    glibc = host_glibc()
    if glibc is None:
        raise KitError("this machine has no glibc (musl?): build the kit with an explicit PLATFORM")
    return f"manylinux_{glibc[0]}_{glibc[1]}_{_platform.machine()}"


def is_pure(filename: str) -> bool:
    return filename.endswith("-none-any.whl")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ------------------------------------------------------------------------------------------------
# pip
# ------------------------------------------------------------------------------------------------

@dataclass
class Target:
    """What the kit is for: None platform = this machine (pip's own tags)."""

    platform: str | None
    python_version: str  # "3.11" (pip reads 3.11.0) or a full "3.11.2"

    @property
    def foreign(self) -> bool:
        return self.platform is not None

    def pip_args(self) -> list[str]:
        if self.platform is None:
            return []
        nodot = "".join(self.python_version.split(".")[:2])  # 3.11.2 → cp311
        args = ["--python-version", self.python_version, "--implementation", "cp", "--abi", f"cp{nodot}", "--abi", "abi3", "--abi", "none"]
        for tag in expand_platform(self.platform):
            args += ["--platform", tag]
        return args


@dataclass
class Pip:
    python: str
    log: Path
    calls: list[list[str]] = field(default_factory=list)

    def run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.python, "-m", "pip", *args]
        self.calls.append(cmd)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write(f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}\n[exit {proc.returncode}]\n\n")
        if check and proc.returncode != 0:
            raise KitError(f"pip {args[0]} failed (exit {proc.returncode}); see {self.log}\n{_errors(proc.stderr)}")
        return proc


def _errors(stderr: str) -> str:
    """pip's ERROR lines, without the pages of 'Location ... is ignored' warnings a mirror config causes."""
    lines = [line for line in stderr.splitlines() if line.startswith("ERROR") or "error:" in line.lower()]
    return "\n".join(lines[-15:]) or stderr[-2000:]


def unmatched_requirement(stderr: str) -> str | None:
    """The requirement pip found no distribution for ('jieba>=0.42.1'), or None."""
    found = _NO_MATCH.findall(stderr)
    return found[-1] if found else None


# ------------------------------------------------------------------------------------------------
# project wheel
# ------------------------------------------------------------------------------------------------

def copy_source(repo: Path, dest: Path) -> None:
    """The files git would commit (tracked, and untracked ones not ignored); a plain copy without
    the usual build and data directories when this is not a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, check=True,
        ).stdout
        names = [n for n in out.decode("utf-8").split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = None
    if names is None:
        skip = {".git", ".venv", "build", "dist", ".kb_home", "test-output", "__pycache__", ".pytest_cache"}
        shutil.copytree(repo, dest, ignore=lambda d, entries: [e for e in entries if e in skip or e.endswith(".egg-info")])
        return
    for name in names:
        src = repo / name
        if not src.is_file():  # deleted in the work tree but still tracked
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def add_to_wheel(wheel: Path, files: dict[str, bytes]) -> None:
    """Add files to a wheel and rewrite its RECORD (pip checks the RECORD of what it installs)."""
    with zipfile.ZipFile(wheel) as zin:
        entries = [(info, zin.read(info)) for info in zin.infolist()]
    record_name = next(info.filename for info, _ in entries if info.filename.endswith(".dist-info/RECORD"))
    rows = [row for row in csv.reader(io.StringIO(dict((i.filename, d) for i, d in entries)[record_name].decode("utf-8"))) if row]
    rows = [row for row in rows if row[0] != record_name and row[0] not in files]
    for name, data in sorted(files.items()):
        rows.append([name, _record_hash(data), str(len(data))])
    rows.append([record_name, "", ""])
    record = io.StringIO()
    csv.writer(record, lineterminator="\n").writerows(rows)
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in entries:
            if info.filename != record_name and info.filename not in files:
                zout.writestr(info, data)
        for name, data in sorted(files.items()):
            zout.writestr(name, data)
        zout.writestr(record_name, record.getvalue())
    tmp.replace(wheel)


def source_files_outside_packages(src: Path, wheel: Path) -> dict[str, bytes]:
    """What the product reads from the repository root that pyproject.toml does not put in the wheel:
    app.py (`kb serve` imports it as the top-level module ``app`` when installed) and prompts/*.yaml
    (kb/generation/prompts.py reads ``<site-packages>/prompts``). Empty once pyproject.toml ships them itself."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    extra: dict[str, bytes] = {}
    if "app.py" not in names and (src / "app.py").is_file():
        extra["app.py"] = (src / "app.py").read_bytes()
    if not any(re.search(r"(^|/)prompts/[^/]+\.yaml$", n) for n in names):
        for path in sorted((src / "prompts").glob("*.yaml")):
            extra[f"prompts/{path.name}"] = path.read_bytes()
    return extra


def build_project_wheel(pip: Pip, repo: Path, work: Path) -> Path:
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    copy_source(repo, src)
    out = work / "project"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pip.run(["wheel", "--no-deps", "-w", str(out), str(src)])
    wheels = list(out.glob("*.whl"))
    if len(wheels) != 1:
        raise KitError(f"expected one project wheel in {out}, found {[w.name for w in wheels]}")
    extra = source_files_outside_packages(src, wheels[0])
    if extra:
        add_to_wheel(wheels[0], extra)
    return wheels[0]


# ------------------------------------------------------------------------------------------------
# resolution
# ------------------------------------------------------------------------------------------------

@dataclass
class Resolution:
    items: list[dict]  # pip's installation report entries
    built: dict[str, str]  # canonical name → wheel built here from an sdist

    def pins(self) -> dict[str, str]:
        return {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in self.items}

    def files(self) -> dict[str, str]:
        """canonical name → wheel file name (URL-decoded: torch-2.13.0%2Bcpu-… is torch-2.13.0+cpu-…)."""
        from urllib.parse import unquote

        return {canonical(i["metadata"]["name"]): unquote(i["download_info"]["url"].rsplit("/", 1)[-1]) for i in self.items}


def resolve(pip: Pip, target: Target, requirement: str, work: Path, label: str, *, allow_sdist: bool = False,
            built_dir: Path | None = None, constraints: Path | None = None) -> Resolution:
    """pip's installation report for `requirement` on `target`, every item a wheel.

    A requirement with no wheel is built here from its sdist (pip wheel --no-deps): a pure-Python
    wheel is fine on any platform; a compiled one only when the kit is for this machine."""
    built_dir = built_dir or work / "built"
    built_dir.mkdir(parents=True, exist_ok=True)
    report = work / f"report-{label}.json"
    built: dict[str, str] = {}
    tried: set[str] = set()
    scratch = Path(tempfile.mkdtemp(prefix="kit-target-", dir=work))
    try:
        while True:
            args = ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
                    "--find-links", str(built_dir), "--target", str(scratch)]
            if not allow_sdist:
                args.append("--only-binary=:all:")
            if constraints is not None:
                args += ["--constraint", str(constraints)]
            proc = pip.run([*args, *target.pip_args(), requirement], check=False)
            if proc.returncode == 0:
                break
            missing = unmatched_requirement(proc.stderr)
            if missing is None or missing in tried:
                raise KitError(f"resolution for {label} failed; see {pip.log}\n{_errors(proc.stderr)}")
            tried.add(missing)
            wheel = build_from_sdist(pip, missing, built_dir)
            if wheel is None or (target.foreign and not is_pure(wheel.name)):
                raise Unresolvable(missing, wheel.name if wheel else None, proc.stderr)
            built[canonical(missing_name(missing))] = wheel.name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    items = json.loads(report.read_text(encoding="utf-8"))["install"]
    for item in items:  # a wheel built in an earlier run and found in built_dir
        name = Path(_file_url_path(item["download_info"]["url"])).name
        if item["download_info"]["url"].startswith("file:") and Path(built_dir / name).is_file():
            built.setdefault(canonical(item["metadata"]["name"]), name)
    return Resolution(items=items, built=built)


# rapidocr (the ocr extra) asks for opencv-python, the build with GUI support: on a server its cv2 needs
# libGL (absent on minimal Kylin/UOS/Debian installs) and its wheel is 12 MB larger than the headless
# build. The kit carries opencv-python-headless of the same version and a metadata-only
# "opencv-python" standing in for it, so pip on the target resolves rapidocr without the GUI build.
HEADLESS_SUBSTITUTES = {"opencv-python": "opencv-python-headless"}


def substitute_wheel(name: str, version: str, replacement: str, built_dir: Path) -> tuple[Path, str]:
    """A wheel with no code named `name` at `version`+headless that requires `replacement`==`version`;
    (path, its version)."""
    shim_version = f"{version}+headless"
    dist = name.replace("-", "_")
    info = f"{dist}-{shim_version}.dist-info"
    files = {
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {shim_version}\n"
            f"Summary: stands in for {name}: the kit installs {replacement} {version} (same cv2, no GUI libraries)\n"
            f"Requires-Dist: {replacement}=={version}\n"
        ).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: kb build_kit\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    rows = [[n, _record_hash(d), str(len(d))] for n, d in files.items()] + [[f"{info}/RECORD", "", ""]]
    record = io.StringIO()
    csv.writer(record, lineterminator="\n").writerows(rows)
    built_dir.mkdir(parents=True, exist_ok=True)
    path = built_dir / f"{dist}-{shim_version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for n, d in files.items():
            zout.writestr(n, d)
        zout.writestr(f"{info}/RECORD", record.getvalue())
    return path, shim_version


def with_headless_substitutes(pip: Pip, target: Target, requirement: str, work: Path, label: str,
                              resolution: Resolution) -> Resolution:
    """The resolution again with each GUI build replaced by its headless one (HEADLESS_SUBSTITUTES),
    when the headless build has a wheel of the same version for the target."""
    pins = resolution.pins()
    lines = []
    for name, replacement in HEADLESS_SUBSTITUTES.items():
        version = pins.get(canonical(name))
        if version is None or "+" in version or not wheel_available(pip, target, replacement, version, work):
            continue
        _, shim_version = substitute_wheel(name, version, replacement, work / "built")
        lines.append(f"{name}=={shim_version}")
    if not lines:
        return resolution
    constraints = work / f"constraints-{label}.txt"
    constraints.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"[kit] headless builds instead of GUI ones: {', '.join(lines)}", flush=True)
    return resolve(pip, target, requirement, work, label, constraints=constraints)


class Unresolvable(KitError):
    def __init__(self, requirement: str, built: str | None, stderr: str):
        self.requirement = requirement
        self.built = built
        how = f"its sdist builds only a platform-specific wheel here ({built})" if built else "no sdist could be built either"
        super().__init__(f"{requirement}: no binary wheel for the target platform, and {how}")


def missing_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]


def build_from_sdist(pip: Pip, requirement: str, built_dir: Path) -> Path | None:
    before = set(built_dir.glob("*.whl"))
    proc = pip.run(["wheel", "--no-deps", "--quiet", "-w", str(built_dir), requirement], check=False)
    if proc.returncode != 0:
        return None
    new = sorted(set(built_dir.glob("*.whl")) - before)
    if new:
        return new[0]
    name = canonical(missing_name(requirement)).replace("-", "_")
    found = [w for w in built_dir.glob("*.whl") if canonical(w.name.split("-")[0]).replace("-", "_") == name]
    return found[0] if found else None


def wheel_available(pip: Pip, target: Target, name: str, version: str, work: Path) -> bool:
    """Whether `name==version` has a wheel for `target` (metadata only, nothing large downloaded)."""
    scratch = Path(tempfile.mkdtemp(prefix="kit-probe-", dir=work))
    try:
        proc = pip.run(["install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet", "--only-binary=:all:",
                        "--target", str(scratch), *target.pip_args(), f"{name}=={version}"], check=False)
        return proc.returncode == 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def compare(pip: Pip, target: Target, resolution: Resolution, reference: Resolution, work: Path) -> list[dict]:
    """What differs from this machine's resolution, and why: for each package at another version (or
    missing, or added), whether the version this machine gets has a wheel for the target."""
    here, there = reference.pins(), resolution.pins()
    rows = []
    for name in sorted(set(here) | set(there)):
        hv, tv = here.get(name), there.get(name)
        if hv == tv and name not in resolution.built:
            continue
        row = {"package": name, "here": hv, "target": tv}
        if name in resolution.built:
            row["why"] = f"no wheel on the index (sdist only); pure-Python wheel built here: {resolution.built[name]}"
        elif hv and tv:
            if wheel_available(pip, target, name, hv, work):
                row["why"] = f"{name} {hv} has a wheel for the target; held at {tv} by another package's limits"
            else:
                row["why"] = f"no {target.platform} wheel for {name} {hv}; {tv} is the newest release that has one"
                row["no_wheel"] = True
        elif hv:
            row["why"] = "not needed by the versions resolved for the target"
        else:
            row["why"] = "needed only by an older version resolved for the target"
        rows.append(row)
    return rows


def download(pip: Pip, target: Target, resolution: Resolution, wheels: Path, built_dir: Path) -> None:
    """Exactly the resolved files: built wheels copied, the rest fetched with --no-deps."""
    wheels.mkdir(parents=True, exist_ok=True)
    wanted = resolution.files()
    pins = []
    for item in resolution.items:
        name = canonical(item["metadata"]["name"])
        url = item["download_info"]["url"]
        if name in resolution.built or url.startswith("file:"):
            path = Path(_file_url_path(url))
            shutil.copy2(path if path.is_file() else built_dir / wanted[name], wheels / wanted[name])
        else:
            pins.append(f"{item['metadata']['name']}=={item['metadata']['version']}")
    if pins:
        pip.run(["download", "--no-deps", "--only-binary=:all:", "--quiet", "-d", str(wheels), *target.pip_args(), *pins])
    present = {p.name for p in wheels.glob("*.whl")}
    missing = sorted(set(wanted.values()) - present)
    if missing:
        raise KitError(f"download did not bring the resolved files {missing}; see {pip.log}")
    for extra in sorted(present - set(wanted.values())):
        (wheels / extra).unlink()  # e.g. a second file pip preferred for the same version


def _file_url_path(url: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(url).path)


def check_cnsyn_data(wheels: Path) -> None:
    found = list(wheels.glob("cnsyn-*.whl"))
    if not found:
        raise KitError("the wheelhouse has no cnsyn wheel: the word vectors (kb/retrieval/wordvectors.py) would be missing")
    with zipfile.ZipFile(found[0]) as zf:
        names = set(zf.namelist())
    absent = [f for f in CNSYN_DATA if f not in names]
    if absent:
        raise KitError(f"{found[0].name} lacks {absent}: kb/retrieval/wordvectors.py reads them at run time")


def check_torch_cpu(packages: dict[str, str]) -> None:
    """A CUDA torch would pull gigabytes of nvidia-* wheels the 内网 servers cannot use."""
    cuda = sorted(name for name in packages if name.startswith("nvidia-"))
    if cuda:
        raise KitError(
            "the resolved torch is a CUDA build (it needs " + ", ".join(cuda[:3]) + "…): point pip at a CPU build, e.g. "
            "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu or a find-links directory holding torch-*+cpu wheels"
        )


# ------------------------------------------------------------------------------------------------
# kit
# ------------------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_sha256sums(kit: Path) -> None:
    """`sha256sum -c` format, every file but SHA256SUMS itself, sorted."""
    lines = []
    for path in sorted(p for p in kit.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        lines.append(f"{sha256_file(path)}  {path.relative_to(kit).as_posix()}\n")
    (kit / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")


def _fmt_glibc(glibc: tuple[int, int] | None) -> str:
    return f"{glibc[0]}.{glibc[1]}" if glibc else "any"


def render_readme(manifest: dict) -> str:
    template = (HERE / "kit_README.md").read_text(encoding="utf-8")
    rows = manifest.get("differences") or []
    if rows:
        table = ["| package | this build machine | this kit | why |", "|---|---|---|---|"]
        table += [f"| {r['package']} | {r['here'] or '—'} | {r['target'] or '—'} | {r['why']} |" for r in rows]
        differences = "\n".join(table)
    elif manifest["built_from_sdist"]:
        differences = "Built here from an sdist (pure Python, any platform): " + ", ".join(sorted(manifest["built_from_sdist"].values()))
    else:
        differences = "None: every package is a binary wheel from the index."
    values = {
        "version": manifest["version"],
        "kit_name": manifest["kit_name"],
        "platform": manifest["platform"],
        "machine": manifest["machine"],
        "python": manifest["python_version"],
        "min_python": manifest.get("min_python", manifest["python_version"]),
        "glibc": manifest["min_glibc"],
        "extras": ", ".join(manifest["extras"]) or "—",
        "packages": str(len(manifest["packages"])),
        "differences": differences,
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], template)


def pack(kit: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".tmp")
    # wheels are zip files already: gzip level 1 saves as much as level 9 here, in a fraction of the time
    with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
        for path in sorted(kit.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=f"{kit.name}/{path.relative_to(kit).as_posix()}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_file():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    tmp.replace(archive)


def parse_extras(text: str | None) -> list[str]:
    """The default extras plus those named ("semantic"); "-ocr" leaves a default one out (a platform where
    it cannot be resolved)."""
    extras = list(DEFAULT_EXTRAS)
    for part in re.split(r"[,\s]+", text or ""):
        if part.startswith("-"):
            extras = [e for e in extras if e != part[1:]]
        elif part and part not in extras:
            extras.append(part)
    return extras


def build(args: argparse.Namespace) -> int:
    t0 = time.time()
    # as given to pip ("3.11" means 3.11.0 to pip's Requires-Python checks; "3.11.2" for Debian 12's Python)
    python_version = args.python_version or f"{sys.version_info[0]}.{sys.version_info[1]}"
    python_mm = ".".join(python_version.split(".")[:2])
    native = args.platform in (None, "", "native")
    if native and args.python_version:
        # another Python for this machine: pip needs explicit tags for --python-version
        args.platform, native = host_platform(), False
    target = Target(platform=None if native else args.platform, python_version=python_version)
    machine = _platform.machine() if native else parse_platform(args.platform)[1]
    extras = parse_extras(args.extras)
    work = Path(args.work or REPO / "build" / "kit").resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "pip.log"
    log.write_text("", encoding="utf-8")
    pip = Pip(python=args.python or sys.executable, log=log)

    print(f"[kit] building the project wheel (log: {log})", flush=True)
    project = build_project_wheel(pip, Path(args.source).resolve(), work)
    name, version = project.name.split("-")[:2]
    requirement = f"{project}[{','.join(extras)}]" if extras else str(project)
    label = "target" if target.foreign else "native"
    print(f"[kit] resolving {name} {version} [{', '.join(extras)}] for "
          f"{args.platform if target.foreign else 'this machine'}, Python {python_version}", flush=True)
    try:
        resolution = resolve(pip, target, requirement, work, label)
    except Unresolvable as exc:
        print(explain_unresolvable(pip, target, exc, extras, project, work), file=sys.stderr)
        return 2
    resolution = with_headless_substitutes(pip, target, requirement, work, label, resolution)
    check_torch_cpu(resolution.pins())
    differences: list[dict] = []
    if target.foreign:
        print("[kit] comparing with this machine's resolution", flush=True)
        # this machine's tags with the target's Python version, so only the platform differs
        # (pip reads "3.11" as 3.11.0: releases requiring 3.11.5 are out on both sides)
        reference = resolve(pip, Target(host_platform(), python_version), requirement, work, "reference",
                            built_dir=work / "built")
        differences = compare(pip, target, resolution, reference, work)
        print_differences(target, resolution, differences)
    elif resolution.built:
        print("[kit] built here from sdists: " + ", ".join(sorted(resolution.built.values())))
    if args.check:
        print(f"[kit] check only: {len(resolution.items)} packages resolve to wheels for "
              f"{args.platform or 'this machine'} ({time.time() - t0:.0f} s)")
        return 0

    files = resolution.files()
    min_glibc = max((g for g in (wheel_min_glibc(f) for f in files.values()) if g), default=None)
    plat = args.platform if target.foreign else (f"manylinux_{min_glibc[0]}_{min_glibc[1]}_{machine}" if min_glibc else f"linux_{machine}")
    suffix = "".join(f"-{e}" for e in extras if e not in DEFAULT_EXTRAS) + "".join(f"-no{e}" for e in DEFAULT_EXTRAS if e not in extras)
    kit_name = f"kb-offline-{version}-cp{python_mm.replace('.', '')}-{plat}{suffix}"
    kit = work / kit_name
    shutil.rmtree(kit, ignore_errors=True)
    wheels = kit / "wheels"
    print(f"[kit] downloading {len(files)} wheels", flush=True)
    download(pip, target, resolution, wheels, work / "built")
    pip_wheel = add_pip(pip, target, wheels)
    check_cnsyn_data(wheels)

    manifest = {
        "name": name.replace("_", "-"),
        "version": version,
        "kit_name": kit_name,
        "platform": plat,
        "machine": machine,
        "python_version": python_mm,
        "min_python": min_python(python_version if target.foreign else _platform.python_version(), resolution.items),
        "min_glibc": _fmt_glibc(min_glibc),
        "extras": extras,
        "project_wheel": project.name,
        "pip_wheel": pip_wheel,
        "packages": {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in resolution.items},
        "built_from_sdist": resolution.built,
        "differences": differences,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    shutil.copy2(project, wheels / project.name)
    (kit / "kit.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (kit / "README.md").write_text(render_readme(manifest), encoding="utf-8")
    shutil.copy2(HERE / "install.sh", kit / "install.sh")
    os.chmod(kit / "install.sh", 0o755)
    write_sha256sums(kit)
    archive = Path(args.out).resolve() / f"{kit_name}.tar.gz"
    print(f"[kit] packing {archive}", flush=True)
    pack(kit, archive)
    if not args.keep_work:
        shutil.rmtree(kit, ignore_errors=True)
    size = archive.stat().st_size
    print(f"[kit] {archive} ({size / 1e6:.0f} MB = {size / 2**20:.0f} MiB, {len(files) + 1} wheels, {time.time() - t0:.0f} s)")
    if args.max_mb and size > args.max_mb * 1e6:
        print(f"[kit] error: the kit is {size / 1e6:.0f} MB, over the {args.max_mb:g} MB limit", file=sys.stderr)
        return 1
    return 0


def add_pip(pip: Pip, target: Target, wheels: Path) -> str:
    """pip itself, so install.sh needs no ensurepip (Debian-family systems ship venv without it)."""
    existing = list(wheels.glob("pip-*.whl"))
    if not existing:
        pip.run(["download", "--no-deps", "--only-binary=:all:", "--quiet", "-d", str(wheels), *target.pip_args(), "pip"])
        existing = list(wheels.glob("pip-*.whl"))
    if not existing:
        raise KitError("could not download a pip wheel for the kit")
    return existing[0].name


def print_differences(target: Target, resolution: Resolution, rows: list[dict]) -> None:
    none = [r for r in rows if r.get("no_wheel")]
    print(f"[kit] {target.platform}: all {len(resolution.items)} packages resolve to wheels "
          f"({len(resolution.built)} pure-Python built here from sdists)")
    if none:
        print(f"[kit] {len(none)} packages have no {target.platform} wheel at the version this machine gets; the older release that has one replaces it:")
    for r in rows:
        print(f"[kit]   {r['package']:28} here {r['here'] or '—':>12}  target {r['target'] or '—':>12}  {r['why']}")


def explain_unresolvable(pip: Pip, target: Target, exc: Unresolvable, extras: list[str], project: Path, work: Path) -> str:
    """Which package has no wheel, and what replaces it: the kit without the extra that needs it, when
    that resolves."""
    lines = [f"[kit] error: {exc}"]
    for extra in extras:
        rest = [e for e in extras if e != extra]
        req = f"{project}[{','.join(rest)}]" if rest else str(project)
        try:
            resolve(pip, target, req, work, f"without-{extra}")
        except KitError:
            continue
        lines.append(f"[kit] without the '{extra}' extra everything resolves: {EXTRA_FEATURES.get(extra, extra)} "
                     f"is then unavailable on {target.platform}: build with EXTRAS=-{extra}, "
                     f"or bring a wheel of {missing_name(exc.requirement)} built on the target into --find-links.")
        break
    else:
        lines.append(f"[kit] the default install itself needs {missing_name(exc.requirement)}: build its wheel on a "
                     f"{target.platform} machine (pip wheel {exc.requirement}) and put it in {work / 'built'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--platform", default=None, help="target platform tag (manylinux2014_aarch64, manylinux_2_28_x86_64); default: this machine")
    p.add_argument("--extras", default="", help="extras besides ocr, e.g. semantic")
    p.add_argument("--python-version", default=None, help="target Python (default: this one), e.g. 3.11")
    p.add_argument("--out", default=str(REPO / "dist"), help="directory of the .tar.gz")
    p.add_argument("--work", default=None, help="scratch directory (default build/kit)")
    p.add_argument("--source", default=str(REPO), help="project source tree")
    p.add_argument("--python", default=None, help="the Python whose pip resolves and downloads (default: this one)")
    p.add_argument("--check", action="store_true", help="resolve and report only (metadata, no download)")
    p.add_argument("--keep-work", action="store_true", help="keep the unpacked kit in the work directory")
    # binary megabytes, as ls -lh / du -h show the file
    p.add_argument("--max-mb", type=float, default=None, help="fail when the kit is larger (MB, 10^6 bytes)")
    args = p.parse_args(argv)
    try:
        return build(args)
    except KitError as exc:
        print(f"[kit] error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
