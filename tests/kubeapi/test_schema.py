"""Custom-resource schema handling (schema.py): defaulting, pruning, OpenAPI and CEL rules. Pure, no server."""

from __future__ import annotations

from typing import Any

import pytest

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


LIMITS: dict[str, Any] = {
    "type": "object",
    "properties": {"spec": {"type": "object", "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
        "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
        "env": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "integer"}},
        "flag": {"type": "boolean"},
        "ratio": {"type": "number", "multipleOf": 0.5},
        "rows": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}},
                                            "x-kubernetes-validations": [{"rule": "self.n > 0", "message": "n"}]}},
        "pick": {"type": "array", "items": {"type": "string"},
                 "x-kubernetes-validations": [{"rule": "self[3] == 'x'", "message": "pick"}]},
    }}},
}


@pytest.mark.parametrize("spec, line", [
    ({"name": 5}, 'spec.name: Invalid value: "integer": spec.name in body must be of type string: "integer"'),
    ({"name": "abcde"}, "spec.name: Too long: may not be more than 4 bytes"),
    ({"name": "a"}, 'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long'),
    ({"name": "AB"}, "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'"),
    ({"tags": ["a", "b", "c"]}, "spec.tags: Too many: 3: must have at most 2 items"),
    ({"tags": []}, "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"),
    ({"tags": ["a", 1]}, 'spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: '
                         '"integer"'),
    ({"env": {}}, "spec.env: Invalid value: 0: spec.env in body should have at least 1 properties"),
    ({"env": {"A": "x"}}, 'spec.env[A]: Invalid value: "string": spec.env[A] in body must be of type integer: '
                          '"string"'),
    ({"flag": "yes"}, 'spec.flag: Invalid value: "string": spec.flag in body must be of type boolean: "string"'),
    ({"ratio": 0.3}, "spec.ratio: Invalid value: 0.3: 0.3 is not a multiple of 0.5"),
])
def test_openapi_error_wording_per_keyword(spec: dict[str, Any], line: str) -> None:
    """The wording kube-apiserver uses for each keyword, at list indexes and map keys too (kubectl prints it)."""
    obj = {"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec}
    assert [c.line() for c in StructuralSchema("Thing", "x.io", LIMITS).validate(obj)] == [line]


def test_a_cel_rule_that_cannot_be_evaluated_fails_like_a_false_one() -> None:
    schema = StructuralSchema("Thing", "x.io", LIMITS)
    obj = {"metadata": {"name": "t"}, "spec": {"rows": [{"n": 1}, {"n": 0}], "pick": ["a"]}}
    assert sorted(c.line() for c in schema.validate(obj)) == [
        'spec.pick: Invalid value: "array": pick', 'spec.rows[1]: Invalid value: "object": n']


def test_defaulting_drops_nulls_unless_nullable() -> None:
    obj = _obj(size=2, ratio=None, note=None)
    _schema().apply_defaults(obj)
    assert obj["spec"]["ratio"] == 0.5 and obj["spec"]["note"] is None
