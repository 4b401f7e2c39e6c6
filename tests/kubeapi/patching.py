"""The three PATCH bodies kube-apiserver accepts, applied to plain dicts.

- JSON merge patch (RFC 7386, `application/merge-patch+json`): maps merge,
  `null` deletes, **lists are replaced whole**. kopf and the python client's
  custom-object calls use it.
- Strategic merge patch (`application/strategic-merge-patch+json`, built-in
  types only; the python client sends it for a dict body): like merge patch,
  except lists that carry a patch merge key in the Kubernetes API types
  (containers by `name`, env by `name`, conditions by `type`, ...) are merged
  element by element, `finalizers` are unioned, and `$patch`,
  `$setElementOrder`, `$retainKeys`, `$deleteFromPrimitiveList` directives
  are honoured or stripped. The merge-key table below covers the fields
  this project touches, not the whole API (see README).
- JSON patch (RFC 6902, `application/json-patch+json`): add, remove,
  replace, move, copy, test over JSON pointers. Written here (small) rather
  than taken from the `jsonpatch` package, which safesynth does not declare.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.kubeapi import errors

#: field name -> patch merge key, for lists the Kubernetes API types mark `patchStrategy:"merge"`.
MERGE_KEYS: dict[str, str] = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip", "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}
#: lists of scalars merged as sets (`patchStrategy:"merge"` on a []string).
MERGED_SCALAR_LISTS = frozenset({"finalizers"})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: returns the patched copy of `target`."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _ports_key(items: list[Any]) -> str:
    """Container ports merge on containerPort, Service ports on port."""
    return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch for built-in objects (see module docstring for what is covered)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if field in MERGED_SCALAR_LISTS:
        return current + [v for v in patch if v not in current]
    merge_key = _ports_key(current + patch) if field == "ports" else MERGE_KEYS.get(field)
    if merge_key is None or not all(isinstance(i, dict) for i in current + patch):
        return [_strip_directives(v) for v in patch]
    result = copy.deepcopy(current)
    for item in patch:
        key_value = item.get(merge_key)
        index = next((i for i, old in enumerate(result) if old.get(merge_key) == key_value), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.ApiError(422, "Invalid", f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise errors.ApiError(422, "Invalid", f"jsonpatch: path {path!r} not found") from None
    return node


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 over a copy of `target`; a failed op (or `test`) is a 422, as on the real server."""
    if not isinstance(operations, list):
        raise errors.bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        parts = _pointer(path)
        if kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            holder = _parent(doc, source, op.get("from", ""))
            try:
                value = copy.deepcopy(holder[int(source[-1])] if isinstance(holder, list) else holder[source[-1]])
            except (KeyError, IndexError, ValueError):
                raise errors.ApiError(422, "Invalid", f"jsonpatch {kind}: from {op.get('from')!r} missing") from None
            if kind == "move":
                doc = json_patch(doc, [{"op": "remove", "path": op["from"]}])
            doc = json_patch(doc, [{"op": "add", "path": path, "value": value}])
            continue
        if not parts:
            if kind in ("add", "replace"):
                doc = copy.deepcopy(op.get("value"))
                continue
            raise errors.ApiError(422, "Invalid", f"jsonpatch {kind} of the whole document is not supported")
        parent = _parent(doc, parts, path)
        last = parts[-1]
        try:
            if kind == "test":
                actual = parent[int(last)] if isinstance(parent, list) else parent[last]
                if actual != op.get("value"):
                    raise errors.ApiError(422, "Invalid", f"jsonpatch test operation does not apply: doc is "
                                                          f"{actual!r}, path {path!r} wanted {op.get('value')!r}")
            elif kind == "add":
                if isinstance(parent, list):
                    parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(op.get("value")))
                else:
                    parent[last] = copy.deepcopy(op.get("value"))
            elif kind == "remove":
                if isinstance(parent, list):
                    parent.pop(int(last))
                else:
                    del parent[last]
            elif kind == "replace":
                if isinstance(parent, list):
                    parent[int(last)] = copy.deepcopy(op.get("value"))
                else:
                    if last not in parent:
                        raise KeyError(last)
                    parent[last] = copy.deepcopy(op.get("value"))
            else:
                raise errors.bad_request(f"unknown json patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError):
            raise errors.ApiError(422, "Invalid", f"jsonpatch {kind} operation does not apply: "
                                                  f"doc is missing path: {path!r}") from None
    return doc
