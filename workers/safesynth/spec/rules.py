"""Evaluate the models' CEL rules in Python with cel-python.

The CRD carries each model's `CEL_RULES` as `x-kubernetes-validations`; here the
same expressions run against the same camelCase document, so a manifest that
`safesynth validate` accepts is one the API server accepts, and the reverse.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from safesynth.spec.models import iter_cel_rules


@lru_cache(maxsize=None)
def _program(rule: str) -> Any:
    import celpy  # deferred: only validation needs it

    env = celpy.Environment()
    return env.program(env.compile(rule))


def evaluate_rule(rule: str, document: dict[str, Any]) -> bool:
    """True when `rule` holds for `document` (bound to `self`, as Kubernetes does)."""
    from celpy.adapter import json_to_cel

    return bool(_program(rule).evaluate({"self": json_to_cel(document)}))


def _wire(model: BaseModel) -> dict[str, Any]:
    """The model as the API server sees it: camelCase, unset fields absent (CEL's has() depends on that)."""
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def _walk(model: BaseModel, path: str) -> list[tuple[str, BaseModel]]:
    """Every sub-model with its field path in camelCase, depth first."""
    found = [(path, model)]
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = field.alias or name
        if isinstance(value, BaseModel):
            found += _walk(value, f"{path}.{key}")
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, BaseModel):
                    found += _walk(v, f"{path}.{key}[{k}]")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, BaseModel):
                    found += _walk(v, f"{path}.{key}[{i}]")
    return found


def rule_violations(model: BaseModel, path: str = "spec") -> list[str]:
    """Messages 'field.path: message' for every CEL rule the model tree breaks."""
    problems: list[str] = []
    for sub_path, sub in _walk(model, path):
        for rule in iter_cel_rules(type(sub)):
            if not evaluate_rule(rule.rule, _wire(sub)):
                problems.append(f"{sub_path}{rule.field_path or ''}: {rule.message}")
    return problems
