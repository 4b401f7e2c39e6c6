"""Fresh values for identifier columns, which the model never learns.

An identifier is unique per row, so a model can only copy them; instead each
synthetic row gets a new one in the column's shape. The shape (`template`) keeps
a position's character when every training value has it there (a prefix such
as "MRN-") and otherwise only its class: digit, upper, lower, or alphanumeric.
With DP on no template is learned (it comes from the data), and ids are
sequential ("syn-00000001").
"""

from __future__ import annotations

import json
import string
from collections import Counter
from typing import Iterable, Optional

import numpy as np

_CLASSES = {"9": string.digits, "A": string.ascii_uppercase, "a": string.ascii_lowercase,
            "x": string.ascii_letters + string.digits}


def template(values: list[str]) -> str:
    """The shape of the most common length among `values`, as JSON: [["lit", c] | ["cls", k], ...]."""
    if not values:
        return ""
    width = Counter(len(v) for v in values).most_common(1)[0][0]
    same = [v for v in values if len(v) == width]
    parts: list[list[str]] = []
    for i in range(width):
        chars = {v[i] for v in same}
        if len(chars) == 1:
            parts.append(["lit", chars.pop()])
        elif all(c.isdigit() for c in chars):
            parts.append(["cls", "9"])
        elif all(c in string.ascii_uppercase for c in chars):
            parts.append(["cls", "A"])
        elif all(c in string.ascii_lowercase for c in chars):
            parts.append(["cls", "a"])
        else:
            parts.append(["cls", "x"])
    return json.dumps(parts)


def make_identifiers(n: int, shape: str, rng: np.random.Generator, avoid: Optional[Iterable[str]] = None,
                     numeric: bool = False) -> list[str]:
    """`n` distinct ids in `shape`, none of them in `avoid`; sequential when the shape has too few free places
    (numbers from 1 for numeric columns, else "syn-00000001"...)."""
    parts = json.loads(shape) if shape else []
    free = [p for p in parts if p[0] == "cls"]
    space = float(np.prod([len(_CLASSES[p[1]]) for p in free])) if free else 0.0
    taken = set(avoid or ())
    if space < 4 * (n + len(taken)):
        return [str(i) if numeric else f"syn-{i:08d}" for i in range(1, n + 1)]
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        chars = [p[1] if p[0] == "lit" else _CLASSES[p[1]][int(rng.integers(len(_CLASSES[p[1]])))] for p in parts]
        candidate = "".join(chars)
        if candidate not in seen and candidate not in taken:
            seen.add(candidate)
            out.append(candidate)
    return out
