"""Applying a plan: consistency, per-person date shifts, tokens, drops, and no surviving originals."""

from __future__ import annotations

import pandas as pd

from safesynth.pii.keys import KeyRing
from safesynth.pii.plan import build_plan
from safesynth.pii.classify import classify_table
from safesynth.pii.replace import apply_plan, subject_keys
from safesynth.schema import coerce_to_schema, infer_schema
from safesynth.spec.models import PiiSpec


def table() -> pd.DataFrame:
    raw = pd.DataFrame({
        "patient_id": ["A-001", "A-002", "A-001", "A-003", "A-004", "A-002"] * 5,
        "first_name": ["John", "Mary", "John", "Linda", "James", "Mary"] * 5,
        "last_name": ["Smith", "Jones", "Smith", "Brown", "Wilson", "Jones"] * 5,
        "email": ["john.smith@acme.org", "mary@gmail.com", "john.smith@acme.org", "lb@acme.org", "jw@x.org",
                  "mary@gmail.com"] * 5,
        "dob": ["1980-01-02", "1975-05-06", "1980-01-02", "1990-09-09", "1966-06-16", "1975-05-06"] * 5,
        "admitted": ["2020-03-01", "2021-04-02", "2022-05-03", "2020-06-04", "2021-07-05", "2022-08-06"] * 5,
        "score": [1, 2, 3, 4, 5, 6] * 5,
    })
    schema = infer_schema(raw)
    return coerce_to_schema(raw, schema), schema


def run(keys: KeyRing, **pii_kw: object):  # type: ignore[no-untyped-def]
    df, schema = table()
    pii = PiiSpec.model_validate(pii_kw)
    plan = build_plan(schema, classify_table(df, schema, pii), pii)
    return df, plan, apply_plan(df, plan, keys, pii, schema=schema)


def test_consistent_coherent_and_no_original_left(keys: KeyRing) -> None:
    df, _, applied = run(keys, columns={"admitted": {"action": "dateShift"}})
    out = applied.table
    for col in ("patient_id", "first_name", "last_name", "email", "dob", "admitted"):
        assert not set(out[col]) & set(df[col]), col
        # same original → same replacement
        assert (out.groupby(df[col].astype(str))[col].nunique() == 1).all(), col
    assert out["score"].equals(df["score"])
    # each email is rebuilt from the fake name of its row
    row = out.iloc[0]
    assert row["email"].split("@")[0] == f"{row['first_name']}.{row['last_name']}".lower()
    # one offset per person: the interval between dob and admission survives
    before = (df["admitted"] - df["dob"]).dt.days
    after = (out["admitted"] - out["dob"]).dt.days
    assert applied.results["dob"].redrawn == applied.results["admitted"].redrawn == 0
    assert before.equals(after)
    assert applied.results["email"].distinct == 4 and applied.results["first_name"].changed.all()


def test_subjects_come_from_the_best_identifier_tier(keys: KeyRing) -> None:
    df, plan, _ = run(keys)
    subjects = subject_keys(df, plan, keys)
    assert subjects is not None and subjects[0] == subjects[2] and subjects[0] != subjects[1]


def test_tokens_are_distinct_and_vaultable_drop_removes(keys: KeyRing) -> None:
    _, _, applied = run(keys, columns={"email": {"action": "drop"}, "patient_id": {"action": "tokenize"}})
    assert "email" not in applied.table.columns and applied.results["email"].dropped
    tokens = applied.tokens
    assert tokens is not None and set(tokens["column"]) == {"patient_id"}
    assert tokens["token"].is_unique and len(tokens) == 4


def test_same_key_same_output_other_key_other_output(keys: KeyRing, other_keys: KeyRing) -> None:
    a = run(keys)[2].table
    b = run(KeyRing(keys.key, "environment"))[2].table
    c = run(other_keys)[2].table
    assert a.equals(b) and not a["first_name"].equals(c["first_name"])


def test_integer_identifier_stays_an_integer_column(keys: KeyRing) -> None:
    """A numeric study id (covid_testing's subject_id) is tokenized into integers, same id → same token."""
    raw = pd.DataFrame({"subject_id": [1001, 1002, 1001, 1003, 1004, 1002] * 5,
                        "first_name": ["John", "Mary", "John", "Linda", "James", "Mary"] * 5})
    schema = infer_schema(raw)
    df = coerce_to_schema(raw, schema)
    pii = PiiSpec()
    plan = build_plan(schema, classify_table(df, schema, pii), pii)
    out = apply_plan(df, plan, keys, pii, schema=schema).table
    assert str(out["subject_id"].dtype) == "int64"
    assert not set(out["subject_id"]) & set(df["subject_id"])
    assert (out.groupby(df["subject_id"])["subject_id"].nunique() == 1).all()
    assert out["subject_id"].nunique() == 4


def test_reference_rows_replay_a_run_on_new_rows(keys: KeyRing) -> None:
    """A finished run's rows first, new rows after, `reference_rows` = the run's: the run's rows come out as
    the run replaced them (the draws' table-wide state is the run's), and the new rows are replaced too."""
    df, schema = table()
    pii = PiiSpec.model_validate({})
    plan = build_plan(schema, classify_table(df, schema, pii), pii)
    run_out = apply_plan(df, plan, keys, pii, schema=schema).table
    # New people whose real names are the fakes the run drew: fakes avoid every original of the table, so
    # replacing the whole table would redraw the run's own rows.
    fakes = run_out[["first_name", "last_name"]].drop_duplicates().head(2)
    extra = pd.DataFrame({"patient_id": ["B-101", "B-102"] * 3, "first_name": list(fakes["first_name"]) * 3,
                          "last_name": list(fakes["last_name"]) * 3, "email": ["ab@x.org", "pq@y.org"] * 3,
                          "dob": ["1970-03-03", "1985-08-08"] * 3, "admitted": ["2020-01-01", "2021-02-02"] * 3,
                          "score": [7, 8] * 3})
    full = pd.concat([df, coerce_to_schema(extra, schema)], ignore_index=True)
    replayed = apply_plan(full, plan, keys, pii, schema=schema, reference_rows=len(df)).table
    pd.testing.assert_frame_equal(replayed.iloc[: len(df)].reset_index(drop=True), run_out.reset_index(drop=True))
    whole = apply_plan(full, plan, keys, pii, schema=schema).table.iloc[: len(df)].reset_index(drop=True)
    assert not whole["first_name"].equals(run_out["first_name"].reset_index(drop=True))  # why reference_rows
    new = replayed.iloc[len(df):]
    for col in ("first_name", "last_name", "email"):
        assert not set(new[col]) & set(extra[col])  # replaced, not passed through
