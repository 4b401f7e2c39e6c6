"""SDMetrics-compatible figures: the golden demo pair, and each metric against the sdmetrics package."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from safesynth.metrics.columns import Kind, align
from safesynth.metrics.sdmetrics_compat import (
    ContingencySimilarity,
    CorrelationSimilarity,
    KSComplement,
    SDMetricsQuality,
    TVComplement,
    cramers_v,
    quality_report,
)
from tests.workers.metrics.tables import context, population

SDTYPES = {"numerical": Kind.NUMERIC, "datetime": Kind.DATETIME, "categorical": Kind.CATEGORICAL,
           "boolean": Kind.BOOLEAN, "id": Kind.IDENTIFIER}


def demo() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Kind]]:
    """The student_placements pair shipped in the sdmetrics wheel, kinds from its metadata (as load_demo reads it)."""
    spec = importlib.util.find_spec("sdmetrics")
    assert spec is not None and spec.submodule_search_locations
    root = Path(spec.submodule_search_locations[0]) / "demos" / "single_table"
    meta = json.loads((root / "metadata.json").read_text())["tables"]["student_placements"]["columns"]
    kinds = {c: SDTYPES[m["sdtype"]] for c, m in meta.items()}
    return pd.read_csv(root / "student_placements_real.csv"), pd.read_csv(root / "student_placements_synthetic.csv"), kinds


def test_golden_student_placements_reproduces_sdmetrics_0_32() -> None:
    real, synthetic, kinds = demo()
    t = align({"real": real, "synthetic": synthetic}, kinds)
    rep = quality_report(t["real"], t["synthetic"], kinds)
    assert round(rep["columnShapes"], 4) == 0.8511
    assert round(rep["columnPairTrends"], 4) == 0.7023
    assert round(rep["overall"], 4) == 0.7767
    assert len(rep["shapes"]) == 16  # student_id (an id) is not scored
    assert sum(p["meetsThreshold"] for p in rep["pairs"]) == 20


def test_metric_class_reports_the_same_numbers_through_the_context() -> None:
    real, synthetic, kinds = demo()
    res = SDMetricsQuality().compute(context(real, synthetic, kinds=kinds))
    assert res.scale == (0.0, 1.0)
    assert round(res.statistic["overall"], 4) == 0.7767 and round(res.score, 4) == 0.7767
    assert res.params["pairsCounted"] == 20


@pytest.mark.filterwarnings("ignore")
def test_single_metrics_match_the_sdmetrics_package() -> None:
    """Cross-check on a different table: our KS/TV/correlation/contingency against sdmetrics' own."""
    from sdmetrics.column_pairs import ContingencySimilarity as SdCont, CorrelationSimilarity as SdCorr
    from sdmetrics.single_column import KSComplement as SdKS, TVComplement as SdTV

    real, syn = population(400, 1), population(300, 2)
    syn.loc[::7, "income"] = np.nan
    assert KSComplement.compute(real["income"], syn["income"]) == pytest.approx(SdKS.compute(real["income"], syn["income"]))
    assert KSComplement.compute(real["visit"], syn["visit"]) == pytest.approx(SdKS.compute(real["visit"], syn["visit"]))
    assert TVComplement.compute(real["group"], syn["group"]) == pytest.approx(SdTV.compute(real["group"], syn["group"]), abs=1e-6)
    ours = CorrelationSimilarity.compute_breakdown((real["age"], real["income"]), (syn["age"], syn["income"]))
    assert ours["score"] == pytest.approx(SdCorr.compute(real[["age", "income"]], syn[["age", "income"]]))
    ours_c = ContingencySimilarity.compute_breakdown((real["group"], real["smoker"]), (syn["group"], syn["smoker"]))
    assert ours_c["score"] == pytest.approx(SdCont.compute(real[["group", "smoker"]], syn[["group", "smoker"]]))


def test_identical_tables_score_one_and_thresholds_exclude_unrelated_pairs() -> None:
    real = population(500, 3)
    res = SDMetricsQuality().compute(context(real, real.copy()))
    assert res.statistic["columnShapes"] == pytest.approx(1.0)
    assert res.statistic["columnPairTrends"] == pytest.approx(1.0)
    pairs = {(p["column1"], p["column2"]): p for p in res.details["pairs"]}
    assert pairs[("age", "income")]["meetsThreshold"]  # strongly correlated by construction
    assert not pairs[("age", "score")]["meetsThreshold"]  # independent by construction


def test_cramers_v_of_a_perfect_and_an_empty_association() -> None:
    perfect = pd.DataFrame({"a": list("xxyy"), "b": list("ppqq")}).value_counts()
    assert cramers_v(perfect) == pytest.approx(1.0)
    one_row = pd.DataFrame({"a": list("xx"), "b": list("pq")}).value_counts()
    assert math.isnan(cramers_v(one_row))
