"""Server-side printing: `meta.k8s.io/v1 Table` responses for `kubectl get`.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the
columns the server returns; that is how a CRD's `additionalPrinterColumns`
reach the terminal. Custom resources get Name plus their printer columns
(JSONPath evaluated on the object, `date` columns as ages like `5s`), CRDs
Name and Created At, other built-in types Name and Age (a real server prints
more columns for pods, jobs and the like; no test here reads them).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable

from tests.kubeapi.resources import ResourceType

Obj = dict[str, Any]
NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
               "description": "Name must be unique within a namespace."}
AGE_COLUMN = {"name": "Age", "type": "date", "format": "", "priority": 0,
              "description": "CreationTimestamp is a timestamp representing the server time when this object "
                             "was created."}


def age(timestamp: str) -> str:
    """Seconds since `timestamp`, as kubectl prints a young object's age (`42s`).

    apimachinery's HumanDuration switches to minutes at 120 s, hours, days;
    a server here lives for one test, so only the seconds form is written.
    """
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return f"{max(int((datetime.now(timezone.utc) - then).total_seconds()), 0)}s"


_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\['([^']+)'\]")


def json_path(obj: Any, path: str) -> Any:
    """The JSONPath subset the printer columns here use: `.a.b`, `.a['x.y']` (no list indexes or filters)."""
    node = obj
    for m in _TOKEN.finditer(path.strip().strip("{}")):
        node = node.get(m.group(1) or m.group(2)) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def _cell(column_type: str, value: Any) -> Any:
    """A printer column's cell: `date` columns become ages, everything else is printed as the JSON value."""
    return age(value) if column_type == "date" and isinstance(value, str) else value


Column = tuple[dict[str, Any], Callable[[Obj], Any]]


def _age_col() -> Column:
    return (AGE_COLUMN, lambda o: age(o["metadata"]["creationTimestamp"]))


#: Built-in types with columns of their own; the others print Name and Age.
_BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        ({"name": "Created At", "type": "date", "format": "", "priority": 0, "description": "Created At"},
         lambda o: o["metadata"].get("creationTimestamp"))],
}


def _columns(rt: ResourceType) -> list[Column]:
    if rt.is_custom:
        cols: list[Column] = []
        for pc in (rt.crd_version or {}).get("additionalPrinterColumns") or []:
            definition = {"name": pc["name"], "type": pc.get("type", "string"), "format": pc.get("format", ""),
                          "description": pc.get("description", ""), "priority": pc.get("priority", 0)}
            cols.append((definition, lambda o, p=pc: _cell(p.get("type", "string"), json_path(o, p["jsonPath"]))))
        return cols
    return _BUILTIN_COLUMNS.get(rt.key, [_age_col()])


def to_table(rt: ResourceType, objects: list[Obj], resource_version: str, include_object: str = "Metadata"
             ) -> dict[str, Any]:
    columns = [(NAME_COLUMN, lambda o: o["metadata"]["name"]), *_columns(rt)]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [fn(obj) for _, fn in columns]}
        if include_object != "None":  # kubectl asks for Metadata; "Object" is answered the same way
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": [c for c, _ in columns], "rows": rows}
