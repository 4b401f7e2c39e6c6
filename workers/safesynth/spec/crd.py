"""Generate the SafeSynthJob CRD from the spec models (`safesynth crd`).

Pydantic emits JSON Schema 2020-12; Kubernetes wants a *structural* OpenAPI
v3.0 schema. This module inlines `$ref`s, turns `Optional[X]` into X, moves
numeric exclusive bounds to the v3.0 boolean form, drops keywords the API
server rejects (title, propertyNames, additionalProperties: false), writes
`default: {}` on object sections so nested defaults apply, and attaches each
model's CEL rules. Hand-written because no maintained library converts
pydantic models to CRD schemas with CEL.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import to_jsonable_python

from safesynth.spec import models, sections
from safesynth.spec.models import (
    API_GROUP,
    STAGE_ORDER,
    API_VERSION,
    KIND,
    MAX_JOB_NAME_LENGTH,
    PLURAL,
    QUANTITY,
    SHORT_NAMES,
    SafeSynthJobSpec,
)
from safesynth.spec.status import JobStatus

_DROP = {"title", "propertyNames", "examples"}


class _WithFactoryDefaults(GenerateJsonSchema):
    """Also emit defaults that come from default_factory (lists, maps, sections)."""

    def default_schema(self, schema: Any) -> Any:
        json_schema = super().default_schema(schema)
        factory = schema.get("default_factory")
        if factory is not None and "default" not in json_schema and not schema.get("default_factory_takes_data"):
            value = factory()
            json_schema["default"] = {} if isinstance(value, BaseModel) else to_jsonable_python(value)
        return json_schema


def _rules_by_title() -> dict[str, list[dict[str, str]]]:
    """Each model's CEL rules in the CRD's x-kubernetes-validations shape, by model name (the schema's title)."""
    out: dict[str, list[dict[str, str]]] = {}
    for obj in vars(models).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel) and models.iter_cel_rules(obj):
            rules = []
            for r in models.iter_cel_rules(obj):
                entry = {"rule": r.rule, "message": r.message}
                if r.field_path:
                    entry["fieldPath"] = r.field_path
                rules.append(entry)
            out[obj.__name__] = rules
    return out


def _structural(node: Any, defs: dict[str, Any], rules: dict[str, list[dict[str, str]]]) -> Any:
    if isinstance(node, list):
        return [_structural(n, defs, rules) for n in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = copy.deepcopy(defs[node.pop("$ref").split("/")[-1]])
        target.update(node)  # field-level description/default win
        node = target
    if "allOf" in node and len(node["allOf"]) == 1:
        inner = node.pop("allOf")[0]
        node = {**_structural(inner, defs, rules), **node}
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) == 1 and len(options) < len(node["anyOf"]):
            node.pop("anyOf")
            if node.get("default", "unset") is None:
                node.pop("default")
            node = {**_structural(options[0], defs, rules), **node}
    title = node.get("title")
    if title in rules and node.get("type") == "object":
        node["x-kubernetes-validations"] = rules[title]
    if node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        node["pattern"] = QUANTITY
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), (int, float)) and not isinstance(node.get(bound), bool):
            node[plain] = node.pop(bound)
            node[bound] = True
    if node.get("additionalProperties") is False:
        node.pop("additionalProperties")
    if node.get("additionalProperties") is True:
        node.pop("additionalProperties")
        node["x-kubernetes-preserve-unknown-fields"] = True
    for key in _DROP:
        node.pop(key, None)
    if isinstance(node.get("enum"), list) and "type" not in node:
        node["type"] = "string"
    return {
        k: (
            {pk: _structural(pv, defs, rules) for pk, pv in v.items()}
            if k == "properties"
            else _structural(v, defs, rules)
        )
        for k, v in node.items()
        if k != "$defs"
    }


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Structural OpenAPI v3.0 schema for one model."""
    raw = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_WithFactoryDefaults)
    defs = raw.get("$defs", {})
    schema: dict[str, Any] = _structural(raw, defs, _rules_by_title())
    return schema


def _same(path: str, optional: bool = False) -> str:
    """CEL: `path` under spec is unchanged between the old and the new object."""
    new, old = f"self.spec.{path}", f"oldSelf.spec.{path}"
    if not optional:
        return f"{new} == {old}"
    return f"(has({new}) == has({old}) && (!has({new}) || {new} == {old}))"


def spec_change_rule() -> dict[str, str]:
    """The transition rule behind `spec.onSpecChange: Reject` (issue 21.1), generated from
    safesynth.spec.sections so the API server and the operator agree on what a stage depends on.

    While a stage runs (or its Job waits), the spec sections it depends on may not change;
    `suspend`, `onSpecChange` itself and the sections of stages not started may. A finished
    or failed job takes any edit (it re-runs from the first changed stage).
    """
    per_stage = []
    for stage in STAGE_ORDER:
        same = [_same(section) for section in sections.sections_for(stage)]
        same.append(_same(f"resources.{stage.value}", optional=True))
        per_stage.append(f"(s.name != '{stage.value}' || ({' && '.join(same)}))")
    live = "(s.phase == 'Running' || (s.phase == 'Pending' && has(s.jobName)))"
    rule = (
        "!has(oldSelf.status) || !has(oldSelf.status.stages) || !has(oldSelf.status.phase)"
        " || oldSelf.status.phase in ['Succeeded', 'Failed']"
        " || (has(self.spec.onSpecChange) && self.spec.onSpecChange == 'RestartFromChangedStage')"
        f" || oldSelf.status.stages.all(s, !{live} || ({' && '.join(per_stage)}))"
    )
    return {
        "rule": rule,
        "message": (
            "a spec field that a running stage depends on cannot change while it runs (spec.onSpecChange: Reject); "
            "revert the edit, wait for the stage to end, or set spec.onSpecChange: RestartFromChangedStage"
        ),
        "fieldPath": ".spec",
    }


def managed_by_rule() -> dict[str, str]:
    """`spec.managedBy` never changes: a controller handing a running job to another would leave two (or
    none) acting on it, which is why Kubernetes makes batch/v1 Job's spec.managedBy immutable too."""
    return {
        "rule": "has(self.spec.managedBy) == has(oldSelf.spec.managedBy)"
                " && (!has(self.spec.managedBy) || self.spec.managedBy == oldSelf.spec.managedBy)",
        "message": "spec.managedBy is immutable",
        "fieldPath": ".spec.managedBy",
    }


def _printer_column(name: str, path: str, type_: str = "string", priority: int = 0) -> dict[str, Any]:
    """One additionalPrinterColumns entry (`kubectl get ssj` columns); priority 1 shows only with -o wide."""
    return {"name": name, "type": type_, "jsonPath": path, **({"priority": priority} if priority else {})}


def build_crd() -> dict[str, Any]:
    """The whole CustomResourceDefinition as a dict."""
    spec_schema = openapi_schema(SafeSynthJobSpec)
    status_schema = openapi_schema(JobStatus)
    root = {
        "type": "object",
        "description": "A private synthetic copy of one sensitive table: PII replaced, generator trained, scored.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
        "x-kubernetes-validations": [
            {
                "rule": f"self.metadata.name.size() <= {MAX_JOB_NAME_LENGTH}",
                "message": (
                    f"metadata.name must be at most {MAX_JOB_NAME_LENGTH} characters so that "
                    "'<name>-<stage>' Job and pod names fit in 63"
                ),
            },
            spec_change_rule(),
            managed_by_rule(),
        ],
    }
    column = _printer_column
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{API_GROUP}",
            "labels": {"app.kubernetes.io/name": "safesynth", "app.kubernetes.io/component": "crd"},
        },
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": SHORT_NAMES,
                "categories": ["safesynth"],
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        column("Phase", ".status.phase"),
                        column("Stage", ".status.stage"),
                        column("Quality", ".status.headline.sqs", "number"),
                        column("Privacy", ".status.headline.dps", "number"),
                        column("Epsilon", ".status.headline.epsilonSpent", "number"),
                        column("Rows", ".status.headline.rowsGenerated", "integer", priority=1),
                        column("Age", ".metadata.creationTimestamp", "date"),
                    ],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def render_crd() -> str:
    """The CRD as YAML, as checked in under crds/ and the chart (a test fails when they differ)."""
    header = "# Generated by `safesynth crd` from safesynth.spec.models. Do not edit; run `make crd`.\n"
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=100)
