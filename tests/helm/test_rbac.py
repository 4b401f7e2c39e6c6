"""The chart's RBAC is the operator's rule list (operator/safesynth_operator/rbac.yaml), nothing more.

Decision: the chart reads a copy of rbac.yaml (helm/safesynth/files/rbac.yaml;
`helm package` cannot reach outside the chart folder) and these tests fail when
the copy differs from the generated file. To update: `python -m
safesynth_operator.rbac --write && cp operator/safesynth_operator/rbac.yaml
helm/safesynth/files/rbac.yaml`. What the operator really requests is checked
against the installed roles in test_install.py.
"""

from __future__ import annotations

from safesynth_operator import rbac
from tests.helm import chart

pytestmark = chart.needs_helm

CHART_RULES = chart.CHART / "files" / "rbac.yaml"


def test_chart_copy_of_the_rules_is_current() -> None:
    assert CHART_RULES.read_text() == rbac.RBAC_YAML.read_text(), (
        "helm/safesynth/files/rbac.yaml differs from the operator's rules: "
        "cp operator/safesynth_operator/rbac.yaml helm/safesynth/files/rbac.yaml")


def test_cluster_wide_install_grants_exactly_the_rules() -> None:
    docs = chart.template()
    role = chart.one(docs, "ClusterRole")
    assert role["rules"] == rbac.RULES
    binding = chart.one(docs, "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    sa = chart.one(docs, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}]


def test_namespaced_install_has_a_role_per_namespace_and_only_cluster_reads_cluster_wide() -> None:
    docs = chart.template(chart.CHART / "ci" / "namespaced-values.yaml")
    for ns in ("team-a", "team-b"):
        role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["namespace"] == ns)
        assert role["rules"] == rbac.role(namespace=ns)["rules"]
        binding = next(d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] == ns)
        assert binding["roleRef"]["kind"] == "Role" and binding["roleRef"]["name"] == role["metadata"]["name"]
        assert binding["subjects"][0]["namespace"] == "safesynth-system"
    reads = chart.one(docs, "ClusterRole")
    assert reads["rules"] == [r for r in rbac.RULES if set(r["resources"]) & rbac.CLUSTER_SCOPED]
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in reads["rules"]), "cluster-wide is read-only"


def test_nothing_on_secrets_and_no_wildcards_in_any_rendering() -> None:
    for values in [None, *chart.CI_VALUES]:
        docs = chart.template(values) if values else chart.template()
        for doc in docs:
            for rule in doc.get("rules", []):
                assert not {"secrets", "*"} & set(rule["resources"]), (values, rule)
                assert "*" not in rule["verbs"] and "*" not in rule["apiGroups"], (values, rule)


def test_rbac_create_false_renders_no_roles() -> None:
    docs = chart.template(sets=["rbac.create=false"])
    assert not [d for d in docs if "Role" in d["kind"]]
