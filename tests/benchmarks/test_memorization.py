"""benchmarks/memorization.py's pure parts: a run folder's row, the target verdict, the table, the specs.

The runs themselves (full `safesynth run`s, minutes each) are `python -m benchmarks.memorization`'s job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from benchmarks import memorization as mem


def metrics_json(so_multi: float = 0.004, tpr: float = 0.01, sdm: float = 0.83) -> dict[str, Any]:
    """The parts of evaluate/metrics.json the benchmark reads, shaped as the evaluate stage writes them."""
    return {"metrics": {
        "membership_inference": {"statistic": {"auc": 0.55, "tprAt1PctFpr": tpr, "strongestAttack": "dcr"},
                                  "details": [{"attack": "dcr", "auc": 0.55, "aucStdErr": 0.029, "tprAt1PctFpr": tpr,
                                               "members": 200, "nonMembers": 200},
                                              {"attack": "domias", "auc": 0.5, "tprAt1PctFpr": 0.0,
                                               "members": 100, "nonMembers": 100}]},
        "singling_out": {"params": {"trainingRows": 200, "controlRows": 200}, "details": [
            {"mode": "univariate", "risk": 0.0, "riskInterval": [-0.01, 0.02]},
            {"mode": "multivariate", "risk": so_multi, "riskInterval": [0.0, 0.03]}]},
        "linkability": {"statistic": {"risk": 0.002}},
        "anonymeter_inference": {"statistic": {"maxRisk": 0.03, "worstSecret": "age"}},
        "dcr": {"statistic": {"shareCloserToTrain": 0.52, "exactCopiesOfTrainingRows": 0},
                "params": {"fullTableRows": {"train": 1800, "holdout": 200}}},
        "sdmetrics_quality": {"statistic": {"overall": sdm}},
    }}


def write_run(folder: Path, metrics: dict[str, Any]) -> Path:
    (folder / "evaluate").mkdir(parents=True)
    (folder / "train").mkdir()
    (folder / "evaluate" / "metrics.json").write_text(json.dumps(metrics))
    (folder / "train" / "summary.json").write_text(json.dumps({"epochs": 5.69, "steps": 317,
                                                               "timings": {"train": 104.2}}))
    return folder


class TestRow:
    def test_reads_every_column(self, tmp_path: Path) -> None:
        row = mem.read_run(write_run(tmp_path / "quickstart", metrics_json()))
        assert row["name"] == "quickstart"
        assert (row["trainRows"], row["attackRows"], row["epochs"], row["trainSeconds"]) == (1800, 200, 5.69, 104.2)
        assert (row["tpr1"], row["auc"], row["linkability"], row["inference"], row["dcrShare"]) == (
            0.01, 0.55, 0.002, 0.03, 0.52)
        assert row["so_multivariate"] == 0.004 and row["so_multivariate_ci"] == [0.0, 0.03]
        assert row["verdict"] == "ok"
        assert row["tpr1ByAttack"] == {"dcr": tpr_default(), "domias": 0.0} and row["aucStdErr"] == 0.029
        assert row["tpr1Chance95"] == mem.chance_tpr(200, 200)

    def test_a_folder_without_scores_is_an_error_row(self, tmp_path: Path) -> None:
        (tmp_path / "broken" / "train").mkdir(parents=True)
        assert "error" in mem.read_run(tmp_path / "broken")

    def test_all_member_attack_needs_the_tables(self, tmp_path: Path) -> None:
        assert mem.all_member_dcr(write_run(tmp_path / "scores-only", metrics_json())) == {}

    def test_older_metrics_print_as_missing_not_zero(self, tmp_path: Path) -> None:
        metrics = metrics_json()
        del metrics["metrics"]["singling_out"]
        row = mem.read_run(write_run(tmp_path / "old", metrics))
        assert row["so_univariate"] is None and row["verdict"] == "–"
        assert "| old " in mem.render([row])


def tpr_default() -> float:
    return float(metrics_json()["metrics"]["membership_inference"]["statistic"]["tprAt1PctFpr"])


class TestChance:
    def test_two_hundred_non_members_cannot_resolve_two_percent(self) -> None:
        # an attack with no signal passes 0.02 often at 200 vs 200 (why the table prints chance p95)
        assert 0.03 <= mem.chance_tpr(200, 200) <= 0.05
        assert mem.chance_tpr(1000, 1000) < mem.chance_tpr(200, 200)


class TestVerdict:
    @pytest.mark.parametrize(("kwargs", "expected"), [
        ({}, "ok"),
        ({"so_multi": 0.08}, "missed: singling out"),
        ({"tpr": 0.03, "sdm": 0.80}, "missed: TPR@1%FPR (within chance), SDMetrics"),
        ({"tpr": 0.2}, "missed: TPR@1%FPR"),
        ({"so_multi": 0.05, "tpr": 0.02, "sdm": 0.824}, "ok"),  # the targets themselves pass
    ])
    def test_targets(self, tmp_path: Path, kwargs: dict[str, float], expected: str) -> None:
        assert mem.read_run(write_run(tmp_path / "r", metrics_json(**kwargs)))["verdict"] == expected


class TestRender:
    def test_one_line_per_dataset_with_intervals(self, tmp_path: Path) -> None:
        rows = [mem.read_run(write_run(tmp_path / "a", metrics_json())), {"name": "b", "error": "exit 1"}]
        lines = mem.render(rows).splitlines()
        assert len(lines) == 4 and len({len(line) for line in lines}) == 1  # aligned columns
        assert "0.004 [0.000, 0.030]" in lines[2] and "0.550 ± 0.029" in lines[2]
        assert lines[3].startswith("| b (failed: exit 1)")

    def test_runs_option_scores_existing_folders(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        write_run(tmp_path / "quickstart", metrics_json())
        write_run(tmp_path / "wage", metrics_json(so_multi=0.2))
        (tmp_path / "inputs").mkdir()  # not a run folder: skipped
        assert mem.main(["--runs", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert "| quickstart" in out and "missed: singling out" in out and "inputs" not in out


class TestSpecs:
    def test_package_table_gets_the_quickstart_spec_with_its_csv(self, tmp_path: Path) -> None:
        from safesynth.spec.load import load_spec_file

        table = mem.Table("tiny", "test", lambda: pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
        path = mem.write_spec(table, tmp_path)
        spec = load_spec_file(path)
        assert Path(spec.data.uri) == tmp_path / "tiny.csv" and (tmp_path / "tiny.csv").exists()
        assert spec.privacy.enabled is False
        quickstart = load_spec_file(mem.QUICKSTART)
        assert spec.model_dump(exclude={"data"}) == quickstart.model_dump(exclude={"data"})
        assert spec.data.model_dump(exclude={"uri"}) == quickstart.data.model_dump(exclude={"uri"})

    def test_quickstart_runs_its_own_spec(self, tmp_path: Path) -> None:
        assert mem.write_spec(mem.DATASETS["quickstart"], tmp_path) == mem.QUICKSTART

    def test_epochs_override_keeps_everything_else(self, tmp_path: Path) -> None:
        from safesynth.spec.load import load_spec_file

        path = mem.write_spec(mem.DATASETS["quickstart"], tmp_path, epochs=8)
        assert path.name == "quickstart-e8.yaml"
        spec, quickstart = load_spec_file(path), load_spec_file(mem.QUICKSTART)
        assert spec.training.epochs == 8 and Path(spec.data.uri) == mem.REPO / quickstart.data.uri
        assert spec.model_dump(exclude={"data", "training"}) == quickstart.model_dump(exclude={"data", "training"})

    def test_unknown_dataset_is_refused(self) -> None:
        with pytest.raises(SystemExit):
            mem.main(["--datasets", "nope"])
