"""Custom-resource schema handling (schema.py): defaulting, pruning, OpenAPI and CEL rules. Pure, no server."""

from __future__ import annotations

from typing import Any

from tests.kubeapi.schema import StructuralSchema

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10, "exclusiveMaximum": True},
                "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "default": 0.5},
                "note": {"type": "string", "nullable": True},
                "quota": {"x-kubernetes-int-or-string": True,
                          "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "inner": {"type": "object", "default": {},
                          "properties": {"mode": {"type": "string", "enum": ["a", "b"], "default": "a"}}},
                "items": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "weight": {"type": "integer", "default": 1}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "x-kubernetes-validations": [
                {"rule": "self.ratio < 1.0", "message": "ratio must be below 1", "fieldPath": ".ratio"},
                {"rule": "self.size == oldSelf.size", "message": "size is immutable"},
                {"rule": "self.size != 7", "messageExpression": "'size ' + string(self.size) + ' is unlucky'"},
            ],
        },
    },
    "x-kubernetes-validations": [{"rule": "self.metadata.name.size() <= 5", "message": "name too long"}],
}


def _obj(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec}


def _schema() -> StructuralSchema:
    return StructuralSchema("Thing", "x.io", SCHEMA)


def test_defaults_recurse_into_defaulted_objects_and_list_items():
    obj = _obj(size=2, items=[{"name": "x"}], note=None)
    _schema().apply_defaults(obj)
    assert obj["spec"]["ratio"] == 0.5
    assert obj["spec"]["inner"] == {"mode": "a"}, "a defaulted object gets its own defaults"
    assert obj["spec"]["items"] == [{"name": "x", "weight": 1}]
    assert obj["spec"]["note"] is None, "nullable keeps null"


def test_pruning_keeps_preserved_and_map_fields():
    obj = _obj(size=2, extra=1, free={"anything": {"goes": 1}}, labels={"a": "b"}, items=[{"name": "x", "bad": 1}])
    obj["metadata"]["bogus"] = 1
    unknown = _schema().prune(obj)
    assert sorted(unknown) == ["metadata.bogus", "spec.extra", "spec.items[0].bad"]
    assert obj["spec"]["free"] == {"anything": {"goes": 1}} and obj["spec"]["labels"] == {"a": "b"}


def test_openapi_errors_name_the_field():
    schema = _schema()
    causes = schema.validate(_obj(size=10, ratio=0, quota=1.5, inner={"mode": "c"}))
    lines = sorted(c.line() for c in causes)
    assert lines == sorted([
        "spec.size: Invalid value: 10: spec.size in body should be less than 10",
        "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0",
        'spec.inner.mode: Unsupported value: "c": supported values: "a", "b"',
        "spec.quota: Invalid value: 1.5: 1.5 is not valid under any of the given schemas",
    ])
    assert [c.line() for c in schema.validate(_obj())] == ["spec.size: Required value"]
    assert schema.validate(_obj(size=2, ratio=0.5, quota="10Gi", note=None)) == []


def test_cel_rules_field_paths_numbers_and_transitions():
    schema = _schema()
    causes = schema.validate(_obj(size=2, ratio=1))  # an integer where the schema says number is a double in CEL
    assert [c.line() for c in causes] == ['spec.ratio: Invalid value: "object": ratio must be below 1']
    assert [c.message for c in schema.validate(_obj(size=7, ratio=0.5))] == ['Invalid value: "object": size 7 is '
                                                                           'unlucky']
    assert schema.validate(_obj(size=3, ratio=0.5), old=_obj(size=3)) == []
    changed = schema.validate(_obj(size=3, ratio=0.5), old=_obj(size=4))
    assert [c.line() for c in changed] == ['spec: Invalid value: "object": size is immutable']
    long_name = _obj(size=2, ratio=0.5)
    long_name["metadata"]["name"] = "toolong"
    assert [c.line() for c in schema.validate(long_name)] == ['<nil>: Invalid value: "object": name too long']
