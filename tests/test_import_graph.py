"""The import graph of ``kb`` and ``ingest`` (README: "no import circles, no private names across packages").

Read statically with ``ast`` from every ``.py`` file of the two packages; nothing is imported.

What counts as "module A imports module B" (an edge A → B):
  * every ``import`` / ``from … import`` statement anywhere in A: at module level, inside a function
    or method (a lazy import that closes a circle is still a circle: "No module imports another that
    imports it back"), and under ``if TYPE_CHECKING:`` (a type-only import still means A is written
    against B's names);
  * relative imports are resolved against A's package;
  * ``from P import n`` is an edge to the module ``P.n`` when that is a module of ours, else to ``P``;
    ``import a.b.c`` is an edge to ``a.b.c``;
  * the ``__init__`` of the packages above B, which Python runs first, is *not* an edge: a package's
    ``__init__`` that re-exports its own parts would otherwise close a "circle" with each of them;
  * ``importlib.import_module`` with a computed name is not seen.

A *private name* is one that starts with ``_`` and is not a dunder. "Across packages" means the module
that holds the name is in another package than the importer: ``kb.drafting.service`` and
``kb.drafting.text`` share ``kb.drafting``; ``kb.web.service`` (package ``kb``) and
``kb.drafting.text`` do not, nor do ``kb.answering.binding`` and ``ingest.masking``. Both
``from X import _name`` and ``X._name`` (X bound by an import) count.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kb", "ingest")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_files() -> dict[str, tuple[Path, bool]]:
    """module name → (file, is_package)."""
    out: dict[str, tuple[Path, bool]] = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            package = parts[-1] == "__init__"
            if package:
                parts = parts[:-1]
            out[".".join(parts)] = (path, package)
    return out


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


class _Reader(ast.NodeVisitor):
    """The imports of one module: edges and private names taken from modules of another package."""

    def __init__(self, module: str, is_package: bool, modules: dict[str, tuple[Path, bool]]):
        self.module = module
        self.package = _package_of(module, is_package)
        self.modules = modules
        self.edges: dict[str, int] = {}  # imported module → first line
        self.private: list[str] = []
        self.aliases: dict[str, str] = {}  # local name → module of ours it is bound to

    # -- helpers -------------------------------------------------------------------------------
    def _ours(self, name: str) -> bool:
        return name in self.modules

    def _edge(self, target: str, line: int) -> None:
        if target != self.module:
            self.edges.setdefault(target, line)

    def _holder_package(self, target: str) -> str:
        return _package_of(target, self.modules[target][1])

    def _check_private(self, target: str, name: str, line: int, how: str) -> None:
        if _is_private(name) and self._holder_package(target) != self.package:
            self.private.append(f"{self.modules[self.module][0].relative_to(ROOT)}:{line}: {how} "
                                f"{target}.{name} (package {self._holder_package(target)}, importer in {self.package})")

    def _base(self, node: ast.ImportFrom) -> str | None:
        if not node.level:
            return node.module
        anchor = self.package.split(".")
        if node.level > 1:
            anchor = anchor[: len(anchor) - (node.level - 1)]
        return ".".join([*anchor, *([node.module] if node.module else [])])

    # -- visitors ------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.name
            if name.split(".")[0] not in PACKAGES:
                continue
            # the longest prefix that is one of our modules (import kb.x.y where y is a name is an error anyway)
            parts = name.split(".")
            while parts and not self._ours(".".join(parts)):
                parts.pop()
            if not parts:
                continue
            target = ".".join(parts)
            self._edge(target, node.lineno)
            if alias.asname:
                self.aliases[alias.asname] = target
            else:
                self.aliases.setdefault(name.split(".")[0], name.split(".")[0])
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._base(node)
        if not base or base.split(".")[0] not in PACKAGES:
            return
        for alias in node.names:
            if alias.name == "*":
                if self._ours(base):
                    self._edge(base, node.lineno)
                continue
            sub = f"{base}.{alias.name}"
            if self._ours(sub):
                self._edge(sub, node.lineno)
                self.aliases[alias.asname or alias.name] = sub
            elif self._ours(base):
                self._edge(base, node.lineno)
                self._check_private(base, alias.name, node.lineno, "imports")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # X._name where X (or X.y.z) is bound to one of our modules
        chain: list[str] = []
        value: ast.AST = node.value
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in self.aliases:
            target = ".".join([self.aliases[value.id], *reversed(chain)])
            if self._ours(target):
                self._check_private(target, node.attr, node.lineno, "uses")
        self.generic_visit(node)


@lru_cache(maxsize=1)
def _graph() -> tuple[dict[str, dict[str, int]], list[str]]:
    modules = _module_files()
    graph: dict[str, dict[str, int]] = {}
    private: list[str] = []
    for module, (path, is_package) in modules.items():
        reader = _Reader(module, is_package, modules)
        reader.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        graph[module] = reader.edges
        private.extend(reader.private)
    return graph, private


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each with one circle
    through it for the message."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return components


def _one_circle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest circle through the component's first module (breadth-first within the component)."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                return paths[v] + [start]
            if w in members and w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return component  # pragma: no cover - a component always holds a circle


def test_the_graph_is_read():
    graph, _ = _graph()
    assert "kb.drafting.service" in graph and "ingest.pipeline" in graph
    assert "kb.drafting.evidence" in graph["kb.drafting.service"]
    assert "kb.models" in graph["ingest.pipeline"]


def test_no_import_circles():
    graph, _ = _graph()
    problems = []
    for component in _cycles(graph):
        circle = _one_circle(graph, component)
        steps = " → ".join(f"{a} (line {graph[a][b]})" for a, b in zip(circle, circle[1:])) + f" → {circle[-1]}"
        problems.append(f"{', '.join(component)}\n    e.g. {steps}")
    assert not problems, "import circles:\n  " + "\n  ".join(problems)


def test_no_private_names_across_packages():
    _, private = _graph()
    assert not private, "private names taken from another package:\n  " + "\n  ".join(private)


def test_the_checks_see_what_they_should():
    """The reader on made-up modules: a lazy import closes a circle; relative imports resolve; a
    private name from another package is reported, from the same package it is not."""
    modules = {
        "kb": (ROOT / "kb" / "__init__.py", True),
        "kb.a": (ROOT / "kb" / "a.py", False),
        "kb.b": (ROOT / "kb" / "b.py", False),
        "kb.sub": (ROOT / "kb" / "sub" / "__init__.py", True),
        "kb.sub.c": (ROOT / "kb" / "sub" / "c.py", False),
    }
    sources = {
        "kb.a": "from kb.b import thing\n",
        "kb.b": "def f():\n    from . import a\n    from .sub.c import _hidden, shown\n    import kb.sub.c as c\n    return c._other\n",
        "kb.sub.c": "from .. import _not_here\nfrom . import _fine\n",
    }
    graph: dict[str, dict[str, int]] = {}
    private: list[str] = []
    for module, text in sources.items():
        reader = _Reader(module, modules[module][1], modules)
        reader.visit(ast.parse(text))
        graph[module] = reader.edges
        private.extend(reader.private)
    assert graph["kb.b"] == {"kb.a": 2, "kb.sub.c": 3}
    assert graph["kb.sub.c"] == {"kb": 1, "kb.sub": 2}
    assert _cycles(graph) == [["kb.a", "kb.b"]]
    assert len(private) == 3  # _hidden, c._other, kb._not_here — not kb.sub._fine
    assert not any("_fine" in p for p in private)


# ---- the rooms of kb/ (issue #29): only settings, models and container at the top; every package says what it holds


def test_only_settings_models_and_container_sit_at_the_top_of_kb():
    top = sorted(p.name for p in (ROOT / "kb").glob("*.py") if p.name != "__init__.py")
    assert top == ["container.py", "models.py", "settings.py"], top


def test_every_package_docstring_says_what_it_holds():
    for top in PACKAGES:
        for init in sorted((ROOT / top).rglob("__init__.py")):
            if init.parent == ROOT / top:
                continue  # the top package itself: the README says what kb/ and ingest/ are
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
            assert len(doc) >= 60, f"{init.relative_to(ROOT)}: no docstring saying what the package holds"
