"""Render the evaluation as one self-contained HTML file.

jinja2 templates (report/templates/) with autoescaping; charts are inline SVG
from report.charts; no script, no stylesheet or font or image from anywhere
else, and a Content-Security-Policy that forbids fetching any (default-src
'none'), so the file opens offline and cannot call out even if edited. The
templates see only results (MetricResult, Composite, the audit dict), never
the tables.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from safesynth.metrics.base import Group, MetricResult, Status
from safesynth.metrics.evaluation import Evaluation
from safesynth.metrics.registry import by_name
from safesynth.metrics.scores import grade
from safesynth.report import charts
from safesynth.schema_model import warning_text

MAX_DISTRIBUTION_CHARTS = 60
MAX_HEATMAP_COLUMNS = 40


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if not math.isfinite(x):
            return "–"
        return f"{x:,.{digits}f}"
    return str(x)


def _pct(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{100 * float(x):.{digits}f}%"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("safesynth.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    env.globals["charts"] = charts
    return env


def _flat(stat: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Scalar statistics as (name, formatted value) rows; nested ones flattened one level."""
    out = []
    for k, v in stat.items():
        if isinstance(v, Mapping):
            for k2, v2 in v.items():
                if not isinstance(v2, (list, dict)):
                    out.append((f"{k}.{k2}", _num(v2)))
        elif isinstance(v, list):
            if len(v) <= 4 and all(isinstance(x, (int, float)) for x in v):
                out.append((k, ", ".join(_num(x) for x in v)))
        else:
            out.append((k, _num(v)))
    return out


def _card(res: MetricResult) -> dict[str, Any]:
    cls = by_name().get(res.name)
    scale = res.scale[1]
    score = res.score if math.isfinite(res.score) else None
    score10 = None if score is None else 10.0 * score / scale
    return {
        "name": res.name, "title": res.title, "score": score, "scale": scale,
        "grade": grade(score10) if score10 is not None else "Not available",
        "status": res.status.value, "reason": res.reason, "ok": res.ok,
        "notApplicable": res.status is Status.NOT_APPLICABLE,
        "statistic": _flat(res.statistic), "params": _flat(res.params), "notes": res.notes,
        "explanation": getattr(cls, "explanation", ""), "advice": getattr(cls, "advice", ""),
        "low": score10 is not None and score10 < 6.0,
        "bar": charts.score_bar(score, scale),
        "seconds": res.seconds,
    }


def _distribution_charts(res: Optional[MetricResult]) -> list[Any]:
    if res is None or not res.ok:
        return []
    out = []
    for col, h in list(res.visual.get("histograms", {}).items())[:MAX_DISTRIBUTION_CHARTS]:
        if h["type"] == "numeric":
            real, syn = list(h["real"]), list(h["synthetic"])
            ticks = None
            if h.get("datetime") and h["edges"]:
                import datetime as dt

                def day(x: float) -> str:
                    return (dt.datetime(1970, 1, 1) + dt.timedelta(days=float(x))).strftime("%Y-%m-%d")

                e = h["edges"]
                ticks = [day(e[0]), day(e[len(e) // 2]), day(e[-1])]
            sub = (f"missing: real {_pct(h['nullReal'])}, synthetic {_pct(h['nullSynthetic'])}"
                   if h["nullReal"] or h["nullSynthetic"] else "")
            out.append(charts.histogram(h["edges"], real, syn, col, tick_labels=ticks, subtitle=sub))
        else:
            out.append(charts.paired_bars(h["labels"], h["real"], h["synthetic"], col))
    return out


def _heatmaps(res: Optional[MetricResult]) -> list[Any]:
    if res is None or not res.ok:
        return []
    v = res.visual
    cols = v["columns"][:MAX_HEATMAP_COLUMNS]
    n = len(cols)

    def cut(m: list[list[float]]) -> list[list[float]]:
        return [row[:n] for row in m[:n]]

    return [charts.heatmap(cut(v["real"]), cols, "Real: association"),
            charts.heatmap(cut(v["synthetic"]), cols, "Synthetic: association"),
            charts.heatmap(cut(v["diff"]), cols, "|Real − synthetic|", diverging=False)]


ROW_RATIO_NOTE = 2.0  # synthetic/real row-count ratio (either way) beyond which the report warns


def row_count_note(rows: Mapping[str, int]) -> Optional[str]:
    """A warning when synthetic and training row counts differ enough to move the scores.

    Sample-size-dependent statistics (JS distance on bins, correlation noise, the detection test's power)
    read worse for a smaller synthetic table even when each row is as good: SQS fell from 8.6 to 7.1
    when a good synthetic table was cut from 1,800 to 200 rows.
    """
    real, syn = rows.get("real", 0), rows.get("synthetic", 0)
    if not real or not syn or max(real / syn, syn / real) < ROW_RATIO_NOTE:
        return None
    return (f"The synthetic table has {syn:,} rows and the training table {real:,}: scores that depend on "
            "sample size (distributions, correlations, detection) move with the smaller table, so compare "
            "with the real-vs-real figures at the same row count, or generate as many rows as the training table.")


def _evidence(res: Mapping[str, MetricResult]) -> list[dict[str, Any]]:
    """Detection and ML utility beside SQS and DPS, each with what real data gets on the same test."""
    out = []
    det = res.get("detection")
    if det is not None:
        st = det.statistic
        out.append({"id": "detection", "title": "Detection", "ok": det.ok,
                    "value": f"{det.score:.1f}/10" if det.ok else "n/a",
                    "detail": f"classifier AUC {st['auc']:.3f} (0.5 = indistinguishable)" if det.ok else det.reason,
                    "baseline": (f"real holdout vs training rows: {st['realVsRealScore']:.1f}/10 "
                                 f"(AUC {st['realVsRealAuc']:.3f})"
                                 if det.ok and st.get("realVsRealAuc") is not None else None)})
    ml = res.get("ml_utility")
    if ml is not None:
        st = ml.statistic
        key = st.get("metric", "")
        out.append({"id": "utility", "title": "ML utility", "ok": ml.ok,
                    "value": f"{100 * st['ratio']:.0f}% of real" if ml.ok else "n/a",
                    "detail": f"{key} {st['trainedOnSynthetic'][key]:.3f} trained on synthetic" if ml.ok else ml.reason,
                    "baseline": f"trained on real rows: {key} {st['trainedOnReal'][key]:.3f}" if ml.ok else None})
    return out


def build_view(evaluation: Evaluation, audit: Mapping[str, Any], *, title: str,
               sources: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    res = evaluation.results
    cards = {g.value: [_card(r) for r in res.values() if r.group is g] for g in Group}
    mem = res.get("membership_inference")
    dcr = res.get("dcr")
    dpm = res.get("deep_structure")
    sdm = res.get("sdmetrics_quality")
    notes = sorted({n for r in res.values() for n in r.notes if "sample" in n or "sampled" in n})
    n_cols = len(evaluation.kinds)
    if n_cols > MAX_DISTRIBUTION_CHARTS:
        notes.append(f"distribution charts show the first {MAX_DISTRIBUTION_CHARTS} of {n_cols} columns")
    corr = res.get("column_correlation")
    if corr is not None and corr.ok and len(corr.visual["columns"]) > MAX_HEATMAP_COLUMNS:
        notes.append(f"heatmaps show the first {MAX_HEATMAP_COLUMNS} of {len(corr.visual['columns'])} columns")
    return {
        "title": title,
        "sources": dict(sources or {}),
        "evaluation": evaluation,
        "sqs": evaluation.sqs, "dps": evaluation.dps,
        "sqs_gauge": charts.gauge(evaluation.sqs.value, "Synthetic Quality Score", evaluation.sqs.grade),
        "dps_gauge": charts.gauge(evaluation.dps.value, "Data Privacy Score", evaluation.dps.grade),
        "cards": cards,
        "results": res,
        "columns": evaluation.columns,
        "distribution_charts": _distribution_charts(res.get("column_distribution")),
        "heatmaps": _heatmaps(corr),
        "pca": charts.scatter(dpm.visual["real"], dpm.visual["synthetic"], "Real vs synthetic on the real PCA")
        if dpm is not None and dpm.ok else None,
        "roc": charts.roc(mem.visual["curves"], "Membership attacks (ROC)") if mem is not None and mem.ok else None,
        "dcr_hist": charts.histogram(dcr.visual["edges"], _shares(dcr.visual["train"]), _shares(dcr.visual["holdout"]),
                                     "DCR of synthetic rows", width=420,
                                     subtitle="distance to the closest training vs holdout row",
                                     names=("training", "holdout")) if dcr is not None and dcr.ok else None,
        "sdm_pairs": [p for p in (sdm.details or {}).get("pairs", []) if p["meetsThreshold"]]
        if sdm is not None and sdm.ok else [],
        "audit": audit,
        "dp": audit.get("differentialPrivacy", {}),
        "sampling_notes": notes,
        "column_warnings": [warning_text(w) for w in (audit.get("inputs") or {}).get("columnWarnings") or []],
        "release": evaluation.release,
        "evidence": _evidence(res),
        "row_note": row_count_note(evaluation.rows),
    }


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def render_report(evaluation: Evaluation, audit: Mapping[str, Any], *, title: str = "Synthetic data report",
                  sources: Optional[Mapping[str, str]] = None) -> str:
    """The whole report as one HTML string."""
    view = build_view(evaluation, audit, title=title, sources=sources)
    return _env().get_template("report.html.j2").render(**view)
