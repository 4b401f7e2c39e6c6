"""RBAC: the chart's copy matches the rules; no Secrets; namespaced roles drop cluster-scoped rules."""

from __future__ import annotations

from safesynth_operator import rbac


def test_checked_in_yaml_is_current() -> None:
    assert rbac.RBAC_YAML.read_text() == rbac.render_rules()


def test_no_secrets_and_no_wildcards() -> None:
    for rule in rbac.RULES:
        assert "secrets" not in rule["resources"]
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]


def test_role_per_namespace_has_only_namespaced_rules() -> None:
    role = rbac.role(namespace="team-a")
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == "team-a"
    assert all(not set(r["resources"]) & {"customresourcedefinitions", "namespaces"} for r in role["rules"])
    assert rbac.role()["kind"] == "ClusterRole"
