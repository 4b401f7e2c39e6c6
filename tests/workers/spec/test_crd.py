"""The CRD is generated from the models, checked in, structural, and agrees with them."""

from __future__ import annotations

from typing import Any, Iterator

import yaml

from safesynth.spec.crd import build_crd, render_crd
from safesynth.spec.models import SafeSynthJobSpec
from safesynth.spec.rules import evaluate_rule
from safesynth.spec.status import JobStatus
from tests.conftest import REPO

CRD_FILE = REPO / "crds" / "safesynthjobs.safesynth.io.yaml"
CHART_CRD = REPO / "helm" / "safesynth" / "crds" / "safesynthjobs.safesynth.io.yaml"


def schema() -> dict[str, Any]:
    return build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(node, dict):
        return
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from nodes(node["additionalProperties"], f"{path}{{}}")


def test_checked_in_crd_is_the_generated_one() -> None:
    assert CRD_FILE.read_text() == render_crd(), "crds/ is stale: run `make crd`"


def test_chart_ships_the_same_crd() -> None:
    assert CHART_CRD.read_bytes() == CRD_FILE.read_bytes(), "helm chart CRD differs: run `make crd`"


def test_schema_is_structural() -> None:
    banned = {"$ref", "$defs", "title", "propertyNames", "const", "allOf", "oneOf"}
    for path, node in nodes(schema()):
        assert not banned & node.keys(), (path, banned & node.keys())
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
            continue
        if node.get("x-kubernetes-preserve-unknown-fields"):
            continue
        assert "type" in node, f"{path} has no type"
        assert node.get("additionalProperties") is not False, path
        for bound in ("exclusiveMinimum", "exclusiveMaximum"):
            assert node.get(bound, True) is True, f"{path}.{bound} must be the OpenAPI v3.0 boolean form"


def test_string_and_list_fields_are_bounded_for_cel_cost() -> None:
    for path, node in nodes(schema()["properties"]["spec"]):
        if node.get("type") == "array":
            assert "maxItems" in node, path
        if node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
            assert "maxProperties" in node, path


def apply_defaults(node: dict[str, Any], value: Any) -> Any:
    """What the API server's defaulting does with a structural schema."""
    if node.get("type") == "object" and isinstance(value, dict):
        for name, child in node.get("properties", {}).items():
            if name not in value and "default" in child:
                value[name] = child["default"]
            if name in value:
                value[name] = apply_defaults(child, value[name])
    return value


def test_api_server_defaults_equal_model_defaults() -> None:
    spec_schema = schema()["properties"]["spec"]
    defaulted = apply_defaults(spec_schema, {"data": {"uri": "t.csv"}})
    from_models = SafeSynthJobSpec.model_validate({"data": {"uri": "t.csv"}}).model_dump(
        by_alias=True, mode="json", exclude_none=True
    )
    assert defaulted == from_models


def test_required_enums_and_bounds_reach_the_schema() -> None:
    spec = schema()["properties"]["spec"]
    assert spec["required"] == ["data"]
    assert spec["properties"]["data"]["required"] == ["uri"]
    eps = spec["properties"]["privacy"]["properties"]["epsilon"]
    assert eps["minimum"] == 0 and eps["exclusiveMinimum"] is True and eps["maximum"] == 100
    action = spec["properties"]["pii"]["properties"]["columns"]["additionalProperties"]["properties"]["action"]
    assert "dateShift" in action["enum"] and action["type"] == "string"


def test_every_cel_rule_compiles_and_judges_like_the_models() -> None:
    rules = [(p, r) for p, n in nodes(schema()) for r in n.get("x-kubernetes-validations", [])]
    assert len(rules) >= 5
    root_rule = schema()["x-kubernetes-validations"][0]["rule"]
    assert evaluate_rule(root_rule, {"metadata": {"name": "a" * 52}})
    assert not evaluate_rule(root_rule, {"metadata": {"name": "a" * 53}})


def test_crd_metadata_names_printer_columns_and_status() -> None:
    crd = build_crd()
    assert crd["spec"]["names"]["shortNames"] == ["ssj"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert {"Phase", "Stage", "Quality", "Privacy", "Age"} <= columns.keys()
    status_fields = {f".status.{k}" for k in schema()["properties"]["status"]["properties"]}
    for path in columns.values():
        if path.startswith(".status"):
            top = ".".join(path.split(".")[:3])
            assert top in status_fields, path
    # every status field a driver writes is in the schema (else the API server prunes it)
    dumped = JobStatus().model_dump(by_alias=True, mode="json")
    assert set(dumped) <= set(schema()["properties"]["status"]["properties"])


def test_crd_yaml_parses() -> None:
    assert yaml.safe_load(CRD_FILE.read_text())["kind"] == "CustomResourceDefinition"


def test_status_lists_are_list_maps_and_the_spec_change_rule_is_on_the_root() -> None:
    """API conventions: conditions keyed by type, stages by name; Reject is the API server's transition rule."""
    from safesynth.spec.crd import build_crd, spec_change_rule

    root = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    status = root["properties"]["status"]["properties"]
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
    assert status["stages"]["x-kubernetes-list-map-keys"] == ["name"]
    assert all(status[k]["x-kubernetes-list-type"] == "map" and "maxItems" in status[k] for k in ("conditions", "stages"))
    rule = spec_change_rule()
    assert rule in root["x-kubernetes-validations"]

    spec = {"data": {"uri": "t", "seed": 1}, "artifacts": {}, "pii": {}, "training": {}, "privacy": {},
            "generation": {}, "evaluation": {}, "resources": {}, "onSpecChange": "Reject"}
    running = {"spec": spec, "status": {"phase": "Running", "stages": [
        {"name": "prepare", "phase": "Succeeded"}, {"name": "pii", "phase": "Running", "jobName": "x-pii"},
        {"name": "train", "phase": "Pending"}]}}

    def allowed(old: dict, **changes: object) -> bool:
        return _transition(rule["rule"], {**old, "spec": {**old["spec"], **changes}}, old)

    assert not allowed(running, data={"uri": "t", "seed": 2}), "prepare's input, which the running pii reads"
    assert allowed(running, training={"epochs": 3}), "a stage not started"
    assert allowed(running, onSpecChange="RestartFromChangedStage", data={"uri": "t", "seed": 2})
    assert allowed({**running, "status": {**running["status"], "phase": "Failed"}}, data={"uri": "u"})


def _transition(rule: str, new: dict, old: dict) -> bool:
    import celpy
    from celpy.adapter import json_to_cel

    env = celpy.Environment()
    return bool(env.program(env.compile(rule)).evaluate({"self": json_to_cel(new), "oldSelf": json_to_cel(old)}))
