"""Small Faker-made tables shaped like the quickstart's patients.csv, for the PII tests and benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd


def patients_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Identifiers, contact details, address, birth date, clinical columns and a note naming the patient."""
    from faker import Faker

    fk = Faker("en_US")
    fk.seed_instance(seed)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        first, last = fk.first_name(), fk.last_name()
        phone = fk.phone_number()
        dob = fk.date_of_birth(minimum_age=18, maximum_age=90)
        visit = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 365)))
        note = rng.choice([
            f"Patient {first} {last} seen for follow-up; call back at {phone}.",
            f"{first} reports mild headache. Dr. {fk.last_name()} reviewed labs.",
            "Routine visit, no complaints. Vitals stable.",
            f"Spoke with {first} {last} about medication; email sent to {first.lower()}.{last.lower()}@example.com.",
        ])
        rows.append({
            "patient_id": f"P{100000 + i}",
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}{rng.integers(1, 99)}@{fk.free_email_domain()}",
            "phone": phone,
            "street_address": fk.street_address(),
            "city": fk.city(),
            "state": fk.state_abbr(include_territories=False),
            "zip": fk.zipcode(),
            "date_of_birth": dob.isoformat(),
            "ssn": fk.ssn(),
            "sex": rng.choice(["F", "M"]),
            "blood_type": rng.choice(["A+", "A-", "B+", "O+", "O-", "AB+"]),
            "diagnosis": rng.choice(["hypertension", "asthma", "type 2 diabetes", "migraine", "none"]),
            "systolic_bp": int(rng.normal(125, 15)),
            "cholesterol": round(float(rng.normal(190, 30)), 1),
            "smoker": rng.choice(["yes", "no"]),
            "visit_date": visit.date().isoformat(),
            "note": note,
        })
    return pd.DataFrame(rows)
