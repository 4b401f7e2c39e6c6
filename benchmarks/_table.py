"""Markdown tables for benchmarks/compare.py and RESULTS.md (pure functions, unit-tested).

One row per generator; a value that could not be measured prints as "–"
(never as 0, which is a score), a failed generator prints its reason once.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Optional, Sequence

Getter = Callable[[dict[str, Any]], Any]

# (header, getter, format) per column, in table order.
COLUMNS: list[tuple[str, Getter, str]] = [
    ("SQS", lambda r: r.get("sqs"), "{:.2f}"),
    ("DPS", lambda r: r.get("dps"), "{:.2f}"),
    ("dist", lambda r: r.get("distribution"), "{:.2f}"),
    ("corr", lambda r: r.get("correlation"), "{:.2f}"),
    ("deep", lambda r: r.get("deep"), "{:.2f}"),
    ("MIA", lambda r: r.get("membership"), "{:.2f}"),
    ("TPR@1%FPR", lambda r: r.get("tpr1"), "{:.3f}"),
    ("AIA", lambda r: r.get("attribute"), "{:.2f}"),
    ("DCR", lambda r: r.get("dcr"), "{:.2f}"),
    ("SDM quality", lambda r: (r.get("sdmetrics") or {}).get("overall"), "{:.3f}"),
    ("SDM shapes", lambda r: (r.get("sdmetrics") or {}).get("columnShapes"), "{:.3f}"),
    ("SDM pairs", lambda r: (r.get("sdmetrics") or {}).get("columnPairTrends"), "{:.3f}"),
    ("TSTR acc", lambda r: r.get("tstrAccuracy"), "{:.3f}"),
    ("TSTR F1", lambda r: r.get("tstrF1"), "{:.3f}"),
    ("fit s", lambda r: r.get("fitSeconds"), "{:.1f}"),
    ("sample s", lambda r: r.get("sampleSeconds"), "{:.1f}"),
    ("peak MB", lambda r: r.get("peakRssMb"), "{:.0f}"),
]
MISSING = "–"


TEXT = "text"  # a column format: the getter returns the cell's text already (e.g. a risk and its interval)


def cell(value: Any, fmt: str) -> str:
    """A number in `fmt`; None, NaN and non-numbers print as MISSING. With fmt TEXT, a string as it is."""
    if fmt == TEXT:
        return escape(value) if isinstance(value, str) and value else MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return MISSING
    return fmt.format(value)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Optional[list[tuple[str, Getter, str]]] = None,
                   label: str = "generator") -> str:
    """A GitHub-flavoured markdown table: first column `label` (row["name"]), then `columns`.

    A row with an "error" key gets MISSING in every column and its error in the name cell.
    """
    columns = COLUMNS if columns is None else columns
    head = [label] + [h for h, _, _ in columns]
    body = []
    for r in rows:
        name = escape(str(r.get("name", "?")))
        if r.get("error"):
            body.append([f"{name} (failed: {escape(str(r['error']))})"] + [MISSING] * len(columns))
        else:
            body.append([name] + [cell(get(r), fmt) for _, get, fmt in columns])
    widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
    lines = ["| " + " | ".join(v.ljust(w) for v, w in zip(head, widths)) + " |",
             "|" + "|".join(("-" * (w + 1)) + (":" if i else "-") for i, w in enumerate(widths)) + "|"]
    for line in body:
        lines.append("| " + " | ".join(v.ljust(w) if i == 0 else v.rjust(w)
                                       for i, (v, w) in enumerate(zip(line, widths))) + " |")
    return "\n".join(lines)


def escape(text: str) -> str:
    """Keep a cell on one line and inside its column."""
    return re.sub(r"\s+", " ", text).replace("|", "\\|")


BEGIN, END = "<!-- bench:begin (written by benchmarks/compare.py) -->", "<!-- bench:end -->"


def splice(document: str, generated: str) -> str:
    """Replace the text between BEGIN and END (markers kept); append both when absent.

    Lets RESULTS.md carry hand-written conclusions around tables that `make bench` rewrites.
    """
    block = f"{BEGIN}\n{generated.rstrip()}\n{END}"
    start, end = document.find(BEGIN), document.find(END)
    if start == -1 or end == -1 or end < start:
        return (document.rstrip() + "\n\n" if document.strip() else "") + block + "\n"
    return document[:start] + block + document[end + len(END):]
