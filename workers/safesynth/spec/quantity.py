"""Kubernetes resource quantities ('500m', '4Gi', '1e3'): one grammar, one check, one parser.

The spec models check `spec.resources.<stage>` with `quantity_text` (and the CRD
carries `PATTERN`, so the API server checks the same), and the operator compares a
request with a limit with `parse_quantity`. The grammar is apimachinery's
`resource.Quantity`: a decimal number, then a binary suffix (Ki … Ei), a decimal
suffix (n u m k M G T P E) or a decimal exponent (e3, E-2).
Hand-written: `kubernetes.utils.parse_quantity` is not in the base install the operator runs on, costs ~46 MB
to import (it loads the whole client) and accepts what the API server refuses ('1K', 'NaN', '1_000').
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Final

#: The OpenAPI pattern of a quantity, as the CRD and the spec models use it.
PATTERN: Final = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][-+]?[0-9]+))?$"
_QUANTITY: Final = re.compile(PATTERN)

_SCALE: Final[dict[str, Decimal]] = {
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30),
    "Ti": Decimal(2**40), "Pi": Decimal(2**50), "Ei": Decimal(2**60),
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9),
    "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18),
}


def quantity_text(value: Any) -> Any:
    """A quantity as the string Kubernetes stores: numbers written in YAML become text, bad text is an error.

    Used as a pydantic "before" validator, so anything that is neither a number
    nor a string passes through for the field's own type check to reject.
    """
    if isinstance(value, bool):
        raise ValueError("a resource quantity must be a number or a string such as '500m' or '2Gi'")
    if isinstance(value, (int, float)):
        value = str(value)
    if isinstance(value, str) and not _QUANTITY.fullmatch(value):
        raise ValueError("not a Kubernetes quantity (examples: '500m', '2', '4Gi')")
    return value


def parse_quantity(value: str | int | float) -> Decimal:
    """The quantity's value as an exact decimal ('4Gi' → 4294967296, '500m' → 0.5), to compare two of them."""
    text = str(quantity_text(value))
    match = _QUANTITY.fullmatch(text)
    if match is None:  # not reached for a str, int or float (quantity_text raised); kept for mypy
        raise ValueError("not a Kubernetes quantity")
    suffix = match.group(3) or ""
    number = text[: len(text) - len(suffix)]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return Decimal(number + suffix)
    return Decimal(number) * _SCALE[suffix]
