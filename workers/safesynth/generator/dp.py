"""Differential privacy: the budget split, a DP-safe schema, and DP-SGD through opacus.

Over 400 lines on purpose: the privacy argument below covers every mechanism in
this module and how their budgets add up, so it is reviewed in one place.

Guarantee: record-level (epsilon, delta)-DP under add/remove-one-row adjacency,
for everything the train stage writes (model, tokenizer, validator schema).

Where epsilon goes (basic sequential composition, so the parts add up):
- `schemaEpsilon` (only when a needed domain is not declared in
  `privacy.domains`) is split evenly over the columns whose categories or
  bounds must be released from the data:
  * categories: discrete Laplace noise (OpenDP, `noise.laplace_counts`) of scale
    1/eps on each observed category's count, kept when the noisy count exceeds
    1 + ln(1/delta_c)/eps. A category present in one dataset and absent from its
    neighbour has count 1, so it escapes with probability
    P(Z > tau - 1) < exp(-(tau-1) eps) = delta_c; otherwise counts move by at
    most 1 (discrete Laplace, eps). (Korolova et al. 2009; Wilson et al. 2020,
    "Differentially private SQL with bounded user contribution".) Costs
    (eps, delta_c) per column.
  * bounds of numbers and dates: a discrete Laplace histogram (scale 1/eps) over
    a fixed, data-independent grid of bins (signed powers of sqrt(2) for numbers,
    calendar years for dates, plus a bin for nulls); the lowest and highest bins
    whose noisy count passes a threshold, widened by BOUNDS_MARGIN_BINS bins, are
    the bounds (the idea of Google's ApproxBounds). Pure eps per column; the
    threshold is post-processing.
  * released categories are enforced (grammar, validator) even when they cover
    only part of the rows, typical of small tables where the threshold hides
    most categories: measured on the quickstart table, an open column made the
    DP model spell rare values as noise (TVComplement ~0.05), the released list
    kept rows coherent. In the DP training rows, a value outside its column's
    enforced list is redrawn from the released ones (`marginals.fold_unreleased`)
    so the model learns no mass that the grammar would spill onto null.
  * released *ranges* are always enforced too (grammar, validator): an open range
    let the DP model write any 4-digit year, and the evaluate stage died on
    dates pandas cannot hold (issue 18). When no bin passes the threshold, the
    column gets its public default range (DEFAULT_NUMBER_BOUNDS,
    DEFAULT_DATE_BOUNDS), which depends on nothing private. Declared domains are
    always enforced.
- `marginalEpsilon` (with public pretraining on; default min(1, epsilon/8))
  releases every modeled column's one-way histogram over its public domain
  with the Laplace mechanism (`marginals.py`); the public pretraining rows are
  sampled from those histograms. Pure epsilon, no delta.
- DP-SGD gets the rest: epsilon - schema part - marginal part, delta - schema deltas. opacus's
  PRV accountant (tighter than RDP here: noise 0.544 vs 0.579 at epsilon 8) picks
  the noise multiplier for the planned steps; RDP is the fallback when PRV fails.
  Poisson sampling with rate q = 1/len(loader) ~ batch/n, per-sample clipping
  at maxGradNorm, grad_sample_mode "hooks" (works for a full tiny Llama with
  untied embeddings and for peft LoRA).

Randomness: the schema and marginal releases use OpenDP's exact discrete
Laplace sampler (`noise.py`). DP-SGD's Gaussian noise and Poisson batches come
from torch generators seeded from the OS (`noise.secure_seed`), never from the
spec's seed, so DP runs are not bit-reproducible by design; everything else is
seeded. DP-SGD's Gaussian noise is torch's floating-point sampler: opacus's
secure_mode (torchcsprng) is not installable here and OpenDP has no sampler
for tensors inside an optimizer step, so Mironov's floating-point attack is
not ruled out for the model weights (README, "Differential privacy").

Accounting is checked, not trusted: before training, the accountant's epsilon
for the planned steps at the chosen noise must not exceed DP-SGD's target, and
after training the total reported (DP-SGD plus the releases) must not exceed
privacy.epsilon; either failing raises PrivacyBudgetError (exit 3). This
catches the RDP fallback reporting more than PRV planned for.

Treated as public, as in opacus and every DP synthesizer: the row count n (it
sets q and the default delta = min(1e-5, 1/(10 n))), column names and kinds.
Storage dtypes are made independent of nulls (`null_safe_dtype`: int64 and
Int64 both become Int64), so one null row cannot flip them.
Pretraining rows built only from those and from declared or DP-released
domains (`public.py`) cost nothing. `generation.dropTrainingCopies` is ignored
under DP: filtering outputs against private rows would fall outside the guarantee.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from safesynth.errors import PrivacyBudgetError
from safesynth.generator import noise
from safesynth.generator.column_info import ISO, TEXT, ColumnInfo, epoch_seconds
from safesynth.generator.serialize import to_field

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_DELTA_SHARE = 0.1  # share of delta for category releases (when any are needed)
BOUNDS_MARGIN_BINS = 2  # released bounds are widened by this many grid bins each side (post-processing, free)
DEFAULT_NUMBER_BOUNDS = (-1e9, 1e9)  # numbers with no bin above the threshold: public, wide, exact in float64
DEFAULT_DATE_BOUNDS = ("1900-01-01", "2100-01-01")  # dates likewise: inside pandas' nanosecond range
DELTA_CAP = 1e-5  # default delta is at most this, and at most 1/(10 n)
NULL_KEY = "\x00null"  # nulls, counted as one more category in the release
BOUNDS_FALSE_BIN_RATE = 0.001  # expected bins passing the threshold on noise alone, over the whole grid: a
# spurious far bin would stretch the bounds to absurd values, so this is kept small (costs a higher threshold)


def auto_delta(n: int) -> float:
    """delta = min(1e-5, 1/(10 n)).

    delta is the probability the guarantee may fail outright; a mechanism that
    publishes one random row whole is (0, 1/n)-DP, so delta must sit well below
    1/n. 1/n^1.2 was only 4.5x below 1/n at n = 1,800; a factor 10 and the
    customary 1e-5 cap leave that margin at every size.
    """
    return min(DELTA_CAP, 1.0 / (10.0 * max(n, 1)))


def check_delta(delta: float, n: int) -> None:
    """PrivacyBudgetError when delta >= 1/n: at that level releasing a random row verbatim satisfies the guarantee."""
    if delta * max(n, 1) >= 1.0:
        raise PrivacyBudgetError(
            f"spec.privacy.delta ({delta:.2e}) must be below 1/n = {1.0 / max(n, 1):.2e} for the {n} training rows "
            f"(a delta that large allows publishing a row verbatim); lower it, or leave it unset for "
            "min(1e-5, 1/(10 n))"
        )


def check_within_target(spent: float, target: float, what: str) -> None:
    """PrivacyBudgetError when the epsilon to be reported exceeds the target: a job never reports more than asked."""
    if spent > target * (1 + 1e-9):
        raise PrivacyBudgetError(
            f"spec.privacy.epsilon: {what} came to epsilon {spent:.4g}, above its target {target:.4g} "
            "(the accountant that calibrated the noise failed and the fallback bound is looser); "
            "raise spec.privacy.epsilon, lower spec.training.epochs or maxSteps, or set spec.privacy.accountant: rdp"
        )


# ------------------------------------------------------------------- budget plan


@dataclass
class BudgetPlan:
    """How (epsilon, delta) is divided; the parts add up to the totals (basic composition)."""

    epsilon: float
    delta: float
    schema_epsilon: float = 0.0
    schema_delta: float = 0.0
    marginal_epsilon: float = 0.0
    route: str = "lm"  # generator/route.py: marginal | hybrid | lm
    aim_epsilon: float = 0.0  # the AIM marginal model's (epsilon, delta) share (marginal and hybrid routes)
    aim_delta: float = 0.0
    category_columns: list[str] = field(default_factory=list)
    bound_columns: list[str] = field(default_factory=list)
    # Rows one privacy unit may add: 1 for rows; spec.data.maxGroupRows when the unit is an entity (groupBy),
    # so every count-based release scales its noise by it (L1 sensitivity) and DP-SGD clips per entity.
    contribution: int = 1
    length_epsilon: float = 0.0  # grouped records: the histogram of rows per entity (entities.length_histogram)

    @property
    def per_column_epsilon(self) -> float:
        k = len(self.category_columns) + len(self.bound_columns)
        return self.schema_epsilon / k if k else 0.0

    @property
    def per_category_delta(self) -> float:
        return self.schema_delta / len(self.category_columns) if self.category_columns else 0.0

    @property
    def released_epsilon(self) -> float:
        """What the releases outside DP-SGD spend: the schema, the one-way marginals and the AIM model."""
        return self.schema_epsilon + self.marginal_epsilon + self.aim_epsilon + self.length_epsilon

    @property
    def train_epsilon(self) -> float:
        return self.epsilon - self.released_epsilon

    @property
    def train_delta(self) -> float:
        return self.delta - self.schema_delta - self.aim_delta

    @property
    def aim_rho(self) -> float:
        """The zCDP budget AIM runs with: the largest rho whose conversion at aim_delta costs at most aim_epsilon."""
        from safesynth.generator.zcdp import rho_for

        return rho_for(self.aim_epsilon, self.aim_delta) if self.aim_epsilon > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "epsilonTotal": self.epsilon, "deltaTotal": self.delta,
            "schemaEpsilon": self.schema_epsilon, "schemaDelta": self.schema_delta,
            "marginalEpsilon": self.marginal_epsilon,
            "route": self.route, "aimEpsilon": self.aim_epsilon, "aimDelta": self.aim_delta, "aimRho": self.aim_rho,
            "trainEpsilonTarget": self.train_epsilon, "trainDelta": self.train_delta,
            "releasedCategories": list(self.category_columns), "releasedBounds": list(self.bound_columns),
            "unit": "entity" if self.contribution > 1 else "row", "rowsPerUnit": self.contribution,
            "lengthEpsilon": self.length_epsilon,
        }


def needs_release(col: ColumnInfo, domain: Any) -> Optional[str]:
    """"categories" or "bounds" when this column's domain must come from the data, else None."""
    if col.kind in ("categorical", "boolean") and not col.bool_dtype:
        return None if domain is not None and domain.categories else "categories"
    if col.kind in ("integer", "float"):
        return None if domain is not None and domain.min is not None and domain.max is not None else "bounds"
    if col.kind == "datetime":
        return None if domain is not None and domain.min_date and domain.max_date else "bounds"
    return None


DEFAULT_SCHEMA_EPSILON = 1.0
DEFAULT_SCHEMA_SHARE = 1 / 8


def _release_default(privacy: Any, given: Optional[float]) -> float:
    """`given`, or min(1, epsilon/8) when unset: at epsilon 8, 7 of it still go to DP-SGD."""
    if given is not None:
        return float(given)
    return min(DEFAULT_SCHEMA_EPSILON, float(privacy.epsilon) * DEFAULT_SCHEMA_SHARE)


def schema_epsilon(privacy: Any) -> float:
    """privacy.schemaEpsilon, or min(1, epsilon/8) when unset."""
    return _release_default(privacy, privacy.schema_epsilon)


def marginal_epsilon(privacy: Any) -> float:
    """privacy.marginalEpsilon, or min(1, epsilon/8) when unset; 0 without public pretraining (nothing uses them)."""
    return _release_default(privacy, privacy.marginal_epsilon) if privacy.public_pretrain else 0.0


LENGTH_EPSILON, LENGTH_SHARE = 0.1, 1 / 40  # grouped records: the rows-per-entity histogram's share
HYBRID_AIM_SHARE = 0.5  # hybrid route, marginalEpsilon unset: this share of what the schema leaves goes to AIM
HYBRID_AIM_DELTA_SHARE = 0.5  # and this share of the delta left


def plan_budget(privacy: Any, n_rows: int, cols: Sequence[ColumnInfo], route: str = "lm",
                contribution: int = 1) -> BudgetPlan:
    """Split privacy.epsilon/delta between schema releases, the marginal model and DP-SGD; PrivacyBudgetError when
    impossible.

    Routes (generator/route.py): lm, as before (schema, optional one-way marginals, DP-SGD); marginal, everything
    the schema leaves goes to AIM (no DP-SGD); hybrid, AIM takes marginalEpsilon (unset: HYBRID_AIM_SHARE of what
    the schema leaves) and HYBRID_AIM_DELTA_SHARE of the delta left, DP-SGD the rest. Parts add up (basic
    composition); AIM's own rounds compose in zCDP inside its share (aim.py).
    """
    delta = privacy.delta if privacy.delta is not None else auto_delta(n_rows)
    check_delta(delta, n_rows)
    plan = BudgetPlan(epsilon=privacy.epsilon, delta=delta, route=route, contribution=contribution)
    if contribution > 1:  # grouped records: rows per entity are released once, as a histogram
        plan.length_epsilon = min(LENGTH_EPSILON, privacy.epsilon * LENGTH_SHARE)
    for col in cols:
        what = needs_release(col, privacy.domains.get(col.name))
        if what == "categories":
            plan.category_columns.append(col.name)
        elif what == "bounds":
            plan.bound_columns.append(col.name)
    if plan.category_columns or plan.bound_columns:
        plan.schema_epsilon = schema_epsilon(privacy)
        plan.schema_delta = delta * SCHEMA_DELTA_SHARE if plan.category_columns else 0.0
    if route == "marginal":
        plan.aim_epsilon = privacy.epsilon - plan.schema_epsilon
        plan.aim_delta = delta - plan.schema_delta
        if plan.aim_epsilon <= 0:
            raise PrivacyBudgetError(f"spec.privacy: schemaEpsilon ({plan.schema_epsilon:g}) leaves nothing of "
                                     f"spec.privacy.epsilon ({privacy.epsilon:g}) for the marginal model")
        return plan
    if route == "hybrid":
        left = privacy.epsilon - plan.schema_epsilon
        plan.aim_epsilon = float(privacy.marginal_epsilon) if privacy.marginal_epsilon else left * HYBRID_AIM_SHARE
        plan.aim_delta = (delta - plan.schema_delta) * HYBRID_AIM_DELTA_SHARE
    else:
        plan.marginal_epsilon = marginal_epsilon(privacy)
    if plan.released_epsilon >= privacy.epsilon:
        raise PrivacyBudgetError(
            f"spec.privacy: schemaEpsilon ({plan.schema_epsilon:g}) plus marginalEpsilon ({plan.marginal_epsilon:g}) "
            f"must be below spec.privacy.epsilon ({privacy.epsilon:g}); lower them, or declare every column's "
            "domain in spec.privacy.domains (then schemaEpsilon is not spent)"
        )
    return plan


# ------------------------------------------------------------- DP schema release


def category_threshold(epsilon: float, delta: float, contribution: int = 1) -> float:
    """c + c ln(c/delta)/epsilon with c = contribution (1 for rows): a category only one unit holds has count
    at most c; with discrete-Laplace(c/epsilon) noise it passes with probability below delta/c (tail bound in
    noise.py), and one unit can bring at most c such categories, so below delta in all."""
    c = float(contribution)
    return c + c * math.log(c / delta) / epsilon


def dp_categories(values: Sequence[Optional[str]], epsilon: float, delta: float,
                  contribution: int = 1) -> tuple[list[str], float]:
    """(categories, covered): the categories whose noisy count passes `category_threshold`
    (see module docstring), and the noisy number of rows they and null (a category here) cover.
    One unit changes the counts by at most `contribution` in L1, hence the noise scale."""
    keys = np.asarray([NULL_KEY if v is None else v for v in values], dtype=object).astype(str)
    uniq, counts = np.unique(keys, return_counts=True)
    noisy = noise.laplace_counts(counts, contribution / epsilon)
    kept = noisy > category_threshold(epsilon, delta, contribution)
    return sorted(str(u) for u, k in zip(uniq, kept) if k and u != NULL_KEY), float(noisy[kept].sum())


def number_edges() -> np.ndarray:
    """Fixed bin edges for numbers: 0 and +-2^(k/2) for k in -40..200 (1e-6 .. 1e30)."""
    pos = 2.0 ** (np.arange(-40, 201) / 2.0)
    return np.concatenate([-pos[::-1], [0.0], pos])


def year_edges() -> np.ndarray:
    """Fixed bin edges for dates: January 1st of each year 1700-2250, as seconds since the epoch."""
    import pandas as pd

    return np.array([pd.Timestamp(year=y, month=1, day=1).value / 1e9 for y in range(1700, 2251)])


def dp_bounds(values: np.ndarray, epsilon: float, edges: np.ndarray,
              contribution: int = 1) -> Optional[tuple[float, float, float]]:
    """(low, high, covered) from a discrete Laplace histogram over `edges` plus a bin for nulls (NaN).

    low/high: the outermost bins whose noisy count passes the threshold, widened
    by BOUNDS_MARGIN_BINS bins; covered: the noisy number of rows in them (nulls
    included when their bin passes). None when no bin stands out from the noise.
    """
    x = np.asarray(values, dtype=float)
    nulls = int(np.isnan(x).sum())
    counts, _ = np.histogram(np.clip(x[~np.isnan(x)], edges[0], edges[-1]), bins=edges)
    noisy = noise.laplace_counts(np.append(counts, nulls), contribution / epsilon)  # L1 sensitivity: contribution
    # P(Z > t) < exp(-t eps/c) for discrete Laplace(c/eps): t makes < BOUNDS_FALSE_BIN_RATE empty bins pass in total.
    threshold = contribution * math.log(len(noisy) / BOUNDS_FALSE_BIN_RATE) / epsilon
    hit = np.nonzero(noisy[:-1] > threshold)[0]
    if len(hit) == 0:
        return None
    lo_bin = max(hit[0] - BOUNDS_MARGIN_BINS, 0)
    hi_bin = min(hit[-1] + BOUNDS_MARGIN_BINS, len(counts) - 1)
    covered = float(noisy[lo_bin:hi_bin + 1].sum() + (noisy[-1] if noisy[-1] > threshold else 0.0))
    return float(edges[lo_bin]), float(edges[hi_bin + 1]), covered


def dp_safe_columns(df: "pd.DataFrame", kinds: dict[str, str], privacy: Any, plan: BudgetPlan) -> list[ColumnInfo]:
    """ColumnInfo per column with nothing learned from values outside DP mechanisms counted in `plan`.

    Released categories and bounds are always enforced (set on the ColumnInfo,
    so the grammar and the validator apply them); a number or date column whose
    release found nothing gets its public default range (see the module
    docstring). The release itself is kept in extra["released"] for the report.
    """
    import pandas as pd

    n = len(df)
    eps, delta = plan.per_column_epsilon, plan.per_category_delta
    cols = []
    for name in df.columns:
        s = df[name]
        col = ColumnInfo(name=str(name), kind=kinds[name], dtype=null_safe_dtype(str(s.dtype)), nullable=True)
        if col.kind == "datetime":
            col.style = ISO if pd.api.types.is_datetime64_any_dtype(s) else TEXT  # "date" would need a look at values
        domain = privacy.domains.get(col.name)
        if col.kind in ("categorical", "boolean"):
            if col.bool_dtype:
                col.categories = ["false", "true"]
            elif domain is not None and domain.categories:
                col.categories = sorted(set(domain.categories))
            else:
                cats, covered = dp_categories([to_field(v, col) for v in s.tolist()], eps, delta, plan.contribution)
                col.extra["released"] = {"categories": cats, "covered": round(covered / max(n, 1), 3)}
                col.categories = cats or None  # enforced even when partial: see the module docstring
        elif col.kind in ("integer", "float", "datetime"):
            bounds = _declared_bounds(col, domain)
            if bounds is None:
                edges = year_edges() if col.kind == "datetime" else number_edges()
                released = dp_bounds(column_numbers(s, col.kind), eps, edges, plan.contribution)
                if released is not None:
                    col.extra["released"] = {"min": released[0], "max": released[1],
                                             "covered": round(released[2] / max(n, 1), 3)}
                bounds = enforced_bounds(col.kind, released)
            col.minimum, col.maximum = bounds
        cols.append(col)
    return cols


def enforced_bounds(kind: str, released: Optional[tuple[float, float, float]]) -> tuple[float, float]:
    """The range generation enforces for a number or date column: the DP release, else the public default.

    Pure post-processing of the release (or of nothing): integers are rounded outwards.
    """
    import pandas as pd

    if released is not None:
        lo, hi = released[0], released[1]
    elif kind == "datetime":
        lo, hi = (epoch_seconds(pd.Timestamp(d)) for d in DEFAULT_DATE_BOUNDS)
    else:
        lo, hi = DEFAULT_NUMBER_BOUNDS
    if kind == "integer":
        lo, hi = float(math.floor(lo)), float(math.ceil(hi))
    return float(lo), float(hi)


def null_safe_dtype(dtype: str) -> str:
    """The storage dtype with nulls always allowed: int64 and Int64 (one null flips pandas from one to the other)
    both become Int64, bool becomes boolean; so the bundle's dtype says nothing about whether a null occurred."""
    if dtype in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
        return dtype.capitalize().replace("Uint", "UInt")
    return {"bool": "boolean"}.get(dtype, dtype)


def column_numbers(s: "pd.Series", kind: str) -> np.ndarray:
    """A number or date column as floats (dates: seconds since the epoch, UTC); NaN for nulls and unparsable values."""
    import pandas as pd

    if kind == "datetime":
        stamps = pd.to_datetime(s.astype("string"), format="mixed", errors="coerce", utc=True)
        seconds: np.ndarray = (stamps.astype("int64") / 1e9).where(stamps.notna()).to_numpy(dtype=float)
        return seconds
    numbers: np.ndarray = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    return numbers


def _declared_bounds(col: ColumnInfo, domain: Any) -> Optional[tuple[float, float]]:
    import pandas as pd

    if domain is None:
        return None
    if col.kind == "datetime":
        if domain.min_date and domain.max_date:
            return epoch_seconds(pd.Timestamp(domain.min_date)), epoch_seconds(pd.Timestamp(domain.max_date))
        return None
    if domain.min is not None and domain.max is not None:
        return float(domain.min), float(domain.max)
    return None


# ------------------------------------------------------------------------ DP-SGD


class PrivateTraining:
    """opacus's PrivacyEngine around one training run, with the PRV -> RDP fallback."""

    def __init__(self, delta: float, accountant: str) -> None:
        self.delta = delta
        self.accountant = accountant
        self.engine: Any = None
        self.noise_multiplier: Optional[float] = None
        self.sample_rate: Optional[float] = None
        self.steps: int = 0
        self.fallback_reason: Optional[str] = None

    def make_private(
        self, model: Any, optimizer: Any, loader: Any, *, target_epsilon: float, steps: int,
        max_grad_norm: float, seed: Optional[int] = None,
    ) -> tuple[Any, Any, Any]:
        """(model, DPOptimizer, Poisson DPDataLoader) calibrated to reach target_epsilon after `steps` steps.

        The noise generator is seeded from the OS (`secrets`) unless a seed is given (tests only): noise
        that anyone holding the spec could regenerate would void the guarantee. The caller builds
        `loader` with an OS-seeded generator too, for the same reason (amplification by sampling
        assumes the batches are secret).
        """
        import torch
        from opacus import PrivacyEngine

        seed = secure_seed() if seed is None else seed

        if target_epsilon <= 0:
            raise PrivacyBudgetError("spec.privacy: no epsilon is left for training after the schema release; "
                                     "raise privacy.epsilon or declare domains in privacy.domains")
        model.train()  # opacus needs train mode to attach its hooks correctly
        # get_noise_multiplier takes steps = int(epochs / q) with q = 1/len(loader): the half step keeps int() exact.
        epochs = (steps + 0.5) / len(loader)
        mechanisms = [self.accountant] + (["rdp"] if self.accountant != "rdp" else [])
        last: Optional[Exception] = None
        for mechanism in mechanisms:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "secure RNG turned off": see module docstring
                    engine = PrivacyEngine(accountant=mechanism)
                    out = engine.make_private_with_epsilon(
                        module=model, optimizer=optimizer, data_loader=loader, target_epsilon=target_epsilon,
                        target_delta=self.delta, epochs=epochs, max_grad_norm=max_grad_norm,
                        poisson_sampling=True, grad_sample_mode="hooks",
                        noise_generator=torch.Generator(device=_device_of(model)).manual_seed(seed),
                    )
            except (ValueError, RuntimeError, OverflowError, ArithmeticError) as exc:
                last = exc
                self.fallback_reason = f"{mechanism} accountant failed ({type(exc).__name__})"
                continue
            self.engine, self.accountant = engine, mechanism
            dp_model, dp_optimizer, dp_loader = out
            self.noise_multiplier = float(dp_optimizer.noise_multiplier)
            self.sample_rate = 1.0 / len(dp_loader)
            self.steps = steps
            planned, note = accountant_epsilon(mechanism, [(self.noise_multiplier, self.sample_rate, steps)],
                                               self.delta)
            self.fallback_reason = note or self.fallback_reason
            check_within_target(planned, target_epsilon, f"DP-SGD's {steps} planned steps")
            return dp_model, dp_optimizer, dp_loader
        raise PrivacyBudgetError(
            f"spec.privacy: no noise level reaches epsilon {target_epsilon:.3g} at delta {self.delta:.2e} in "
            f"{steps} steps ({type(last).__name__}); raise epsilon, lower training.epochs/maxSteps or raise batchSize"
        )

    def epsilon_spent(self) -> float:
        """epsilon of the steps taken so far at self.delta; RDP accounting of the same history if PRV fails."""
        if self.engine is None or not self.engine.accountant.history:
            return 0.0
        eps, note = accountant_epsilon(self.accountant, list(self.engine.accountant.history), self.delta)
        self.fallback_reason = note or self.fallback_reason
        return eps

    @staticmethod
    def merge_per_entity(optimizer: Any, owner: Any) -> None:
        """Per-row gradients (opacus's grad_sample, one per row of the batch) replaced by one per entity: the
        mean over the entity's rows. The optimizer then clips each entity's gradient to maxGradNorm and adds
        noise for the expected number of entities, so one entity, whatever its rows, moves the update by at
        most maxGradNorm: the entity is the unit of privacy (grouped records)."""
        import torch

        n = int(owner.max()) + 1
        counts = torch.bincount(owner, minlength=n).clamp(min=1)
        for p in optimizer.params:
            gs = p.grad_sample
            if isinstance(gs, list):  # several forward passes in one step: opacus keeps a list
                gs = torch.cat(gs, dim=0)
            if gs is None:
                continue
            own = owner.to(gs.device)
            merged = torch.zeros((n, *gs.shape[1:]), dtype=gs.dtype, device=gs.device).index_add_(0, own, gs)
            p.grad_sample = merged / counts.to(gs.device).view(-1, *([1] * (gs.dim() - 1))).to(gs.dtype)

    @staticmethod
    def empty_step(optimizer: Any) -> None:
        """A step on an empty Poisson batch: zero per-sample gradients, so only noise is added (and counted)."""
        import torch

        for p in optimizer.params:
            p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device)
        optimizer.step()

    def to_json(self) -> dict[str, Any]:
        return {
            "accountant": self.accountant, "noiseMultiplier": self.noise_multiplier, "sampleRate": self.sample_rate,
            "steps": self.steps, "accountantNote": self.fallback_reason,
        }


def accountant_epsilon(mechanism: str, history: list[tuple[float, float, int]],
                       delta: float) -> tuple[float, Optional[str]]:
    """(epsilon, note) of a DP-SGD history [(noise multiplier, sample rate, steps)] by opacus's `mechanism`
    accountant, or by RDP (looser) when that one fails; note says so. The caller checks the result against the
    target (`check_within_target`): a fallback that reports more than planned fails the job."""
    from opacus.accountants import create_accountant

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            acc = create_accountant(mechanism)
            acc.history = list(history)
            return float(acc.get_epsilon(delta)), None
        except (ValueError, RuntimeError, OverflowError, ArithmeticError):
            rdp = create_accountant("rdp")
            rdp.history = list(history)
            return float(rdp.get_epsilon(delta)), f"{mechanism} epsilon failed; reported by RDP"


def secure_seed() -> int:
    """A seed from the operating system's CSPRNG, for DP-SGD's noise and Poisson sampling (noise.secure_seed)."""
    return noise.secure_seed()


def unwrap(model: Any) -> Any:
    """The user's model inside opacus's GradSampleModule, with the per-sample gradient hooks removed."""
    if hasattr(model, "remove_hooks"):
        model.remove_hooks()
    return getattr(model, "_module", model)


def _device_of(model: Any) -> str:
    return str(next(model.parameters()).device.type)
