"""Label and field selectors, parsed and matched as kube-apiserver does.

Label selector grammar (`k8s.io/apimachinery/pkg/labels`): comma-separated
requirements `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
`!=` and `notin` also match objects without the label, as on the real server.

Field selectors accept only the fields the real server indexes for the
resource (`metadata.name`, `metadata.namespace`, plus a few per type); any
other field is a 400, so a test cannot lean on a selector that a real cluster
would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from tests.kubeapi import errors

_IN_RE = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present  # "!"


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside `( )` of an in/notin set."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse `labelSelector=`; raises a 400 for what the real parser would reject."""
    if not text:
        return []
    reqs: list[Requirement] = []
    for part in _split_top_level(text):
        m = _IN_RE.match(part)
        if m:
            if m.group(1):
                raise errors.bad_request(f"unable to parse requirement: {part}")
            values = tuple(v.strip() for v in m.group(4).split(",") if v.strip())
            reqs.append(Requirement(m.group(2), m.group(3), values))
            continue
        for op in ("!=", "==", "="):
            if op in part:
                key, value = (s.strip() for s in part.split(op, 1))
                if not key:
                    raise errors.bad_request(f"unable to parse requirement: {part}")
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
                break
        else:
            if part.startswith("!"):
                reqs.append(Requirement(part[1:].strip(), "!"))
            elif re.fullmatch(r"[A-Za-z0-9_./-]+", part):
                reqs.append(Requirement(part, "exists"))
            else:
                raise errors.bad_request(f"unable to parse requirement: {part}")
    return reqs


def labels_match(reqs: list[Requirement], obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


def _get_path(obj: dict[str, Any], dotted: str) -> str:
    node: Any = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


#: Extra selectable fields per (group, plural), beyond metadata.name/metadata.namespace: those whose value is
#: the field's own string (the real server also indexes a few computed ones, e.g. jobs' status.successful).
_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                   "status.phase", "status.podIP", "status.nominatedNodeName"),
    ("", "events"): ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                     "involvedObject.fieldPath", "reason", "reportingComponent", "type"),
    ("", "secrets"): ("type",),
    ("", "namespaces"): ("status.phase",),
    ("events.k8s.io", "events"): ("regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                                  "reason", "type"),
}

FieldMatcher = Callable[[dict[str, Any]], bool]


def parse_field_selector(text: str | None, key: tuple[str, str]) -> FieldMatcher:
    """Parse `fieldSelector=` for the collection `key`; unsupported fields are a 400 like the real server's."""
    if not text:
        return lambda obj: True
    allowed = {"metadata.name", "metadata.namespace", *_FIELDS.get(key, ())}
    checks: list[tuple[str, bool, str]] = []
    for part in _split_top_level(text):
        for op in ("!=", "==", "="):
            if op in part:
                field, value = (s.strip() for s in part.split(op, 1))
                break
        else:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        if field not in allowed:
            raise errors.bad_request(f'field label not supported: {field}')
        checks.append((field, op != "!=", value))

    return lambda obj: all((_get_path(obj, field) == value) == equal for field, equal, value in checks)
