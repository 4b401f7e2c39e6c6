"""Kubernetes quantities (safesynth.spec.quantity): the grammar the CRD, the spec models and the operator share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from safesynth.spec.quantity import parse_quantity, quantity_text


@pytest.mark.parametrize("text, value", [
    ("500m", "0.5"), ("4Gi", str(4 * 2**30)), ("1e3", "1000"), ("1E3", "1000"), ("1E", "1e18"), ("2", "2"),
    ("1.5G", "1500000000"), ("-2Ki", "-2048"), (".5", "0.5"), (3, "3"), (0.25, "0.25"),
])
def test_parse_quantity(text: str | int | float, value: str) -> None:
    assert parse_quantity(text) == Decimal(value)


@pytest.mark.parametrize("bad", ["1K", "NaN", "Infinity", "1_000", " 5", "5\n", "", "1Ki2", "2gi", True])
def test_what_the_api_server_refuses_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_quantity(bad)
    with pytest.raises(ValueError):
        quantity_text(bad)


def test_numbers_become_text_and_other_types_pass_through() -> None:
    assert quantity_text(2) == "2" and quantity_text("2Gi") == "2Gi"
    assert quantity_text(None) is None, "left for the field's own type check"
