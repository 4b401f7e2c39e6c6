"""The spec models: defaults, wire names, and every problem named by field path."""

from __future__ import annotations

import pytest

from safesynth.errors import SpecError
from safesynth.spec import parse_job, parse_spec
from safesynth.spec.models import PiiAction, SafeSynthJobSpec, StageName, STAGE_ORDER
from tests.conftest import minimal_manifest


def problems_of(doc: dict) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_job(doc)
    assert info.value.exit_code == 2
    return info.value.problems


def test_defaults_come_from_one_place_and_wire_is_camel_case() -> None:
    spec = parse_spec({"data": {"uri": "t.csv"}})
    wire = spec.model_dump(by_alias=True, mode="json")
    assert wire["data"]["holdoutFraction"] == 0.1
    assert wire["privacy"] == {
        "enabled": False, "epsilon": None, "delta": None, "maxGradNorm": 1.0, "accountant": "prv", "publicPretrain": True,
        "route": "auto", "domains": {}, "schemaEpsilon": None, "marginalEpsilon": None, "requireDeclaredSchema": False,
    }
    assert wire["training"]["lora"]["targetModules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert SafeSynthJobSpec.model_validate(wire) == spec  # round-trips through the wire form


def test_snake_case_python_names_are_accepted_too() -> None:
    spec = parse_spec({"data": {"uri": "t.csv", "holdout_fraction": 0.2}})
    assert spec.data.holdout_fraction == 0.2


@pytest.mark.parametrize(
    ("patch", "path", "words"),
    [
        ({"data": {"uri": "t.csv", "holdoutFractoin": 0.2}}, "spec.data.holdoutFractoin", "unknown field"),
        ({"data": {"uri": "t.csv"}, "privacy": {"epsilon": -1}}, "spec.privacy.epsilon", "greater than 0"),
        ({"data": {"uri": "t.csv"}, "privacy": {"epsilon": "lots"}}, "spec.privacy.epsilon", "valid number"),
        ({"data": {"uri": "t.csv"}, "training": {"batchSize": 0}}, "spec.training.batchSize", "greater than or equal"),
        ({"data": {"uri": "t.csv"}, "pii": {"columns": {"ssn": {"action": "shred"}}}}, "spec.pii.columns.ssn.action", "'hash'"),
        ({"data": {"uri": "t.csv"}, "pii": {"entities": ["NOT_AN_ENTITY"]}}, "spec.pii.entities[0]", "'PERSON'"),
        ({"data": {}}, "spec.data.uri", "required"),
        ({"data": {"uri": "t.csv"}, "resources": {"train": {"limits": {"memory": "lots"}}}}, "spec.resources.train.limits", "quantity"),
    ],
)
def test_each_bad_field_is_named_by_path(patch: dict, path: str, words: str) -> None:
    doc = minimal_manifest("t.csv")
    doc["spec"] = patch
    found = problems_of(doc)
    assert any(p.startswith(path + ":") and words in p for p in found), found


def test_all_problems_are_listed_at_once() -> None:
    doc = minimal_manifest("t.csv", privacy={"epsilon": 0}, generation={"temperature": -1, "bogus": 1})
    found = problems_of(doc)
    assert {p.split(":")[0] for p in found} == {
        "spec.privacy.epsilon", "spec.generation.temperature", "spec.generation.bogus",
    }


@pytest.mark.parametrize("name", ["Demo", "demo_1", "-demo", "x" * 53])
def test_job_name_must_fit_child_names(name: str) -> None:
    found = problems_of(minimal_manifest("t.csv", name=name))
    assert any(p.startswith("metadata.name") for p in found)


def test_fifty_two_character_name_is_fine() -> None:
    assert parse_job(minimal_manifest("t.csv", name="a" * 52)).metadata.name == "a" * 52


def test_quantities_accept_numbers_and_suffixes() -> None:
    spec = parse_spec({"data": {"uri": "t.csv"}, "resources": {"train": {"limits": {"cpu": 2, "memory": "8Gi"}}}})
    assert spec.resources.train is not None
    assert spec.resources.train.limits == {"cpu": "2", "memory": "8Gi"}


def test_messages_do_not_echo_values() -> None:
    doc = minimal_manifest("t.csv", privacy={"epsilon": "SENTINEL-4711"})
    with pytest.raises(SpecError) as info:
        parse_job(doc)
    assert "SENTINEL-4711" not in str(info.value)


def test_enums_cover_the_documented_actions_and_stage_order() -> None:
    assert {a.value for a in PiiAction} == {
        "fake", "hash", "mask", "redact", "drop", "keep", "dateShift", "generalize", "perturb", "tokenize",
    }
    assert [s.value for s in STAGE_ORDER] == ["prepare", "pii", "train", "generate", "evaluate"]
    assert StageName("train") is StageName.TRAIN


def test_declared_kinds_are_the_column_kinds_less_empty() -> None:
    from safesynth.spec.models import ColumnKind, DeclaredKind

    assert {k.value for k in DeclaredKind} == {k.value for k in ColumnKind} - {"empty"}
