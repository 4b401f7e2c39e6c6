"""Fresh identifiers keep the column's shape, are unique, and never reuse a training id."""

from __future__ import annotations

import numpy as np

from safesynth.generator.identifiers import make_identifiers, template


def test_shape_keeps_constant_characters_and_classes() -> None:
    shape = template(["MRN-0012a", "MRN-9981b", "MRN-1234c"])
    ids = make_identifiers(50, shape, np.random.default_rng(0), avoid=["MRN-0012a"])
    assert len(set(ids)) == 50 and "MRN-0012a" not in ids
    assert all(i.startswith("MRN-") and i[4:8].isdigit() and i[8].islower() and len(i) == 9 for i in ids)


def test_too_small_a_shape_or_no_shape_gives_sequential_ids() -> None:
    assert make_identifiers(3, template(["A1", "A2"]), np.random.default_rng(0), avoid=["A1"] * 10) == \
        ["syn-00000001", "syn-00000002", "syn-00000003"]
    assert make_identifiers(2, "", np.random.default_rng(0), numeric=True) == ["1", "2"]
