"""Peer generators for benchmarks/compare.py, behind one shape: `fit_sample(name, train, kinds, n, ...)`.

Imported by the generator child process (benchmarks/_child.py), which may run
in the smartnoise virtual environment where safesynth is NOT installed: this
module needs only numpy and pandas at import time; each peer's library is
imported inside its function.

Every peer gets the same training table and the same column kinds (from
safesynth's prepare/pii schema), so they differ only in how they model:

- identifier columns (unique per row: ids, phones, e-mails) are modelled by
  no peer; each gets fresh unique values (`<column>-<n>`), as our generator
  makes fresh identifiers. Quality metrics skip identifiers anyway;
- free-text columns: no peer has a free-text model. The marginals floor and
  GaussianCopula treat them as categories (they resample whole training
  texts, cheaply); CTGAN, MST and AIM leave them empty (as categories they
  would one-hot ~one level per row: CTGAN took 7.5 min on the quickstart's
  note column for nothing a user would want, and MST/AIM's domains explode);
- everything else is passed as the library's own type (SDV sdtypes;
  smartnoise categorical / continuous, dates as days since 1970).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import numpy as np
import pandas as pd

# Column kinds as safesynth's schema writes them (prepare/schema.json).
NUMERIC = ("integer", "float")
DISCRETE = ("categorical", "boolean")
PEERS = ("marginals", "gaussian_copula", "ctgan", "mst", "aim")
DP_PEERS = ("mst", "aim")
NO_TEXT = ("ctgan", "mst", "aim")  # peers that leave free-text columns empty (see above)


def column_roles(kinds: Mapping[str, str], peer: str) -> dict[str, str]:
    """What a peer does with each column: "model", "fresh_id" or "empty" (left null).

    Pure decision, unit-tested: identifiers always get fresh ids; free text is
    empty for CTGAN and the smartnoise synthesizers (NO_TEXT); empty columns
    stay empty.
    """
    roles = {}
    for col, kind in kinds.items():
        if kind == "identifier":
            roles[col] = "fresh_id"
        elif kind == "empty" or (kind == "text" and peer in NO_TEXT):
            roles[col] = "empty"
        else:
            roles[col] = "model"
    return roles


def fresh_ids(col: str, n: int) -> pd.Series:
    """Unique placeholder identifiers that cannot collide with real ones."""
    return pd.Series([f"{col}-{i:06d}" for i in range(1, n + 1)], dtype=object)


# ------------------------------------------------------------------------- the floor


def independent_marginals(train: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Each column sampled on its own from its empirical distribution (nulls included).

    The floor every generator should beat: perfect one-column shapes, no
    relation between columns at all. Sampling whole values (not smoothing)
    means numbers and texts are training values, but rows are new mixes.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for col in train.columns:
        values = train[col].to_numpy(dtype=object) if train[col].dtype == object else train[col].to_numpy()
        out[col] = pd.Series(values[rng.integers(0, len(values), n)] if len(values) else [None] * n,
                             dtype=train[col].dtype)
    return pd.DataFrame(out, columns=list(train.columns))


# ------------------------------------------------------------------------------- SDV


def sdv_metadata(train: pd.DataFrame, kinds: Mapping[str, str]) -> Any:
    """SDV metadata built from our kinds, so SDV types the columns as every other generator sees them."""
    from sdv.metadata import Metadata

    sdtypes = {"integer": "numerical", "float": "numerical", "datetime": "datetime", "boolean": "boolean",
               "categorical": "categorical", "text": "categorical"}
    columns = {c: {"sdtype": sdtypes[kinds[c]]} for c in train.columns}
    return Metadata.load_from_dict({"tables": {"table": {"columns": columns}}})


def sdv_ready(train: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """Plain dtypes SDV's transformers accept: booleans and strings as objects, numbers as floats."""
    out = {}
    for c in train.columns:
        s = train[c]
        if kinds[c] in ("boolean", "categorical", "text"):
            out[c] = s.astype(object).where(s.notna(), None)
        elif kinds[c] in NUMERIC:
            out[c] = pd.to_numeric(s, errors="coerce").astype(float)
        else:
            out[c] = s
    return pd.DataFrame(out)


def sdv_fit(kind: str, train: pd.DataFrame, kinds: Mapping[str, str], seed: int,
            params: Mapping[str, Any]) -> Callable[[int], pd.DataFrame]:
    import torch
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

    np.random.seed(seed)
    torch.manual_seed(seed)
    data = sdv_ready(train, kinds)
    metadata = sdv_metadata(data, kinds)
    if kind == "gaussian_copula":
        synth: Any = GaussianCopulaSynthesizer(metadata)
    else:
        synth = CTGANSynthesizer(metadata, epochs=int(params.get("epochs", 300)), enable_gpu=False,
                                 batch_size=int(params.get("batchSize", 500)), verbose=False)
    synth.fit({"table": data})  # SDV 2.0: single-table synthesizers take {table name: frame}

    def sample(n: int) -> pd.DataFrame:
        synth.reset_sampling()  # SDV reseeds its own sampler on reset
        out = synth.sample(num_rows=n)
        return out["table"] if isinstance(out, dict) else out

    return sample


# ----------------------------------------------------------------------- smartnoise


def days(series: pd.Series) -> pd.Series:
    """Datetimes as float days since 1970 (smartnoise bins numbers, not dates)."""
    t = pd.to_datetime(series, errors="coerce", utc=True)
    return (t - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds() / 86400.0


def snsynth_constraints(kinds: Mapping[str, str], roles: Mapping[str, str], domains: Mapping[str, Mapping[str, Any]],
                        bins: int) -> dict[str, Any]:
    """A BinTransformer per continuous column; public bounds from `domains` when declared (free of budget),
    else smartnoise spends part of the preprocessor budget finding them (approx_bounds)."""
    from snsynth.transform import BinTransformer, LabelTransformer

    out: dict[str, Any] = {}
    for col, kind in kinds.items():
        if roles[col] != "model":
            continue
        dom = domains.get(col, {})
        if kind in NUMERIC or kind == "datetime":
            lo, hi = dom.get("min"), dom.get("max")
            if kind == "datetime" and dom.get("minDate") and dom.get("maxDate"):
                lo, hi = days(pd.Series([dom["minDate"], dom["maxDate"]])).tolist()
            out[col] = BinTransformer(bins=bins, lower=lo, upper=hi, nullable=True)
        else:
            out[col] = LabelTransformer(nullable=True)
    return out


def snsynth_fit(kind: str, train: pd.DataFrame, kinds: Mapping[str, str], seed: int,
                params: Mapping[str, Any]) -> Callable[[int], pd.DataFrame]:
    """MST or AIM at (epsilon, delta); `preprocessorEpsilon` of it goes to finding undeclared bounds.

    Categories are taken from the data by smartnoise's LabelTransformer (not
    a DP release; our DP runs get the same declared domains and pay for the
    undeclared ones), so at equal epsilon this errs in smartnoise's favour.
    """
    from snsynth import Synthesizer
    from snsynth.transform import TableTransformer

    np.random.seed(seed)
    roles = column_roles(kinds, kind)
    cols = [c for c in train.columns if roles[c] == "model"]
    data = pd.DataFrame({c: (days(train[c]) if kinds[c] == "datetime"
                             else pd.to_numeric(train[c], errors="coerce").astype(float) if kinds[c] in NUMERIC
                             else train[c].astype(object).where(train[c].notna(), None).map(
                                 lambda v: None if v is None else str(v)))
                         for c in cols})
    eps, delta = float(params["epsilon"]), float(params["delta"])
    constraints = snsynth_constraints({c: kinds[c] for c in cols}, roles, params.get("domains", {}),
                                      int(params.get("bins", 20)))
    transformer = TableTransformer([constraints[c] for c in cols])
    extra = {"rounds": int(params["rounds"])} if kind == "aim" and params.get("rounds") else {}
    if kind == "aim" and params.get("maxModelSize"):
        extra["max_model_size"] = float(params["maxModelSize"])
    synth = Synthesizer.create(kind, epsilon=eps, delta=delta, **extra)
    pre = float(params.get("preprocessorEpsilon", 0.1 * eps)) if transformer.needs_epsilon else 0.0
    synth.fit(data, transformer=transformer, preprocessor_eps=pre)

    def sample(n: int) -> pd.DataFrame:
        out = synth.sample(n)
        out.columns = cols
        for c in cols:
            if kinds[c] == "datetime":
                out[c] = pd.Timestamp("1970-01-01") + pd.to_timedelta(pd.to_numeric(out[c], errors="coerce"),
                                                                      unit="D")
        return out

    return sample


# --------------------------------------------------------------------------- shared


def restore_types(synthetic: pd.DataFrame, train: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """Synthetic columns in the training table's order and types: integers rounded (a user would),
    dates as datetimes, booleans and categories as the training values' strings. Post-processing only."""
    out = {}
    for c in train.columns:
        s = synthetic[c] if c in synthetic.columns else pd.Series([None] * len(synthetic))
        s = s.reset_index(drop=True)
        kind = kinds.get(c)
        if kind == "integer":
            out[c] = pd.to_numeric(s, errors="coerce").round().astype("Int64")
        elif kind == "float":
            out[c] = pd.to_numeric(s, errors="coerce").astype(float)
        elif kind == "datetime":
            t = pd.to_datetime(s, errors="coerce", utc=True)
            out[c] = t.dt.tz_convert(None) if getattr(train[c].dtype, "tz", None) is None else t
        elif kind == "boolean":
            out[c] = s.map(_as_bool).astype("boolean")
        else:
            out[c] = s.astype(object).where(s.notna(), None)
    return pd.DataFrame(out, columns=list(train.columns))


def _as_bool(v: Any) -> Optional[bool]:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "1.0", "yes", "t", "y")
    return bool(v)


def fit(peer: str, train: pd.DataFrame, kinds: Mapping[str, str], seed: int,
        params: Mapping[str, Any]) -> Callable[[int], pd.DataFrame]:
    """Fit `peer` on the columns it models; return a sampler giving full tables (all training columns)."""
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r}; choose one of {', '.join(PEERS)}")
    roles = column_roles({c: kinds[c] for c in train.columns}, peer)
    modelled = train[[c for c in train.columns if roles[c] == "model"]]
    if peer == "marginals":
        def inner(n: int) -> pd.DataFrame:
            return independent_marginals(modelled, n, seed)
    elif peer in ("gaussian_copula", "ctgan"):
        inner = sdv_fit(peer, modelled, kinds, seed, params)
    else:
        inner = snsynth_fit(peer, modelled, kinds, seed, params)

    def sample(n: int) -> pd.DataFrame:
        syn = inner(n).reset_index(drop=True)
        for c, role in roles.items():
            if role == "fresh_id":
                syn[c] = fresh_ids(c, n)
            elif role == "empty":
                syn[c] = None
        return restore_types(syn, train, kinds)

    return sample
