"""Custom-resource schema handling: defaulting, pruning, OpenAPI and CEL validation.

kube-apiserver treats a CR body in four steps, and so does this module, in the
same order (`k8s.io/apiextensions-apiserver/pkg/apiserver/schema`):

1. **nulls and defaults** — a `null` in a non-nullable field is dropped, then
   every missing property with a `default` gets it; defaulting recurses into
   objects that exist (including ones just defaulted).
2. **pruning** — fields the structural schema does not declare are removed,
   except under `x-kubernetes-preserve-unknown-fields`; with
   `fieldValidation=Strict` they are reported instead (the caller turns them
   into a 400 `strict decoding error: unknown field "spec.x"`).
3. **OpenAPI v3.0 validation** — with jsonschema's Draft 4 validator, which
   reads `exclusiveMinimum: true` the way OpenAPI 3.0 means it; `nullable`
   and `x-kubernetes-int-or-string` are translated first. `format` is not
   checked (the real server checks a few formats; see README).
4. **x-kubernetes-validations** — CEL rules with cel-python, `self` bound to
   the node (numbers as doubles where the schema says `number`, as the real
   CEL typing does); at the root `self.metadata` holds only `name` and
   `generateName`. Transition rules (`oldSelf`) run on updates only. Rules are
   evaluated only when step 3 passed, so a malformed node reports its schema
   error rather than a CEL evaluation error.

Messages follow the real server's wording closely enough that a test can
assert on the field path and the reason.

Built-in objects have no OpenAPI schema here; for them `model_unknown_fields`
uses the kubernetes python client's generated models (`attribute_map`) to
find fields the real type does not have.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

import jsonschema

from tests.kubeapi.errors import Cause

#: ObjectMeta's JSON fields; anything else under metadata is unknown.
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
})


def _join(path: str, key: str, as_map_key: bool = False) -> str:
    if as_map_key:
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _go_value(value: Any) -> str:
    """How the real server prints a bad value in `Invalid value: X`: scalars as JSON, containers by type."""
    return f'"{_json_type(value)}"' if isinstance(value, (dict, list)) else json.dumps(value)


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "null")


def to_draft4(schema: Any) -> Any:
    """OpenAPI v3.0 (Kubernetes dialect) -> JSON Schema draft 4, recursively."""
    if isinstance(schema, list):
        return [to_draft4(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: to_draft4(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = to_draft4(value)
        elif key in ("default", "example", "description", "format", "x-kubernetes-validations"):
            continue  # annotations, or handled elsewhere
        else:
            out[key] = value
    # x-kubernetes-int-or-string comes with its anyOf (the generated CRDs write both), so it needs nothing here.
    if schema.get("nullable") and isinstance(out.get("type"), str):  # a nullable enum or untyped node: not written
        out["type"] = [out["type"], "null"]
    return out


@lru_cache(maxsize=None)
def _cel_program(rule: str) -> Any:
    """Compile once per rule text: cel-python's parser is slow enough to matter in a test suite."""
    import celpy

    env = celpy.Environment()
    return env.program(env.compile(rule))


def _to_cel(value: Any, schema: dict[str, Any]) -> Any:
    """JSON -> CEL values, typed by the schema (an integer where `number` is declared becomes a double)."""
    from celpy import celtypes

    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.DoubleType(value) if schema.get("type") == "number" else celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, list):
        items = schema.get("items") or {}
        return celtypes.ListType([_to_cel(v, items) for v in value])
    props = schema.get("properties") or {}
    addl = schema.get("additionalProperties")
    return celtypes.MapType({
        celtypes.StringType(k): _to_cel(v, props.get(k) or (addl if isinstance(addl, dict) else {}))
        for k, v in value.items()
    })


class StructuralSchema:
    """One CRD version's openAPIV3Schema, ready to default, prune and validate objects."""

    def __init__(self, kind: str, group: str, openapi: dict[str, Any]) -> None:
        self.kind = kind
        self.group = group
        self.openapi = openapi
        self._validator = jsonschema.Draft4Validator(to_draft4(openapi))

    # -- 1. nulls and defaults ------------------------------------------------------
    def apply_defaults(self, obj: dict[str, Any]) -> None:
        """Structural defaulting, in place (the real server does it on every decode)."""
        self._default(obj, self.openapi, root=True)

    def _default(self, node: Any, schema: dict[str, Any], root: bool = False) -> None:
        if isinstance(node, dict):
            props = schema.get("properties") or {}
            for key, sub in props.items():
                if root and key == "metadata":
                    continue
                if key in node and node[key] is None and not sub.get("nullable"):
                    del node[key]
                if key not in node and "default" in sub:
                    node[key] = copy.deepcopy(sub["default"])
            addl = schema.get("additionalProperties")
            for key, value in node.items():
                if root and key == "metadata":
                    continue
                sub = props.get(key) or (addl if isinstance(addl, dict) else None)
                if sub:
                    self._default(value, sub)
        elif isinstance(node, list) and isinstance(schema.get("items"), dict):
            for item in node:
                self._default(item, schema["items"])

    # -- 2. pruning -------------------------------------------------------------------
    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Remove undeclared fields in place; return their paths (`spec.foo`, `spec.list[0].bar`)."""
        unknown: list[str] = []
        self._prune(obj, self.openapi, "", unknown, root=True)
        return unknown

    def _prune(self, node: Any, schema: dict[str, Any], path: str, unknown: list[str], root: bool = False) -> None:
        if isinstance(node, dict):
            props = schema.get("properties") or {}
            addl = schema.get("additionalProperties")
            preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
            embedded = bool(schema.get("x-kubernetes-embedded-resource"))
            for key in list(node):
                if (root or embedded) and key in ("apiVersion", "kind"):
                    continue
                if (root or embedded) and key == "metadata":
                    if isinstance(node[key], dict):
                        prune_metadata(node[key], _join(path, "metadata"), unknown)
                    continue
                if key in props:
                    self._prune(node[key], props[key], _join(path, key), unknown)
                elif isinstance(addl, dict):
                    self._prune(node[key], addl, _join(path, key, as_map_key=True), unknown)
                elif addl is True or preserve:
                    continue
                else:
                    unknown.append(_join(path, key))
                    del node[key]
        elif isinstance(node, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(node):
                self._prune(item, schema["items"], f"{path}[{i}]", unknown)

    # -- 3 and 4. validation ---------------------------------------------------------
    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
        """Every schema problem, or (when there is none) every failed CEL rule."""
        causes = [self._cause(e) for e in sorted(self._validator.iter_errors(obj), key=lambda e: list(e.path))]
        if causes:
            return causes
        root_view = dict(obj)
        meta = obj.get("metadata") or {}
        root_view["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
        old_view = None
        if old is not None:
            old_view = dict(old)
            old_meta = old.get("metadata") or {}
            old_view["metadata"] = {k: old_meta[k] for k in ("name", "generateName") if k in old_meta}
        self._cel(root_view, self.openapi, "", old_view, causes, root=True)
        return causes

    def _schema_at(self, parts: list[Any]) -> tuple[str, dict[str, Any]]:
        """Walk the schema along a data path; returns the k8s-style field path and the node's schema."""
        schema, path = self.openapi, ""
        for part in parts:
            if isinstance(part, int):
                path = f"{path}[{part}]"
                schema = schema.get("items") or {}
                continue
            props = schema.get("properties") or {}
            if part in props:
                path, schema = _join(path, part), props[part]
            else:
                addl = schema.get("additionalProperties")
                path = _join(path, part, as_map_key=True)
                schema = addl if isinstance(addl, dict) else {}
        return path, schema

    def _cause(self, error: jsonschema.ValidationError) -> Cause:
        parts = list(error.absolute_path)
        path, schema = self._schema_at(parts)
        value, kw = error.instance, error.validator
        if kw == "required":
            missing = error.message.split("'")[1] if "'" in error.message else "?"
            return Cause(_join(path, missing), "Required value", "FieldValueRequired")
        if kw == "type":
            expected = error.validator_value
            expected = expected[0] if isinstance(expected, list) else expected
            actual = _json_type(value)
            return Cause(path, f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"',
                         "FieldValueTypeInvalid")
        if kw == "enum":
            supported = ", ".join(json.dumps(v) for v in error.validator_value if v is not None)
            return Cause(path, f"Unsupported value: {_go_value(value)}: supported values: {supported}",
                         "FieldValueNotSupported")
        if kw in ("minimum", "maximum"):
            exclusive = bool(schema.get("exclusiveMinimum" if kw == "minimum" else "exclusiveMaximum"))
            word = "greater" if kw == "minimum" else "less"
            bound = error.validator_value
            rel = f"{word} than {bound}" if exclusive else f"{word} than or equal to {bound}"
            return Cause(path, f"Invalid value: {_go_value(value)}: {path} in body should be {rel}")
        if kw == "maxLength":
            return Cause(path, f"Too long: may not be more than {error.validator_value} bytes", "FieldValueTooLong")
        if kw == "minLength":
            return Cause(path, f"Invalid value: {_go_value(value)}: {path} in body should be at least "
                               f"{error.validator_value} chars long")
        if kw == "pattern":
            return Cause(path, f"Invalid value: {_go_value(value)}: {path} in body should match "
                               f"'{error.validator_value}'")
        if kw in ("maxItems", "maxProperties"):
            return Cause(path, f"Too many: {len(value)}: must have at most {error.validator_value} items",
                         "FieldValueTooMany")
        if kw in ("minItems", "minProperties"):
            return Cause(path, f"Invalid value: {len(value)}: {path} in body should have at least "
                               f"{error.validator_value} {'items' if kw == 'minItems' else 'properties'}")
        return Cause(path, f"Invalid value: {_go_value(value)}: {error.message}")

    def _cel(self, node: Any, schema: dict[str, Any], path: str, old: Any, causes: list[Cause],
             root: bool = False) -> None:
        rules = schema.get("x-kubernetes-validations") or []
        for rule in rules:
            text = rule.get("rule", "")
            transition = "oldSelf" in text
            if transition and old is None:
                continue
            activation = {"self": _to_cel(node, schema)}
            if transition:
                activation["oldSelf"] = _to_cel(old, schema)
            ok, detail = self._evaluate(text, activation)
            if ok:
                continue
            message = rule.get("message") or (f"failed rule: {text}" if detail is None else detail)
            if rule.get("messageExpression"):
                ok_msg, expr_msg = self._evaluate(rule["messageExpression"], activation, want_string=True)
                if ok_msg and expr_msg:
                    message = expr_msg
            field_path = rule.get("fieldPath") or ""
            field = (path + field_path) if path else field_path.lstrip(".")
            reason = rule.get("reason") or "FieldValueInvalid"
            kind = schema.get("type") or "object"
            text_by_reason = {
                "FieldValueForbidden": f"Forbidden: {message}",
                "FieldValueRequired": f"Required value: {message}",
                "FieldValueDuplicate": f"Duplicate value: {message}",
            }
            # A rule on the root has no field path; the real server prints it as Go's nil path, "<nil>".
            causes.append(Cause(field or "<nil>", text_by_reason.get(reason, f'Invalid value: "{kind}": {message}'),
                                reason))
        if isinstance(node, dict):
            props = schema.get("properties") or {}
            addl = schema.get("additionalProperties")
            for key, value in node.items():
                if root and key == "metadata":
                    continue
                sub = props.get(key) or (addl if isinstance(addl, dict) else None)
                if sub:
                    old_value = old.get(key) if isinstance(old, dict) else None
                    self._cel(value, sub, _join(path, key, as_map_key=key not in props), old_value, causes)
        elif isinstance(node, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(node):
                self._cel(item, schema["items"], f"{path}[{i}]", None, causes)

    @staticmethod
    def _evaluate(rule: str, activation: dict[str, Any], want_string: bool = False) -> tuple[bool, Any]:
        """(passed, detail); a compile or evaluation error counts as a failure, as on the real server."""
        try:
            result = _cel_program(rule).evaluate(activation)
        except Exception as exc:  # broad on purpose: CELEvalError (cel-python raises it), CELParseError, type errors
            return False, f"{rule}: {exc}"
        if want_string:
            return True, str(result)
        return bool(result), None


def prune_metadata(meta: dict[str, Any], path: str, unknown: list[str]) -> None:
    """Drop (and report) fields ObjectMeta does not have."""
    for key in list(meta):
        if key not in OBJECT_META_FIELDS:
            unknown.append(_join(path, key))
            del meta[key]


_PRIMITIVES = frozenset({"str", "int", "bool", "float", "object", "datetime", "date", "bytearray"})


def model_unknown_fields(obj: dict[str, Any], model: str) -> list[str]:
    """Fields of a built-in object that its Kubernetes type lacks; removes them in place (pruning).

    The kubernetes python client's generated models list every JSON field of
    every built-in type (`attribute_map`, `openapi_types`), which is exactly
    what the real server's strict decoder knows.
    """
    unknown: list[str] = []
    _walk_model(obj, model, "", unknown)
    return unknown


def _walk_model(node: Any, type_name: str, path: str, unknown: list[str]) -> None:
    if type_name.startswith("list[") and isinstance(node, list):
        for i, item in enumerate(node):
            _walk_model(item, type_name[5:-1], f"{path}[{i}]", unknown)
        return
    if type_name in _PRIMITIVES or not isinstance(node, dict):
        return
    fields = _model_fields(type_name)
    if fields is None:
        return
    for key in list(node):
        if key not in fields:
            unknown.append(_join(path, key))
            del node[key]
        else:
            _walk_model(node[key], fields[key], _join(path, key), unknown)


@lru_cache(maxsize=None)
def _model_fields(type_name: str) -> dict[str, str] | None:
    from kubernetes.client import models

    cls = getattr(models, type_name, None)
    if cls is None:
        return None
    return {cls.attribute_map[attr]: typ for attr, typ in cls.openapi_types.items()}
