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


def _finite(x: Any) -> Optional[float]:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def worst_columns_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Column rows by JS distance, largest first; rows without one (free text) last, in table order.

    A wide table is read from the top and cut at a limit: its worst columns must come first, not its
    first 60. The sort is stable, so ties keep the table's order.
    """
    def key(r: Mapping[str, Any]) -> float:
        d = _finite(r.get("jsDistance"))
        return -d if d is not None else 1.0  # distances lie in [0, 1]

    return sorted(rows, key=key)


def _distribution_charts(res: Optional[MetricResult]) -> list[Any]:
    if res is None or not res.ok:
        return []
    out = []
    hists = res.visual.get("histograms", {})
    order = [r["column"] for r in worst_columns_first(list(res.details or [])) if r["column"] in hists]
    order += [c for c in hists if c not in order]
    for col in order[:MAX_DISTRIBUTION_CHARTS]:
        h = hists[col]
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
    idx = heatmap_order(v["diff"])[:MAX_HEATMAP_COLUMNS]
    cols = [v["columns"][i] for i in idx]

    def cut(m: list[list[float]]) -> list[list[float]]:
        return [[m[i][j] for j in idx] for i in idx]

    return [charts.heatmap(cut(v["real"]), cols, "Real: association"),
            charts.heatmap(cut(v["synthetic"]), cols, "Synthetic: association"),
            charts.heatmap(cut(v["diff"]), cols, "|Real − synthetic|", diverging=False)]


def heatmap_order(diff: list[list[Optional[float]]]) -> list[int]:
    """Column indices, the column whose associations moved most first (mean |real − synthetic| over its pairs).

    Puts the pairs worth looking at in the heatmaps' top-left corner, and keeps them when a wide
    table is cut to MAX_HEATMAP_COLUMNS. Undefined pairs (a constant column) are left out of the mean.
    """
    n = len(diff)

    def moved(i: int) -> float:
        vals = [x for j in range(n) if j != i for x in (_finite(diff[i][j]), _finite(diff[j][i])) if x is not None]
        return sum(vals) / len(vals) if vals else -1.0

    return sorted(range(n), key=lambda i: -moved(i))


def _points(x: float) -> str:
    s = f"{abs(100 * x):.1f}".rstrip("0").rstrip(".")
    return f"{s} point" if s == "1" else f"{s} points"


def _known(d: Mapping[str, Any], all_other: bool) -> str:
    n = int(d.get("quasiIdentifiers") or 0)
    names = [str(c) for c in d.get("quasiIdentifierColumns") or []]
    if all_other or not names:
        return f"a person's other {n} column{'s' if n != 1 else ''}"
    shown = names[:4] + ([f"{len(names) - 4} more"] if len(names) > 4 else [])
    return "a person's " + (", ".join(shown[:-1]) + " and " if len(shown) > 1 else "") + shown[-1]


def inference_findings(res: MetricResult) -> list[dict[str, str]]:
    """Each attacked secret column in words: what the attacker knows, how often the guess is right, and the risk.

    Rates in points rather than the normalised risk alone: "68% of the time, 1 point more than for
    people the generator never saw" is what a reader can weigh; the risk (bounded to 0–1) follows with
    its interval and whether the interval excludes 0.
    """
    all_other = res.params.get("quasiIdentifiersChosen") == "all other columns"
    out = []
    for d in res.details or []:
        secret = str(d["secret"])
        if "risk" not in d:
            out.append({"secret": secret, "level": "muted", "text": f"{secret}: not attacked ({d.get('note', '')})."})
            continue
        main, ctrl, excess = d["mainRate"], d["controlRate"], d.get("excess", d["mainRate"] - d["controlRate"])
        gap = (f"{_points(excess)} {'more' if excess > 0 else 'fewer'} than" if abs(excess) >= 0.0005
               else "as often as")
        text = (f"An attacker who knows {_known(d, all_other)} guesses {secret} correctly {charts.percent(main)} of "
                f"the time for people in the training data, {gap} for people the generator never saw "
                f"({charts.percent(ctrl)}); a random guess is right {charts.percent(d['baselineRate'])} of the time. ")
        risk = f"Risk {d['risk']:.2f} (95% interval {d['riskLow']:.2f}–{d['riskHigh']:.2f})"
        if not d.get("riskMeasurable", ctrl < 1):
            level = "muted"
            text += (f"Population patterns alone give every holdout person's {secret} away, so what the synthetic "
                     "table adds about individuals cannot be measured here.")
        elif d["riskLow"] > 0:
            level = "warn"
            text += (f"{risk}: of the guesses that fail for outsiders, about {d['risk']:.0%} succeed for training "
                     f"people, so the synthetic table reveals individual {secret} values beyond population patterns.")
        else:
            level = "ok"
            text += (f"{risk}: within sampling noise, no evidence that the synthetic table reveals more about "
                     "training people than about anyone.")
        if not d.get("attackBeatsBaseline", True):
            text += " The attack does no better than random guessing for this column."
        out.append({"secret": secret, "level": level, "text": text})
    return out


def _inference(res: Optional[MetricResult]) -> Optional[dict[str, Any]]:
    if res is None or not res.ok:
        return None
    rows = [d for d in res.details or [] if "risk" in d]
    return {"chart": charts.inference_rates(rows, "Attribute inference: secrets guessed right") if rows else None,
            "findings": inference_findings(res)}


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
        notes.append(f"distribution charts show the {MAX_DISTRIBUTION_CHARTS} of {n_cols} columns with the largest "
                     "JS distance, worst first")
    corr = res.get("column_correlation")
    if corr is not None and corr.ok and len(corr.visual["columns"]) > MAX_HEATMAP_COLUMNS:
        notes.append(f"heatmaps show the {MAX_HEATMAP_COLUMNS} of {len(corr.visual['columns'])} columns whose "
                     "associations moved most, worst first")
    return {
        "title": title,
        "sources": dict(sources or {}),
        "evaluation": evaluation,
        "sqs": evaluation.sqs, "dps": evaluation.dps,
        "sqs_gauge": charts.gauge(evaluation.sqs.value, "Synthetic Quality Score", evaluation.sqs.grade),
        "dps_gauge": charts.gauge(evaluation.dps.value, "Data Privacy Score", evaluation.dps.grade),
        "cards": cards,
        "results": res,
        "columns": worst_columns_first(list(evaluation.columns)),
        "distribution_charts": _distribution_charts(res.get("column_distribution")),
        "heatmaps": _heatmaps(corr),
        "pca": charts.scatter(dpm.visual["real"], dpm.visual["synthetic"], "Real vs synthetic on the real PCA")
        if dpm is not None and dpm.ok else None,
        "roc": charts.roc(mem.visual["curves"], "Membership attacks (ROC)") if mem is not None and mem.ok else None,
        "dcr_hist": charts.histogram(dcr.visual["edges"], _shares(dcr.visual["train"]), _shares(dcr.visual["holdout"]),
                                     "DCR of synthetic rows", width=420,
                                     subtitle="distance to the closest training vs holdout row",
                                     names=("training", "holdout")) if dcr is not None and dcr.ok else None,
        "sdm_pairs": sorted((p for p in (sdm.details or {}).get("pairs", []) if p["meetsThreshold"]),
                            key=lambda p: p["score"]) if sdm is not None and sdm.ok else [],  # worst first
        "audit": audit,
        "dp": audit.get("differentialPrivacy", {}),
        "sampling_notes": notes,
        "column_warnings": [warning_text(w) for w in (audit.get("inputs") or {}).get("columnWarnings") or []],
        "release": evaluation.release,
        "evidence": _evidence(res),
        "inference": _inference(res.get("attribute_inference")),
        "anonymeter_chart": _anonymeter_chart(res),
        "row_note": row_count_note(evaluation.rows),
        "sequences": _sequences(evaluation),
    }


def _sequences(evaluation: Evaluation) -> Optional[dict[str, Any]]:
    """The Sequences section's charts and facts; None for tables without spec.data.groupBy (no section)."""
    if not evaluation.options.group_by:
        return None
    res = evaluation.results

    def ok(name: str) -> Optional[MetricResult]:
        r = res.get(name)
        return r if r is not None and r.ok else None

    out: dict[str, Any] = {"groupBy": list(evaluation.options.group_by), "orderBy": evaluation.options.order_by,
                           "charts": []}
    if (r := ok("sequence_rows_per_entity")) is not None:
        v, labels = r.visual, r.visual["labels"]
        ticks = [labels[0].split("–")[0], labels[len(labels) // 2].split("–")[0], labels[-1].split("–")[-1]]
        out["charts"].append(("sequence-rows-chart", charts.histogram(
            v["edges"], v["real"], v["synthetic"], "Rows per entity", width=420, tick_labels=ticks,
            subtitle=f"JS distance {r.statistic['jsDistance']:.3f}")))
    if (r := ok("sequence_gaps")) is not None:
        v = r.visual
        lab = v["labels"]
        out["charts"].append(("sequence-gaps-chart", charts.histogram(
            list(range(len(lab) + 1)), v["real"], v["synthetic"], f"Gaps between rows ({v['unit']})", width=420,
            tick_labels=[lab[0], lab[len(lab) // 2], lab[-1]],
            subtitle=f"bins at the real gaps' quantiles; JS distance {r.statistic['jsDistance']:.3f}")))
    if (r := ok("sequence_autocorrelation")) is not None:
        v = r.visual
        out["charts"].append(("sequence-autocorrelation-chart", charts.paired_hbars(
            v["columns"], v["real"], v["synthetic"], "Lag-1 autocorrelation within entities", lo=-1.0, hi=1.0)))
    if (r := ok("sequence_entity_columns")) is not None:
        v = r.visual
        out["charts"].append(("sequence-constant-chart", charts.paired_hbars(
            v["columns"], v["real"], v["synthetic"], "Constant within an entity (share)")))
    if (r := ok("sequence_membership")) is not None:
        out["charts"].append(("sequence-membership-chart", charts.roc(r.visual["curves"],
                                                                      "Entity membership attack (ROC)")))
    return out


def _anonymeter_chart(res: Mapping[str, MetricResult]) -> Any:
    """One chart for the Anonymeter risks that were computed (singling out, linkability, inference)."""
    rows = [row for name in ("singling_out", "linkability", "anonymeter_inference")
            if (r := res.get(name)) is not None and r.ok for row in r.visual.get("risks", [])]
    return charts.risk_intervals(rows, "Anonymeter attacks: risk") if rows else None


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def render_report(evaluation: Evaluation, audit: Mapping[str, Any], *, title: str = "Synthetic data report",
                  sources: Optional[Mapping[str, str]] = None) -> str:
    """The whole report as one HTML string."""
    view = build_view(evaluation, audit, title=title, sources=sources)
    return _env().get_template("report.html.j2").render(**view)
