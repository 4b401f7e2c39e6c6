"""Shared fixtures. S3 comes from tests/s3server.py (moto's real HTTP server)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

pytest_plugins = ["tests.s3server", "tests.kubeapi.fixtures"]

REPO = Path(__file__).resolve().parents[1]


def minimal_manifest(data_uri: str, name: str = "demo", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "safesynth.io/v1alpha1",
        "kind": "SafeSynthJob",
        "metadata": {"name": name},
        "spec": {"data": {"uri": data_uri}, **spec},
    }


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    """A 400-row mixed-type table, enough for a 100-row holdout."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "id": [f"R-{i:05d}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50_000, 12_000, n).round(2),
            "group": rng.choice(["a", "b", "c"], n),
            "smoker": rng.choice(["yes", "no"], n),
            "visit": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        }
    )
    path = tmp_path / "small.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def write_manifest(tmp_path: Path) -> Callable[..., Path]:
    def _write(manifest: dict[str, Any], name: str = "job.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(copy.deepcopy(manifest)))
        return path

    return _write
