"""Builders shared by the operator tests (not a conftest: plain imports keep them explicit)."""

from __future__ import annotations

import json
from typing import Any

from safesynth.spec import parse_job
from safesynth.spec.models import SafeSynthJobSpec

from safesynth_operator.config import OperatorConfig

NS = "ns"
UID = "0123abcd-4567-89ef-0000-000000000000"


def cr(name: str = "demo", uid: str = UID, generation: int = 1, **spec: Any) -> dict[str, Any]:
    """A SafeSynthJob as the API server returns it."""
    body: dict[str, Any] = {
        "apiVersion": "safesynth.io/v1alpha1",
        "kind": "SafeSynthJob",
        "metadata": {"name": name, "namespace": NS, "uid": uid, "generation": generation},
        "spec": {"data": {"uri": "s3://in/table.csv"}, "artifacts": {"uri": "s3://runs"}, **spec},
    }
    return body


def spec_of(body: dict[str, Any]) -> SafeSynthJobSpec:
    return parse_job({k: v for k, v in body.items() if k != "status"}).spec


def config(**overrides: Any) -> OperatorConfig:
    return OperatorConfig(**overrides)


def summary(stage: str, **numbers: Any) -> str:
    return json.dumps({"stage": stage, "specHash": "h", "durationSeconds": 1.5, "skipped": False, **numbers})
