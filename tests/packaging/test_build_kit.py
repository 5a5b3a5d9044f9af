"""packaging/build_kit.py without a registry: platform tags, glibc floors, wheel surgery, manifest, README."""
from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.packaging.conftest import build_kit, make_wheel

REPO = Path(__file__).resolve().parents[2]


def test_expand_platform_lists_every_older_manylinux_tag():
    tags = build_kit.expand_platform("manylinux2014_aarch64")
    # a wheel tagged only manylinux_2_17_aarch64 (no legacy alias) must be accepted too
    assert tags[:2] == ["manylinux_2_17_aarch64", "manylinux_2_16_aarch64"]
    assert "manylinux2014_aarch64" in tags and "manylinux2010_aarch64" in tags and "manylinux1_aarch64" in tags
    assert not any("2_18" in t or "2_28" in t for t in tags)  # nothing newer than glibc 2.17
    tags = build_kit.expand_platform("manylinux_2_28_x86_64")
    assert tags[0] == "manylinux_2_28_x86_64" and "manylinux_2_17_x86_64" in tags and "manylinux2014_x86_64" in tags
    assert build_kit.expand_platform("linux_aarch64") == ["linux_aarch64"]
    with pytest.raises(build_kit.KitError):
        build_kit.expand_platform("win_amd64")


def test_pip_args_name_python_abi_and_platforms():
    args = build_kit.Target("manylinux2014_aarch64", "3.11").pip_args()
    assert args[:4] == ["--python-version", "3.11", "--implementation", "cp"]
    assert "cp311" in args and args.count("--platform") == len(build_kit.expand_platform("manylinux2014_aarch64"))
    assert build_kit.Target(None, "3.11").pip_args() == []  # this machine: pip's own tags
    # a full version (Debian 12's 3.11.2) is passed on for Requires-Python; the ABI stays cp311
    args = build_kit.Target("manylinux_2_36_x86_64", "3.11.2").pip_args()
    assert args[1] == "3.11.2" and "cp311" in args


@pytest.mark.parametrize("name, glibc", [
    ("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", (2, 27)),
    ("chromadb-1.5.9-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", (2, 17)),
    ("psutil-7.2.2-cp36-abi3-manylinux2010_x86_64.manylinux_2_12_x86_64.manylinux_2_28_x86_64.whl", (2, 12)),
    ("bcrypt-5.0.0-cp39-abi3-manylinux_2_34_x86_64.whl", (2, 34)),
    ("cnsyn-1.2.0-py3-none-any.whl", None),
])
def test_wheel_min_glibc_is_the_oldest_tag(name, glibc):
    assert build_kit.wheel_min_glibc(name) == glibc


def test_unmatched_requirement_is_read_from_pip_errors():
    stderr = ("WARNING: Location 'file:///opt/x/' is ignored\n"
              "ERROR: Could not find a version that satisfies the requirement jieba>=0.42.1 (from kaocha-kb) (from versions: none)\n"
              "ERROR: No matching distribution found for jieba>=0.42.1\n")
    assert build_kit.unmatched_requirement(stderr) == "jieba>=0.42.1"
    assert build_kit.missing_name("jieba>=0.42.1") == "jieba"
    assert build_kit.unmatched_requirement("ERROR: ResolutionImpossible") is None


def test_resolved_file_names_are_url_decoded():
    items = [{"metadata": {"name": "torch", "version": "2.13.0+cpu"},
              "download_info": {"url": "file:///opt/wheels/torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl"}}]
    assert build_kit.Resolution(items=items, built={}).files() == {"torch": "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"}


def test_extras_always_include_ocr_unless_left_out():
    assert build_kit.parse_extras("") == ["ocr"]
    assert build_kit.parse_extras("semantic") == ["ocr", "semantic"]
    assert build_kit.parse_extras("-ocr,semantic") == ["semantic"]


def test_add_to_wheel_keeps_a_valid_record(tmp_path):
    wheel = make_wheel(tmp_path, "demo", "1.0", {"demo/__init__.py": b"X = 1\n"})
    build_kit.add_to_wheel(wheel, {"app.py": b"print('app')\n", "prompts/answer.yaml": b"name: answer\n"})
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        record = list(csv.reader(io.StringIO(zf.read("demo-1.0.dist-info/RECORD").decode())))
        for row in record:
            if row[1]:  # every file but RECORD itself carries its hash and size
                data = zf.read(row[0])
                algo, _, digest = row[1].partition("=")
                assert algo == "sha256" and digest == build_kit._record_hash(data).split("=", 1)[1]
                assert int(row[2]) == len(data)
    assert {"app.py", "prompts/answer.yaml", "demo/__init__.py"} <= set(names)
    assert sorted(r[0] for r in record) == sorted(names)
    # pip accepts it: install into a target dir and import
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, env={"PIP_CONFIG_FILE": "/dev/null", "PATH": "/usr/bin:/bin"})
    assert (target / "app.py").is_file() and (target / "prompts" / "answer.yaml").is_file()


def test_source_files_outside_packages_are_added_only_when_missing(tmp_path):
    src = tmp_path / "src"
    (src / "prompts").mkdir(parents=True)
    (src / "app.py").write_text("x = 1\n")
    (src / "prompts" / "answer.yaml").write_text("name: answer\n")
    bare = make_wheel(tmp_path / "a", "kaocha_kb", "0.1.0", {"kb/__init__.py": b""})
    assert set(build_kit.source_files_outside_packages(src, bare)) == {"app.py", "prompts/answer.yaml"}
    # once pyproject.toml ships them (anywhere, e.g. kb/prompts/), nothing is added twice
    shipped = make_wheel(tmp_path / "b", "kaocha_kb", "0.1.0", {"app.py": b"", "kb/prompts/answer.yaml": b""})
    assert build_kit.source_files_outside_packages(src, shipped) == {}


def test_the_repository_wheel_content_the_product_reads_outside_its_packages():
    """What kb reads next to its packages today; when this fails, source_files_outside_packages (and
    the kit) must learn the new file."""
    text = (REPO / "kb" / "generation" / "prompts.py").read_text(encoding="utf-8")
    assert 'parents[2] / "prompts"' in text  # <site-packages>/prompts once installed
    assert (REPO / "app.py").is_file() and list((REPO / "prompts").glob("*.yaml"))


def test_min_python_is_the_oldest_patch_release_every_package_admits():
    items = [{"metadata": {"requires_python": ">=3.9"}}, {"metadata": {"requires_python": ">=3.11.5"}}, {"metadata": {}}]
    assert build_kit.min_python("3.11.7", items) == "3.11.5"
    assert build_kit.min_python("3.11", items[:1]) == "3.11.0"


def test_sha256sums_list_every_file_in_sha256sum_format(tmp_path):
    kit = tmp_path / "kit"
    (kit / "wheels").mkdir(parents=True)
    (kit / "wheels" / "a.whl").write_bytes(b"aaa")
    (kit / "install.sh").write_text("#!/bin/sh\n")
    build_kit.write_sha256sums(kit)
    lines = (kit / "SHA256SUMS").read_text().splitlines()
    assert lines == [
        f"{hashlib.sha256(b'#!/bin/sh' + bytes([10])).hexdigest()}  install.sh",
        f"{hashlib.sha256(b'aaa').hexdigest()}  wheels/a.whl",
    ]
    assert subprocess.run(["sha256sum", "--check", "--strict", "--quiet", "SHA256SUMS"], cwd=kit).returncode == 0


def test_cnsyn_data_check_names_the_missing_file(tmp_path):
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "cnsyn", "1.2.0", {"cnsyn/query/words_tree_mini.m": b"x"})
    with pytest.raises(build_kit.KitError, match="sim_words.txt"):
        build_kit.check_cnsyn_data(wheels)
    make_wheel(wheels, "cnsyn", "1.2.0", {"cnsyn/query/words_tree_mini.m": b"x", "cnsyn/chinese_dictionary/sim_words.txt": b"y"})
    build_kit.check_cnsyn_data(wheels)


def test_a_cuda_torch_is_refused():
    with pytest.raises(build_kit.KitError, match="CUDA"):
        build_kit.check_torch_cpu({"torch": "2.13.0", "nvidia-cublas-cu12": "12.8.4.1"})
    build_kit.check_torch_cpu({"torch": "2.13.0+cpu", "sentence-transformers": "6.2.0"})


def test_readme_is_rendered_with_the_kit_facts():
    manifest = {
        "version": "0.1.0", "kit_name": "kb-offline-0.1.0-cp311-manylinux2014_aarch64", "platform": "manylinux2014_aarch64",
        "machine": "aarch64", "python_version": "3.11", "min_glibc": "2.17", "extras": ["ocr"], "packages": {"a": "1"},
        "built_from_sdist": {"jieba": "jieba-0.42.1-py3-none-any.whl"},
        "differences": [{"package": "numpy", "here": "2.4.6", "target": "2.2.6", "why": "no wheel"}],
    }
    text = build_kit.render_readme(manifest)
    assert "{{" not in text
    assert "kb-offline-0.1.0-cp311-manylinux2014_aarch64/install.sh /opt/kb" in text
    assert "| numpy | 2.4.6 | 2.2.6 | no wheel |" in text
    assert "apt-get download" in text and "libreoffice" in text and "poppler-utils" in text


def test_kit_json_facts_drive_install_sh():
    """install.sh reads these kit.json keys; build() writes them (kept in step by this test)."""
    script = (REPO / "packaging" / "install.sh").read_text(encoding="utf-8")
    source = (REPO / "packaging" / "build_kit.py").read_text(encoding="utf-8")
    for key in ("python_version", "machine", "min_glibc", "kit_name", "version", "name", "project_wheel", "pip_wheel", "extras"):
        assert f'kit["{key}"]' in script or f"kit['{key}']" in script
        assert f'"{key}":' in source
