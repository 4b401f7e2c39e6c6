"""Render the chart with the real helm binary (vendored by `make vendor`) and pick objects out of it.

Shared by the chart tests; plain functions, no fixtures, so each test states
the values it renders with.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterable, Optional

import pytest
import yaml

from tests.kubeapi.fixtures import HELM, KUBECTL

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "safesynth"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))

needs_helm = pytest.mark.skipif(not HELM.exists(), reason="helm binary not vendored: run `make vendor`")
needs_kubectl = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl binary not vendored: run `make vendor`")

Manifest = dict[str, Any]


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The vendored helm, with no cluster: HOME-style folders kept out of the user's."""
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, check=check, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HELM_CACHE_HOME": "/tmp/safesynth-helm/cache",
                               "HELM_CONFIG_HOME": "/tmp/safesynth-helm/config",
                               "HELM_DATA_HOME": "/tmp/safesynth-helm/data", "KUBECONFIG": "/dev/null"})


def value_args(values: Iterable[Path | Manifest] = (), sets: Iterable[str] = (), tmp: Optional[Path] = None
               ) -> list[str]:
    """`-f` for files (dicts are written to tmp first) and `--set` for key=value strings."""
    args: list[str] = []
    for n, v in enumerate(values):
        if isinstance(v, dict):
            assert tmp is not None, "pass tmp to write values dicts"
            path = tmp / f"values-{n}.yaml"
            path.write_text(yaml.safe_dump(v))
            args += ["-f", str(path)]
        else:
            args += ["-f", str(v)]
    for s in sets:
        args += ["--set", s]
    return args


def template(*values: Path | Manifest, sets: Iterable[str] = (), tmp: Optional[Path] = None,
             release: str = "ss", namespace: str = "safesynth-system", crds: bool = False) -> list[Manifest]:
    """`helm template` → the rendered objects (comments and empty documents dropped)."""
    args = ["template", release, str(CHART), "--namespace", namespace, *value_args(values, sets, tmp)]
    if crds:
        args.append("--include-crds")
    out = helm(*args)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def render_error(*values: Path | Manifest, sets: Iterable[str] = (), tmp: Optional[Path] = None) -> str:
    """helm's error text for values that must not render (fails the test if they do)."""
    out = helm("template", "ss", str(CHART), *value_args(values, sets, tmp), check=False)
    assert out.returncode != 0, f"rendered although it should not: {list(values)} {list(sets)}"
    return out.stderr


def one(docs: list[Manifest], kind: str, name: Optional[str] = None) -> Manifest:
    """The single object of a kind (and name); fails listing what there is otherwise."""
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    rendered = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}; rendered: {rendered}"
    return found[0]


def kinds(docs: list[Manifest]) -> list[tuple[str, str, Optional[str]]]:
    return sorted((d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in docs)


def operator_config_text(docs: list[Manifest]) -> str:
    """The operator's settings file as the ConfigMap carries it."""
    cm = one(docs, "ConfigMap")
    return cm["data"]["config.yaml"]
