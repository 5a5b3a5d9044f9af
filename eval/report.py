"""Thresholds (the quality gate) and the JSON / Markdown renderings of an evaluation report.

Thresholds file (YAML)::

    domain_qa:                # a dataset kind, or a dataset name (a name wins over its kind)
      min: {source_hit@5: 0.92, key_point_recall: 0.80}
      max: {false_refusal_rate: 0.05}

A metric with no value (``None``: nothing to measure, e.g. no citations at all) is shown as n/a and
does not fail the gate.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import LOWER_IS_BETTER, METRIC_DEFINITIONS, definitions_markdown

DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.yaml")
CI_THRESHOLDS = Path(__file__).with_name("ci_thresholds.yaml")
WORST_ITEMS = 10
_EPSILON = 1e-9  # a rate of exactly 1.0 computed as 0.9999999 must still pass a 1.0 gate


class ThresholdsError(ValueError):
    """A thresholds file that cannot be read or is malformed; the message names the file."""


def load_thresholds(path: str | Path) -> dict[str, dict[str, dict[str, float]]]:
    """Read and validate a thresholds YAML file: {kind or dataset name: {"min"|"max": {metric: number}}}."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThresholdsError(f"{path}: no such thresholds file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ThresholdsError(f"{path}: cannot read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ThresholdsError(f"{path}: malformed YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ThresholdsError(f"{path}: must be a mapping of dataset kind → min/max gates")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key, gate in data.items():
        if not isinstance(gate, dict) or not set(gate) <= {"min", "max"}:
            raise ThresholdsError(f"{path}: {key}: expected a mapping with 'min' and/or 'max'")
        out[str(key)] = {}
        for direction, bounds in gate.items():
            if not isinstance(bounds, dict):
                raise ThresholdsError(f"{path}: {key}.{direction}: expected a mapping of metric → number")
            checked = {}
            for metric, bound in bounds.items():
                if metric not in METRIC_DEFINITIONS:
                    raise ThresholdsError(f"{path}: {key}.{direction}: unknown metric {metric!r}")
                if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                    raise ThresholdsError(f"{path}: {key}.{direction}.{metric}: not a number ({bound!r})")
                if direction == "min" and metric in LOWER_IS_BETTER:
                    raise ThresholdsError(f"{path}: {key}.min.{metric}: lower is better — gate it under 'max'")
                checked[str(metric)] = float(bound)
            out[str(key)][direction] = checked
    return out


@dataclass
class GateResult:
    dataset: str
    metric: str
    op: str  # ">=" for a min gate, "<=" for a max gate
    bound: float
    value: float | None
    passed: bool | None  # None when the metric has no value

    def message(self) -> str:
        if self.value is None:
            return f"N/A {self.dataset}: {self.metric} has no value (gate {self.op} {self.bound:.2f})"
        value, bound = _pair(self.value, self.bound)
        sign = "<" if self.op == ">=" else ">"
        state = "FAIL" if not self.passed else "PASS"
        return f"{state} {self.dataset}: {self.metric} {value} {sign if not self.passed else self.op} {bound}"


def _pair(value: float, bound: float) -> tuple[str, str]:
    """Format value and bound with enough digits to show that they differ."""
    for digits in (2, 3, 4, 6):
        a, b = f"{value:.{digits}f}", f"{bound:.{digits}f}"
        if a != b or value == bound:
            return a, b
    return f"{value!r}", f"{bound!r}"


def gate_for(name: str, kind: str, thresholds: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return thresholds.get(name) or thresholds.get(kind) or {}


def check_thresholds(report: dict[str, Any], thresholds: dict[str, dict[str, dict[str, float]]]) -> list[GateResult]:
    """Every gated metric of every dataset, with whether it passes."""
    results = []
    for name, entry in report.get("datasets", {}).items():
        gate = gate_for(name, entry.get("kind", ""), thresholds)
        for direction, op in (("min", ">="), ("max", "<=")):
            for metric, bound in gate.get(direction, {}).items():
                value = entry.get("metrics", {}).get(metric)
                if value is None:
                    passed = None
                elif direction == "min":
                    passed = value >= bound - _EPSILON
                else:
                    passed = value <= bound + _EPSILON
                results.append(GateResult(name, metric, op, bound, value, passed))
    return results


def failures(results: list[GateResult]) -> list[GateResult]:
    return [r for r in results if r.passed is False]


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _cell(text: Any, limit: int = 200) -> str:
    """Markdown-table-safe, single-line, bounded text."""
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _metric_names(report: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for entry in report.get("datasets", {}).values():
        for name in entry.get("metrics", {}):
            if name not in names:
                names.append(name)
    return names


def summary_table(report: dict[str, Any], thresholds: dict[str, dict[str, dict[str, float]]] | None = None) -> str:
    """One row per dataset × metric: value, gate and PASS/FAIL."""
    thresholds = thresholds or {}
    lines = ["| Dataset | Kind | Items | Metric | Value | Gate | Result |", "|---|---|---:|---|---:|---|---|"]
    for name, entry in report.get("datasets", {}).items():
        gate = gate_for(name, entry.get("kind", ""), thresholds)
        for metric, value in entry.get("metrics", {}).items():
            if metric in gate.get("min", {}):
                bound, op = gate["min"][metric], "≥"
                ok = None if value is None else value >= bound - _EPSILON
            elif metric in gate.get("max", {}):
                bound, op = gate["max"][metric], "≤"
                ok = None if value is None else value <= bound + _EPSILON
            else:
                bound, op, ok = None, "", None
            gate_text = f"{op} {bound:.2f}" if bound is not None else "—"
            result = "—" if bound is None else ("n/a" if ok is None else ("PASS" if ok else "**FAIL**"))
            lines.append(
                f"| {name} | {entry.get('kind', '')} | {entry.get('n_items', len(entry.get('items', [])))} "
                f"| {metric} | {_fmt(value)} | {gate_text} | {result} |"
            )
    return "\n".join(lines) + "\n"


def by_type_tables(report: dict[str, Any]) -> str:
    parts = []
    for name, entry in report.get("datasets", {}).items():
        groups = entry.get("by_type", {})
        if not groups:
            continue
        metrics = [k for k in entry.get("metrics", {}) if any(g.get(k) is not None for g in groups.values())]
        parts.append(f"### {name}\n")
        parts.append("| Type | n | " + " | ".join(metrics) + " |")
        parts.append("|---|---:|" + "---:|" * len(metrics))
        for type_name, values in sorted(groups.items()):
            cells = " | ".join(_fmt(values.get(k)) for k in metrics)
            parts.append(f"| {_cell(type_name)} | {values.get('n', '')} | {cells} |")
        parts.append("")
    return "\n".join(parts) + ("\n" if parts else "")


def worst_items(entry: dict[str, Any], count: int = WORST_ITEMS) -> list[dict[str, Any]]:
    """The lowest-scoring imperfect items, worst first (ties keep dataset order)."""
    imperfect = [r for r in entry.get("items", []) if r.get("score", 1.0) < 1.0 or r.get("why")]
    return sorted(imperfect, key=lambda r: r.get("score", 1.0))[:count]


def worst_items_section(report: dict[str, Any], count: int = WORST_ITEMS) -> str:
    parts = []
    for name, entry in report.get("datasets", {}).items():
        items = worst_items(entry, count)
        parts.append(f"### {name}\n")
        if not items:
            parts.append("No imperfect items.\n")
            continue
        for rank, r in enumerate(items, 1):
            parts.append(f"{rank}. **{_cell(r.get('id'))}** ({_cell(r.get('type'))}, score {_fmt(float(r.get('score', 0)))})")
            parts.append(f"   - question: {_cell(r.get('question', ''), 300)}")
            parts.append(f"   - expected: {_cell(r.get('expected', ''), 300)}")
            parts.append(f"   - got: {_cell(r.get('got', '') or '(empty)', 300)}")
            parts.append(f"   - why: {_cell('; '.join(r.get('why', [])) or 'partial score', 500)}")
        parts.append("")
    return "\n".join(parts) + "\n"


def render_markdown(
    report: dict[str, Any],
    thresholds: dict[str, dict[str, dict[str, float]]] | None = None,
    include_items: bool = True,
) -> str:
    """The full Markdown report: summary with gates, per-type breakdown, worst items, definitions.
    `include_items=False` leaves out the worst items, which quote the dataset (for a report that is
    committed to a repository while the dataset itself must not be)."""
    results = check_thresholds(report, thresholds or {})
    failing = failures(results)
    settings = report.get("settings", {})
    lines = ["# Evaluation report", ""]
    if settings:
        lines.append("Configuration: " + ", ".join(f"{k}={_cell(v)}" for k, v in settings.items()))
        lines.append("")
    verdict = "PASS" if not failing else f"FAIL ({len(failing)} metric(s) below their gate)"
    lines.append(f"**Gate: {verdict}**")
    lines.append("")
    for r in failing:
        lines.append(f"- {r.message()}")
    if failing:
        lines.append("")
    lines += ["## Summary", "", summary_table(report, thresholds)]
    lines += ["## Per-type breakdown", "", by_type_tables(report)]
    if include_items:
        lines += [f"## Worst items (up to {WORST_ITEMS} per dataset)", "", worst_items_section(report)]
    else:
        lines += ["## Worst items", "", "Left out of this copy (they quote the dataset); `kb eval --md` without `--no-items` shows them.", ""]
    lines += ["## Metric definitions", "", definitions_markdown(_metric_names(report))]
    return "\n".join(lines)


__all__ = [
    "CI_THRESHOLDS",
    "DEFAULT_THRESHOLDS",
    "GateResult",
    "ThresholdsError",
    "check_thresholds",
    "failures",
    "gate_for",
    "load_thresholds",
    "render_json",
    "render_markdown",
    "summary_table",
    "worst_items",
]
