"""Server-side printing: `meta.k8s.io/v1 Table` responses for `kubectl get`.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the
columns the server returns; that is how a CRD's `additionalPrinterColumns`
reach the terminal. Custom resources get Name plus their printer columns
(JSONPath evaluated on the object, `date` columns as ages like `5s`), built-in
types the handful of columns `kubectl get` users expect; other types Name and
Age.
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


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y"


def age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return human_duration((datetime.now(timezone.utc) - then).total_seconds())


_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']+)'\]")


def json_path(obj: Any, path: str) -> Any:
    """The simple JSONPath subset printer columns use: `.a.b`, `.a[0]`, `.a['x.y']`."""
    node = obj
    for m in _TOKEN.finditer(path.strip().strip("{}")):
        key = m.group(1) or m.group(3)
        if key is not None:
            node = node.get(key) if isinstance(node, dict) else None
        else:
            index = int(m.group(2))
            node = node[index] if isinstance(node, list) and index < len(node) else None
        if node is None:
            return None
    return node


def _cell(column_type: str, value: Any) -> Any:
    if value is None:
        return None
    if column_type == "date":
        return age(value) if isinstance(value, str) else "<invalid>"
    if column_type == "integer":
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if column_type == "string" and not isinstance(value, str):
        return str(value)
    return value


def _pod_status(obj: Obj) -> str:
    status = obj.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "terminated" in state:
            return state["terminated"].get("reason") or "Terminated"
        if "waiting" in state:
            return state["waiting"].get("reason") or "Waiting"
    return status.get("phase", "Unknown")


def _job_status(obj: Obj) -> str:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed", "Suspended"):
            return cond["type"]
    return "Running"


Column = tuple[dict[str, Any], Callable[[Obj], Any]]


def _col(name: str, typ: str, fn: Callable[[Obj], Any]) -> Column:
    return ({"name": name, "type": typ, "format": "", "priority": 0, "description": name}, fn)


def _age_col() -> Column:
    return (AGE_COLUMN, lambda o: age(o["metadata"].get("creationTimestamp")))


def _pod_ready(obj: Obj) -> str:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    return f"{sum(1 for c in statuses if c.get('ready'))}/{len((obj.get('spec') or {}).get('containers') or [])}"


def _pod_restarts(obj: Obj) -> str:
    return str(sum(c.get("restartCount", 0) for c in (obj.get("status") or {}).get("containerStatuses") or []))


def _job_completions(obj: Obj) -> str:
    return f"{(obj.get('status') or {}).get('succeeded', 0)}/{(obj.get('spec') or {}).get('completions', 1)}"


_BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "pods"): [_col("Ready", "string", _pod_ready), _col("Status", "string", _pod_status),
                   _col("Restarts", "string", _pod_restarts), _age_col()],
    ("batch", "jobs"): [_col("Status", "string", _job_status), _col("Completions", "string", _job_completions),
                        _age_col()],
    ("", "namespaces"): [_col("Status", "string", lambda o: (o.get("status") or {}).get("phase", "")), _age_col()],
    ("", "configmaps"): [_col("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
                         _age_col()],
    ("", "secrets"): [_col("Type", "string", lambda o: o.get("type", "")),
                      _col("Data", "integer", lambda o: len(o.get("data") or {})), _age_col()],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        ({"name": "Created At", "type": "date", "format": "", "priority": 0, "description": "Created At"},
         lambda o: o["metadata"].get("creationTimestamp"))],
}


def _columns(rt: ResourceType) -> list[Column]:
    if rt.is_custom:
        printer = (rt.crd_version or {}).get("additionalPrinterColumns")
        if not printer:
            return [_age_col()]
        cols: list[Column] = []
        for pc in printer:
            definition = {"name": pc["name"], "type": pc.get("type", "string"), "format": pc.get("format", ""),
                          "description": pc.get("description", ""), "priority": pc.get("priority", 0)}
            cols.append((definition, lambda o, p=pc: _cell(p.get("type", "string"), json_path(o, p["jsonPath"]))))
        return cols
    return _BUILTIN_COLUMNS.get(rt.key, [_age_col()])


def to_table(rt: ResourceType, objects: list[Obj], resource_version: str, include_object: str = "Metadata",
             list_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    columns = [(NAME_COLUMN, lambda o: o["metadata"]["name"]), *_columns(rt)]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [fn(obj) for _, fn in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    meta = {"resourceVersion": resource_version, **(list_meta or {})}
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": [c for c, _ in columns], "rows": rows}
