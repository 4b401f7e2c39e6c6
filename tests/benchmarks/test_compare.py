"""benchmarks/compare.py's pure parts: the independent-marginals floor, column roles, tables, RESULTS splicing.

The peers themselves (SDV, smartnoise) are benchmark-only dependencies and are
exercised by `make bench`, not here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks import _peers, _table
from benchmarks._score import row_scores
from benchmarks.compare import all_cases, select


@pytest.fixture
def train() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    return pd.DataFrame({
        "id": [f"p{i}" for i in range(n)],
        "x": x,
        "y": x * 2 + rng.normal(scale=0.1, size=n),  # strongly tied to x
        "colour": pd.Series(rng.choice(["red", "green", "blue"], size=n, p=[0.6, 0.3, 0.1]), dtype=object),
        "flag": pd.Series(rng.random(n) < 0.2, dtype="boolean"),
        "when": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
    }).assign(colour=lambda d: d["colour"].where(rng.random(n) > 0.05, None))


KINDS = {"id": "identifier", "x": "float", "y": "float", "colour": "categorical", "flag": "boolean",
         "when": "datetime"}


class TestIndependentMarginals:
    def test_every_value_comes_from_its_own_column(self, train: pd.DataFrame) -> None:
        syn = _peers.independent_marginals(train, 1000, seed=1)
        assert list(syn.columns) == list(train.columns) and len(syn) == 1000
        for col in train.columns:
            assert set(syn[col].dropna()) <= set(train[col].dropna())
        assert list(syn.dtypes) == list(train.dtypes)

    def test_keeps_one_column_shapes_and_null_share(self, train: pd.DataFrame) -> None:
        syn = _peers.independent_marginals(train, 20_000, seed=2)
        real_freq = train["colour"].value_counts(normalize=True, dropna=False)
        syn_freq = syn["colour"].value_counts(normalize=True, dropna=False)
        assert np.abs(real_freq - syn_freq.reindex(real_freq.index)).max() < 0.02
        assert abs(syn["x"].mean() - train["x"].mean()) < 0.05

    def test_breaks_relations_between_columns(self, train: pd.DataFrame) -> None:
        assert train["x"].corr(train["y"]) > 0.9
        syn = _peers.independent_marginals(train, 5000, seed=3)
        assert abs(syn["x"].corr(syn["y"])) < 0.1

    def test_is_seeded(self, train: pd.DataFrame) -> None:
        a, b = (_peers.independent_marginals(train, 50, seed=7) for _ in range(2))
        pd.testing.assert_frame_equal(a, b)
        assert not _peers.independent_marginals(train, 50, seed=8).equals(a)

    def test_fit_gives_full_tables_with_fresh_identifiers(self, train: pd.DataFrame) -> None:
        syn = _peers.fit("marginals", train, KINDS, seed=0, params={})(300)
        assert list(syn.columns) == list(train.columns) and len(syn) == 300
        assert syn["id"].is_unique and not set(syn["id"]) & set(train["id"])
        assert str(syn["flag"].dtype) == "boolean"
        assert pd.api.types.is_datetime64_any_dtype(syn["when"])


class TestColumnRoles:
    @pytest.mark.parametrize("peer", _peers.PEERS)
    def test_identifiers_are_never_modelled(self, peer: str) -> None:
        roles = _peers.column_roles({"a": "identifier", "b": "integer", "c": "empty"}, peer)
        assert roles == {"a": "fresh_id", "b": "model", "c": "empty"}

    def test_free_text_is_resampled_only_by_the_cheap_peers(self) -> None:
        for peer in ("mst", "aim", "ctgan"):
            assert _peers.column_roles({"t": "text"}, peer) == {"t": "empty"}
        for peer in ("marginals", "gaussian_copula"):
            assert _peers.column_roles({"t": "text"}, peer) == {"t": "model"}

    def test_unknown_peer_is_an_error(self, train: pd.DataFrame) -> None:
        with pytest.raises(ValueError, match="unknown peer"):
            _peers.fit("gan9000", train, KINDS, 0, {})


class TestRestoreTypes:
    def test_rounds_integers_and_parses_booleans_and_dates(self) -> None:
        train = pd.DataFrame({"n": pd.Series([1, 2], dtype="int64"), "b": pd.Series([True, False], dtype="boolean"),
                              "d": pd.to_datetime(["2020-01-01", "2020-02-01"])})
        syn = pd.DataFrame({"n": [1.4, 2.6], "b": ["True", None], "d": ["2020-03-01", None]})
        out = _peers.restore_types(syn, train, {"n": "integer", "b": "boolean", "d": "datetime"})
        assert out["n"].tolist() == [1, 3]
        assert out["b"].tolist()[0] is True and pd.isna(out["b"].tolist()[1])
        assert out["d"].iloc[0] == pd.Timestamp("2020-03-01") and pd.isna(out["d"].iloc[1])


class TestTable:
    def test_formats_numbers_and_marks_missing_values(self) -> None:
        rows = [{"name": "ours", "sqs": 8.256, "dps": None, "tpr1": 0.0123, "sdmetrics": {"overall": 0.9},
                 "fitSeconds": 12.34, "peakRssMb": 700.4, "tstrAccuracy": math.nan}]
        lines = _table.markdown_table(rows).splitlines()
        head = [c.strip() for c in lines[0].strip("|").split("|")]
        cells = dict(zip(head, (c.strip() for c in lines[2].strip("|").split("|"))))
        assert cells["generator"] == "ours" and cells["SQS"] == "8.26" and cells["DPS"] == _table.MISSING
        assert cells["TPR@1%FPR"] == "0.012" and cells["SDM quality"] == "0.900"
        assert cells["TSTR acc"] == _table.MISSING and cells["fit s"] == "12.3" and cells["peak MB"] == "700"
        assert set(lines[1]) <= {"|", "-", ":"} and len({len(line) for line in lines}) == 1  # aligned

    def test_a_failed_generator_shows_its_reason_and_no_numbers(self) -> None:
        out = _table.markdown_table([{"name": "peer", "error": "timed out | after 5 s", "sqs": 9.0}])
        row = out.splitlines()[2]
        assert "peer (failed: timed out \\| after 5 s)" in row and "9.00" not in row

    def test_zero_is_a_score_not_a_missing_value(self) -> None:
        assert _table.cell(0.0, "{:.2f}") == "0.00"
        assert _table.cell(None, "{:.2f}") == _table.cell(True, "{:.2f}") == _table.MISSING


class TestSplice:
    def test_replaces_only_the_generated_block(self) -> None:
        doc = f"# Title\n\nintro\n\n{_table.BEGIN}\nold tables\n{_table.END}\n\n## Conclusions\nmine\n"
        out = _table.splice(doc, "new tables")
        assert "old tables" not in out and "new tables" in out
        assert out.startswith("# Title\n\nintro\n") and out.endswith("## Conclusions\nmine\n")
        assert _table.splice(out, "new tables") == out

    def test_appends_the_block_when_absent(self) -> None:
        out = _table.splice("# Title\n", "tables")
        assert out == f"# Title\n\n{_table.BEGIN}\ntables\n{_table.END}\n"


def test_row_scores_read_components_and_statistics() -> None:
    metrics = {"metrics": {
        "column_distribution": {"status": "ok", "score": 9.1},
        "column_correlation": {"status": "error", "score": None},
        "membership_inference": {"status": "ok", "score": 8.0, "statistic": {"tprAt1PctFpr": 0.02}},
        "ml_utility": {"status": "ok", "score": 9.0, "statistic": {"trainedOnSynthetic": {"accuracy": 0.8},
                                                                   "trainedOnReal": {"accuracy": 0.85}}},
    }}
    out = row_scores(metrics, {"sqs": 7.5, "dps": 8.5})
    assert out["sqs"] == 7.5 and out["distribution"] == 9.1 and out["correlation"] is None
    assert out["tpr1"] == 0.02 and out["tstrAccuracy"] == 0.8 and out["trtrAccuracy"] == 0.85
    assert out["dcr"] is None


def test_case_selection_by_key_or_generator() -> None:
    cases = all_cases([1.0, 8.0], lora=False)
    assert [c.key for c in cases][:3] == ["safesynth", "safesynth-eps1", "safesynth-eps8"]
    assert cases[-1].generator == "marginals"
    assert {c.key for c in select(cases, "mst,marginals")} == {"mst-eps1", "mst-eps8", "marginals"}
    assert [c.key for c in select(cases, "safesynth-eps8")] == ["safesynth-eps8"]
    assert all(c.dp for c in cases if c.generator in ("mst", "aim"))
