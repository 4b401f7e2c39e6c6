"""The operator's RBAC rules: every verb it uses, nothing else, and never Secrets.

`RULES` is the single source; `rbac.yaml` beside this file is its rendering for
the Helm chart (a test keeps the two equal; `python -m safesynth_operator.rbac`
prints it). The same rules serve a ClusterRole (cluster-wide watching) or a
Role per watched namespace. Stage pods get credentials by secretKeyRef, which
the kubelet resolves: the operator needs no access to Secrets at all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import yaml

from safesynth_operator import constants as c

RBAC_YAML = Path(__file__).with_name("rbac.yaml")

RULES: list[dict[str, Any]] = [
    # kopf watches the CRs and patches its annotations and finalizer; the reconciler reads them.
    {"apiGroups": [c.CR_GROUP], "resources": [c.CR_PLURAL], "verbs": ["get", "list", "watch", "patch"]},
    # .status is written through the status subresource only.
    {"apiGroups": [c.CR_GROUP], "resources": [f"{c.CR_PLURAL}/status"], "verbs": ["get", "patch"]},
    # One Job per stage: created, watched for results, suspended/resumed, TTL set, stale ones deleted.
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
    # Pods are only read, for the stage summary in their termination message.
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
    # The spec ConfigMap of each job (deleted with its owner by garbage collection).
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "patch"]},
    # Transition events on the SafeSynthJob (kopf posts core/v1 events).
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    # kopf follows namespaces appearing and going (and globs in --namespace); read-only, cluster-scoped.
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
    # kopf notices the CRD being (re)installed; read-only, cluster-scoped (ClusterRole only).
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": ["get", "list", "watch"],
    },
]

CLUSTER_SCOPED = {"customresourcedefinitions", "namespaces"}


def role(name: str = "safesynth-operator", namespace: Optional[str] = None) -> dict[str, Any]:
    """A ClusterRole, or a namespaced Role (without the cluster-scoped CRD rule) when `namespace` is given."""
    rules = RULES
    if namespace is not None:
        rules = [r for r in RULES if not set(r["resources"]) & CLUSTER_SCOPED]
    meta: dict[str, Any] = {"name": name, "labels": {c.LABEL_NAME: c.APP_NAME}}
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role" if namespace is not None else "ClusterRole",
        "metadata": meta,
        "rules": rules,
    }


def render_rules() -> str:
    """The rules as the YAML the chart templates (`rules:` block)."""
    header = "# Generated from safesynth_operator/rbac.py (python -m safesynth_operator.rbac). Do not edit.\n"
    return header + yaml.safe_dump({"rules": RULES}, sort_keys=False)


def main(argv: Optional[list[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--write"]:
        RBAC_YAML.write_text(render_rules())
    else:
        sys.stdout.write(render_rules())


if __name__ == "__main__":
    main()
