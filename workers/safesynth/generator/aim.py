"""AIM-style select-measure-generate on mbi: the DP marginal model behind the `marginal` and `hybrid` routes.

What: the table's modeled columns are discretized on public facts only
(`discretize`), then AIM (McKenna, Mullins, Sheldon, Miklau, "AIM: An Adaptive
and Iterative Mechanism for Differentially Private Synthetic Data", VLDB 2022)
spends a zCDP budget rho in rounds: measure every one-way marginal, then
repeatedly *select* the marginal the current model gets most wrong (exponential
mechanism) and *measure* it (Gaussian mechanism), refitting a graphical model
(mbi, the private-pgm engine) after each measurement. Synthetic rows are sampled
from the final model and mapped back to values (`decode`). Our own code from
the paper's description; mbi supplies only Domain/Dataset, LinearMeasurement and
the mirror-descent estimator.

Discretization (each fact public, declared, or DP-released and paid in the
schema release of dp.py, never read from the data here):
- categorical/boolean: the column's enforced categories (declared or released),
  one bucket each; a released list (undeclared domain) gets one more bucket,
  "unlisted", for the rows whose value was not released; nulls have a bucket.
  Declared lists have no unlisted bucket: a value outside a declared domain
  counts as null.
- integer/float/datetime: NUMBER_BINS equal-width bins between the enforced
  bounds (declared, DP-released or dp.py's public default); an integer range
  shorter than that gets one bin per integer; values outside are clipped into
  the end bins; nulls have a bucket.
- text: two buckets, present and null (free text is not modeled: the marginal
  route writes public lorem sentences, the hybrid route leaves it to the LM).
- within the bins of numbers and dates (`refine`): a hierarchy of finer
  histograms (REFINE_BRANCH children per cell, down to what decoding can write:
  one integer, 0.01, one day),
  measured with REFINE_SHARE of rho where the noisy counts say a cell holds
  enough rows; decoding draws a measured child by its noisy count, then a value
  uniformly within the last cell (before: uniformly within the whole bin).

Privacy (add/remove one privacy unit; the row count n is public, as everywhere in this project, and so is
the context-row count of a grouped table). The unit is one row, or,
with grouped records (spec.data.groupBy), one entity of at most `contribution` rows (maxGroupRows): the
train stage fits the hybrid route's model on the context rows, one per real row, so one unit adds up to
`contribution` rows to the table (`contribution` = 1 for rows).
- Measurement of marginal r: counts over r's cells. A unit's k <= contribution rows each add 1 to one cell:
  at most k to a single cell (all its rows in one cell) and k in all, so the count vector moves by at most k
  in L1 and in L2 (sqrt(sum c_i^2) <= sum c_i = k, with equality when the rows share a cell): L2 sensitivity
  Delta = contribution. Discrete Gaussian noise of scale sigma (`zcdp.gaussian_counts`, OpenDP):
  Delta^2/(2 sigma^2)-zCDP. The schedule below works in the scale sigma/Delta (the cost of a
  sensitivity-1 measurement at that scale is the same), so contribution k multiplies every sigma by k and
  leaves every round's rho as it was.
- Selection: candidate r's score is w_r (||M_r(D) - M_r(model)||_1 - sqrt(2/pi) sigma n_r),
  n_r its cell count and w_r its workload weight (the AIM bias term discounts
  marginals whose measurement would be mostly noise; sigma and n_r are public). A unit moves M_r(D) by at most
  `contribution` in L1, so ||M_r(D) - .||_1 by at most that (triangle inequality) and the score by at most
  contribution x w_r: sensitivity contribution x max_r w_r. Exponential mechanism at eps_sel
  (`zcdp.select_index`, OpenDP, noise scaled to that sensitivity): eps_sel^2/8-zCDP.
- The rounds compose adaptively in zCDP: rho_total = sum of the above, recorded
  per round with its sensitivities (`AimResult.rounds`, `Round.sensitivity`, `Round.select_sensitivity`) so
  anyone can recompute it from the log alone (`rho_spent`). The budget rule below never lets it exceed the
  rho given: the last round takes exactly what is left.
- Within-bin histograms (`refine`): per column and level, the counts of
  disjoint cells, L2 sensitivity `contribution` (as above), discrete Gaussian: Delta^2/(2 sigma^2)-zCDP each,
  recorded as Rounds (refine_level > 0) so `rho_spent` counts them; the cells
  measured are chosen from earlier noisy counts only. They run after the one-way
  marginals and before the rounds, which then spend exactly what is left.
- The model, the synthetic rows and the decoding are post-processing.

Budget schedule (AIM, Algorithm 1), in units of Delta (the noise added is Delta x the sigma here): T =
ROUNDS_PER_COLUMN x d rounds planned, a share ALPHA of each round's budget to measurement:
sigma = sqrt(T / (2 ALPHA rho)),
eps_sel = sqrt(8 (1 - ALPHA) rho / T). When a measurement changed the model's
answer on r by less than its expected noise, sigma halves and eps_sel doubles
(annealing). Candidates are the workload's cliques and their subsets whose
addition keeps the junction tree within a model size that grows with the
budget spent (rho_used / rho x MAX_MODEL_MB).

Over 400 lines on purpose: discretization, select, measure and sample are one algorithm whose privacy proof reads top to bottom.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from safesynth.generator import zcdp
from safesynth.generator.column_info import DATE, TEXT, ColumnInfo
from safesynth.generator.serialize import Field, float_text, to_field

if TYPE_CHECKING:
    import pandas as pd

NUMBER_BINS = 20  # equal-width bins per number/date column: smartnoise's benchmark setting, same noise per cell
ROUNDS_PER_COLUMN = 16  # AIM's T = 16 d
ALPHA = 0.9  # share of each round's rho spent measuring (AIM's default)
MAX_MODEL_MB = 20.0  # junction-tree size cap (AIM's default is 80 MB; 20 keeps estimation fast on a CPU)
MAX_CLIQUE_CELLS = 50_000  # workload cliques bigger than this are left out (their measurement would be noise)
THREE_WAY_MAX_COLUMNS = 12  # all 3-way marginals enter the workload up to this many columns (C(12,3) = 220)
ROUND_ITERS, FINAL_ITERS = 100, 1000  # mirror-descent iterations per round (warm start) and for the final model
DAY = 86_400.0
SCORE_SAMPLE_ROWS = 100_000  # rows drawn from the model each round to score the candidates (see _model_answers)
NULL, UNLISTED, PRESENT = "\x00null", "\x00unlisted", "\x00present"
REFINE_SHARE = 0.1  # share of rho planned for the within-bin histograms of numbers and dates (see `refine`)
REFINE_BRANCH = 16  # each refined cell splits into this many children (fewer when the resolution stops it)
REFINE_MAX_LEVELS = 4  # levels below AIM's bins at most (each stops at the column's `resolution`)
FLOAT_RESOLUTION = 0.01  # floats are written with 2 decimals
REFINE_MIN_RATIO = 1.5  # a cell's children are measured only when its noisy count >= this x sigma x its child count


@dataclass
class Attribute:
    """One column as a discrete attribute: its buckets, in order; the last bucket is always null."""

    name: str
    kind: str
    labels: list[str]  # category strings, or NUMBER_BINS bin labels, then UNLISTED (released lists only), NULL
    edges: Optional[list[float]] = None  # numbers/dates: bin edges in the column's numeric scale
    # within-bin levels (`refine`): per level an array (3, m) of measured cells' lo, hi and weight (clipped noisy
    # count); DP, kept out of to_json (saved as arrays by save_model)
    fine: list[np.ndarray] = field(default_factory=list, compare=False, repr=False)

    @property
    def size(self) -> int:
        return len(self.labels)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "labels": self.labels, "edges": self.edges}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Attribute":
        return cls(**obj)


def discretize(cols: Sequence[ColumnInfo]) -> list[Attribute]:
    """The discrete attributes of the modeled columns, from ColumnInfo alone (pure; see the module docstring)."""
    out = []
    for col in cols:
        if not col.modeled:
            continue
        if col.kind in ("categorical", "boolean"):
            cats = list(col.categories or [])
            released = "released" in col.extra  # categories from the DP release, so possibly partial
            out.append(Attribute(col.name, col.kind, cats + ([UNLISTED] if released or not cats else []) + [NULL]))
        elif col.kind in ("integer", "float", "datetime"):
            edges = bin_edges(col)
            out.append(Attribute(col.name, col.kind, [f"bin{i}" for i in range(len(edges) - 1)] + [NULL],
                                 [float(e) for e in edges]))
        else:  # text
            out.append(Attribute(col.name, col.kind, [PRESENT, NULL]))
    return out


def bin_edges(col: ColumnInfo) -> np.ndarray:
    """NUMBER_BINS equal-width edges over the column's enforced bounds; integers: whole-number edges, at most one
    bin per integer. The bounds must be set (under DP they always are: declared, released or public default)."""
    if col.minimum is None or col.maximum is None:
        raise ValueError(f"column {col.name!r} has no enforced bounds")
    lo, hi = float(col.minimum), float(col.maximum)
    if col.kind == "integer":
        lo, hi = math.floor(lo), math.floor(hi) + 1.0  # integer k falls in [k, k+1)
        width = max(1.0, math.ceil((hi - lo) / NUMBER_BINS))
        return np.arange(lo, hi + width, width)[: NUMBER_BINS + 1] if hi > lo else np.array([lo, lo + 1.0])
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, NUMBER_BINS + 1)


def encode(df: "pd.DataFrame", attrs: Sequence[Attribute], cols: Sequence[ColumnInfo]) -> dict[str, np.ndarray]:
    """Each row's bucket index per attribute. Private: its output feeds only the mechanisms of `run_aim`."""
    from safesynth.generator.dp import column_numbers

    by_name = {c.name: c for c in cols}
    out = {}
    for a in attrs:
        col, null = by_name[a.name], a.size - 1
        if a.edges is not None:
            x = column_numbers(df[a.name], col.kind)
            edges = np.asarray(a.edges)
            idx = np.clip(np.searchsorted(edges, np.nan_to_num(x), side="right") - 1, 0, len(edges) - 2)
            out[a.name] = np.where(np.isnan(x), null, idx).astype(np.int64)
            continue
        fields = [to_field(v, col) for v in df[a.name].tolist()]
        if a.labels[0] == PRESENT:
            out[a.name] = np.array([null if f is None else 0 for f in fields], dtype=np.int64)
            continue
        index = {lab: i for i, lab in enumerate(a.labels[:-1]) if lab != UNLISTED}
        other = a.labels.index(UNLISTED) if UNLISTED in a.labels else null
        out[a.name] = np.array([null if f is None else index.get(f, other) for f in fields], dtype=np.int64)
    return out


def workload(attrs: Sequence[Attribute]) -> list[tuple[str, ...]]:
    """All 2-way marginals, and all 3-way ones when there are at most THREE_WAY_MAX_COLUMNS attributes; cliques over
    MAX_CLIQUE_CELLS cells are left out. Depends only on the public discretization."""
    names = [a.name for a in attrs]
    sizes = {a.name: a.size for a in attrs}
    ways = [2, 3] if len(names) <= THREE_WAY_MAX_COLUMNS else [2]
    out = [cl for k in ways for cl in itertools.combinations(names, k)
           if math.prod(sizes[c] for c in cl) <= MAX_CLIQUE_CELLS]
    return out or [(n,) for n in names]


def candidates(work: Sequence[tuple[str, ...]]) -> dict[tuple[str, ...], float]:
    """Downward closure of the workload with AIM's weights w_r = sum over workload cliques s of |r & s|."""
    closure = {sub for cl in work for k in range(1, len(cl) + 1) for sub in itertools.combinations(cl, k)}
    return {r: float(sum(len(set(r) & set(s)) for s in work)) for r in sorted(closure)}


@dataclass
class Round:
    """One AIM step as recorded: what was measured, at which noise and L2 sensitivity, and the selection's epsilon
    (0: no selection) and score sensitivity. Enough to recompute its rho from the log alone (`rho`)."""

    clique: tuple[str, ...]
    sigma: float
    select_epsilon: float = 0.0
    select_sensitivity: float = 0.0
    refine_level: int = 0  # > 0: a within-bin histogram of clique's column at that level (`refine`), not an mbi input
    sensitivity: float = 1.0  # the measurement's L2 sensitivity: the rows one privacy unit adds (`contribution`)

    @property
    def rho(self) -> float:
        sel = self.select_epsilon**2 / 8.0 if self.select_epsilon > 0 else 0.0
        return zcdp.gaussian_rho(self.sigma, self.sensitivity) + sel

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"clique": list(self.clique), "sigma": self.sigma, "sensitivity": self.sensitivity,
                               "selectEpsilon": self.select_epsilon, "selectSensitivity": self.select_sensitivity}
        if self.refine_level:
            out["refineLevel"] = self.refine_level
        return out


@dataclass
class AimResult:
    """The fitted model, the DP measurements it was fitted to and the round log (for the ledger and the audit)."""

    attrs: list[Attribute]
    model: Any  # mbi.MarkovRandomField
    measurements: list[tuple[tuple[str, ...], np.ndarray, float]]  # (clique, noisy counts, sigma)
    rounds: list[Round] = field(default_factory=list)
    rho_budget: float = 0.0
    total: int = 0
    seconds: float = 0.0
    contribution: int = 1  # rows one privacy unit may add (the measurements' L2 sensitivity)


def rho_spent(rounds: Sequence[Round]) -> float:
    """Total rho of a round log (sum of sensitivity^2/(2 sigma^2) + select_epsilon^2/8): the recomputation the
    ledger and the tests rely on."""
    return float(sum(r.rho for r in rounds))


def run_aim(data: dict[str, np.ndarray], attrs: Sequence[Attribute], rho: float, n: int,
            max_model_mb: float = MAX_MODEL_MB, rounds_per_column: Optional[int] = None,
            fine_values: Optional[dict[str, np.ndarray]] = None, contribution: int = 1) -> AimResult:
    """AIM on the encoded rows `data` (see the module docstring); n is the public row count. `fine_values`: the
    numbers/dates of the binned columns (NaN for null), for the within-bin histograms (`refine`).
    `contribution`: the rows one privacy unit may add (1 for rows, maxGroupRows for an entity): every
    measurement's L2 sensitivity, and the factor on the selection score's.

    Every access to `data` goes through `_measure` (Gaussian) or the scores of `_select` (exponential mechanism);
    every access to `fine_values` through `refine`'s Gaussian measurements.
    """
    mbi = _mbi()
    from mbi import junction_tree

    t0 = time.monotonic()
    domain = mbi.Domain([a.name for a in attrs], [a.size for a in attrs])
    dataset = mbi.Dataset({a.name: data[a.name] for a in attrs}, domain)
    work = workload(attrs)
    cands = candidates(work)
    k = float(contribution)  # L2 sensitivity of a measurement; `sigma` below is in its units (noise = k sigma)
    sensitivity = k * max(cands.values())  # of the selection scores
    d = len(attrs)
    T = max((rounds_per_column or ROUNDS_PER_COLUMN) * d, 1)
    sigma = math.sqrt(T / (2.0 * ALPHA * rho))
    eps = math.sqrt(8.0 * (1.0 - ALPHA) * rho / T)
    result = AimResult(list(attrs), None, [], rho_budget=rho, total=n, contribution=contribution)
    used = 0.0  # the recorded rounds' rho so far (Round.rho: from sigma and sensitivity as logged)

    # Initialization: every one-way marginal (no selection), unless that alone exceeds the budget.
    one_way_rho = d * zcdp.gaussian_rho(sigma)
    if one_way_rho > rho:
        sigma = math.sqrt(d / (2.0 * rho))
    for a in attrs:
        _measure(result, dataset, (a.name,), k * sigma, sensitivity=k)
        used += result.rounds[-1].rho
    if fine_values and rho - used > 1e-12:  # within-bin histograms; what they leave unspent goes to the rounds
        used += refine(result, fine_values, min(REFINE_SHARE * rho, rho - used), contribution)
    model = _estimate(mbi, domain, result, n, FINAL_ITERS // 2, None)

    while rho - used > 1e-12:
        remaining = rho - used
        if remaining < 2.0 * (zcdp.gaussian_rho(sigma) + eps**2 / 8.0):  # last round: spend exactly what is left
            sigma = math.sqrt(1.0 / (2.0 * ALPHA * remaining))
            eps = math.sqrt(8.0 * (1.0 - ALPHA) * remaining)
        limit = max_model_mb * (used + zcdp.gaussian_rho(sigma) + eps**2 / 8.0) / rho
        measured = [m[0] for m in result.measurements]
        pool = [r for r in cands
                if junction_tree.hypothetical_model_size(domain, measured + [r]) <= limit] or [(attrs[0].name,)]
        fitted = _model_answers(model, pool, domain, n)
        scores = np.array([cands[r] * (np.abs(dataset.project(r).datavector() - fitted[r]).sum()
                                       - math.sqrt(2.0 / math.pi) * k * sigma * domain.size(r)) for r in pool])
        pick = pool[zcdp.select_index(scores, eps, sensitivity)]
        before = np.asarray(model.project(pick).datavector())
        _measure(result, dataset, pick, k * sigma, eps, sensitivity, k)
        used += result.rounds[-1].rho
        model = _estimate(mbi, domain, result, n, ROUND_ITERS, model)
        after = np.asarray(model.project(pick).datavector())
        if np.abs(after - before).sum() <= math.sqrt(2.0 / math.pi) * k * sigma * domain.size(pick):
            sigma, eps = sigma / 2.0, eps * 2.0
    result.model = _estimate(mbi, domain, result, n, FINAL_ITERS, model)
    result.seconds = time.monotonic() - t0
    return result


def resolution(a: Attribute) -> float:
    """The finest cell width `refine` splits down to, what `decode` can still tell apart: 1 for integers, 0.01 for
    floats (written with 2 decimals), a day for dates binned by a day or more (written as whole days), else a
    second."""
    if a.kind == "integer":
        return 1.0
    if a.kind == "float":
        return FLOAT_RESOLUTION
    return DAY if a.edges is not None and a.edges[1] - a.edges[0] >= DAY else 1.0


def top(a: Attribute) -> float:
    """Where the last bin's refinement ends: integer bins already end past the maximum (k falls in [k, k+1)); for
    the others the maximum itself gets a cell [max, max + resolution), so a mass at the upper bound stays there."""
    assert a.edges is not None
    return float(a.edges[-1]) + (0.0 if a.kind == "integer" else resolution(a))


def split(lo: float, hi: float, res: float) -> np.ndarray:
    """Edges of [lo, hi)'s children: REFINE_BRANCH equal parts, the inner edges snapped down to multiples of `res`
    (whole numbers, cents, midnights UTC), so a cell of width `res` holds exactly one value `decode` writes."""
    e = np.linspace(lo, hi, REFINE_BRANCH + 1)
    if res > 0:
        inner = np.round(np.floor(np.round(e[1:-1] / res, 6)) * res, 10)
        e = np.unique(np.concatenate([[lo], inner[(inner > lo) & (inner < hi)], [hi]]))
    return e


def planned_levels(a: Attribute) -> int:
    """How many levels below its AIM bins `refine` may measure for `a`: public (its edges and kind only)."""
    if a.edges is None:
        return 0
    res, width, levels = resolution(a), float(np.diff(a.edges).max()) + resolution(a), 0
    while levels < REFINE_MAX_LEVELS and width > res * (1 + 1e-9):
        width, levels = float(np.diff(split(0.0, width, res)).max()), levels + 1
    return levels


def refine(result: AimResult, values: dict[str, np.ndarray], rho: float, contribution: int = 1) -> float:
    """Within-bin histograms of the binned columns, a hierarchy below AIM's bins; returns the rho spent (<= rho).

    Why: AIM models each number in NUMBER_BINS equal-width bins and decoding used to place values uniformly
    inside a bin; real values are rarely uniform there (capital gains all 0 in a bin 5,000 wide, turnaround
    times all under 2 hours in a bin 25 hours wide, ages by the year), and column-shape scores read the
    difference. Here each bin with enough rows is split into REFINE_BRANCH children and their counts measured,
    and so on down to the column's resolution (`resolution`) or REFINE_MAX_LEVELS.

    Privacy: one measurement per (column, level): the counts of the measured cells, which are disjoint, so one
    unit's rows (at most `contribution`) move them by at most `contribution` in L2 (L2 sensitivity
    Delta = contribution); discrete Gaussian noise sigma (`zcdp.gaussian_counts`), Delta^2/(2 sigma^2)-zCDP,
    recorded as a Round with refine_level and its sensitivity. sigma spreads `rho` evenly over every level
    `planned_levels` allows (public). Which cells are measured depends only on earlier noisy counts (AIM's
    one-way measurement of the bins, then the previous level): a parent's children are measured only when its
    noisy count is at least REFINE_MIN_RATIO x sigma x children, i.e. when the measurement can say more than
    noise; a level with nothing to measure is skipped and costs nothing. Adaptive zCDP composition as for the
    rounds. Decoding from the clipped noisy counts is post-processing.
    """
    plan = {a.name: planned_levels(a) for a in result.attrs if a.name in values}
    total = sum(plan.values())
    if total == 0 or rho <= 0:
        return 0.0
    k = float(contribution)
    sigma = k * zcdp.sigma_for(rho / total)  # Delta^2 / (2 sigma^2) = rho / total
    one_way = {cl[0]: y for cl, y, _ in result.measurements if len(cl) == 1}
    spent = 0.0
    for a in result.attrs:
        if not plan.get(a.name) or a.edges is None or a.name not in one_way:
            continue
        edges, res = np.asarray(a.edges, dtype=float), resolution(a)
        x = np.asarray(values[a.name], dtype=float)
        end = top(a)
        x = np.clip(x[~np.isnan(x)], edges[0], np.nextafter(end, edges[0]))  # like encode: into the end bins
        parents = list(zip(edges[:-1], [*edges[1:-1], end], one_way[a.name][: len(edges) - 1]))
        a.fine = []
        for level in range(1, plan[a.name] + 1):
            cells: list[tuple[float, float]] = []
            for lo, hi, count in parents:
                e = split(lo, hi, res)
                if len(e) > 2 and count >= REFINE_MIN_RATIO * sigma * (len(e) - 1):
                    cells += list(itertools.pairwise(e))
            if not cells:
                break
            lo_c, hi_c = np.array([c[0] for c in cells]), np.array([c[1] for c in cells])
            idx = np.searchsorted(lo_c, x, side="right") - 1
            inside = (idx >= 0) & (x < hi_c[np.clip(idx, 0, None)])
            counts = np.bincount(idx[inside], minlength=len(cells)).astype(float)
            noisy = zcdp.gaussian_counts(counts, sigma)
            result.rounds.append(Round((a.name,), sigma, refine_level=level, sensitivity=k))
            spent += result.rounds[-1].rho
            a.fine.append(np.vstack([lo_c, hi_c, np.clip(noisy, 0.0, None)]))
            parents = list(zip(lo_c, hi_c, noisy))
    return spent


def _model_answers(model: Any, pool: Sequence[tuple[str, ...]], domain: Any, n: int) -> dict[tuple[str, ...], np.ndarray]:
    """The model's counts on each candidate, estimated from SCORE_SAMPLE_ROWS rows drawn from it (post-processing).

    Why a sample: mbi answers a marginal outside its cliques by variable elimination, compiled by JAX per clique
    shape (~0.4 s each); with hundreds of candidates per round that dominated the run. A sample answers all of
    them with numpy counts; its error (~sqrt(cells / rows)) is far below the measurement noise at these budgets.
    """
    data = sample_indices(model, SCORE_SAMPLE_ROWS, seed=len(pool) * 7919 + n)
    out = {}
    for r in pool:
        shape = tuple(domain[c] for c in r)
        flat = np.ravel_multi_index(tuple(data[c] for c in r), shape)
        out[r] = np.bincount(flat, minlength=math.prod(shape)) * (n / SCORE_SAMPLE_ROWS)
    return out


def _measure(result: AimResult, dataset: Any, clique: tuple[str, ...], sigma: float, eps: float = 0.0,
             select_sensitivity: float = 0.0, sensitivity: float = 1.0) -> None:
    """Gaussian mechanism (noise sigma, L2 sensitivity `sensitivity`) on one marginal (see the module docstring),
    recorded with its round (and the selection that picked it: eps, select_sensitivity)."""
    noisy = zcdp.gaussian_counts(dataset.project(clique).datavector(), sigma)
    result.measurements.append((tuple(clique), noisy, sigma))
    result.rounds.append(Round(tuple(clique), sigma, eps, select_sensitivity, sensitivity=sensitivity))


def _estimate(mbi: Any, domain: Any, result: AimResult, n: int, iters: int, warm: Any) -> Any:
    """mbi's mirror descent on the measurements so far (known total n: public). Post-processing."""
    meas = [mbi.LinearMeasurement(y, cl, stddev=s) for cl, y, s in result.measurements]
    return mbi.estimation.MirrorDescent().estimate(domain, meas, known_total=float(n), iters=iters, warm_start=warm)


def _mbi() -> Any:
    """mbi, imported on first use with JAX in float64 (float32 can stall the estimator) and its notices silenced."""
    import jax

    config: Any = jax.config
    config.update("jax_enable_x64", True)
    config.update("jax_enable_compilation_cache", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mbi
    return mbi


# ------------------------------------------------------------------ saving and sampling


def round_log(result: AimResult) -> dict[str, Any]:
    """What the ledger needs to be checked from the artifacts alone: every round (clique, sigma, sensitivities,
    selection epsilon), the rho budget and spent, and the rows one unit adds. The hybrid route keeps no
    marginal model, so the LM bundle's meta carries this (`aimRounds`); the marginal route's marginal.json
    holds the same keys in `save_model`'s manifest."""
    return {"rounds": [r.to_json() for r in result.rounds], "rhoBudget": result.rho_budget,
            "rhoSpent": rho_spent(result.rounds), "contribution": result.contribution}


def rounds_from_log(log: dict[str, Any]) -> list[Round]:
    """The Rounds of a `round_log` (or of marginal.json's `aim` manifest), for recomputing rho (`rho_spent`)."""
    return [Round(tuple(r["clique"]), float(r["sigma"]), float(r.get("selectEpsilon", 0.0)),
                  float(r.get("selectSensitivity", 0.0)), int(r.get("refineLevel", 0)),
                  float(r.get("sensitivity", 1.0))) for r in log["rounds"]]


def save_model(result: AimResult) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(manifest, arrays): the attributes, the round log and the model's potentials; all DP (post-processing)."""
    pots = result.model.potentials
    arrays = {f"potential_{i}": np.asarray(pots[cl].values) for i, cl in enumerate(pots.cliques)}
    arrays.update({f"measurement_{i}": y for i, (_, y, _) in enumerate(result.measurements)})
    arrays.update({f"fine_{i}_{j}": f for i, a in enumerate(result.attrs) for j, f in enumerate(a.fine)})
    manifest = {
        "attributes": [a.to_json() for a in result.attrs],
        "cliques": [list(cl) for cl in pots.cliques],
        "total": result.total,
        **round_log(result),
    }
    return manifest, arrays


def load_model(manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[list[Attribute], Any]:
    """(attributes, mbi.MarkovRandomField) back from `save_model`'s output."""
    mbi = _mbi()
    import jax.numpy as jnp
    from mbi import marginal_oracles

    attrs = [Attribute.from_json(a) for a in manifest["attributes"]]
    for i, a in enumerate(attrs):
        a.fine = []
        while f"fine_{i}_{len(a.fine)}" in arrays:
            a.fine.append(arrays[f"fine_{i}_{len(a.fine)}"])
    domain = mbi.Domain([a.name for a in attrs], [a.size for a in attrs])
    cliques = [tuple(cl) for cl in manifest["cliques"]]
    tables = {cl: mbi.Factor(domain.project(cl), jnp.asarray(arrays[f"potential_{i}"]))
              for i, cl in enumerate(cliques)}
    pots = mbi.CliqueVector(domain, cliques, tables)
    total = float(manifest["total"])
    marginals = marginal_oracles.message_passing_stable(pots, total)
    return attrs, mbi.MarkovRandomField(potentials=pots, marginals=marginals, total=total)


def sample_indices(model: Any, n: int, seed: int) -> dict[str, np.ndarray]:
    """n rows of bucket indices drawn i.i.d. from the model (mbi's forward sampling). Post-processing: seeded."""
    state = np.random.get_state()
    np.random.seed(seed % 2**32)  # mbi samples with numpy's global generator
    try:
        data = model.synthetic_data(rows=n, method="sample")
    finally:
        np.random.set_state(state)
    return {k: np.asarray(v) for k, v in data.to_dict().items()}


def decode(indices: dict[str, np.ndarray], attrs: Sequence[Attribute], cols: Sequence[ColumnInfo], seed: int,
           text_fields: Optional[dict[str, list[Field]]] = None) -> list[list[Field]]:
    """Rows of field strings for the modeled columns of `cols`, in their order (post-processing).

    Categories map back to themselves; "unlisted" draws one of the listed categories by the model's own
    frequencies of them in this sample; numbers and dates are uniform within their bin (integers floored and
    clipped to the bounds, floats to 2 decimals, dates in the column's style); text is `text_fields`' value
    (public lorem by default). A column that cannot be null (`col.nullable` False: a grouped table's position,
    row count and first orderBy value, `entities.lag_infos`) has the rows sampled in its null bucket redrawn
    from the sample's other buckets by their frequencies, as the public rows of the lm route leave it non-null.
    """
    rng = np.random.default_rng(seed)
    by_name = {a.name: a for a in attrs}
    n = len(next(iter(indices.values()))) if indices else 0
    per_col: list[list[Field]] = []
    for col in cols:
        if not col.modeled:
            continue
        a, idx = by_name[col.name], indices[col.name]
        if not col.nullable:
            idx = _not_null(idx, a.size - 1, rng)
        per_col.append(_decode_column(a, col, idx, rng, (text_fields or {}).get(col.name), n))
    return [list(r) for r in zip(*per_col)] if per_col else [[] for _ in range(n)]


def _not_null(idx: np.ndarray, null: int, rng: np.random.Generator) -> np.ndarray:
    """`idx` with its null buckets replaced by draws from its non-null buckets' frequencies (uniform when it has
    none). Post-processing: reads only the model's sample."""
    nulls = idx == null
    if not nulls.any() or null == 0:
        return idx
    counts = np.bincount(idx[~nulls], minlength=null)[:null].astype(float)
    p = counts / counts.sum() if counts.sum() > 0 else None
    out = idx.copy()
    out[nulls] = rng.choice(null, size=int(nulls.sum()), p=p)
    return out


def _decode_column(a: Attribute, col: ColumnInfo, idx: np.ndarray, rng: np.random.Generator,
                   text: Optional[list[Field]], n: int) -> list[Field]:
    import pandas as pd

    null = a.size - 1
    out: list[Field]
    if a.edges is not None:
        edges = np.asarray(a.edges)
        bins = np.clip(idx, 0, len(edges) - 2)
        x = _place(a, bins, rng)
        if col.kind == "integer":
            lo, hi = float(col.minimum or edges[0]), float(col.maximum if col.maximum is not None else edges[-1])
            out = [str(int(v)) for v in np.clip(np.floor(x), math.ceil(lo), math.floor(hi))]
        elif col.kind == "float":
            out = [float_text(round(float(v), 2)) for v in x]
        else:
            if edges[1] - edges[0] >= DAY:  # bins of a day or more: whole days (a public choice, post-processing)
                x = np.floor(x / DAY) * DAY
            stamps = pd.to_datetime(x, unit="s", utc=col.tz_aware)
            out = [t.strftime("%Y-%m-%d") if col.style in (DATE, TEXT) else t.floor("s").isoformat() for t in stamps]
    elif a.labels[0] == PRESENT:
        out = list(text) if text is not None else _lorem(n, rng)
    else:
        listed = [i for i, lab in enumerate(a.labels[:-1]) if lab != UNLISTED]
        counts = np.bincount(idx, minlength=a.size)[listed].astype(float)
        p = counts / counts.sum() if counts.sum() > 0 else None
        out = []
        for i in idx:
            j = listed[int(rng.choice(len(listed), p=p))] if a.labels[i] == UNLISTED and listed else int(i)
            out.append(None if j == null or a.labels[j] == UNLISTED else a.labels[j])
    return [None if i == null else v for v, i in zip(out, idx)]


def _place(a: Attribute, bins: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A value per sampled bin: down `a.fine`'s levels, a measured child drawn by its weight (clipped noisy
    count), then uniform within the last cell reached (the whole bin when it was not refined). Post-processing."""
    edges = np.asarray(a.edges, dtype=float)
    lo, hi = edges[bins].copy(), edges[bins + 1].copy()
    if not a.fine:
        return np.asarray(rng.uniform(lo, hi), dtype=float)
    res, reach = resolution(a), np.where(bins == len(edges) - 2, top(a), hi)  # children may reach top(a)
    for level in a.fine:
        c_lo, c_hi, w = level
        start = np.searchsorted(c_lo, lo, side="left")
        stop = np.searchsorted(c_lo, reach, side="left")
        for s0, s1 in sorted({(int(i), int(j)) for i, j in zip(start, stop) if j > i}):
            weights = w[s0:s1]
            if weights.sum() <= 0:
                continue
            rows = np.flatnonzero((start == s0) & (stop == s1))
            pick = s0 + rng.choice(s1 - s0, size=len(rows), p=weights / weights.sum())
            lo[rows], hi[rows] = c_lo[pick], c_hi[pick]
            reach[rows] = hi[rows]
    x = rng.uniform(lo, hi)
    return np.asarray(np.where(hi - lo <= res * (1 + 1e-9), lo, x), dtype=float)  # a cell of one value: that value


def _lorem(n: int, rng: np.random.Generator) -> list[Field]:
    """Public filler for free-text columns (Faker's lorem word list, seeded): the marginal model writes no text."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(int(rng.integers(2**31)))
    return [fake.sentence(nb_words=int(rng.integers(3, 16))) for _ in range(n)]


def fit(df: "pd.DataFrame", cols: Sequence[ColumnInfo], rho: float, n: int, contribution: int = 1) -> AimResult:
    """discretize -> encode -> run_aim: the marginal model of the modeled columns at zCDP budget rho, for a
    privacy unit of at most `contribution` rows (1: a row; maxGroupRows: an entity's context rows)."""
    from safesynth.generator.dp import column_numbers

    attrs = discretize(cols)
    kinds = {c.name: c.kind for c in cols}
    fine = {a.name: column_numbers(df[a.name], kinds[a.name]) for a in attrs if a.edges is not None}
    return run_aim(encode(df, attrs, cols), attrs, rho, n, fine_values=fine, contribution=contribution)
