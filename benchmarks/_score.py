"""Scoring one synthetic table: our evaluate stage, SDMetrics' QualityReport as referee, TSTR accuracy.

The evaluate stage runs exactly as in `safesynth run` on a run folder that
holds the dataset's prepare/ (and pii/) outputs and the generator's
generate/synthetic.parquet, so every generator is scored by the same code on
the same training rows and holdout. SDMetrics is called as a library
(sdmetrics==0.32.0, the dev extra), on the same tables, with identifier and
free-text columns left out as SDMetrics itself skips sdtypes id and text.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import pandas as pd

SDV_SDTYPES = {"numeric": "numerical", "datetime": "datetime", "categorical": "categorical", "boolean": "boolean"}


def sdmetrics_quality(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: dict[str, Any]) -> dict[str, float]:
    """SDMetrics 0.32 QualityReport on the tabular columns: overall, Column Shapes, Column Pair Trends."""
    from sdmetrics.reports.single_table import QualityReport

    from safesynth.metrics.columns import align

    cols = {c: k for c, k in kinds.items() if getattr(k, "value", k) in SDV_SDTYPES}
    tables = align({"real": real, "synthetic": synthetic}, cols)
    plain = {}
    for name, df in tables.items():
        assert df is not None
        out = {}
        for c, k in cols.items():
            kind = getattr(k, "value", k)
            s = df[c]
            if kind == "numeric":
                out[c] = pd.to_numeric(s, errors="coerce").astype(float)
            elif kind == "datetime":
                out[c] = pd.to_datetime(s, errors="coerce", utc=True).dt.tz_convert(None)
            else:
                out[c] = s.astype(object).where(s.notna(), None).map(lambda v: None if v is None else str(v))
        plain[name] = pd.DataFrame(out)
    metadata = {"columns": {c: {"sdtype": SDV_SDTYPES[getattr(k, "value", k)]} for c, k in cols.items()}}
    report = QualityReport()
    report.generate(plain["real"], plain["synthetic"], metadata, verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    return {"overall": float(report.get_score()), "columnShapes": float(props.get("Column Shapes", math.nan)),
            "columnPairTrends": float(props.get("Column Pair Trends", math.nan))}


def _score(metrics: dict[str, Any], name: str) -> Optional[float]:
    m = metrics["metrics"].get(name) or {}
    return m.get("score") if m.get("status") == "ok" else None


def _stat(metrics: dict[str, Any], name: str, *path: str) -> Optional[float]:
    node: Any = (metrics["metrics"].get(name) or {}).get("statistic") or {}
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, (int, float)) else None


def row_scores(metrics: dict[str, Any], summary: dict[str, Any]) -> dict[str, Optional[float]]:
    """The table's numbers from metrics.json and the evaluate summary (pure; unit-tested)."""
    return {
        "sqs": summary.get("sqs"), "dps": summary.get("dps"),
        "distribution": _score(metrics, "column_distribution"), "correlation": _score(metrics, "column_correlation"),
        "deep": _score(metrics, "deep_structure"), "text": _score(metrics, "text_semantic"),
        "membership": _score(metrics, "membership_inference"),
        "tpr1": _stat(metrics, "membership_inference", "tprAt1PctFpr"),
        "attribute": _score(metrics, "attribute_inference"), "dcr": _score(metrics, "dcr"),
        "piiReplay": _score(metrics, "pii_replay"),
        "tstrAccuracy": _stat(metrics, "ml_utility", "trainedOnSynthetic", "accuracy"),
        "trtrAccuracy": _stat(metrics, "ml_utility", "trainedOnReal", "accuracy"),
        "tstrF1": _stat(metrics, "ml_utility", "trainedOnSynthetic", "macroF1"),
        "trtrF1": _stat(metrics, "ml_utility", "trainedOnReal", "macroF1"),
        "copies": _stat(metrics, "dcr", "exactCopyShare"),
    }


def score_run(run_dir: Any, spec: Any) -> dict[str, Any]:
    """Run the evaluate stage on `run_dir`; add the SDMetrics referee. Returns the table's numbers."""
    from safesynth.progress import LogProgress
    from safesynth.stages import evaluate
    from safesynth.stages.runner import execute_stage
    from safesynth.store import LocalStore

    from safesynth.metrics.columns import kinds_from_schema

    store = LocalStore(run_dir)
    summary = execute_stage(evaluate, spec, store, LogProgress(), force=True).summary
    metrics = store.read_json("evaluate/metrics.json")
    out: dict[str, Any] = row_scores(metrics, summary)
    inputs = evaluate.load_inputs(store)
    kinds = kinds_from_schema(inputs.schema) if inputs.schema else {}
    try:
        out["sdmetrics"] = sdmetrics_quality(inputs.real, inputs.synthetic, kinds)
    except Exception as exc:  # the referee failing must not lose our own scores
        out["sdmetrics"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    out["evaluateSeconds"] = summary.get("durationSeconds")
    return out
