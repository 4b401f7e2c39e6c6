"""Which facts of a DP job's column layout were read from the raw table instead of declared in the spec.

Why: under `spec.privacy` the train and generate stages write only what DP
mechanisms released plus public facts. The layout they build on is not a DP
release: prepare infers each column's kind, a date column's formats and a
number column's separators from the raw values (`schema.json`, which also
renders the CSV), the PII stage may re-infer the kind of a column it changed,
and its detection decides which columns hold fakes that generate draws afresh.
Those are public only when the spec says them (README, "Differential
privacy", "Not covered by the guarantee"). `undeclared_facts` lists, per
category, each such fact the spec does not declare, with the spec field that
would declare it and the value it was read as (kind names, strptime formats,
separators and PII entity names: never a data value). The train stage refuses
to run on any of them with `privacy.requireDeclaredSchema`, and otherwise
warns once per fact (`warnings`).

Pure: reads the schema dict train reads (pii's or prepare's `schema.json`),
the spec's declarations and the PII report's refaked columns; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from safesynth.spec.models import ColumnDeclaration, ColumnRule, DeclaredKind, PiiAction

# Warning codes (schema_model.WARNING_TEXT), one per category.
KIND, FORMAT, SPELLING, FAKE = "dpUndeclaredKind", "dpUndeclaredFormat", "dpUndeclaredSpelling", "dpUndeclaredFake"
DECLARABLE_KINDS = frozenset(k.value for k in DeclaredKind)
UNIT = "unit"  # the last part of a unit's path: no such spec field, a unit cannot be declared


@dataclass(frozen=True)
class Fact:
    """One fact read from the data: the column, its kind as train reads it, the spec field that would declare
    the fact and the value it was read as (a kind, a format, a separator or an entity name)."""

    column: str
    kind: str
    path: str
    value: str


@dataclass(frozen=True)
class Undeclared:
    """The undeclared facts per category, each in the table's column order."""

    kinds: tuple[Fact, ...] = ()  # the kind train uses, inferred by prepare or changed by the PII stage
    formats: tuple[Fact, ...] = ()  # a date column's formats, read off its strings (the CSV is written in them)
    spellings: tuple[Fact, ...] = ()  # a number column's decimal mark, thousands separator or unit, as read
    fakes: tuple[Fact, ...] = ()  # columns the PII stage faked (generate fakes them again) on its own decision

    def __bool__(self) -> bool:
        return bool(self.kinds or self.formats or self.spellings or self.fakes)

    @property
    def facts(self) -> tuple[Fact, ...]:
        return self.kinds + self.formats + self.spellings + self.fakes

    def paths(self) -> list[str]:
        """The spec fields to declare, e.g. spec.data.columns.age.kind, spec.pii.columns.email."""
        return [f.path for f in self.facts]

    def warnings(self) -> list[dict[str, str]]:
        """One summary warning per fact (schema_model.WARNING_TEXT codes): column, kind and code, no value."""
        codes = ((self.kinds, KIND), (self.formats, FORMAT), (self.spellings, SPELLING), (self.fakes, FAKE))
        return [{"column": f.column, "code": code, "kind": f.kind} for facts, code in codes for f in facts]

    def snippet(self, declared: Mapping[str, ColumnDeclaration], rules: Mapping[str, ColumnRule]) -> str:
        """YAML to paste under the manifest's top level: each named column's declaration as it stands plus the
        values read from the data (an entirely null column, kind empty, and a unit have no declaration: left
        out)."""
        import yaml

        data: dict[str, dict[str, Any]] = {}
        for fact in self.kinds + self.formats + self.spellings:
            field = fact.path.rsplit(".", 1)[1]
            if (field == "kind" and fact.value not in DECLARABLE_KINDS) or field == UNIT:
                continue
            entry = data.setdefault(fact.column, _dump(declared.get(fact.column)))
            if field == "format":
                entry.setdefault("kind", "datetime")
            entry[field] = fact.value
        pii = {f.column: {**_dump(rules.get(f.column)), "action": PiiAction.FAKE.value, "entity": f.value}
               for f in self.fakes}
        spec: dict[str, Any] = {}
        if data:
            spec["data"] = {"columns": data}
        if pii:
            spec["pii"] = {"columns": pii}
        text: str = yaml.safe_dump({"spec": spec}, default_flow_style=None, sort_keys=False, width=120)
        return text


def _dump(model: Optional[ColumnDeclaration | ColumnRule]) -> dict[str, Any]:
    return {} if model is None else dict(model.model_dump(by_alias=True, mode="json", exclude_defaults=True))


def declared_kind(decl: Optional[ColumnDeclaration]) -> Optional[str]:
    """The kind a declaration fixes (as prepare reads it: `identifier: true` means identifier, a format
    datetime), or None when it leaves the kind to inference."""
    if decl is None:
        return None
    if decl.identifier:
        return "identifier"
    if decl.kind is not None:
        return decl.kind.value
    return "datetime" if decl.format else None


def undeclared_facts(schema: Mapping[str, Any], declared: Mapping[str, ColumnDeclaration],
                     refaked: Mapping[str, str], rules: Mapping[str, ColumnRule]) -> Undeclared:
    """The facts of `schema` (the columns train reads, a schema.json dict) not fixed by the spec.

    - kind: the column's kind differs from the one `declared` (spec.data.columns) fixes, or none is declared;
      a column generate fakes again is exempt (its output is fresh fakes whatever its kind);
    - format: a datetime column whose schema carries formats read off its strings while spec.data.columns
      declares none (a column stored as dates, or changed by the PII stage, has none: nothing was read);
    - spelling: a number column written with a decimal comma or a thousands separator read off its strings,
      neither declared, or with a unit ("%", "$": ColumnDeclaration has no field for one);
    - fake: a column in `refaked` (column -> entity, pii/report.json) that `rules` (spec.pii.columns) does
      not name with action fake and that entity.
    """
    kinds: list[Fact] = []
    formats: list[Fact] = []
    spellings: list[Fact] = []
    fakes: list[Fact] = []
    for col in schema.get("columns", []):
        name, kind = str(col["name"]), str(getattr(col["kind"], "value", col["kind"]))
        decl = declared.get(name)
        if name in refaked:
            rule, entity = rules.get(name), str(refaked[name])
            if rule is None or rule.action != PiiAction.FAKE:
                fakes.append(Fact(name, kind, f"spec.pii.columns.{name}", entity))
            elif rule.entity is None or rule.entity.value != entity:
                fakes.append(Fact(name, kind, f"spec.pii.columns.{name}.entity", entity))
            continue
        if declared_kind(decl) != kind:
            kinds.append(Fact(name, kind, f"spec.data.columns.{name}.kind", kind))
        read = [f["format"] for f in col.get("formats") or []] or ([col["format"]] if col.get("format") else [])
        if kind == "datetime" and read and (decl is None or decl.format is None):
            formats.append(Fact(name, kind, f"spec.data.columns.{name}.format", str(read[0])))
        if kind in ("integer", "float") and (decl is None or (decl.decimal is None and decl.thousands is None)):
            if col.get("decimal") not in (None, "."):
                spellings.append(Fact(name, kind, f"spec.data.columns.{name}.decimal", str(col["decimal"])))
            if col.get("thousands"):
                spellings.append(Fact(name, kind, f"spec.data.columns.{name}.thousands", str(col["thousands"])))
        if kind in ("integer", "float") and col.get("unit"):
            spellings.append(Fact(name, kind, f"spec.data.columns.{name}.{UNIT}", str(col["unit"])))
    return Undeclared(tuple(kinds), tuple(formats), tuple(spellings), tuple(fakes))


def refusal(found: Undeclared, declared: Mapping[str, ColumnDeclaration], rules: Mapping[str, ColumnRule]) -> str:
    """The message for privacy.requireDeclaredSchema: the fields to declare and a snippet declaring them."""
    empty = [f.column for f in found.kinds if f.value not in DECLARABLE_KINDS]
    lines = [f"spec.privacy.requireDeclaredSchema: {len(found.facts)} fact(s) of the column layout were read from "
             "the table, outside the DP guarantee; declare them (values below are what the data gave: check them):",
             "  " + ", ".join(found.paths())]
    if empty:
        lines.append(f"  entirely null, kind empty (no declaration changes it; leave the column out): "
                     f"{', '.join(empty)}")
    units = [f.column for f in found.spellings if f.path.endswith(f".{UNIT}")]
    if units:
        lines.append(f"  numbers written with a unit (none can be declared: write them without it, or declare "
                     f"kind text): {', '.join(units)}")
    lines.append(found.snippet(declared, rules).rstrip())
    return "\n".join(lines)
