"""Membership TPR at low FPR with a large non-member control (issue 19: quickstart, non-DP, TPR@1%FPR ≤ 0.02).

    SAFESYNTH_PII_KEY=membership-control-benchmark-key \\
        .venv/bin/safesynth run examples/quickstart.yaml --run-uri /tmp/mc/run        # ~5 min on 2 CPU cores
    SAFESYNTH_PII_KEY=membership-control-benchmark-key \\
        .venv/bin/python -m benchmarks.membership_control /tmp/mc/run [--n 4000] [--json FILE]

Why: the evaluate stage's membership attacks use the run's holdout as non-members. The quickstart holds out
200 rows, so 1% FPR is 2 holdout rows: TPR@1%FPR reads 0.005–0.045 over runs and an attack with no signal
exceeds 0.03–0.04 one time in twenty. The ≤ 0.02 target can be neither confirmed nor refuted that way.
examples/make_quickstart_data.py builds the quickstart table from 2,000 of covid_testing's 15,524 tests;
`build_non_members(N)` makes N more rows of the same process that were never in it (tests of subjects with
no test in the table, fake identities by the same code under another seed). With 4,000 of them, 1% FPR is
40 false positives.

How: for a FINISHED quickstart run folder made with a fixed PII key (the same key must be in
SAFESYNTH_PII_KEY now; its fingerprint is checked against pii/report.json):
1. build N extra rows, write them as the bundled CSV is written, read them back as the prepare stage reads
   the input (tables.load_table) and coerce them to the run's prepare/schema.json;
2. re-derive the PII plan as the PII stage does (classify_table on prepare/train, build_plan; checked
   against pii/report.json column by column) and apply it, with the run's key and spec, to prepare's train
   and holdout rows and the extra rows concatenated (the stage applies it to train + holdout together),
   with the table-wide state (original names and values that fakes must avoid) taken from the run's rows
   only (`apply_plan(..., reference_rows=...)`; without it most train names came out differently, and extra rows got names the
   synthetic rows never use). The train and holdout parts must equal the run's pii/ tables (the cells
   that differ are printed);
3. align every table as the evaluate stage does and run its MembershipInference metric (distance to
   closest record and DOMIAS, unchanged code; the score vectors are recorded on their way into roc_stats)
   with members = the run's pii/train rows and non-members = the control.

The evaluate stage samples as many members as non-members (EvalContext.privacy), so each control is run
twice: "equal" (the stage's own sampling; for the extra rows, min(N, training rows) of them are drawn, so
all 1,800 members meet 1,800 non-members) and "all members" (every training row a member, every control
row a non-member; DOMIAS draws at most as many members as its non-member half). Sanity checks: the extra
rows split in two random halves, non-members as "members" against non-members, must read TPR ≈ FPR; and
the holdout rows as "members" against the extra rows tell whether the extra rows are distributed like the
table's (they are a sample of the same tests, reweighted for the subjects the exclusion depletes).

The table: per control and attack, members and non-members counted, AUC ± Hanley–McNeil SE, TPR at 1% and
0.1% FPR each with two 95% intervals: Clopper–Pearson on the members above the threshold (member sampling
only) and a percentile bootstrap resampling members and non-members (adds the threshold's own noise;
1,000 resamples of the score vectors: the synthetic table, and DOMIAS's reference half, stay fixed, so
neither interval covers the generator's run-to-run variation). "chance p95" is the TPR@1%FPR an attack
with no signal exceeds 5% of the time at those sizes (benchmarks.memorization.chance_tpr). "*" marks the
attack the stage reports (the lower score).

Measured at 2402e6c on 2 shared CPU cores (the run: 284 s of training, 1,800 training rows, 200 holdout,
1,800 synthetic; this benchmark: 70 s), N = 4,000 (3,591 patients), the command lines above:

| control | attack | members | non-members | AUC ± SE | TPR@1%FPR [CP 95%] [bootstrap 95%] | chance p95 | TPR@0.1%FPR [CP 95%] [bootstrap 95%] |
|---|---|---|---|---|---|---|---|
| holdout, equal (the stage) | dcr * | 200 | 200 | 0.541 ± 0.029 | 0.0400 [0.0174, 0.0773] [0.0000, 0.0750] | 0.040 | 0.0050 [0.0001, 0.0275] [0.0000, 0.0600] |
| holdout, equal (the stage) | domias | 100 | 100 | 0.532 ± 0.041 | 0.0000 [0.0000, 0.0362] [0.0000, 0.0900] | 0.060 | 0.0000 [0.0000, 0.0362] [0.0000, 0.0300] |
| holdout, all members | dcr * | 1800 | 200 | 0.521 ± 0.021 | 0.0361 [0.0280, 0.0458] [0.0106, 0.0639] | 0.032 | 0.0144 [0.0095, 0.0211] [0.0089, 0.0406] |
| holdout, all members | domias | 100 | 100 | 0.538 ± 0.041 | 0.0300 [0.0062, 0.0852] [0.0000, 0.1200] | 0.060 | 0.0100 [0.0003, 0.0545] [0.0000, 0.0702] |
| extra, equal | dcr | 1800 | 1800 | 0.521 ± 0.010 | 0.0122 [0.0077, 0.0184] [0.0067, 0.0239] | 0.017 | 0.0000 [0.0000, 0.0020] [0.0000, 0.0056] |
| extra, equal | domias * | 900 | 900 | 0.547 ± 0.014 | 0.0167 [0.0094, 0.0273] [0.0000, 0.0334] | 0.020 | 0.0000 [0.0000, 0.0041] [0.0000, 0.0000] |
| extra, all members | dcr | 1800 | 4000 | 0.520 ± 0.008 | 0.0144 [0.0095, 0.0211] [0.0072, 0.0233] | 0.015 | 0.0006 [0.0000, 0.0031] [0.0000, 0.0056] |
| extra, all members | domias * | 1800 | 2000 | 0.553 ± 0.009 | 0.0150 [0.0099, 0.0217] [0.0067, 0.0228] | 0.017 | 0.0017 [0.0003, 0.0049] [0.0000, 0.0050] |
| sanity: extra half vs half | dcr * | 2000 | 2000 | 0.495 ± 0.009 | 0.0140 [0.0093, 0.0202] [0.0070, 0.0205] | 0.017 | 0.0030 [0.0011, 0.0065] [0.0000, 0.0065] |
| sanity: extra half vs half | domias | 1000 | 1000 | 0.519 ± 0.013 | 0.0100 [0.0048, 0.0183] [0.0030, 0.0210] | 0.020 | 0.0010 [0.0000, 0.0056] [0.0000, 0.0080] |
| check: holdout vs extra | dcr | 200 | 4000 | 0.499 ± 0.021 | 0.0050 [0.0001, 0.0275] [0.0000, 0.0200] | 0.025 | 0.0000 [0.0000, 0.0183] [0.0000, 0.0000] |
| check: holdout vs extra | domias * | 200 | 2000 | 0.512 ± 0.022 | 0.0100 [0.0012, 0.0357] [0.0000, 0.0250] | 0.025 | 0.0000 [0.0000, 0.0183] [0.0000, 0.0000] |

The recomputed stage row equals the run's metrics.json (0.040, AUC 0.541) and the PII replay reproduced
pii/train and pii/holdout cell for cell. Against 4,000 non-members both attacks read TPR@1%FPR
0.014–0.015 (upper 95% bounds 0.021–0.023, chance p95 0.015–0.017): no low-FPR excess is seen, and the
0.036–0.040 this run reads against its holdout (bootstrap interval 0.011–0.064) is the holdout's 2-row
threshold. The ≤ 0.02 target is met by the estimate but not yet confirmed at 95% by one run (a run at
N = 8,000, or several runs, would narrow it). The AUC is another matter: 0.520 ± 0.008 (DCR) and
0.553 ± 0.009 (DOMIAS) against 0.495 / 0.519 for the null halves: an average-case membership signal the
200-row holdout cannot resolve (0.541 ± 0.029), absent at 1% and 0.1% FPR. Both sanity rows read
TPR ≈ FPR and the holdout is not told from the extra rows (AUC 0.499 / 0.512 ± 0.02).

The mix matters for AUC: against all members, DCR AUC by the non-member's subject's tests in covid_testing
is 0.48 (1 test, 2,812 rows), 0.56 (2), 0.58 (3), 0.67 (4), 0.77 (5), 0.69 (6+): rows of often-tested
patients sit far from the synthetic rows. The extra rows keep slightly fewer of them than the table (the
weighted draw runs out), so the printed line below the table reweights the DCR non-members to
covid_testing's mix: AUC 0.524 ± 0.008, TPR@1%FPR 0.0144 [0.0078, 0.0233] (unchanged at low FPR).
Keeping one row per patient (3,591 rows; tried, not kept, since it also thins the often-tested) read DCR
AUC 0.505, TPR 0.0111 and DOMIAS AUC 0.547, TPR 0.0128: a non-member whose other visit sits in DOMIAS's
reference half (training rows never have one there) looks less like a member, but together with the thinner
mix that moved DOMIAS's AUC by 0.006 only (the two effects are not separated here).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "quickstart.yaml"
BUILDER = REPO / "examples" / "make_quickstart_data.py"
DEFAULT_N = 4000
BOOTSTRAP = 1000
FPRS = (0.01, 0.001)
SPLIT_SALT = "membership-control"

def builder() -> Any:
    """examples/make_quickstart_data.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_quickstart_data", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_quickstart_data", module)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the extra rows, through prepare and PII


def as_prepared(df: pd.DataFrame, prepare_schema: Any) -> pd.DataFrame:
    """`df` written as the bundled CSV is written, read back as the prepare stage reads its input, coerced to
    the run's prepare schema (so the extra rows get the training rows' dtypes)."""
    from safesynth.schema import coerce_to_schema
    from safesynth.tables import load_table

    raw = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return coerce_to_schema(load_table(raw, source="membership-control-extra.csv"), prepare_schema)


@dataclass
class PiiReplay:
    extra: pd.DataFrame  # the extra rows after the run's PII replacement, coerced to pii/schema.json
    train_cells_differing: dict[str, int]  # per column: cells of the recomputed train part ≠ pii/train.parquet
    holdout_cells_differing: dict[str, int]


def _differing(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, int]:
    out = {}
    for c in b.columns:
        if c not in a.columns:
            out[c] = len(b)
            continue
        x = a[c].astype(object).where(a[c].notna(), None).to_numpy()
        y = b[c].astype(object).where(b[c].notna(), None).to_numpy()
        n = int(sum(1 for u, v in zip(x, y) if not (u == v or (u is None and v is None))))
        if n:
            out[c] = n
    return out


def replay_pii(run_dir: Path, spec: Any, extra_prepared: pd.DataFrame) -> PiiReplay:
    """The run's PII replacement applied to the extra rows, as the PII stage applies it to its holdout."""
    from safesynth.pii.classify import classify_table
    from safesynth.pii.keys import resolve_key
    from safesynth.pii.ner import LazyEngine, get_engine
    from safesynth.pii.plan import build_plan
    from safesynth.pii.replace import apply_plan
    from safesynth.schema import TableSchema, coerce_to_schema
    from safesynth.stages.pii import output_schema
    from safesynth.store import LocalStore

    store = LocalStore(run_dir)
    report = store.read_json("pii/report.json")
    if not report.get("enabled", True):
        raise SystemExit(f"{run_dir}: the run's PII stage was disabled; this benchmark replays it")
    keys = resolve_key(spec.pii, os.environ)
    if keys.source == "ephemeral":
        raise SystemExit("set SAFESYNTH_PII_KEY to the key the run was made with")
    run_fp = (report.get("key") or {}).get("fingerprint")
    if run_fp != keys.fingerprint:
        raise SystemExit(f"SAFESYNTH_PII_KEY's fingerprint {keys.fingerprint} is not the run's ({run_fp})")
    train = store.read_table("prepare/train.parquet")
    holdout = store.read_table("prepare/holdout.parquet")
    schema = TableSchema.from_json_dict(store.read_json("prepare/schema.json"))
    # the stage's classification: training rows only, the day it runs as the birth-date rule's reference
    evidence = classify_table(train, schema, spec.pii, ner=LazyEngine(), seed=spec.data.seed, today=date.today())
    plan = build_plan(schema, evidence, spec.pii)
    ours = {c.column: (c.action.value, c.mode, c.entity.value if c.entity else None) for c in plan}
    theirs = {c["column"]: (c["action"], c["mode"], c["entity"]) for c in report["columns"]}
    if ours != theirs:
        diff = {k: (theirs.get(k), ours.get(k)) for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)}
        raise SystemExit(f"the re-derived PII plan differs from the run's (run, now): {diff}")
    extra = extra_prepared[list(train.columns)]
    full = pd.concat([train, holdout, extra], ignore_index=True)
    # The table-wide state of the draws from the run's rows only (apply_plan's reference_rows): the run's
    # rows come out as in the run, the extra rows as the run would have replaced new values.
    applied = apply_plan(full, plan, keys, spec.pii, schema=schema, ner=get_engine,
                         entity_keys=spec.data.group_by, reference_rows=len(train) + len(holdout))
    _, replaced = output_schema(schema, applied, plan)
    n_t, n_h = len(train), len(holdout)
    parts = {"train": (train, slice(0, n_t)), "holdout": (holdout, slice(n_t, n_t + n_h)),
             "extra": (extra, slice(n_t + n_h, len(full)))}
    out = {}
    for name, (before, rows) in parts.items():
        frame = before.drop(columns=[c for c, r in applied.results.items() if r.dropped]).reset_index(drop=True)
        for c in replaced.columns:
            frame[c] = replaced[c].iloc[rows].reset_index(drop=True)
        out[name] = frame
    pii_schema = TableSchema.from_json_dict(store.read_json("pii/schema.json"))
    return PiiReplay(
        extra=coerce_to_schema(out["extra"], pii_schema),
        train_cells_differing=_differing(coerce_to_schema(out["train"], pii_schema), store.read_table("pii/train.parquet")),
        holdout_cells_differing=_differing(coerce_to_schema(out["holdout"], pii_schema),
                                           store.read_table("pii/holdout.parquet")),
    )


# ---------------------------------------------------------------- the evaluate stage's attacks


@contextlib.contextmanager
def recorded_scores() -> Iterator[list[tuple[np.ndarray, np.ndarray]]]:
    """Every (member scores, non-member scores) pair the membership metric passes to roc_stats, in call order
    (distance to closest record first, then DOMIAS)."""
    from safesynth.metrics import membership

    calls: list[tuple[np.ndarray, np.ndarray]] = []
    original = membership.roc_stats

    def recording(m: Any, n: Any, **kw: Any) -> dict[str, Any]:
        calls.append((np.asarray(m, dtype=float).copy(), np.asarray(n, dtype=float).copy()))
        return original(m, n, **kw)

    membership.roc_stats = recording  # type: ignore[assignment]
    try:
        yield calls
    finally:
        membership.roc_stats = original  # type: ignore[assignment]


def _all_members_context() -> type:
    from dataclasses import dataclass as _dc

    from safesynth.metrics.context import EvalContext

    @_dc
    class AllMembers(EvalContext):
        """EvalContext whose privacy samples keep every row of `real` as a member (the stage draws as many
        members as non-members); everything else is the stage's."""

        def sample(self, df: pd.DataFrame, salt: str, n: Optional[int] = None) -> pd.DataFrame:
            if salt == "privacy-members":
                return df.reset_index(drop=True)
            return super().sample(df, salt, n)

    return AllMembers


def run_attacks(members: pd.DataFrame, non_members: pd.DataFrame, synthetic: pd.DataFrame, kinds: dict[str, Any],
                options: Any, all_members: bool) -> dict[str, dict[str, Any]]:
    """The stage's MembershipInference on these tables: per attack its stats (as metrics.json has them), the
    score vectors, and whether the stage would report it (the lowest score)."""
    from safesynth.metrics.context import EvalContext
    from safesynth.metrics.membership import MembershipInference

    cls = _all_members_context() if all_members else EvalContext
    ctx = cls(real=members, synthetic=synthetic, holdout=non_members, kinds=kinds, options=options)
    with recorded_scores() as calls:
        result = MembershipInference().compute(ctx)
    details = {d["attack"]: d for d in result.details}
    if len(calls) != len(details):
        raise RuntimeError(f"recorded {len(calls)} score pairs for {len(details)} attacks")
    out = {}
    for (name, d), (m, n) in zip(details.items(), calls):
        if (len(m), len(n)) != (d["members"], d["nonMembers"]):
            raise RuntimeError(f"{name}: recorded scores do not match the attack's sample sizes")
        out[name] = {**d, "memberScores": m, "nonMemberScores": n,
                     "reported": name == result.statistic["strongestAttack"]}
    return out


def tpr_at(m: np.ndarray, n: np.ndarray, fprs: tuple[float, ...] = FPRS) -> list[float]:
    """TPR at each FPR, read off the ROC curve as roc.roc_stats reads TPR at 1% (ties interpolated)."""
    from sklearn.metrics import roc_curve

    y = np.concatenate([np.ones(len(m)), np.zeros(len(n))])
    fpr, tpr, _ = roc_curve(y, np.concatenate([m, n]), drop_intermediate=False)
    return [float(np.interp(a, fpr, tpr)) for a in fprs]


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import beta

    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def intervals(m: np.ndarray, n: np.ndarray, seed: int, resamples: int = BOOTSTRAP) -> dict[str, Any]:
    """Per FPR in FPRS: the TPR, its Clopper–Pearson interval (members above the threshold) and a percentile
    bootstrap interval (members and non-members resampled)."""
    rng = np.random.default_rng(seed)
    point = tpr_at(m, n)
    boot = np.array([tpr_at(m[rng.integers(0, len(m), len(m))], n[rng.integers(0, len(n), len(n))])
                     for _ in range(resamples)])
    out = {}
    for j, a in enumerate(FPRS):
        k = round(point[j] * len(m))
        out[a] = {"tpr": point[j], "cp": clopper_pearson(k, len(m)),
                  "boot": (float(np.quantile(boot[:, j], 0.025)), float(np.quantile(boot[:, j], 0.975))),
                  "falsePositives": a * len(n)}
    return out


MIX_CAP = 6  # tests per subject: 6 and more are one stratum


def mix_reweighted(m: np.ndarray, n: np.ndarray, mk: Any, n_extra: int, seed: int, resamples: int) -> dict[str, Any]:
    """The DCR attack against all extra rows again, each non-member weighted so that the control has
    covid_testing's mix of tests per subject (the table's, in expectation), the strata the weighted draw
    could not fill (build_non_members' docstring) scaled up. `n`: the DCR non-member scores in the extra
    rows' order (the stage keeps every row and its order when there are at most max_rows)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    src = mk._source()
    per_subject = src["subject_id"].map(src["subject_id"].value_counts())
    k = np.minimum(per_subject[mk.non_member_tests(n_extra, seed, src=src).index].to_numpy(), MIX_CAP)
    population = pd.Series(np.minimum(per_subject.to_numpy(), MIX_CAP)).value_counts(normalize=True)
    control = pd.Series(k).value_counts(normalize=True)
    w = (population / control).reindex(k).to_numpy()

    def stats(mi: np.ndarray, ni: np.ndarray) -> list[float]:
        y = np.r_[np.ones(len(mi)), np.zeros(len(ni))]
        sw = np.r_[np.ones(len(mi)), w[ni] * len(ni) / w[ni].sum()]
        s = np.r_[m[mi], n[ni]]
        fpr, tpr, _ = roc_curve(y, s, sample_weight=sw, drop_intermediate=False)
        return [float(roc_auc_score(y, s, sample_weight=sw)), *(float(np.interp(a, fpr, tpr)) for a in FPRS)]

    rng = np.random.default_rng(seed)
    point = stats(np.arange(len(m)), np.arange(len(n)))
    boot = np.array([stats(rng.integers(0, len(m), len(m)), rng.integers(0, len(n), len(n)))
                     for _ in range(resamples)])
    return {"auc": point[0], "aucBootSe": float(boot[:, 0].std(ddof=1)),
            "tpr": {str(a): {"tpr": point[j + 1], "boot": (float(np.quantile(boot[:, j + 1], 0.025)),
                                                          float(np.quantile(boot[:, j + 1], 0.975)))}
                    for j, a in enumerate(FPRS)},
            "mix": {int(kv): [round(float(population.get(kv, 0)), 4), round(float(control.get(kv, 0)), 4)]
                    for kv in sorted(population.index)}}


# ---------------------------------------------------------------- the benchmark


def eval_setup(run_dir: Path, spec: Any) -> tuple[dict[str, pd.DataFrame], dict[str, Any], Any]:
    """The run's tables as the evaluate stage reads them, its kinds and options."""
    from safesynth.metrics.columns import Kind, infer_kinds, kinds_from_schema
    from safesynth.metrics.context import EvalOptions
    from safesynth.stages import evaluate
    from safesynth.store import LocalStore

    inputs = evaluate.load_inputs(LocalStore(run_dir))
    known = kinds_from_schema(inputs.schema) if inputs.schema else {}
    unknown = [c for c in inputs.real.columns if str(c) not in known]
    inferred = infer_kinds(inputs.real[unknown]) if unknown else {}
    kinds = {str(c): known.get(str(c)) or inferred[str(c)] for c in inputs.real.columns}
    kinds.update({c: Kind.IDENTIFIER for c in spec.data.group_by if c in kinds})
    ev = spec.evaluation
    options = EvalOptions(max_rows=ev.max_rows, seed=ev.seed if ev.seed is not None else spec.data.seed,
                          target=ev.target, quasi_identifiers=tuple(ev.quasi_identifiers),
                          sensitive_columns=tuple(ev.sensitive_columns), group_by=tuple(spec.data.group_by),
                          order_by=spec.data.order_by)
    tables = {"real": inputs.real, "synthetic": inputs.synthetic, "holdout": inputs.holdout}
    return tables, kinds, options


def measure(run_dir: Path, spec_path: Path, n_extra: int, seed: Optional[int], resamples: int) -> dict[str, Any]:
    from safesynth.metrics.columns import align
    from safesynth.metrics.context import rng_for
    from safesynth.schema import TableSchema
    from safesynth.spec.load import load_spec_file
    from safesynth.store import LocalStore

    from benchmarks.memorization import chance_tpr

    spec = load_spec_file(spec_path)
    mk = builder()
    seed = mk.NON_MEMBER_SEED if seed is None else seed
    print(f"building {n_extra} non-member rows (seed {seed})", file=sys.stderr, flush=True)
    raw_extra = mk.build_non_members(n_extra, seed)
    prepare_schema = TableSchema.from_json_dict(LocalStore(run_dir).read_json("prepare/schema.json"))
    print("replaying the run's PII replacement", file=sys.stderr, flush=True)
    replay = replay_pii(run_dir, spec, as_prepared(raw_extra, prepare_schema))
    tables, kinds, options = eval_setup(run_dir, spec)
    tables = align({**tables, "extra": replay.extra}, kinds)
    real, synthetic, holdout, extra = (tables[k] for k in ("real", "synthetic", "holdout", "extra"))
    assert real is not None and synthetic is not None and holdout is not None and extra is not None

    perm = rng_for(options.seed, SPLIT_SALT).permutation(len(extra))
    equal_n = min(len(extra), len(real))
    extra_equal = extra.iloc[np.sort(perm[:equal_n])].reset_index(drop=True)
    half_a = extra.iloc[np.sort(perm[: len(extra) // 2])].reset_index(drop=True)
    half_b = extra.iloc[np.sort(perm[len(extra) // 2:])].reset_index(drop=True)
    variants = [
        ("holdout, equal (the stage)", real, holdout, False),
        ("holdout, all members", real, holdout, True),
        ("extra, equal", real, extra_equal, False),
        ("extra, all members", real, extra, True),
        ("sanity: extra half vs half", half_a, half_b, False),
        ("check: holdout vs extra", holdout, extra, True),
    ]
    rows = []
    reweighted = None
    for i, (label, mem, non, all_m) in enumerate(variants):
        print(f"attacks: {label}", file=sys.stderr, flush=True)
        for attack, st in run_attacks(mem, non, synthetic, kinds, options, all_m).items():
            m, n = st.pop("memberScores"), st.pop("nonMemberScores")
            if label == "extra, all members" and attack == "dcr" and len(n) == len(extra):
                reweighted = mix_reweighted(m, n, mk, n_extra, seed, resamples)
            ci = intervals(m, n, seed=1000 * i + len(rows), resamples=resamples)
            rows.append({"control": label, "attack": attack, "reported": st["reported"], "members": len(m),
                         "nonMembers": len(n), "auc": st["auc"], "aucStdErr": st["aucStdErr"],
                         "stageTpr1": st["tprAt1PctFpr"], "chance95": chance_tpr(len(m), len(n)),
                         "tpr": {str(a): v for a, v in ci.items()}})
    subjects = raw_extra["patient_id"].nunique()
    return {"run": str(run_dir), "extraRows": len(extra), "extraPatients": int(subjects), "seed": seed,
            "trainCellsDiffering": replay.train_cells_differing,
            "holdoutCellsDiffering": replay.holdout_cells_differing, "rows": rows, "mixReweighted": reweighted}


def _ci(v: dict[str, Any]) -> str:
    return (f"{v['tpr']:.4f} [{v['cp'][0]:.4f}, {v['cp'][1]:.4f}] "
            f"[{v['boot'][0]:.4f}, {v['boot'][1]:.4f}]")


def render(result: dict[str, Any]) -> str:
    head = ["control", "attack", "members", "non-members", "AUC ± SE", "TPR@1%FPR [CP 95%] [bootstrap 95%]",
            "chance p95", "TPR@0.1%FPR [CP 95%] [bootstrap 95%]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        t1, t01 = r["tpr"][str(FPRS[0])], r["tpr"][str(FPRS[1])]
        lines.append("| " + " | ".join([
            r["control"], r["attack"] + (" *" if r["reported"] else ""), str(r["members"]), str(r["nonMembers"]),
            f"{r['auc']:.3f} ± {r['aucStdErr']:.3f}", _ci(t1), f"{r['chance95']:.3f}", _ci(t01)]) + " |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("run", type=Path, help="a finished quickstart run folder (made with SAFESYNTH_PII_KEY set)")
    ap.add_argument("--spec", type=Path, default=QUICKSTART, help="the run's spec (default: the quickstart's)")
    ap.add_argument("--n", type=int, default=DEFAULT_N, help=f"extra non-member rows (default {DEFAULT_N})")
    ap.add_argument("--seed", type=int, default=None,
                    help="the extra rows' seed (default make_quickstart_data.NON_MEMBER_SEED)")
    ap.add_argument("--bootstrap", type=int, default=BOOTSTRAP, help=f"resamples (default {BOOTSTRAP})")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    if not (args.run / "evaluate" / "metrics.json").exists():
        ap.error(f"{args.run}: no evaluate/metrics.json (a finished run folder is needed)")
    result = measure(args.run, args.spec, args.n, args.seed, args.bootstrap)
    stage = json.loads((args.run / "evaluate" / "metrics.json").read_text())["metrics"]["membership_inference"]
    ours = next(r for r in result["rows"] if r["control"].startswith("holdout, equal") and r["reported"])
    print(f"run {args.run}: {result['extraRows']} extra non-members ({result['extraPatients']} patients, seed "
          f"{result['seed']}); the stage's metrics.json: TPR@1%FPR {stage['statistic']['tprAt1PctFpr']:.4f}, "
          f"AUC {stage['statistic']['auc']:.3f} ({stage['statistic']['strongestAttack']}); recomputed here: "
          f"{ours['stageTpr1']:.4f}, {ours['auc']:.3f} ({ours['attack']})")
    print(f"PII replay: cells differing from the run's pii/train {result['trainCellsDiffering'] or 'none'}, "
          f"pii/holdout {result['holdoutCellsDiffering'] or 'none'}\n")
    print(render(result))
    rw = result.get("mixReweighted")
    if rw:
        t1, t01 = rw["tpr"][str(FPRS[0])], rw["tpr"][str(FPRS[1])]
        print(f"\nextra, all members, dcr, reweighted to covid_testing's tests-per-subject mix (share of tests "
              f"[all tests, extra rows] by tests per subject, {MIX_CAP} = {MIX_CAP}+: {rw['mix']}): AUC "
              f"{rw['auc']:.3f} ± {rw['aucBootSe']:.3f} (bootstrap), TPR@1%FPR {t1['tpr']:.4f} [{t1['boot'][0]:.4f}, "
              f"{t1['boot'][1]:.4f}], TPR@0.1%FPR {t01['tpr']:.4f} [{t01['boot'][0]:.4f}, {t01['boot'][1]:.4f}]")
    print("\n* the attack the stage reports (lowest score). Intervals: Clopper–Pearson on the members above the "
          "threshold; percentile bootstrap over members and non-members (the threshold's noise too); neither "
          "covers the generator's run-to-run variation. The sanity row should read TPR ≈ FPR, the check row "
          "AUC ≈ 0.5 (extra rows distributed like the table's).")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
