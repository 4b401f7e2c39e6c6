"""Opt-in authentication, impersonation and RBAC of the emulated API server (auth.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.kubeapi.auth import ANONYMOUS_USER, Attributes, UserInfo, authorized, rule_allows
from tests.kubeapi.fixtures import KubeAPI
from tests.kubeapi.server import TOKEN

ALICE = UserInfo("alice", ("devs", "system:authenticated"))


@pytest.mark.parametrize(("rule", "attrs", "allowed"), [
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, Attributes("get", "", "pods"), True),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, Attributes("list", "", "pods"), False),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, Attributes("get", "", "pods", "log"), False),
    ({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}, Attributes("get", "", "pods", "log"), True),
    ({"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]}, Attributes("get", "", "pods", "log"), True),
    ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, Attributes("delete", "batch", "jobs"), True),
    ({"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]}, Attributes("delete", "batch", "jobs"), False),
    ({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["alice"]},
     Attributes("impersonate", "", "users", name="alice"), True),
    ({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["alice"]},
     Attributes("impersonate", "", "users", name="root"), False),
    ({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"], "resourceNames": ["a"]},
     Attributes("list", "", "configmaps"), False),
])
def test_rule_match(rule: dict[str, Any], attrs: Attributes, allowed: bool) -> None:
    assert rule_allows(rule, attrs) is allowed


def test_role_bindings_grant_only_in_their_namespace_and_cluster_bindings_everywhere() -> None:
    read = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    roles = {("team-a", "reader"): read, (None, "reader"): read}
    by_group = {"metadata": {"namespace": "team-a"}, "roleRef": {"kind": "Role", "name": "reader"},
                "subjects": [{"kind": "Group", "name": "devs"}]}
    get = Attributes("get", "", "pods", namespace="team-a")
    assert authorized(ALICE, get, roles, [], [by_group])
    assert not authorized(ALICE, Attributes("get", "", "pods", namespace="team-b"), roles, [], [by_group])
    cluster = {"metadata": {}, "roleRef": {"kind": "ClusterRole", "name": "reader"},
               "subjects": [{"kind": "User", "name": "alice"}]}
    assert authorized(ALICE, Attributes("get", "", "pods", namespace="team-b"), roles, [cluster], [])
    assert not authorized(UserInfo("bob"), get, roles, [cluster], [by_group])
    assert authorized(UserInfo("root", ("system:masters",)), Attributes("delete", "x", "y"), {}, [], [])


def _rbac(kube_api: KubeAPI) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    kube_api.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                     "metadata": {"name": "cm-reader", "namespace": "team-a"},
                     "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]})
    kube_api.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                     "metadata": {"name": "alice-reads", "namespace": "team-a"},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
                     "subjects": [{"kind": "User", "name": "alice"}]})
    kube_api.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                     "metadata": {"name": "impersonator"},
                     "rules": [{"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]},
                               {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"],
                                "verbs": ["create"]}]})
    kube_api.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                     "metadata": {"name": "svc-impersonates"},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                 "name": "impersonator"},
                     "subjects": [{"kind": "ServiceAccount", "name": "svc", "namespace": "team-a"}]})


@pytest.mark.cluster
def test_tokens_rbac_and_impersonation_over_http(kube_api: KubeAPI) -> None:
    auth = kube_api.enable_rbac()
    _rbac(kube_api)
    alice, bob = auth.token_for("alice"), auth.token_for("bob")
    svc = auth.service_account_token("team-a", "svc")
    url = kube_api.url + "/api/v1/namespaces/team-a/configmaps"

    def get(token: str | None, path: str = url, **headers: str) -> httpx.Response:
        auth_header = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(path, headers={**auth_header, **headers})

    assert get(alice).status_code == 200
    refused = get(bob)
    assert refused.status_code == 403 and refused.json()["message"] == (
        'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" '
        'in the namespace "team-a"')
    assert get(alice, kube_api.url + "/api/v1/namespaces/default/configmaps").status_code == 403
    assert get("forged").status_code == 401
    assert get(TOKEN).status_code == 200  # the kubeconfig's admin
    assert get(None).status_code == 200  # tokenless is the admin by default (kubectl sends no token over http)
    auth.anonymous = ANONYMOUS_USER
    assert get(None).status_code == 403 and "system:anonymous" in get(None).text
    auth.anonymous = kube_api.server.enable_rbac().tokens[TOKEN]
    assert get(alice, kube_api.url + "/api/v1").status_code == 200, "discovery is open to authenticated users"

    # The service account may impersonate; the request then runs with alice's rights, not its own.
    assert get(svc, **{"Impersonate-User": "alice"}).status_code == 200
    as_bob = get(svc, **{"Impersonate-User": "bob", "Impersonate-Group": "devs"})
    assert as_bob.status_code == 403 and 'User "bob"' in as_bob.json()["message"]
    record = kube_api.requests[-1]
    assert (record.user, record.impersonated_by) == ("bob", "system:serviceaccount:team-a:svc")
    # Alice may not impersonate; groups without a user are a bad request.
    denied = get(alice, **{"Impersonate-User": "bob"})
    assert denied.status_code == 403 and 'cannot impersonate resource "users"' in denied.json()["message"]
    assert get(svc, **{"Impersonate-Group": "devs"}).status_code == 400
    sa_target = get(svc, **{"Impersonate-User": "system:serviceaccount:team-a:other"})
    assert sa_target.status_code == 403 and '"serviceaccounts"' in sa_target.json()["message"], \
        "a ServiceAccount user is impersonated through the serviceaccounts resource"


@pytest.mark.cluster
def test_token_review(kube_api: KubeAPI) -> None:
    auth = kube_api.enable_rbac()
    _rbac(kube_api)
    alice, svc = auth.token_for("alice", ["devs"]), auth.service_account_token("team-a", "svc")
    url = kube_api.url + "/apis/authentication.k8s.io/v1/tokenreviews"
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": alice}}
    review = httpx.post(url, json=body, headers={"Authorization": f"Bearer {svc}"})
    assert review.status_code == 201
    assert review.json()["status"]["user"] == {"username": "alice", "uid": "",
                                               "groups": ["devs", "system:authenticated"]}
    assert alice not in review.text, "the token is not echoed back"
    forged = httpx.post(url, json={**body, "spec": {"token": "nope"}}, headers={"Authorization": f"Bearer {svc}"})
    assert forged.json()["status"]["authenticated"] is False
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {alice}"}).status_code == 403
    assert ("authentication.k8s.io", "tokenreviews", "create") in kube_api.server.permissions()


@pytest.mark.cluster
def test_kubectl_still_works_with_rbac_on(kube_api: KubeAPI) -> None:
    """kubectl sends no token over plain http: it acts as the (admin) anonymous user, or is refused."""
    auth = kube_api.enable_rbac()
    _rbac(kube_api)
    assert kube_api.kubectl("get", "configmaps", "-n", "team-a").returncode == 0
    auth.anonymous = ANONYMOUS_USER
    out = kube_api.kubectl("get", "configmaps", "-n", "team-a")
    assert out.returncode != 0 and 'User "system:anonymous" cannot list' in out.stderr
