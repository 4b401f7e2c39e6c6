"""DataFrame in, DataFrame out: the Python API for notebooks and scripts.

`synthesize(df, ...)` runs the same five stages as `safesynth run` (through the
local driver, so artifacts, resume and status.json behave exactly as on the
command line) and hands back the synthetic DataFrame, the scores, the release
verdict and the report's path. `evaluate(real, synthetic, holdout)` scores any
two tables like `safesynth evaluate` (`group_by=`/`order_by=` as its
`--group-by`/`--order-by`) and returns the `Evaluation` object.

Settings are the spec's own sections (`pii=`, `training=`, `privacy=`,
`generation=`, `evaluation=`, `data=`), given as dicts (camelCase or
snake_case keys) or as the spec models; they are validated by the same pydantic
models as a manifest, so a typo fails with its field path before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

from pydantic import BaseModel

from safesynth.contract import METRICS_KEY, REPORT_KEY, SYNTHETIC_TABLE_KEY, summary_key
from safesynth.errors import BadInputError, SafeSynthError
from safesynth.spec.load import parse_job
from safesynth.spec.models import SafeSynthJobSpec, StageName

if TYPE_CHECKING:
    import pandas as pd

    from safesynth.metrics.evaluation import Evaluation
    from safesynth.spec.status import JobStatus

#: Spec sections a caller may set through keyword arguments of `synthesize`.
SECTIONS = ("data", "pii", "training", "privacy", "generation", "evaluation")
Section = Union[Mapping[str, Any], BaseModel]


@dataclass(frozen=True)
class SynthesisResult:
    """What one `synthesize` call produced.

    `released` is False when a release gate failed: the synthetic table is still
    returned for inspection, but the job's verdict is "do not release".
    """

    synthetic: pd.DataFrame
    scores: dict[str, Any]
    released: bool
    gates: list[dict[str, Any]]
    status: JobStatus
    run_uri: str
    report_path: Optional[Path]
    metrics: dict[str, Any] = field(default_factory=dict)


def _wire(value: Section) -> dict[str, Any]:
    """A section for the manifest. Dicts pass as they are: the spec models accept snake_case field names
    as well as camelCase (populate_by_name), and column maps (fixedValues, pii.columns) keep their keys."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return dict(value)


def build_manifest(data_uri: str, name: str, sections: Mapping[str, Optional[Section]]) -> dict[str, Any]:
    """The SafeSynthJob manifest for a DataFrame written to `data_uri`; pure, for tests and for `synthesize`."""
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise BadInputError(f"unknown setting(s) {', '.join(unknown)}: use one of {', '.join(SECTIONS)}")
    spec: dict[str, Any] = {k: _wire(v) for k, v in sections.items() if v is not None}
    spec["data"] = {**spec.get("data", {}), "uri": data_uri}
    return {"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob", "metadata": {"name": name}, "spec": spec}


def synthesize(
    table: pd.DataFrame,
    /,
    *,
    name: str = "notebook",
    runs_dir: Union[str, Path] = "./safesynth-runs",
    progress: bool = True,
    force: bool = False,
    spec: Optional[Union[SafeSynthJobSpec, Mapping[str, Any]]] = None,
    **sections: Optional[Section],
) -> SynthesisResult:
    """Run the whole job on `table` in this process and return the synthetic table and its scores.

    The DataFrame is written to `<runs_dir>/<name>.input.parquet` and the run's
    artifacts go to `<runs_dir>/<name>/`, so calling again with the same frame and
    settings resumes (finished stages are skipped) and `force=True` re-runs all.
    `spec` is a whole spec to start from; keyword sections override its sections.
    Raises the stage's `SafeSynthError` on failure (exit-code semantics as on the
    command line), except a failed release gate, which returns `released=False`.
    """
    import pandas as pd

    from safesynth.driver import run_job
    from safesynth.progress import LogProgress, Progress, RichProgress
    from safesynth.store import LocalStore

    if not isinstance(table, pd.DataFrame):
        raise BadInputError(f"table: expected a pandas DataFrame, got {type(table).__name__}")
    base: dict[str, Any] = {}
    if spec is not None:
        base = spec.model_dump(by_alias=True, exclude_unset=True, mode="json") if isinstance(spec, BaseModel) \
            else dict(spec)
    merged: dict[str, Optional[Section]] = {k: base[k] for k in SECTIONS if k in base}
    merged.update({k: v for k, v in sections.items() if v is not None})

    root = Path(runs_dir)
    data_path = root / f"{name}.input.parquet"
    # Validate the settings (and the name, which names files) before writing anything.
    job = parse_job(build_manifest(str(data_path), name, merged), source="synthesize()")
    root.mkdir(parents=True, exist_ok=True)
    table.to_parquet(data_path, index=False)
    run_uri = str(root / name)
    reporter: Progress = RichProgress() if progress else LogProgress()
    try:
        status = run_job(job, run_uri, progress=reporter, force=force)
    except SafeSynthError as err:
        if err.reason != "GateNotMet":
            raise
        from safesynth.spec.status import JobStatus

        status = JobStatus.model_validate(LocalStore(run_uri).read_json("status.json"))
    return _collect(LocalStore(run_uri), run_uri, status)


def _collect(store: Any, run_uri: str, status: JobStatus) -> SynthesisResult:
    """Read what the stages wrote into a `SynthesisResult`."""
    evaluated = store.exists(summary_key(StageName.EVALUATE.value))
    summary: dict[str, Any] = store.read_json(summary_key(StageName.EVALUATE.value)) if evaluated else {}
    gates = list(summary.get("gates") or [])
    return SynthesisResult(
        synthetic=store.read_table(SYNTHETIC_TABLE_KEY),
        scores={k: v for k, v in summary.items() if k not in ("gates",) and not isinstance(v, (dict, list))},
        released=bool(summary.get("released", True)) and all(g.get("passed", True) for g in gates),
        gates=gates,
        status=status,
        run_uri=run_uri,
        report_path=Path(run_uri, REPORT_KEY).resolve() if store.exists(REPORT_KEY) else None,
        metrics=store.read_json(METRICS_KEY) if store.exists(METRICS_KEY) else {},
    )


def evaluate(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: Optional[pd.DataFrame] = None,
    *,
    target: Optional[str] = None,
    max_rows: int = 5000,
    seed: int = 42,
    group_by: Optional[Union[str, Sequence[str]]] = None,
    order_by: Optional[str] = None,
) -> Evaluation:
    """Score `synthetic` against `real` (and `holdout`, which enables the privacy attacks and ML utility).

    The same metrics as the evaluate stage and `safesynth evaluate`; column kinds
    come from the prepare stage's inference on `real`. `group_by` (one column or
    a list: the entity key, as spec.data.groupBy) says the rows are grouped
    records: the keys are scored as identifiers, not values, and the sequence
    metrics run (`results["sequence_rows_per_entity"]`, ...); `order_by` (as
    spec.data.orderBy, needs `group_by`) orders an entity's rows, else their
    order in the table. Every named column must be in every table given
    (BadInputError otherwise). Returns the `Evaluation`
    (`.sqs`, `.dps`, `.results`, `.summary()`, `.to_json()`).
    """
    from safesynth.commands.evaluate import check_grouping, check_option_columns, infer_table_kinds
    from safesynth.metrics.context import EvalOptions
    from safesynth.metrics.evaluation import evaluate as run_evaluation
    from safesynth.progress import LogProgress

    keys, order = check_grouping(group_by, order_by, {"groupBy": "group_by", "orderBy": "order_by"})
    if target is not None and target not in real.columns:
        raise BadInputError(f"target: {target!r} is not a column of the real table")
    check_option_columns([("group_by", keys), ("order_by", [order] if order else [])],
                         [("the real table", real), ("the synthetic table", synthetic), ("the holdout table", holdout)])
    options = EvalOptions(max_rows=max_rows, seed=seed, target=target, group_by=keys, order_by=order)
    return run_evaluation(real, synthetic, holdout, kinds=infer_table_kinds(real), options=options,
                          progress=LogProgress())
