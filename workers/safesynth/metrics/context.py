"""The inputs every metric reads, and the shared work several of them need.

`EvalContext` holds the aligned tables (what the generator saw, the holdout it
never saw, the synthetic output), their column kinds and the options. Costly
pieces used by more than one metric (the privacy samples and their Gower
distance matrices) are computed once, on first use, and cached here.

Sampling: statistics that are cheap per row (histograms, contingency tables,
KS, correlations) use every row. Pairwise distances are quadratic, so the
privacy metrics sample at most `max_rows` synthetic rows and as many training
rows as there are holdout rows (≤ `max_rows`): DCR and membership attacks need
members and non-members on the same footing. Each metric's `notes` say what
it sampled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Optional

import numpy as np
import pandas as pd

from safesynth.metrics.columns import CONTINUOUS, TABULAR, Kind
from safesynth.metrics.distance import EncodedRows, GowerSpace, gower_matrix


class NotApplicable(Exception):
    """The metric cannot be computed for these tables; the message (ours, never data) says why.

    Defined here, below `base`, because the shared inputs raise it too (no holdout for the privacy
    samples); metrics import it from `base` with the rest of their contract.
    """


@dataclass(frozen=True)
class EvalOptions:
    """Evaluation settings (spec.evaluation plus fixed constants)."""

    max_rows: int = 5000  # rows per table for quadratic statistics
    seed: int = 42
    target: Optional[str] = None
    quasi_identifiers: tuple[str, ...] = ()
    sensitive_columns: tuple[str, ...] = ()
    text_max_values: int = 500  # values per side embedded for text similarity (CPU cost ~5 ms each)
    group_by: tuple[str, ...] = ()  # spec.data.groupBy: entity-key columns; the sequence metrics run when set
    order_by: Optional[str] = None  # spec.data.orderBy: orders an entity's rows


@dataclass
class PiiInputs:
    """What the PII replay check needs: the original values and what the PII stage did per column."""

    original_train: pd.DataFrame
    original_holdout: Optional[pd.DataFrame]
    replaced: dict[str, dict[str, Any]]  # column -> {entity, action, source}
    free_text: list[str]  # replaced columns holding free text (spans replaced inside the text)
    replaced_train: Optional[pd.DataFrame] = None  # pii/train, row-aligned with original_train
    replaced_holdout: Optional[pd.DataFrame] = None


@dataclass
class PrivacySamples:
    """Equal-footing samples for the distance-based privacy metrics, and their distances."""

    columns: list[str]
    synthetic: pd.DataFrame  # ≤ max_rows synthetic rows
    members: pd.DataFrame  # training rows, as many as the holdout rows used
    holdout: pd.DataFrame
    space: GowerSpace
    enc_synthetic: EncodedRows
    enc_members: EncodedRows
    enc_holdout: EncodedRows
    d_members: np.ndarray  # (synthetic, members)
    d_holdout: np.ndarray  # (synthetic, holdout)
    notes: list[str] = field(default_factory=list)


def rng_for(seed: int, salt: str) -> np.random.Generator:
    """A generator per purpose, so adding a metric never changes another's sample."""
    digest = hashlib.sha256(f"{seed}:{salt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def sample_rows(df: pd.DataFrame, n: int, seed: int, salt: str) -> pd.DataFrame:
    if len(df) <= n:
        return df.reset_index(drop=True)
    idx = np.sort(rng_for(seed, salt).choice(len(df), n, replace=False))
    return df.iloc[idx].reset_index(drop=True)


@dataclass
class EvalContext:
    real: pd.DataFrame  # the rows the generator learned from (after PII replacement when it ran)
    synthetic: pd.DataFrame
    holdout: Optional[pd.DataFrame]
    kinds: Mapping[str, Kind]
    options: EvalOptions = field(default_factory=EvalOptions)
    pii: Optional[PiiInputs] = None
    dp: Optional[dict[str, Any]] = None
    # non-null synthetic values per column before coercion to the real column's kind (structure checks)
    synthetic_non_null: Mapping[str, int] = field(default_factory=dict)

    def columns_of(self, *kinds: Kind) -> list[str]:
        return [c for c, k in self.kinds.items() if k in kinds]

    @property
    def tabular(self) -> list[str]:
        """Columns the tabular metrics use; text, identifiers and empty columns are scored elsewhere or not at all."""
        return self.columns_of(*TABULAR)

    @property
    def continuous(self) -> list[str]:
        return self.columns_of(*CONTINUOUS)

    def sample(self, df: pd.DataFrame, salt: str, n: Optional[int] = None) -> pd.DataFrame:
        return sample_rows(df, n or self.options.max_rows, self.options.seed, salt)

    @cached_property
    def privacy(self) -> PrivacySamples:
        """Samples and Gower distances for DCR and membership inference (needs a holdout)."""
        if self.holdout is None or len(self.holdout) == 0:
            raise NotApplicable("no holdout: distance-based privacy metrics need rows the generator never saw")
        cols = [c for c, k in self.kinds.items() if k in (*TABULAR, Kind.TEXT)]
        if not cols:
            raise NotApplicable("no columns to compare (only identifiers or empty columns)")
        mr = self.options.max_rows
        holdout = self.sample(self.holdout, "privacy-holdout", mr)
        members = self.sample(self.real, "privacy-members", len(holdout))
        synthetic = self.sample(self.synthetic, "privacy-synthetic", mr)
        notes = []
        if len(self.synthetic) > len(synthetic):
            notes.append(f"distances use {len(synthetic)} of {len(self.synthetic)} synthetic rows (seeded sample)")
        if len(self.real) > len(members):
            notes.append(f"{len(members)} of {len(self.real)} training rows sampled, as many as holdout rows used, "
                         "so members and non-members are compared on equal footing")
        if len(self.holdout) > len(holdout):
            notes.append(f"{len(holdout)} of {len(self.holdout)} holdout rows sampled")
        space = GowerSpace(cols, self.kinds, [self.real, self.holdout], [self.synthetic])
        enc_s, enc_m, enc_h = space.encode(synthetic), space.encode(members), space.encode(holdout)
        return PrivacySamples(
            columns=cols, synthetic=synthetic, members=members, holdout=holdout, space=space,
            enc_synthetic=enc_s, enc_members=enc_m, enc_holdout=enc_h,
            d_members=gower_matrix(enc_s, enc_m), d_holdout=gower_matrix(enc_s, enc_h), notes=notes,
        )
