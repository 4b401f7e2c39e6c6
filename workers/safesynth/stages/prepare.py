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
from safesynth.schema_model import SchemaWarning, warning_text
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


def split_entities(entity: np.ndarray, n_holdout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of whole entities: entities in random order go to the holdout until it has at least
    `n_holdout` rows; (train, holdout) row positions in file order. No entity is on both sides."""
    n_entities = int(entity.max()) + 1 if len(entity) else 0
    order = np.random.default_rng(seed).permutation(n_entities)
    sizes = np.bincount(entity, minlength=n_entities)[order]
    taken = int(np.searchsorted(np.cumsum(sizes), n_holdout)) + 1
    held = np.zeros(n_entities, dtype=bool)
    held[order[:min(taken, n_entities)]] = True
    rows = np.arange(len(entity))
    return rows[~held[entity]], rows[held[entity]]


def group_table(df: pd.DataFrame, data: DataSpec, kinds: dict[str, str]) -> tuple[pd.DataFrame, list[SchemaWarning]]:
    """With spec.data.groupBy: the table with each entity's rows together in orderBy order, cut to
    maxGroupRows per entity (a warning with the rows dropped); unchanged without groupBy."""
    from safesynth.generator.entities import check_names, truncate

    if not data.group_by:
        return df, []
    check_names([str(c) for c in df.columns])
    if data.order_by and kinds.get(data.order_by) not in ("integer", "float", "datetime"):
        raise BadInputError(f"spec.data.orderBy: column {data.order_by!r} is {kinds.get(data.order_by)}; it must "
                            "be a number or a date/time (declare its kind in spec.data.columns)")
    out, cut, dropped = truncate(df, data.group_by, data.order_by, data.max_group_rows)
    warnings = [SchemaWarning(column=data.group_by[0], kind=kinds.get(data.group_by[0], "categorical"),
                              code="groupTruncated", count=dropped)] if cut else []
    return out, warnings


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
    df, group_warnings = group_table(df, data, {c.name: c.kind.value for c in schema.columns})
    warnings = [*schema.warnings, *group_warnings]
    for warning in warnings:
        progress.note(warning_text(warning))
    n_holdout = holdout_size(len(df), data)
    if data.group_by:
        from safesynth.generator.entities import entity_ids

        train_idx, holdout_idx = split_entities(entity_ids(df, data.group_by), n_holdout, data.seed)
    else:
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
        "warnings": [w.model_dump(exclude_none=True) for w in warnings],
        "inputSha256": hashlib.sha256(raw).hexdigest(),
    }
