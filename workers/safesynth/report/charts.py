"""Charts as inline SVG strings: the report works offline, loads nothing and runs no script.

Each function takes plain numbers and labels and returns markup that jinja2
inserts as is, so every label is escaped here. Hand-written because a
charting library would have to be inlined as JavaScript (plotly.min.js alone
is ~3.5 MB) and would bring a script engine into a page that needs none.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Mapping, Optional, Sequence

from markupsafe import Markup

REAL = "#2b6cb0"
SYNTHETIC = "#dd6b20"
GRID = "#e2e8f0"
TEXT = "#2d3748"
MUTED = "#718096"
GRADE_COLOURS = (("Excellent", "#2f855a"), ("Good", "#68d391"), ("Moderate", "#ecc94b"), ("Poor", "#ed8936"),
                 ("Very poor", "#c53030"))
FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif"'


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:.3g}"


def percent(x: float) -> str:
    """A rate as a percentage with at most one decimal: 0.68 → "68%", 0.995 → "99.5%" (never rounded up to 100%)."""
    return f"{100 * x:.1f}".rstrip("0").rstrip(".") + "%"


def _svg(width: int, height: int, body: str, label: str) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}" {FONT} font-size="11">{body}</svg>'
    )


def _short(label: str, n: int = 18) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def grade_colour(grade: str) -> str:
    return dict(GRADE_COLOURS).get(grade, MUTED)


def gauge(score: Optional[float], title: str, grade: str, scale: float = 10.0) -> Markup:
    """A half-circle gauge from 0 to `scale`."""
    w, h, r, cx, cy = 220, 140, 90, 110, 110
    val = None if score is None or not math.isfinite(score) else max(0.0, min(scale, score))

    def point(frac: float) -> tuple[float, float]:
        ang = math.pi * (1 - frac)
        return cx + r * math.cos(ang), cy - r * math.sin(ang)

    x0, y0 = point(0)
    x1, y1 = point(1)
    body = [f'<path d="M{x0:.1f},{y0:.1f} A{r},{r} 0 0 1 {x1:.1f},{y1:.1f}" fill="none" stroke="{GRID}" '
            f'stroke-width="18"/>']
    if val is not None and val > 0:
        xe, ye = point(val / scale)
        body.append(f'<path d="M{x0:.1f},{y0:.1f} A{r},{r} 0 0 1 {xe:.1f},{ye:.1f}" fill="none" '
                    f'stroke="{grade_colour(grade)}" stroke-width="18"/>')
    shown = "n/a" if val is None else f"{val:.1f}"
    body.append(f'<text x="{cx}" y="{cy - 12}" text-anchor="middle" font-size="30" font-weight="700" '
                f'fill="{TEXT}">{shown}</text>')
    body.append(f'<text x="{cx}" y="{cy + 8}" text-anchor="middle" font-size="13" fill="{grade_colour(grade)}">'
                f'{escape(grade)}</text>')
    body.append(f'<text x="{cx}" y="{h - 4}" text-anchor="middle" font-size="13" fill="{MUTED}">{escape(title)}</text>')
    return _svg(w, h, "".join(body), f"{title}: {shown} of {scale:g}, {grade}")


def _legend(x: int, y: int, names: tuple[str, str] = ("real", "synthetic")) -> str:
    gap = 22 + 6 * len(names[0])
    x = min(x, x + 50 - gap + 10)
    return (f'<rect x="{x}" y="{y - 8}" width="10" height="10" fill="{REAL}"/>'
            f'<text x="{x + 14}" y="{y + 1}" fill="{TEXT}">{escape(names[0])}</text>'
            f'<rect x="{x + gap}" y="{y - 8}" width="10" height="10" fill="{SYNTHETIC}"/>'
            f'<text x="{x + gap + 14}" y="{y + 1}" fill="{TEXT}">{escape(names[1])}</text>')


def paired_bars(labels: Sequence[str], real: Sequence[float], synthetic: Sequence[float], title: str,
                width: int = 320, height: int = 190) -> Markup:
    """Grouped bars of real and synthetic shares per label (categories or bins)."""
    left, right, top, bottom = 34, 8, 26, 46
    pw, ph = width - left - right, height - top - bottom
    n = max(len(labels), 1)
    vmax = max([*real, *synthetic, 1e-9])
    slot = pw / n
    bw = max(slot * 0.4, 0.5)
    body = [f'<text x="{left}" y="14" font-weight="600" fill="{TEXT}">{escape(_short(title, 24))}</text>',
            _legend(width - 130, 14)]
    for frac in (0, 0.5, 1):
        y = top + ph * (1 - frac)
        body.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                    f'<text x="{left - 3}" y="{y + 3:.1f}" text-anchor="end" fill="{MUTED}">{frac * vmax:.2f}</text>')
    for i, (lab, a, b) in enumerate(zip(labels, real, synthetic)):
        x = left + i * slot + slot * 0.1
        for j, (v, colour) in enumerate(((a, REAL), (b, SYNTHETIC))):
            hgt = ph * v / vmax
            body.append(f'<rect x="{x + j * bw:.1f}" y="{top + ph - hgt:.1f}" width="{bw:.1f}" height="{hgt:.1f}" '
                        f'fill="{colour}"><title>{escape(lab)}: {v:.3f}</title></rect>')
        if n <= 14:
            tx, ty = left + (i + 0.5) * slot, top + ph + 10
            body.append(f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="end" fill="{MUTED}" font-size="9" '
                        f'transform="rotate(-35 {tx:.1f} {ty:.1f})">{escape(_short(lab, 12))}</text>')
    return _svg(width, height, "".join(body), f"distribution of {title}")


def histogram(edges: Sequence[float], real: Sequence[float], synthetic: Sequence[float], title: str,
              width: int = 320, height: int = 190, tick_labels: Optional[Sequence[str]] = None,
              names: tuple[str, str] = ("real", "synthetic"), subtitle: str = "") -> Markup:
    """Overlaid histograms of shares on shared bins."""
    left, right, top, bottom = 34, 8, 26 + (10 if subtitle else 0), 34
    pw, ph = width - left - right, height - top - bottom
    n = max(len(real), 1)
    vmax = max([*real, *synthetic, 1e-9])
    body = [f'<text x="{left}" y="14" font-weight="600" fill="{TEXT}">{escape(_short(title, 24))}</text>',
            _legend(width - 130, 14, names)]
    if subtitle:
        body.append(f'<text x="{left}" y="27" font-size="9" fill="{MUTED}">{escape(subtitle)}</text>')
    for frac in (0, 0.5, 1):
        y = top + ph * (1 - frac)
        body.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                    f'<text x="{left - 3}" y="{y + 3:.1f}" text-anchor="end" fill="{MUTED}">{frac * vmax:.2f}</text>')
    for values, colour, opacity in ((real, REAL, 0.45), (synthetic, SYNTHETIC, 0.45)):
        for i, v in enumerate(values):
            hgt = ph * v / vmax
            body.append(f'<rect x="{left + i * pw / n:.1f}" y="{top + ph - hgt:.1f}" width="{pw / n:.1f}" '
                        f'height="{hgt:.1f}" fill="{colour}" fill-opacity="{opacity}"/>')
    if edges:
        ticks = tick_labels or [_fmt(edges[0]), _fmt(edges[len(edges) // 2]), _fmt(edges[-1])]
        for k, lab in enumerate(ticks):
            x = left + pw * k / (len(ticks) - 1)
            anchor = ("start", "middle", "end")[min(k, 2)] if len(ticks) == 3 else "middle"
            body.append(f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="{anchor}" fill="{MUTED}">'
                        f'{escape(lab)}</text>')
    return _svg(width, height, "".join(body), f"histogram of {title}")


def _diverging(v: float) -> str:
    """-1 → blue, 0 → white, 1 → red."""
    v = max(-1.0, min(1.0, v))
    if v >= 0:
        return f"rgb(255,{int(255 - 180 * v)},{int(255 - 200 * v)})"
    v = -v
    return f"rgb({int(255 - 200 * v)},{int(255 - 140 * v)},255)"


def _sequential(v: float) -> str:
    """0 → white, 1 → dark orange."""
    v = max(0.0, min(1.0, v))
    return f"rgb({int(255 - 34 * v)},{int(255 - 148 * v)},{int(255 - 223 * v)})"


SCALE_STEPS = 20
SCALE_HEIGHT = 120


def colour_scale(x: int, y: int, diverging: bool) -> str:
    """A vertical colour bar with its range, so a heatmap's colours can be read as numbers.

    Discrete steps rather than a <linearGradient>: a gradient needs an id, and three heatmaps on
    one page would have to keep their ids apart. The top of the sequential scale reads "≥ 1"
    because |Pearson difference| can reach 2 and is drawn at full colour from 1.
    """
    lo, hi = (-1.0, 1.0) if diverging else (0.0, 1.0)
    step = SCALE_HEIGHT / SCALE_STEPS
    colour = _diverging if diverging else _sequential
    body = [f'<g class="colour-scale" aria-label="colour scale from {_fmt(lo)} to {_fmt(hi)}">']
    for k in range(SCALE_STEPS):
        v = hi - (hi - lo) * (k + 0.5) / SCALE_STEPS  # top step is the high end
        body.append(f'<rect x="{x}" y="{y + k * step:.1f}" width="12" height="{step + 0.2:.1f}" '
                    f'fill="{colour(v)}"/>')
    body.append(f'<rect x="{x}" y="{y}" width="12" height="{SCALE_HEIGHT}" fill="none" stroke="{GRID}"/>')
    ticks = [(hi, "1" if diverging else "≥ 1"), ((hi + lo) / 2, _fmt((hi + lo) / 2)), (lo, "−1" if diverging else "0")]
    for v, lab in ticks:
        ty = y + SCALE_HEIGHT * (hi - v) / (hi - lo)
        body.append(f'<text class="scale-label" x="{x + 16}" y="{ty + 3:.1f}" fill="{MUTED}">{escape(lab)}</text>')
    body.append("</g>")
    return "".join(body)


def heatmap(matrix: Sequence[Sequence[Optional[float]]], labels: Sequence[str], title: str,
            diverging: bool = True, cell: int = 0) -> Markup:
    """A square matrix; NaN cells grey; a colour scale with its range on the right.

    Diverging scale (−1 blue, 0 white, 1 red) for associations, sequential (0 white, 1 orange) for differences.
    """
    n = len(labels)
    cell = cell or max(8, min(26, 420 // max(n, 1)))
    left, top = 110, 22
    width, height = left + n * cell + 60, max(top + n * cell + 100, top + SCALE_HEIGHT + 10)
    body = [f'<text x="0" y="14" font-weight="600" fill="{TEXT}">{escape(title)}</text>']
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            ok = v is not None and isinstance(v, (int, float)) and math.isfinite(v)
            colour = (_diverging(v) if diverging else _sequential(v)) if ok else "#cbd5e0"  # type: ignore[arg-type]
            tip = f"{labels[i]} / {labels[j]}: {v:.3f}" if ok else f"{labels[i]} / {labels[j]}: undefined"
            body.append(f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" '
                        f'fill="{colour}" stroke="#fff" stroke-width="0.5"><title>{escape(tip)}</title></rect>')
    fs = max(7, min(11, cell - 2))
    for i, lab in enumerate(labels):
        body.append(f'<text x="{left - 4}" y="{top + i * cell + cell / 2 + 3:.1f}" text-anchor="end" '
                    f'font-size="{fs}" fill="{TEXT}">{escape(_short(lab, 16))}</text>')
        x, y = left + i * cell + cell / 2, top + n * cell + 6
        body.append(f'<text x="{x:.1f}" y="{y}" text-anchor="end" font-size="{fs}" fill="{TEXT}" '
                    f'transform="rotate(-60 {x:.1f} {y})">{escape(_short(lab, 16))}</text>')
    body.append(colour_scale(left + n * cell + 14, top, diverging))
    return _svg(width, height, "".join(body), title)


def scatter(real: Sequence[Sequence[float]], synthetic: Sequence[Sequence[float]], title: str,
            width: int = 420, height: int = 340) -> Markup:
    """Two point clouds (first two principal components)."""
    left, right, top, bottom = 40, 10, 26, 30
    pw, ph = width - left - right, height - top - bottom
    pts = [p for p in [*real, *synthetic] if len(p) >= 2] or [[0.0, 0.0]]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def px(p: Sequence[float]) -> tuple[float, float]:
        return left + pw * (p[0] - x0) / (x1 - x0), top + ph * (1 - (p[1] - y0) / (y1 - y0))

    body = [f'<text x="{left}" y="14" font-weight="600" fill="{TEXT}">{escape(title)}</text>',
            _legend(width - 130, 14),
            f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="{GRID}"/>']
    for cloud, colour in ((real, REAL), (synthetic, SYNTHETIC)):
        for p in cloud:
            if len(p) >= 2:
                x, y = px(p)
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{colour}" fill-opacity="0.5"/>')
    body.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle" fill="{MUTED}">PC 1</text>'
                f'<text x="12" y="{top + ph / 2}" text-anchor="middle" fill="{MUTED}" '
                f'transform="rotate(-90 12 {top + ph / 2})">PC 2</text>')
    return _svg(width, height, "".join(body), title)


ATTACK_COLOURS = ("#c53030", "#6b46c1", "#2b6cb0", "#2f855a")


def roc(curves: dict[str, dict[str, Sequence[float]]], title: str, width: int = 360, height: int = 320) -> Markup:
    """ROC curves of membership attacks, with the chance diagonal and the 1% FPR line."""
    left, right, top, bottom = 40, 10, 26, 34
    pw, ph = width - left - right, height - top - bottom
    body = [f'<text x="{left}" y="14" font-weight="600" fill="{TEXT}">{escape(title)}</text>',
            f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="{GRID}"/>',
            f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top}" stroke="{MUTED}" stroke-dasharray="4 3"/>',
            f'<line x1="{left + pw * 0.01:.1f}" y1="{top}" x2="{left + pw * 0.01:.1f}" y2="{top + ph}" '
            f'stroke="{MUTED}" stroke-dasharray="1 2"/>']
    for k, (name, c) in enumerate(curves.items()):
        colour = ATTACK_COLOURS[k % len(ATTACK_COLOURS)]
        pts = " ".join(f"{left + pw * f:.1f},{top + ph * (1 - t):.1f}" for f, t in zip(c["fpr"], c["tpr"]))
        body.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        body.append(f'<rect x="{left + 10}" y="{top + 10 + 16 * k}" width="10" height="10" fill="{colour}"/>'
                    f'<text x="{left + 24}" y="{top + 19 + 16 * k}" fill="{TEXT}">{escape(name)}</text>')
    for frac in (0, 0.5, 1):
        body.append(f'<text x="{left + pw * frac:.1f}" y="{top + ph + 14}" text-anchor="middle" fill="{MUTED}">'
                    f'{frac:g}</text><text x="{left - 4}" y="{top + ph * (1 - frac) + 3:.1f}" text-anchor="end" '
                    f'fill="{MUTED}">{frac:g}</text>')
    body.append(f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle" fill="{MUTED}">false positive rate'
                f'</text><text x="10" y="{top + ph / 2}" text-anchor="middle" fill="{MUTED}" '
                f'transform="rotate(-90 10 {top + ph / 2})">true positive rate</text>')
    return _svg(width, height, "".join(body), title)


HOLDOUT = "#a0aec0"


def inference_rates(rows: Sequence[Mapping[str, Any]], title: str, width: int = 560) -> Markup:
    """Attribute inference per secret column: how often the guess is right for training and for holdout people.

    Two bars per secret with their 95% Wilson whiskers and a dashed tick for random guessing: the gap
    between the bars is what the synthetic table reveals about individuals (the risk); the holdout bar
    alone is what population patterns give away to anyone. Rows need secret, mainRate, mainInterval,
    controlRate, controlInterval and baselineRate, as attribute_inference's details have them.
    """
    left, right, top, bottom, bar, group = 120, 44, 40, 30, 12, 40
    pw = width - left - right
    height = top + group * max(len(rows), 1) + bottom

    def px(rate: float) -> float:
        return left + pw * max(0.0, min(1.0, rate))

    body = [f'<text x="0" y="14" font-weight="600" fill="{TEXT}">{escape(title)}</text>',
            f'<rect x="{left}" y="22" width="10" height="10" fill="{REAL}"/>'
            f'<text x="{left + 14}" y="31" fill="{TEXT}">training people</text>'
            f'<rect x="{left + 120}" y="22" width="10" height="10" fill="{HOLDOUT}"/>'
            f'<text x="{left + 134}" y="31" fill="{TEXT}">holdout people (control)</text>'
            f'<line x1="{left + 290}" x2="{left + 290}" y1="21" y2="33" stroke="{TEXT}" stroke-dasharray="3 2"/>'
            f'<text x="{left + 296}" y="31" fill="{TEXT}">random guess</text>']
    for frac in (0, 0.25, 0.5, 0.75, 1):
        x = px(frac)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - bottom}" stroke="{GRID}"/>'
                    f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="{MUTED}">'
                    f'{frac:.0%}</text>')
    body.append(f'<text x="{left + pw / 2:.1f}" y="{height - 2}" text-anchor="middle" fill="{MUTED}">'
                f'share of secrets guessed right</text>')
    for i, r in enumerate(rows):
        y0 = top + i * group + 6
        body.append(f'<text x="{left - 6}" y="{y0 + bar + 3}" text-anchor="end" fill="{TEXT}">'
                    f'{escape(_short(str(r["secret"]), 18))}</text>')
        for j, (who, cls, colour, rate, ci) in enumerate((
                ("training", "bar-training", REAL, r["mainRate"], r["mainInterval"]),
                ("holdout", "bar-holdout", HOLDOUT, r["controlRate"], r["controlInterval"]))):
            y = y0 + j * (bar + 2)
            body.append(f'<rect class="{cls}" x="{left}" y="{y}" width="{px(rate) - left:.1f}" height="{bar}" '
                        f'fill="{colour}"><title>{escape(str(r["secret"]))}, {who}: {rate:.1%} '
                        f'(95% interval {ci[0]:.1%}–{ci[1]:.1%})</title></rect>'
                        f'<line x1="{px(ci[0]):.1f}" x2="{px(ci[1]):.1f}" y1="{y + bar / 2}" y2="{y + bar / 2}" '
                        f'stroke="{TEXT}"/>'
                        f'<text x="{max(px(rate), px(ci[1])) + 4:.1f}" y="{y + bar - 2}" font-size="10" '
                        f'fill="{TEXT}">{percent(rate)}</text>')
        xb = px(r["baselineRate"])
        body.append(f'<line class="baseline" x1="{xb:.1f}" x2="{xb:.1f}" y1="{y0 - 3}" y2="{y0 + 2 * bar + 5}" '
                    f'stroke="{TEXT}" stroke-dasharray="3 2"><title>random guess: {r["baselineRate"]:.1%}</title>'
                    f'</line>')
    return _svg(width, height, "".join(body), title)


def score_bar(score: Optional[float], scale: float = 10.0, width: int = 120) -> Markup:
    """A small horizontal bar for tables."""
    ok = score is not None and math.isfinite(score)
    frac = max(0.0, min(1.0, (score or 0.0) / scale)) if ok else 0.0
    colour = grade_colour(_grade_for(frac * 10)) if ok else MUTED
    return _svg(width, 12, f'<rect width="{width}" height="12" fill="{GRID}"/>'
                           f'<rect width="{width * frac:.1f}" height="12" fill="{colour}"/>',
                "score bar")


def _grade_for(score10: float) -> str:
    for floor, name in ((8, "Excellent"), (6, "Good"), (4, "Moderate"), (2, "Poor")):
        if score10 >= floor:
            return name
    return "Very poor"


def risk_intervals(rows: Sequence[Mapping[str, Any]], title: str, width: int = 560) -> Markup:
    """Anonymeter risks: one dot per attack with its 95% interval on a 0–1 axis.

    0 means the attack works no better on training people than on holdout people (the control); a dot
    to the right with an interval clear of 0 is measured leakage. Rows need label, risk and interval
    (the `visual["risks"]` of singling_out, linkability and anonymeter_inference).
    """
    left, right, top, bottom, step = 170, 50, 28, 30, 22
    pw = width - left - right
    height = top + step * max(len(rows), 1) + bottom

    def px(r: float) -> float:
        return left + pw * max(0.0, min(1.0, r))

    body = [f'<text x="0" y="14" font-weight="600" fill="{TEXT}">{escape(title)}</text>']
    for frac in (0, 0.25, 0.5, 0.75, 1):
        x = px(frac)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - bottom}" stroke="{GRID}"/>'
                    f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="{MUTED}">{frac:g}</text>')
    body.append(f'<text x="{left + pw / 2:.1f}" y="{height - 2}" text-anchor="middle" fill="{MUTED}">'
                f'risk (training vs holdout targets), 95% interval</text>')
    for i, r in enumerate(rows):
        y = top + i * step + step / 2
        lo, hi = r["interval"]
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT}">'
                    f'{escape(_short(str(r["label"]), 26))}</text>'
                    f'<line x1="{px(lo):.1f}" x2="{px(hi):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{TEXT}"/>'
                    f'<circle class="risk" cx="{px(r["risk"]):.1f}" cy="{y:.1f}" r="4" fill="{SYNTHETIC}">'
                    f'<title>{escape(str(r["label"]))}: risk {r["risk"]:.3f} (95% interval {lo:.3f}–{hi:.3f})'
                    f'</title></circle>'
                    f'<text x="{px(hi) + 6:.1f}" y="{y + 4:.1f}" font-size="10" fill="{TEXT}">{r["risk"]:.2f}</text>')
    return _svg(width, height, "".join(body), title)


def paired_hbars(labels: Sequence[str], real: Sequence[Optional[float]], synthetic: Sequence[Optional[float]],
                 title: str, lo: float = 0.0, hi: float = 1.0, width: int = 420) -> Markup:
    """Real and synthetic values per label as horizontal bars from 0 on a fixed [lo, hi] axis.

    For values that may be negative (autocorrelations, lo = −1) or are shares (lo = 0): unlike
    paired_bars, the axis does not rescale to the largest value, so 0.95 vs 1.0 reads as close.
    A missing value draws no bar and prints "n/a".
    """
    left, right, top, bottom, bar, group = 130, 44, 34, 26, 9, 24
    pw = width - left - right
    height = top + group * max(len(labels), 1) + bottom

    def px(v: float) -> float:
        return left + pw * (max(lo, min(hi, v)) - lo) / (hi - lo)

    zero = px(0.0)
    body = [f'<text x="0" y="14" font-weight="600" fill="{TEXT}">{escape(title)}</text>', _legend(width - 130, 14)]
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        tick = lo + (hi - lo) * frac
        x = px(tick)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - bottom}" stroke="{GRID}"/>'
                    f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="{MUTED}">'
                    f'{tick:g}</text>')
    body.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{top - 4}" y2="{height - bottom}" stroke="{MUTED}"/>')
    for i, (lab, a, b) in enumerate(zip(labels, real, synthetic)):
        y0 = top + i * group
        body.append(f'<text x="{left - 6}" y="{y0 + bar + 3}" text-anchor="end" fill="{TEXT}">'
                    f'{escape(_short(str(lab), 20))}</text>')
        for j, (who, v, colour) in enumerate((("real", a, REAL), ("synthetic", b, SYNTHETIC))):
            y = y0 + j * (bar + 1)
            if v is None or not math.isfinite(v):
                body.append(f'<text x="{zero + 3:.1f}" y="{y + bar - 1}" font-size="9" fill="{MUTED}">n/a</text>')
                continue
            x0, x1 = sorted((zero, px(v)))
            body.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 0.5):.1f}" height="{bar}" fill="{colour}">'
                        f'<title>{escape(str(lab))}, {who}: {v:.3f}</title></rect>')
            body.append(f'<text x="{max(x1, zero) + 3:.1f}" y="{y + bar - 1}" font-size="9" fill="{TEXT}">'
                        f'{v:.2f}</text>')
    return _svg(width, height, "".join(body), title)
