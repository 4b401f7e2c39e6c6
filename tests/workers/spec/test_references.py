"""Every column the spec names is checked against the table, with the field path and a 'did you mean'."""

from __future__ import annotations

from safesynth.spec import parse_job, parse_spec
from safesynth.spec.references import column_references, reference_problems
from tests.conftest import minimal_manifest

COLUMNS = ["age", "income", "group", "Smoker", "visit_date"]


def test_every_reference_is_checked_with_path_and_suggestion() -> None:
    spec = parse_spec({
        "data": {"uri": "t.csv"},
        "pii": {"columns": {"incme": {"action": "hash"}}, "lockedColumns": ["age", "grop"]},
        "privacy": {"domains": {"agee": {"min": 0, "max": 120}}},
        "generation": {"fixedValues": {"smoker": "yes"}},
        "evaluation": {"target": "visitdate", "quasiIdentifiers": ["age", "zzz"], "sensitiveColumns": ["income"]},
    })
    problems = reference_problems(spec, COLUMNS)
    assert problems == [
        "spec.pii.columns.incme: no column 'incme' in the table; did you mean 'income'?",
        "spec.pii.lockedColumns[1]: no column 'grop' in the table; did you mean 'group'?",
        "spec.privacy.domains.agee: no column 'agee' in the table; did you mean 'age'?",
        "spec.generation.fixedValues.smoker: no column 'smoker' in the table; did you mean 'Smoker'?",
        "spec.evaluation.target: no column 'visitdate' in the table; did you mean 'visit_date'?",
        "spec.evaluation.quasiIdentifiers[1]: no column 'zzz' in the table; the table's columns are 'age', "
        "'income', 'group', 'Smoker', 'visit_date'",
    ]


def test_a_spec_naming_only_real_columns_has_no_problem() -> None:
    spec = parse_job(minimal_manifest("t.csv", evaluation={"target": "age"}, pii={"lockedColumns": ["group"]})).spec
    assert reference_problems(spec, COLUMNS) == []
    assert ("spec.evaluation.target", "age") in column_references(spec)
