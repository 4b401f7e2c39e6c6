"""Every column name a spec refers to, checked against the table's columns in one pass.

A spec names columns in many places (PII rules, locked columns, fixed values,
evaluation columns, privacy domains, declared column types). A name the table
does not have used to surface late (evaluate, after training) or never (an
unknown privacy domain was ignored, so the user believed it was declared).
`reference_problems` is the one check: pure, given the spec and the column
names. prepare calls it right after reading the table, before anything is
learned; `safesynth validate JOB --data FILE` calls it offline.

Messages name the field path and the unknown column and suggest the closest
column name (difflib); column names are schema, never data values.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Sequence

from safesynth.spec.models import SafeSynthJobSpec

SUGGESTION_CUTOFF = 0.6  # difflib's own default: close enough to be a typo, loose enough for a case or plural slip
SHOWN_COLUMNS = 12  # columns listed when nothing is close: enough to spot the right one, short enough to read


def column_references(spec: SafeSynthJobSpec) -> list[tuple[str, str]]:
    """(field path, column name) for every place the spec names a column, in manifest order.

    `data.columns` and `data.groupBy` are read with getattr: they are newer
    fields, and this check must name them when the model has them.
    """
    refs: list[tuple[str, str]] = []
    declared = getattr(spec.data, "columns", None) or {}
    refs += [(f"spec.data.columns.{name}", name) for name in declared]
    group_by: Any = getattr(spec.data, "group_by", None)
    if isinstance(group_by, str):
        refs.append(("spec.data.groupBy", group_by))
    elif isinstance(group_by, (list, tuple)):
        refs += [(f"spec.data.groupBy[{i}]", name) for i, name in enumerate(group_by)]
    refs += [(f"spec.data.entityColumns[{i}]", name)
             for i, name in enumerate(getattr(spec.data, "entity_columns", None) or [])]
    order_by: Any = getattr(spec.data, "order_by", None)
    if order_by:
        refs.append(("spec.data.orderBy", order_by))
    refs += [(f"spec.pii.columns.{name}", name) for name in spec.pii.columns]
    refs += [(f"spec.pii.lockedColumns[{i}]", name) for i, name in enumerate(spec.pii.locked_columns)]
    refs += [(f"spec.privacy.domains.{name}", name) for name in spec.privacy.domains]
    refs += [(f"spec.generation.fixedValues.{name}", name) for name in spec.generation.fixed_values]
    ev = spec.evaluation
    if ev.target is not None:
        refs.append(("spec.evaluation.target", ev.target))
    refs += [(f"spec.evaluation.quasiIdentifiers[{i}]", name) for i, name in enumerate(ev.quasi_identifiers)]
    refs += [(f"spec.evaluation.sensitiveColumns[{i}]", name) for i, name in enumerate(ev.sensitive_columns)]
    return refs


def closest_column(name: str, columns: Sequence[str]) -> str | None:
    """The column `name` most likely meant: a case-insensitive match first, else difflib's closest."""
    folded = [c for c in columns if c.casefold() == name.casefold()]
    if folded:
        return folded[0]
    close = difflib.get_close_matches(name, list(columns), n=1, cutoff=SUGGESTION_CUTOFF)
    return close[0] if close else None


def _hint(name: str, columns: Sequence[str]) -> str:
    match = closest_column(name, columns)
    if match is not None:
        return f"did you mean {match!r}?"
    shown = ", ".join(repr(c) for c in columns[:SHOWN_COLUMNS])
    more = f" and {len(columns) - SHOWN_COLUMNS} more" if len(columns) > SHOWN_COLUMNS else ""
    return f"the table's columns are {shown}{more}" if columns else "the table has no columns"


def reference_problems(spec: SafeSynthJobSpec, columns: Iterable[Any]) -> list[str]:
    """'field.path: ...' for every column the spec names that `columns` lacks; empty when all are there."""
    names = [str(c) for c in columns]
    known = set(names)
    return [
        f"{path}: no column {name!r} in the table; {_hint(name, names)}"
        for path, name in column_references(spec)
        if name not in known
    ]
