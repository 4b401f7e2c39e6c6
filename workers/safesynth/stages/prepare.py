"""Stage `prepare`: load the table, check it, infer column kinds, split the holdout.

The holdout is split off here, before anything is learned, and never reaches
training: it serves as the non-member set for membership attacks, the control
for attribute inference and the test set for ML utility.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from safesynth.errors import BadInputError
from safesynth.progress import Progress
from safesynth.schema_model import warning_text
from safesynth.spec.models import DataSpec, SafeSynthJobSpec, StageName
from safesynth.store import ArtifactStore, read_uri_bytes, uri_identity

if TYPE_CHECKING:
    import pandas as pd

NAME = StageName.PREPARE
READS = ("spec.data.uri",)
WRITES = ("prepare/train.parquet", "prepare/holdout.parquet", "prepare/schema.json")


def holdout_size(n_rows: int, data: DataSpec) -> int:
    """Rows to hold out: holdoutRows, else the fraction clipped to [min, max].

    Raises when the table cannot give both a holdout of at least
    minHoldoutRows and at least minTrainRows training rows.
    """
    if data.holdout_rows is not None:
        n = data.holdout_rows
    else:
        n = min(max(round(n_rows * data.holdout_fraction), data.min_holdout_rows), data.max_holdout_rows)
    if n < data.min_holdout_rows or n_rows - n < data.min_train_rows:
        raise BadInputError(
            f"{data.uri}: the table has {n_rows} rows, but the holdout needs {max(n, data.min_holdout_rows)} and "
            f"training at least {data.min_train_rows}; supply more rows, or lower spec.data.minHoldoutRows / "
            "spec.data.holdoutRows / spec.data.minTrainRows"
        )
    return n


def split_indices(n_rows: int, n_holdout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split into (train, holdout) row positions, each kept in file order."""
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])


def subsample(df: pd.DataFrame, max_rows: Optional[int], seed: int) -> pd.DataFrame:
    """spec.data.maxRows rows drawn at random (seeded), kept in file order; the whole table when it is smaller."""
    if max_rows is None or len(df) <= max_rows:
        return df
    keep = np.sort(np.random.default_rng(seed).choice(len(df), max_rows, replace=False))
    return df.iloc[keep].reset_index(drop=True)


def input_identity(spec: SafeSynthJobSpec, store: ArtifactStore) -> dict[str, Any]:
    """The input table's identity, read before any download (the runner's resume check): a content hash for a
    local file, ETag/size/LastModified from one HEAD on S3. A new export at the same path changes it."""
    art = spec.artifacts
    return {"spec.data.uri": uri_identity(spec.data.uri, endpoint_url=art.endpoint, region=art.region,
                                          path_style=art.path_style)}


def check_references(spec: SafeSynthJobSpec, columns: list[str]) -> None:
    """Exit 2 before anything is learned when the spec names a column the table lacks (every one listed)."""
    from safesynth.errors import SpecError
    from safesynth.spec.references import reference_problems

    problems = reference_problems(spec, columns)
    if problems:
        raise SpecError(f"{spec.data.uri}: the spec names {len(problems)} column(s) the table does not have; "
                        "fix the names (or `safesynth validate JOB --data FILE` to check offline)", problems)


def run(spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress) -> dict[str, Any]:
    from safesynth.schema import coerce_to_schema, infer_schema
    from safesynth.tables import DELIMITER_ATTR, load_table

    data, art = spec.data, spec.artifacts
    with progress.task("prepare: read input", total=None):
        raw = read_uri_bytes(data.uri, endpoint_url=art.endpoint, region=art.region, path_style=art.path_style)
        df = load_table(raw, source=data.uri, fmt=data.format.value)
    check_references(spec, [str(c) for c in df.columns])
    n_input = len(df)
    delimiter = df.attrs.get(DELIMITER_ATTR)
    df = subsample(df, data.max_rows, data.seed)
    with progress.task("prepare: infer column kinds", total=len(df.columns)) as advance:
        schema = infer_schema(df, data.columns, delimiter=delimiter)
        df = coerce_to_schema(df, schema)
        advance(len(df.columns))
    for warning in schema.warnings:
        progress.note(warning_text(warning))
    n_holdout = holdout_size(len(df), data)
    train_idx, holdout_idx = split_indices(len(df), n_holdout, data.seed)
    with progress.task("prepare: write train and holdout", total=2) as advance:
        store.write_table("prepare/train.parquet", df.iloc[train_idx].reset_index(drop=True))
        advance(1)
        store.write_table("prepare/holdout.parquet", df.iloc[holdout_idx].reset_index(drop=True))
        advance(1)
    store.write_json("prepare/schema.json", schema.to_json_dict())
    kinds = Counter(c.kind.value for c in schema.columns)
    return {
        "inputRows": n_input,
        "rows": len(df),
        "trainRows": len(train_idx),
        "holdoutRows": len(holdout_idx),
        "columns": len(df.columns),
        "columnKinds": dict(sorted(kinds.items())),
        "unparsed": {c.name: c.unparsed_count for c in schema.columns if c.unparsed_count},
        "warnings": [w.model_dump(exclude_none=True) for w in schema.warnings],
        "inputSha256": hashlib.sha256(raw).hexdigest(),
    }
