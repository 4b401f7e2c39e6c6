"""undeclared.undeclared_facts: which facts of a DP job's column layout came from the table, not the spec."""

from __future__ import annotations

from typing import Any

import yaml

from safesynth.generator.undeclared import FAKE, FORMAT, KIND, SPELLING, refusal, undeclared_facts
from safesynth.schema_model import WARNING_TEXT
from safesynth.spec import parse_spec
from safesynth.spec.models import SafeSynthJobSpec

# A schema.json as prepare (or pii) writes it, with the statistics that hold data (min, max, categories).
SCHEMA: dict[str, Any] = {"columns": [
    {"name": "age", "kind": "integer", "min": 18, "max": 97},
    {"name": "ward", "kind": "categorical", "categories": [{"value": "Ward Secret-7", "count": 40}]},
    {"name": "visit", "kind": "datetime", "format": "%d.%m.%Y",
     "formats": [{"format": "%d.%m.%Y", "count": 50}, {"format": "%Y-%m-%d", "count": 3}]},
    {"name": "born", "kind": "datetime"},  # stored as dates (Parquet) or date-shifted: no spelling was read
    {"name": "income", "kind": "float", "decimal": ",", "thousands": "."},
    {"name": "email", "kind": "identifier"},
    {"name": "mrn", "kind": "identifier"},
    {"name": "blank", "kind": "empty"},
]}
REFAKED = {"email": "EMAIL_ADDRESS"}


def spec(data_columns: dict[str, Any] | None = None, pii_columns: dict[str, Any] | None = None) -> SafeSynthJobSpec:
    return parse_spec({"data": {"uri": "t.csv", "columns": data_columns or {}},
                       "pii": {"columns": pii_columns or {}}, "privacy": {"enabled": True, "epsilon": 1}})


def facts(s: SafeSynthJobSpec, schema: dict[str, Any] = SCHEMA) -> Any:
    return undeclared_facts(schema, s.data.columns, REFAKED, s.pii.columns)


def test_nothing_declared_lists_every_fact_by_category() -> None:
    found = facts(spec())
    assert {f.column: f.value for f in found.kinds} == {
        "age": "integer", "ward": "categorical", "visit": "datetime", "born": "datetime", "income": "float",
        "mrn": "identifier", "blank": "empty"}  # email is faked: its kind is not used
    assert [(f.path, f.value) for f in found.formats] == [("spec.data.columns.visit.format", "%d.%m.%Y")]
    assert [(f.path, f.value) for f in found.spellings] == [("spec.data.columns.income.decimal", ","),
                                                           ("spec.data.columns.income.thousands", ".")]
    assert [(f.path, f.value) for f in found.fakes] == [("spec.pii.columns.email", "EMAIL_ADDRESS")]
    assert "spec.data.columns.age.kind" in found.paths()
    codes = {(w["column"], w["code"]) for w in found.warnings()}
    assert {("age", KIND), ("visit", FORMAT), ("income", SPELLING), ("email", FAKE)} <= codes
    assert all(w["code"] in WARNING_TEXT for w in found.warnings())


def test_declared_kinds_formats_spellings_and_fakes_leave_nothing() -> None:
    s = spec({"age": {"kind": "integer"}, "ward": {"kind": "categorical"}, "visit": {"format": "%d.%m.%Y"},
              "born": {"kind": "datetime"}, "income": {"kind": "float", "decimal": ",", "thousands": "."},
              "mrn": {"identifier": True}},
             {"email": {"action": "fake", "entity": "EMAIL_ADDRESS"}})
    found = facts(s)
    assert [f.column for f in found.facts] == ["blank"] and found.kinds[0].value == "empty"
    assert not facts(s, {"columns": [c for c in SCHEMA["columns"] if c["name"] != "blank"]})


def test_a_declared_kind_the_pii_stage_changed_is_not_a_declaration() -> None:
    # declared categorical, but the schema train reads (pii/schema.json) says identifier
    found = facts(spec({"ward": {"kind": "categorical"}}),
                  {"columns": [{"name": "ward", "kind": "identifier"}]})
    assert [(f.path, f.value) for f in found.kinds] == [("spec.data.columns.ward.kind", "identifier")]


def test_a_fake_named_without_its_entity_or_with_another_action_is_undeclared() -> None:
    only = {"columns": [{"name": "email", "kind": "identifier"}]}
    assert [f.path for f in facts(spec(pii_columns={"email": {"action": "fake"}}), only).fakes] == [
        "spec.pii.columns.email.entity"]
    assert [f.path for f in facts(spec(pii_columns={"email": {"action": "hash"}}), only).fakes] == [
        "spec.pii.columns.email"]
    assert not facts(spec(pii_columns={"email": {"action": "fake", "entity": "EMAIL_ADDRESS"}}), only)


def test_the_snippet_declares_every_fact_and_keeps_what_was_declared() -> None:
    s = spec({"ward": {"nullValues": ["?"]}}, {"email": {"action": "fake"}})
    found = facts(s)
    pasted = yaml.safe_load(found.snippet(s.data.columns, s.pii.columns))["spec"]
    assert pasted["data"]["columns"]["ward"] == {"nullValues": ["?"], "kind": "categorical"}
    assert pasted["data"]["columns"]["visit"] == {"kind": "datetime", "format": "%d.%m.%Y"}
    assert pasted["data"]["columns"]["income"] == {"kind": "float", "decimal": ",", "thousands": "."}
    assert "blank" not in pasted["data"]["columns"]  # kind empty cannot be declared
    assert pasted["pii"]["columns"]["email"] == {"action": "fake", "entity": "EMAIL_ADDRESS"}
    again = spec(pasted["data"]["columns"], pasted["pii"]["columns"])  # a valid spec, and it declares them all
    assert [f.column for f in facts(again).facts] == ["blank"]


def test_the_refusal_names_the_fields_and_no_data_value() -> None:
    s = spec()
    text = refusal(facts(s), s.data.columns, s.pii.columns)
    for path in ("spec.data.columns.age.kind", "spec.data.columns.visit.format", "spec.pii.columns.email",
                 "spec.data.columns.income.thousands"):
        assert path in text
    assert "entirely null" in text and "blank" in text
    assert "Secret-7" not in text and "97" not in text and "%Y-%m-%d" not in text  # values, and a rarer format


def test_a_unit_is_a_fact_no_declaration_removes() -> None:
    schema = {"columns": [{"name": "share", "kind": "float", "unit": "%"}]}
    s = spec({"share": {"kind": "float", "decimal": "."}})
    found = facts(s, schema)
    assert [(f.path, f.value) for f in found.spellings] == [("spec.data.columns.share.unit", "%")]
    assert "share" not in (yaml.safe_load(found.snippet(s.data.columns, s.pii.columns))["spec"].get("data") or {})
    assert "numbers written with a unit" in refusal(found, s.data.columns, s.pii.columns)
