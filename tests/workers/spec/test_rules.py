"""Cross-field CEL rules: the same expressions the CRD carries, run in Python."""

from __future__ import annotations

import pytest

from safesynth.errors import SpecError
from safesynth.spec import parse_spec
from safesynth.spec.models import SafeSynthJobSpec
from safesynth.spec.rules import evaluate_rule, rule_violations


@pytest.mark.parametrize(
    ("spec", "violation"),
    [
        ({"data": {"uri": "t", "minHoldoutRows": 600, "maxHoldoutRows": 500}}, "spec.data.minHoldoutRows"),
        ({"data": {"uri": "t"}, "pii": {"lockedColumns": ["a"], "columns": {"a": {"action": "hash"}}}}, "spec.pii.lockedColumns"),
        ({"data": {"uri": "t"}, "training": {"hiddenSize": 130, "heads": 4}}, "spec.training.hiddenSize"),
        ({"data": {"uri": "t"}, "evaluation": {"target": "y", "quasiIdentifiers": ["y", "z"]}}, "spec.evaluation.target"),
        ({"data": {"uri": "t"}, "privacy": {"enabled": True}}, "spec.privacy.epsilon"),
        ({"data": {"uri": "t"}, "privacy": {"enabled": True, "epsilon": 2, "schemaEpsilon": 1, "marginalEpsilon": 1}},
         "spec.privacy.schemaEpsilon"),
        ({"data": {"uri": "t"}, "resources": {"train": {"requests": {"memory": "8Gi"}, "limits": {"memory": "4Gi"}}}},
         "spec.resources.train"),
    ],
)
def test_rule_breaks_are_errors_naming_the_field(spec: dict, violation: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    assert any(p.startswith(violation + ":") for p in info.value.problems), info.value.problems


@pytest.mark.parametrize(
    "spec",
    [
        {"data": {"uri": "t", "minHoldoutRows": 500, "maxHoldoutRows": 500}},
        {"data": {"uri": "t"}, "pii": {"lockedColumns": ["a"], "columns": {"b": {"action": "hash"}}}},
        {"data": {"uri": "t"}, "training": {"hiddenSize": 128, "heads": 4}},
        {"data": {"uri": "t"}, "training": {"hiddenSize": 130}},
        {"data": {"uri": "t"}, "evaluation": {"target": "y", "quasiIdentifiers": ["x"]}},
        {"data": {"uri": "t"}, "privacy": {"enabled": True, "epsilon": 2, "schemaEpsilon": 0.5, "marginalEpsilon": 1}},
        {"data": {"uri": "t"}, "resources": {"train": {"requests": {"memory": "4Gi"}, "limits": {"memory": "8Gi"}}}},
    ],
)
def test_rule_holds(spec: dict) -> None:
    assert rule_violations(SafeSynthJobSpec.model_validate(spec)) == []


def test_evaluate_rule_binds_self_like_kubernetes() -> None:
    assert evaluate_rule("self.a < self.b", {"a": 1, "b": 2})
    assert not evaluate_rule("has(self.c)", {"a": 1})
