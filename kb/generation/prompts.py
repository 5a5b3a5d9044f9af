"""Prompt templates: the one loader for ``prompts/*.yaml``.

Each file declares ``name`` (= the file stem), ``description``, ``variables`` (list), ``system`` and
``template``. ``system`` and ``template`` use ``str.format`` placeholders (``{question}``); literal
braces — e.g. a JSON example in the instructions — are written doubled (``{{`` ``}}``). Values are
substituted once and never re-parsed, so braces inside a context passage are safe.

A file is checked when first loaded: its placeholders must be exactly its declared variables,
so a prompt edit that forgets a variable fails loudly instead of silently sending ``{contexts}``.
"""
from __future__ import annotations

import string
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_REQUIRED_KEYS = ("name", "description", "variables", "system", "template")


class PromptError(ValueError):
    """A prompt file that cannot be used, or a render call with the wrong variables."""


def _placeholders(text: str, where: str) -> list[str]:
    """Field names used in a ``str.format`` string, in first-use order."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:  # unbalanced single brace
        raise PromptError(f"{where}: {exc} (write literal braces as '{{{{' and '}}}}')") from exc
    for _literal, field_name, format_spec, conversion in parsed:
        if field_name is None:
            continue
        if not field_name.isidentifier():
            raise PromptError(
                f"{where}: placeholder {{{field_name}}} is not a plain name "
                "(write literal braces as '{{' and '}}')"
            )
        if format_spec or conversion:
            raise PromptError(f"{where}: placeholder {{{field_name}}} must not carry a format spec or conversion")
        if field_name not in names:
            names.append(field_name)
    return names


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    description: str
    system: str
    template: str
    variables: list[str] = field(default_factory=list)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        if len(set(self.variables)) != len(self.variables):
            raise PromptError(f"{self.source}: duplicate names in variables {self.variables}")
        used = set(self.placeholders())
        declared = set(self.variables)
        if used != declared:
            problems = []
            if used - declared:
                problems.append(f"used but not declared: {sorted(used - declared)}")
            if declared - used:
                problems.append(f"declared but not used: {sorted(declared - used)}")
            raise PromptError(f"{self.source}: variables do not match placeholders ({'; '.join(problems)})")

    def placeholders(self) -> list[str]:
        """Placeholder names in ``system`` and ``template`` together."""
        names = _placeholders(self.system, f"{self.source} system")
        for name in _placeholders(self.template, f"{self.source} template"):
            if name not in names:
                names.append(name)
        return names

    def _check(self, values: dict[str, Any]) -> None:
        missing = [v for v in self.variables if v not in values]
        unexpected = sorted(set(values) - set(self.variables))
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if unexpected:
                parts.append(f"unexpected {unexpected}")
            raise PromptError(
                f"prompt {self.name!r}: {', '.join(parts)}; it takes exactly {self.variables}"
            )
        nones = [k for k, v in values.items() if v is None]
        if nones:
            raise PromptError(f"prompt {self.name!r}: variables {sorted(nones)} are None")

    def render(self, **values: Any) -> str:
        """The user prompt. Takes exactly the declared variables."""
        self._check(values)
        return self.template.format(**values)

    def render_system(self, **values: Any) -> str:
        """The system prompt. Takes exactly the declared variables (unused ones are ignored)."""
        self._check(values)
        return self.system.format(**values)

    @classmethod
    def from_file(cls, path: Path) -> "PromptTemplate":
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise PromptError(f"{path}: not UTF-8 text ({exc})") from exc
        except yaml.YAMLError as exc:
            raise PromptError(f"{path}: invalid YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise PromptError(f"{path}: must hold a mapping with keys {list(_REQUIRED_KEYS)}")
        missing = [k for k in _REQUIRED_KEYS if k not in data]
        if missing:
            raise PromptError(f"{path}: missing keys {missing}")
        unknown = sorted(set(data) - set(_REQUIRED_KEYS))
        if unknown:
            raise PromptError(f"{path}: unknown keys {unknown}")
        for key in ("name", "description", "system", "template"):
            if not isinstance(data[key], str):
                raise PromptError(f"{path}: {key} must be text")
        variables = data["variables"]
        if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
            raise PromptError(f"{path}: variables must be a list of names")
        if data["name"] != path.stem:
            raise PromptError(f"{path}: name {data['name']!r} differs from the file name {path.stem!r}")
        return cls(
            name=data["name"],
            description=data["description"],
            system=data["system"],
            template=data["template"],
            variables=list(variables),
            source=str(path),
        )


def default_prompt_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "prompts"


class PromptLibrary:
    """The prompts in one directory; each file is parsed on first ``get`` and cached."""

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory) if directory is not None else default_prompt_dir()
        self._cache: dict[str, PromptTemplate] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            raise FileNotFoundError(f"prompt directory {self.directory} does not exist")
        return sorted(p.stem for p in self.directory.glob("*.yaml"))

    def get(self, name: str) -> PromptTemplate:
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None:
                return cached
            path = self.directory / f"{name}.yaml"
            if not path.is_file():
                available = self.names()
                raise KeyError(f"no prompt {name!r} in {self.directory} (available: {available})")
            prompt = PromptTemplate.from_file(path)
            self._cache[name] = prompt
            return prompt

    def declared_variables(self, name: str) -> list[str]:
        return list(self.get(name).variables)

    def placeholders(self, name: str) -> list[str]:
        return self.get(name).placeholders()
