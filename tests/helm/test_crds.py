"""The chart ships every CRD of crds/ unchanged (the byte-level check of the one CRD is in
tests/workers/spec/test_crd.py; this one also catches a CRD added to one folder only)."""

from __future__ import annotations

from tests.helm import chart


def test_chart_crds_are_the_repository_crds() -> None:
    repo = {p.name: p.read_bytes() for p in (chart.REPO / "crds").glob("*.yaml")}
    shipped = {p.name: p.read_bytes() for p in (chart.CHART / "crds").glob("*.yaml")}
    assert sorted(shipped) == sorted(repo), "run `make crd`"
    assert shipped == repo, "helm/safesynth/crds differs from crds/: run `make crd`"
