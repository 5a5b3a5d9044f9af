"""Questions over a whole table: 谁的优秀率最低？优秀票合计多少？有多少人称职率低于90%？张伟的优秀率是多少？

Retrieval returns the top-k passages; a maximum, a sum or a count needs every row of the table. The
cells of each spreadsheet's tables are kept with the document (kb/storage/table_store.py); a question that
says what to compute (cue words in kb/data/table_questions.yaml) and names a column of exactly one
table is computed over all its rows, and the answer names the row(s), says the computation and cites
the rows it used. Anything less certain — no column, two columns or two tables that fit equally, a
cue of two kinds — is left to the normal answerer (``answer`` returns None).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kb.models import Answer, Citation, Filters, Hit
from kb.storage.table_store import TableStore

WORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "table_questions.yaml"
MAX_CITED = 30  # rows cited at most; a sum over more rows says how many it used
MAX_LISTED = 30  # rows named at most in an answer listing the rows that meet a condition
NUMERIC_SHARE = 0.6  # a column is numeric when this share of its filled cells holds a number
_NUMBER = r"(\d+(?:\.\d+)?)\s*(%|％|票|人|分|个|名|次|项|件|条)?"


@dataclass
class Table:
    doc_id: str
    title: str
    version: str
    sheet: str
    caption: str
    names: list[str]
    columns: list[list[str]]
    label: int | None
    rows: list[dict[str, Any]]  # {"row", "cells", "summary", "chunk"}
    numeric_columns: set[int] | None = None  # filled once per stored table (TableAnswerer.numeric)

    def records(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if not r.get("summary")]

    def where(self) -> str:
        return f"《{self.title}》{self.sheet}表"


@dataclass
class Match:
    column: int
    start: int
    end: int
    score: float


@dataclass
class Condition:
    column: int
    op: str
    value: float | str
    text: str  # as the question says it: 称职率低于90%
    percent: bool = False  # the question's number is a percentage


@dataclass
class Plan:
    kind: str  # max | min | sum | avg | count | list | lookup
    table: Table
    target: int | None = None
    condition: Condition | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # lookup: the row named
    targets: list[int] = field(default_factory=list)  # lookup: the columns asked
    unit: str = ""
    cue_text: str = ""  # the question, for saying 最多 where it said 最多


_UNIT_TAILS: dict[tuple[str, ...], re.Pattern[str]] = {}
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _number(text: str, units: list[str]) -> float | None:
    key = tuple(units)
    tail = _UNIT_TAILS.get(key)
    if tail is None:
        tail = _UNIT_TAILS[key] = re.compile(r"(?:%|‰|" + "|".join(map(re.escape, units)) + r")$")
    value = unicodedata.normalize("NFKC", text or "").replace(",", "").strip()
    value = tail.sub("", value).strip()
    return float(value) if _PLAIN_NUMBER.fullmatch(value) else None


def _fmt(value: float, like: str = "") -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return text + ("%" if like.endswith("%") else "")


class TableAnswerer:
    def __init__(self, services):
        self.services = services
        self.store = TableStore(services.settings.home)
        self.words = yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8"))
        self.units = self.words["cell_units"]

    # -- what the question asks ----------------------------------------------------------------
    def cue_kind(self, question: str) -> str | None:
        """The computation the question's cue words ask for; "" when cues of two kinds disagree."""
        found = {kind for kind, cues in self.words["aggregates"].items() if any(c in question for c in cues)}
        if found - {"count", "list"} and any(w in question for w in self.words["not_computed"]):
            return ""  # "优秀率最低的原因是什么": asks about the row, not for it
        for strong in (("max", "min"), ("sum", "avg")):
            if set(strong) <= found:
                return ""
        for kind in ("max", "min", "avg", "sum", "count", "list"):
            if kind in found:
                return kind
        return None

    def _column_forms(self, table: Table, c: int) -> set[str]:
        """How a question may name column c: its name, its own header, group + own ("优秀比例"), and
        the aliases of their last word ("优秀率" for 优秀比例, "优秀票" for 优秀 under 测评票数)."""
        path = table.columns[c] if c < len(table.columns) else [table.names[c]]
        leaf = path[-1]
        forms = {table.names[c], leaf}
        if len(path) > 1:
            forms.add(path[-2] + leaf)
        for variants in self.words["column_aliases"].values():
            for form in list(forms):
                for v in variants:
                    if form.endswith(v) and len(form) > len(v):
                        forms.update(form[: -len(v)] + w for w in variants)
            if len(path) > 1 and any(v in path[-2] for v in variants):
                forms.update(leaf + w for w in variants)
        return {f for f in forms if f and not f.startswith("第") and len(f) >= 1}

    def columns_in(self, question: str, table: Table) -> list[Match]:
        """The columns the question names, each at its place; a name inside a longer name of another
        column ("称职" in "不称职") is not a mention. Two columns named at the same place by the same
        words are told apart by their group's words in the question, else both stay (ambiguous)."""
        found: list[Match] = []
        for c in range(len(table.names)):
            best = None
            for form in self._column_forms(table, c):
                for m in re.finditer(re.escape(form), question):
                    if best is None or len(form) > best.end - best.start:
                        best = Match(c, m.start(), m.end(), float(len(form)))
            if best is not None:
                path = table.columns[c] if c < len(table.columns) else []
                if len(path) > 1:
                    best.score += 0.1 * len(set(path[-2]) & set(question) - set(question[best.start:best.end]))
                found.append(best)
        # a one-character column (好, 差) is named only where the question marks it as one: quoted (“好”),
        # followed by 票/率/数…, or in a question that names the table — any 好 in any question is not
        # a question about a 好 column
        named_table = self._place_score(question, table) >= 2
        marks = tuple(self.words["one_character_marks"])
        found = [m for m in found if m.end - m.start > 1 or named_table
                 or (m.start > 0 and question[m.start - 1] in "“\"‘'「") or question[m.end:].startswith(marks)]
        kept = [m for m in found if not any(
            o.column != m.column and o.start <= m.start and m.end <= o.end and (o.end - o.start) > (m.end - m.start)
            for o in found)]
        out = []
        for m in kept:
            rivals = [o for o in kept if o.start == m.start and o.end == m.end]
            if m.score >= max(o.score for o in rivals):
                out.append(m)
        return sorted(out, key=lambda m: m.start)

    def numeric(self, table: Table, c: int) -> bool:
        if table.numeric_columns is None:
            numeric = set()
            records = table.records()
            for k in range(len(table.names)):
                values = [r["cells"][k] for r in records if k < len(r["cells"]) and r["cells"][k]]
                if values and sum(_number(v, self.units) is not None for v in values) >= NUMERIC_SHARE * len(values):
                    numeric.add(k)
            table.numeric_columns = numeric
        return c in table.numeric_columns

    def comparison(self, question: str, table: Table, matches: list[Match]) -> tuple[Condition | None, bool]:
        """The numeric condition the question puts on a column ("称职率低于90%", "优秀票20票以上"): the
        column named just before the comparison. (None, True) when a comparison names no column."""
        q = unicodedata.normalize("NFKC", question)
        ops = sorted(((w, op) for op, ws in self.words["comparisons"].items() for w in ws), key=lambda x: -len(x[0]))
        alternatives = "|".join(re.escape(w) for w, _ in ops)
        suffixes = {w: op for op, ws in self.words["comparison_suffixes"].items() for w in ws}
        suffix_re = "|".join(re.escape(w) for w in sorted(suffixes, key=len, reverse=True))
        m = re.search(rf"({alternatives})\s*{_NUMBER}\s*({suffix_re})?", q)
        if m is None:
            m2 = re.search(rf"{_NUMBER}\s*({suffix_re})", q)
            if m2 is None:
                return None, False
            op, value, at, end = suffixes[m2.group(3)], float(m2.group(1)), m2.start(), m2.end()
        else:
            op = dict(ops)[m.group(1)]
            if m.group(4) and op == "=":  # "为90%以下"
                op = suffixes[m.group(4)]
            value, at, end = float(m.group(2)), m.start(), m.end()
        before = [x for x in matches if x.end <= at + 1 and self.numeric(table, x.column)]
        if not before:
            return None, True
        column = before[-1]
        said = q[at:end]
        return Condition(column.column, op, value, question[column.start:end].strip(), "%" in said), False

    def text_condition(self, question: str, table: Table) -> Condition | None:
        """A value of a text column the question names ("职务是科长的有几人"): rows holding exactly it."""
        best: tuple[int, int, str] | None = None
        tie = False
        for c in range(len(table.names)):
            if c == table.label or self.numeric(table, c):
                continue
            for value in {r["cells"][c] for r in table.records() if c < len(r["cells"])}:
                if len(value) >= 2 and value in question:
                    if best is None or len(value) > len(best[2]):
                        best, tie = (len(value), c, value), False
                    elif len(value) == len(best[2]) and c != best[1]:
                        tie = True
        if best is None or tie:
            return None
        return Condition(best[1], "=", best[2], f"{table.names[best[1]]}为{best[2]}")

    # -- choosing the table --------------------------------------------------------------------
    def tables(self, filters: Filters | None) -> list[Table]:
        ids = self.store.doc_ids()
        if not ids:
            return []
        # the registry records of the documents with tables only: a question must not read every record
        registry: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 500):
            got = self.services.store.docs.get(ids=ids[i:i + 500], include=["metadatas"])
            registry.update(zip(got["ids"], got["metadatas"]))
        out = []
        for record in self.store.documents(registry):
            meta = registry.get(record["doc_id"], {})
            if filters is not None:
                if filters.exclude_collections and meta.get("collection") in filters.exclude_collections:
                    continue
                if filters.collections and meta.get("collection") not in filters.collections:
                    continue
                if filters.doc_types and meta.get("doc_type") not in filters.doc_types:
                    continue
                if filters.doc_ids and record["doc_id"] not in filters.doc_ids:
                    continue
            for t in record.get("tables", []):
                table = Table(record["doc_id"], record.get("title", ""), record.get("version", ""), t["sheet"],
                              t.get("caption", ""), t["names"], t.get("columns", []), t.get("label"), t["rows"])
                # the stored record is cached (kb/storage/table_store.py): what is computed once stays with it
                table.numeric_columns = t.get("_numeric")
                self.numeric(table, 0)
                t["_numeric"] = table.numeric_columns
                out.append(table)
        return out

    def _place_score(self, question: str, table: Table) -> int:
        """How much of the question's wording the table's title, sheet and caption share (two-character
        pieces): "2024年测评中…" picks the 2024 table among tables with the same columns."""
        where = table.title + table.sheet + table.caption
        return sum(1 for i in range(len(question) - 1) if question[i:i + 2] in where)

    def plan(self, question: str, filters: Filters | None = None) -> Plan | None:
        kind = self.cue_kind(question)
        if kind == "":
            return None
        options: list[tuple[int, Plan]] = []
        for table in self.tables(filters):
            plan = self._plan_for(question, kind, table)
            if plan is not None:
                options.append((self._place_score(question, table), plan))
        if not options:
            return None
        best = max(score for score, _ in options)
        chosen = [p for score, p in options if score == best]
        return chosen[0] if len(chosen) == 1 else None  # two tables fit alike: not ours to pick

    def _plan_for(self, question: str, kind: str | None, table: Table) -> Plan | None:
        if not table.records():
            return None
        matches = self.columns_in(question, table)
        columns = [m.column for m in matches]
        if len(columns) != len(set(columns)) or any(
                sum(1 for o in matches if (o.start, o.end) == (m.start, m.end)) > 1 for m in matches):
            return None  # one mention fits two columns alike
        if kind in (None, "count", "sum", "list"):
            # "张伟的优秀率是多少", "政治表现评价为好的有多少票": a question naming one row asks about that row
            lookup = self._lookup(question, table, matches)
            if lookup is not None or kind is None:
                return lookup
        condition, dangling = self.comparison(question, table, matches)
        if dangling:
            return None
        if condition is None and kind in ("count", "list"):
            condition = self.text_condition(question, table)
            if condition is not None and not self._says_what_is_counted(question, table, condition, matches):
                condition = None
        others = [m.column for m in matches if m.column != table.label and (condition is None or m.column != condition.column)]
        if kind in ("max", "min", "sum", "avg"):
            numeric = [c for c in others if self.numeric(table, c)]
            if len(numeric) != 1:
                return None
            target = numeric[0]
            if kind in ("max", "min") and any(w in table.names[target] for w in self.words["rank_columns"]):
                kind = "min" if kind == "max" else "max"  # 排名第一 is rank 1
            return Plan(kind, table, target=target, condition=condition, cue_text=question)
        if condition is None:
            return None  # "有多少人" with no condition: the number of rows is not what is asked
        unit = next((c[-1] for c in self.words["aggregates"]["count"] if c in question and c[-1] in "人名位个家项条行"), "")
        return Plan(kind, table, condition=condition, unit=unit)

    def _says_what_is_counted(self, question: str, table: Table, condition: Condition, matches: list[Match]) -> bool:
        """A value found in the question counts rows only when the question also says what it is a value
        of (职务是科长) or what the rows are (哪些单位, 多少人 of a 姓名 table): a word of a passage that
        happens to be a cell elsewhere does not make a question about that table."""
        if any(m.column == condition.column for m in matches):
            return True
        if table.label is None:
            return False
        header = table.names[table.label]
        if any(w in question for w in re.findall(r"[\u4e00-\u9fff]{2}", header)):
            return True
        person = any(w in header for w in self.words["person_columns"])
        return person and bool(re.search(r"(?:哪些|多少|几|哪几)(?:个)?人", question))

    def _lookup(self, question: str, table: Table, matches: list[Match]) -> Plan | None:
        """A question on one row: it names the row (a value of the naming column) and what it asks."""
        if table.label is None:
            return None
        named = [r for r in table.records() if len(r["cells"][table.label]) >= 2 and r["cells"][table.label] in question]
        if not named:
            return None
        longest = max(len(r["cells"][table.label]) for r in named)
        named = [r for r in named if len(r["cells"][table.label]) == longest]
        targets = [m.column for m in matches if m.column != table.label]
        if len(named) != 1 or not targets:
            return None
        return Plan("lookup", table, rows=named, targets=targets)

    # -- computing and answering ---------------------------------------------------------------
    def answer(self, question: str, filters: Filters | None = None) -> Answer | None:
        try:
            plan = self.plan(question, filters)
        except (KeyError, IndexError, TypeError, ValueError):  # a table file of another shape: not ours
            return None
        if plan is None:
            return None
        chunks = {c.chunk_id: c for c in self.services.store.document_chunks(plan.table.doc_id)}
        by_ordinal = {}
        for chunk_id, chunk in chunks.items():
            doc, version, ordinal = chunk_id.rsplit("#", 2)
            if version == plan.table.version:
                by_ordinal[int(ordinal)] = chunk
        computed = self._compute(plan)
        if computed is None:
            return None
        text, cited, note, filler = computed
        citations, hits = [], []
        marks: dict[int, int] = {}
        for row in cited[:MAX_CITED]:
            chunk = by_ordinal.get(row.get("chunk", -1))
            if chunk is None:
                return None  # the stored rows and chunks disagree: the normal answerer decides
            quote = row.get("quote") or chunk.text  # a document's table row is one line of its chunk
            if quote not in chunk.text:
                return None
            hit = Hit(rank=len(hits) + 1, chunk=chunk, score=1.0)
            if all(h.chunk.chunk_id != chunk.chunk_id for h in hits):  # rows of a document share chunks
                hits.append(hit)
            citations.append(self.services.verifier.cite(len(citations) + 1, hit, quote))
            marks[id(row)] = len(citations)
        if not citations or not all(c.verified for c in citations):
            return None
        rendered = text(lambda row: f"[{marks[id(row)]}]" if id(row) in marks else "")
        if len(cited) > MAX_CITED:
            rendered += f"（引用前{MAX_CITED}行，其余{len(cited) - MAX_CITED}行见原表。）"
        record = None
        if filler is not None:
            value, row = filler
            quote = citations[marks[id(row)] - 1].quote
            at = quote.find(value)
            if at >= 0:
                record = {"text": value, "kind": "table", "citation": marks[id(row)], "quote_start": at,
                          "quote_end": at + len(value)}
        return Answer(question=question, answer=rendered, refused=False, mode="table", citations=citations,
                      contexts=hits, notes=[note], status="answered", slot="table", filler=record)

    def _unit(self, table: Table) -> str:
        header = table.names[table.label] if table.label is not None else ""
        if any(w in header for w in self.words["person_columns"]):
            return "人"
        return "个" if header else "行"

    def column_name(self, table: Table, c: int) -> str:
        """A column as the answer names it: with its group when it has one (测评票数“优秀”)."""
        path = table.columns[c] if c < len(table.columns) else []
        name = table.names[c]
        if len(path) > 1 and path[-2] not in name:
            family = [v for vs in self.words["column_aliases"].values() if any(v in path[-2] for v in vs) for v in vs]
            if not any(name.endswith(v) for v in family):  # "优秀" under 测评票数, not "优秀率" under 比率
                return f"{path[-2]}中的“{name}”"
        return f"“{name}”"

    def _label(self, table: Table, row: dict[str, Any]) -> str:
        if table.label is not None and row["cells"][table.label]:
            return row["cells"][table.label]
        return f"第{row['row']}行"

    def _scaled(self, table: Table, cond: Condition) -> Condition:
        """"低于90%" against a column of fractions (0.875, as a sheet without a percent format shows
        them) compares with 0.9."""
        if not cond.percent or isinstance(cond.value, str):
            return cond
        cells = [r["cells"][cond.column] for r in table.records() if r["cells"][cond.column]]
        values = [_number(c, self.units) for c in cells]
        if cells and not any(c.endswith(("%", "％")) for c in cells) and all(v is not None and 0 <= v <= 1 for v in values):
            return Condition(cond.column, cond.op, cond.value / 100, cond.text, False)
        return cond

    def _holds(self, cond: Condition, cell: str) -> bool:
        if isinstance(cond.value, str):
            return cell == cond.value
        value = _number(cell, self.units)
        if value is None:
            return False
        return {"<": value < cond.value, ">": value > cond.value, "<=": value <= cond.value,
                ">=": value >= cond.value, "=": value == cond.value}[cond.op]

    def _compute(self, plan: Plan):
        """(render(mark) → answer text, rows cited, a note saying the computation, filler or None)."""
        t = plan.table
        records = t.records()
        if plan.condition is not None:
            plan.condition = self._scaled(t, plan.condition)
            records = [r for r in records if self._holds(plan.condition, r["cells"][plan.condition.column])]
        if plan.kind == "lookup":
            row = plan.rows[0]
            said = "，".join(f"{t.names[c]}为{row['cells'][c] or '（空）'}" for c in plan.targets)
            name = self._label(t, row)
            note = f"table lookup: {t.where()} row {row['row']}, columns {[t.names[c] for c in plan.targets]}"
            value = row["cells"][plan.targets[0]]
            single = bool(value) and len(plan.targets) == 1  # the value said first, as a filler is
            return (lambda mark: (f"{value}{mark(row)}\n" if single else "") + f"{t.where()}第{row['row']}行：{name}的{said}{mark(row)}。", [row], note,
                    (value, row) if value and len(plan.targets) == 1 else None)
        if plan.kind in ("count", "list"):
            cond = plan.condition
            compared = t.records()
            if not records:
                return (lambda mark: f"0\n{t.where()}全部{len(compared)}行中，没有{cond.text}的。"
                        + "".join(mark(r) for r in compared[:MAX_CITED]), compared,
                        f"table count: 0 of {len(compared)} rows where {cond.text}", None)
            unit = plan.unit or self._unit(t)
            column = self.column_name(t, cond.column)

            def render(mark):
                items = "、".join(f"{self._label(t, r)}（{r['cells'][cond.column]}）{mark(r)}" for r in records[:MAX_LISTED])
                if len(records) > MAX_LISTED:
                    items += f"等（前{MAX_LISTED}{unit}，余见原表）"
                first = f"{len(records)}{unit}" if plan.kind == "count" else "、".join(self._label(t, r) for r in records[:MAX_LISTED])
                return (f"{first}\n{cond.text}的共{len(records)}{unit}：{items}。"
                        f"（在{t.where()}全部{len(compared)}行中逐行比较{column}得出）")
            return render, records, f"table {plan.kind}: {len(records)} of {len(compared)} rows where {cond.text}", None
        c = plan.target
        column = self.column_name(t, c)
        values = [(v, r) for r in records if (v := _number(r["cells"][c], self.units)) is not None]
        if len(values) < (1 if plan.kind in ("sum", "avg") else 2):
            return None
        like = next((r["cells"][c] for _, r in values), "")
        skipped = len(records) - len(values)
        scope = f"{t.where()}{len(values)}行" + (f"（{skipped}行无此项，未计入）" if skipped else "")
        if plan.condition is not None:
            scope += f"中{plan.condition.text}的"
        if plan.kind in ("max", "min"):
            best = (max if plan.kind == "max" else min)(v for v, _ in values)
            rows = [r for v, r in values if v == best]
            word = next((w for w in ("最多", "最少", "最大", "最小") if w in plan.cue_text and (w in ("最多", "最大")) == (plan.kind == "max")),
                        "最高" if plan.kind == "max" else "最低")
            names = "、".join(f"{self._label(t, r)}{{{i}}}" for i, r in enumerate(rows))

            def render(mark):
                named = names.format(*[mark(r) for r in rows])
                same = "均为" if len(rows) > 1 else ""
                return "、".join(self._label(t, r) + mark(r) for r in rows) + f"\n{column}{word}的是{named}（{same}{rows[0]['cells'][c]}）。（比较{scope}{column}得出）"
            filler = (self._label(t, rows[0]), rows[0]) if len(rows) == 1 and t.label is not None else None
            return render, rows, f"table {plan.kind} of {column} over {len(values)} rows", filler
        total = sum(v for v, _ in values)
        if plan.kind == "sum":
            stated = [r for r in t.rows if r.get("summary") and _number(r["cells"][c], self.units) is not None]
            check = ""
            if stated and plan.condition is None:
                given = _number(stated[0]["cells"][c], self.units)
                check = "，与表中合计行一致" if given == total else f"；表中合计行为{stated[0]['cells'][c]}，与逐行相加不一致"
            rows = [r for _, r in values]

            def render(mark):
                marks = "".join(mark(r) for r in rows)
                return f"{_fmt(total, like)}\n{column}合计为{_fmt(total, like)}（{scope}{column}逐行相加{check}）。{marks}"
            return render, rows, f"table sum of {column} over {len(values)} rows = {_fmt(total, like)}", None
        mean = total / len(values)
        rows = [r for _, r in values]

        def render(mark):
            marks = "".join(mark(r) for r in rows)
            return (f"{_fmt(mean, like)}\n{column}的平均值为{_fmt(mean, like)}（{scope}之和{_fmt(total, like)}÷{len(values)}）。{marks}")
        return render, rows, f"table mean of {column} over {len(values)} rows = {_fmt(mean, like)}", None
