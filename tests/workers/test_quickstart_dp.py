"""examples/quickstart-dp.yaml end to end at a CI size: it runs through evaluate, keeps DP-released bounds,
and writes no statistic of the private rows where the status can read it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln, logsumexp

import safesynth
from safesynth.spec.load import load_spec_file
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "quickstart-dp.yaml"
TINY = {"layers": 2, "hidden_size": 64, "heads": 2, "max_steps": 60, "batch_size": 32, "threads": 1,
        "vocab_size": 300}
# statistics of the private rows no mechanism released (generate's own timings stay: they time the DP model)
PRIVATE_BATCH_KEYS = {"loss", "lossCurve", "tokensPerSecond", "exactCopies", "exactCopiesInOutput", "rowsTooLong"}


def rdp_epsilon(sigma: float, q: float, steps: int, delta: float) -> float:
    """An accountant independent of opacus: RDP of the Poisson-subsampled Gaussian at integer orders
    (Mironov, Talwar, Zhang 2019, Thm. 9: A_a = sum_k C(a,k) (1-q)^(a-k) q^k exp((k^2-k)/(2 sigma^2))),
    composed over the steps and converted with Canonne, Kamath, Steinke 2020, Prop. 12."""
    best = np.inf
    for a in range(2, 257):
        k = np.arange(a + 1)
        log_terms = (gammaln(a + 1) - gammaln(k + 1) - gammaln(a - k + 1) + (a - k) * np.log1p(-q) + k * np.log(q)
                     + (k * k - k) / (2 * sigma**2))
        rdp = steps * float(logsumexp(log_terms)) / (a - 1)
        best = min(best, rdp + np.log((a - 1) / a) - (np.log(delta) + np.log(a)) / (a - 1))
    return float(best)


def test_the_independent_accountant_agrees_with_opacus_rdp() -> None:
    from opacus.accountants import RDPAccountant

    acc = RDPAccountant()
    acc.history = [(1.1, 0.05, 300)]
    ours = rdp_epsilon(1.1, 0.05, 300, 1e-5)
    assert ours == pytest.approx(acc.get_epsilon(1e-5), rel=0.02)


@pytest.mark.slow  # ~1 min on 2 cores: every stage, PII detection included, on 200 rows
def test_quickstart_dp_runs_end_to_end_within_its_budget(tmp_path: Path) -> None:
    spec = load_spec_file(EXAMPLE)
    assert spec.privacy.enabled and spec.privacy.epsilon == 8 and spec.privacy.require_declared_schema
    real = pd.read_csv(REPO / spec.data.uri).sample(200, random_state=0).reset_index(drop=True)
    # The LM route (DP-SGD) explicitly: its accounting is what this test recomputes; the marginal route that
    # `auto` picks for this table has its own end-to-end test (tests/workers/stages/test_marginal_route.py).
    privacy = {**spec.privacy.model_dump(by_alias=True, exclude_unset=True, mode="json"), "route": "lm"}
    result = safesynth.synthesize(real, name="qsdp", runs_dir=tmp_path, progress=False, spec=spec, training=TINY,
                                  privacy=privacy,
                                  generation={"num_records": 40, "max_invalid_fraction": 1.0, "batch_size": 64,
                                              "temperature": 0.7})
    assert len(result.synthetic) == 40 and result.metrics  # evaluate ran: the dates it reads were valid

    run = tmp_path / "qsdp"
    train = json.loads((run / "train" / "summary.json").read_text())
    generate = json.loads((run / "generate" / "summary.json").read_text())
    assert 0 < train["epsilonSpent"] <= 8 and train["delta"] <= min(1e-5, 1 / (10 * train["trainRows"]))
    # every kind, date format and faked column is declared: nothing of the layout was read off the table
    assert not [w for w in train.get("warnings", []) if w["code"].startswith("dpUndeclared")]
    assert set(train["columnsRefaked"]) == set(spec.pii.columns)
    # recompute DP-SGD's epsilon from the recorded parameters with an accountant independent of opacus: the PRV
    # figure reported must sit below that RDP bound (PRV is tighter) and not far from it
    budget = train["privacyBudget"]
    bound = rdp_epsilon(train["noiseMultiplier"], train["sampleRate"], train["steps"], budget["trainDelta"])
    assert 0.6 * bound < train["trainEpsilon"] <= bound
    assert train["epsilonSpent"] == pytest.approx(
        train["trainEpsilon"] + budget["schemaEpsilon"] + budget["marginalEpsilon"], abs=1e-3)
    assert not PRIVATE_BATCH_KEYS & (set(train) | set(generate)) and "timings" not in train
    status = result.status.model_dump(by_alias=True, mode="json")
    in_status = [s.get("summary") or {} for s in status["stages"] if s["name"] in ("train", "generate")]
    assert len(in_status) == 2 and not PRIVATE_BATCH_KEYS & {k for summary in in_status for k in summary}

    columns = {c["name"]: c for c in json.loads((run / "train" / "model" / "safesynth.json").read_text())["columns"]}
    csv = pd.read_csv(run / "generate" / "synthetic.csv", dtype=str)
    for name in ("date_of_birth", "test_date"):  # declared '%Y-%m-%d': the CSV's spelling, never with a time
        assert columns[name]["style"] == "date"
        assert csv[name].dropna().str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    for name in ("date_of_birth", "test_date", "ct_value"):
        col = columns[name]
        assert col["minimum"] is not None and col["maximum"] is not None  # released bounds are enforced
        values = result.synthetic[name].dropna()
        if col["kind"] == "datetime":
            seconds = pd.to_datetime(values.astype(str), format="mixed").astype("int64") / 1e9
            assert seconds.between(col["minimum"], col["maximum"]).all()
        else:
            assert pd.to_numeric(values).between(col["minimum"], col["maximum"]).all()
    for name, col in columns.items():
        if col["kind"] == "identifier":  # the training null share is not released: DP identifiers are never null
            assert result.synthetic[name].notna().all()
