"""The three PATCH bodies kube-apiserver accepts, applied to plain dicts.

- JSON merge patch (RFC 7386, `application/merge-patch+json`): maps merge,
  `null` deletes, **lists are replaced whole**. kopf and the python client's
  custom-object calls use it.
- Strategic merge patch (`application/strategic-merge-patch+json`, built-in
  types only; kubectl apply and the python client send it): like merge patch,
  except lists that carry a patch merge key in the Kubernetes API types
  (containers by `name`, env by `name`, conditions by `type`, ...) are merged
  element by element, `finalizers` are unioned, and a list item with
  `$patch: delete` is removed. Other directives (`$setElementOrder`,
  `$retainKeys`, `$deleteFromPrimitiveList`, `$patch` on a map) are dropped,
  not honoured: no client these tests run sends them with an effect. The
  merge-key table below covers the fields this project touches, not the
  whole API (see README).
- JSON patch (RFC 6902, `application/json-patch+json`): the `jsonpatch`
  package, which kopf depends on (it builds such patches itself), so it is
  installed wherever these tests run.

Merge patch is written here (ten lines) rather than shared with the operator:
the emulation must not import the code it checks.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

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


def strategic_merge_patch(target: Any, patch: dict[str, Any]) -> Any:
    """Strategic merge patch for built-in objects (see module docstring for what is covered)."""
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        elif isinstance(value, dict):
            result[key] = strategic_merge_patch(result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if field in MERGED_SCALAR_LISTS:
        return current + [v for v in patch if v not in current]
    merge_key = MERGE_KEYS.get(field)
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


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 over a copy of `target`; one that does not apply (a failed `test`, or malformed) is a 422."""
    try:
        return jsonpatch.apply_patch(target, operations)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:  # InvalidJsonPatch too
        raise errors.ApiError(422, "Invalid", f"jsonpatch operation does not apply: {exc}") from None
