"""The layout of bench/: one module per benchmark in bench/sections/ behind the runner (bench/run.py),
and no private name (``_x``) taken from another bench module. Read statically where it can be; the
section modules are imported (they import nothing heavy at module level)."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

from bench import run

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_every_section_is_one_module_with_run():
    files = sorted(p.stem for p in (BENCH / "sections").glob("*.py") if p.stem != "__init__")
    assert sorted(run.ALL_SECTIONS) == files == sorted(run.SECTIONS)
    for name in run.ALL_SECTIONS:
        module = importlib.import_module(f"bench.sections.{name}")
        assert run.SECTIONS[name] is module.run
        assert (module.__doc__ or "").startswith(f"{name}:"), f"bench/sections/{name}.py: docstring says what it measures"
    assert set(run.DEFAULT_SECTIONS) <= set(run.ALL_SECTIONS) and set(run.SECTION_ORDER) <= set(run.ALL_SECTIONS)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_private_names_across_bench_modules():
    found = []
    for path in sorted(BENCH.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound: set[str] = set()  # local names bound to bench modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "bench"):
                for alias in node.names:
                    if _private(alias.name):
                        found.append(f"{path.relative_to(BENCH.parent)}:{node.lineno}: from {'.' * node.level}{node.module or ''} import {alias.name}")
                    bound.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "bench":
                        bound.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                    and node.value.id in bound):
                found.append(f"{path.relative_to(BENCH.parent)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not found, "private names used across bench modules:\n" + "\n".join(found)
