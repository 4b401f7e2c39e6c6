"""Authentication, impersonation and RBAC authorization for the emulated API server (opt-in).

Off by default: every request is allowed, as before. `KubeAPIServer.enable_rbac()`
turns it on for one server, and then each request goes through the same three
steps as in kube-apiserver:

1. **authentication**: the `Authorization: Bearer <token>` header is looked up in
   a token table (`add_token`, `service_account_token`); the kubeconfig's token
   is a cluster admin (group `system:masters`); an unknown token is 401. A
   request with no token acts as `anonymous`, the admin by default: kubectl and
   helm (client-go) send no bearer token over plain http, and the test server
   has no TLS. Tests of refusals send explicit tokens; set
   `auth.anonymous = ANONYMOUS_USER` to refuse tokenless requests as a real
   server does;
2. **impersonation** (`Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid`,
   `Impersonate-Extra-*`): the authenticated user needs the `impersonate` verb
   on `users` (or `serviceaccounts` in the namespace, for a
   `system:serviceaccount:<ns>:<name>` user), `groups`, `uids` and
   `userextras/<key>` with the requested names, as in
   `k8s.io/apiserver/pkg/endpoints/filters/impersonation.go`; the request then
   runs as the impersonated user, who also gets `system:authenticated`;
3. **authorization** by RBAC's rule algorithm over the stored Roles,
   ClusterRoles and bindings (`system:masters` bypasses it; discovery is open to
   every authenticated user, as `system:discovery` grants). A refusal is a 403
   Forbidden with the real wording.

`TokenReview` (authentication.k8s.io/v1) is served for callers allowed to
`create tokenreviews`; it answers from the same token table and stores nothing.
Pure functions (`rule_allows`, `subject_matches`, `authorized`) take the rules
and bindings as data, so they are tested without a server.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from tests.kubeapi.errors import ApiError

ADMIN_GROUP = "system:masters"
AUTHENTICATED = "system:authenticated"
ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
SA_PREFIX = "system:serviceaccount:"
AUTHN_GROUP = "authentication.k8s.io"


@dataclass(frozen=True)
class UserInfo:
    """Who a request is from, as authenticators and TokenReview report it."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""

    def to_review(self) -> dict[str, Any]:
        return {"username": self.name, "uid": self.uid, "groups": list(self.groups)}


ADMIN_USER = UserInfo("kubeapi-admin", (ADMIN_GROUP, AUTHENTICATED))
ANONYMOUS_USER = UserInfo(ANONYMOUS, (UNAUTHENTICATED,))


@dataclass(frozen=True)
class Attributes:
    """What RBAC authorizes: a verb on group/resource[/subresource], maybe named, maybe in a namespace."""

    verb: str
    group: str
    resource: str
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None


def service_account_user(namespace: str, name: str) -> UserInfo:
    """The identity a ServiceAccount's token authenticates as."""
    return UserInfo(f"{SA_PREFIX}{namespace}:{name}",
                     ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED))


def rule_allows(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    """RBAC's PolicyRule match (rbac/v1 validation.go): verb, apiGroup, resource[/sub] and resourceNames."""
    verbs, groups = rule.get("verbs") or [], rule.get("apiGroups") or []
    resources, names = rule.get("resources") or [], rule.get("resourceNames") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if "*" not in groups and attrs.group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not ("*" in resources or combined in resources
            or (attrs.subresource and f"*/{attrs.subresource}" in resources)):
        return False
    return not names or (attrs.name is not None and attrs.name in names)


def subject_matches(subject: Mapping[str, Any], user: UserInfo, binding_namespace: str | None) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return user.name == f"{SA_PREFIX}{ns}:{name}"
    return False


def authorized(user: UserInfo, attrs: Attributes, roles: Mapping[tuple[str | None, str], list[dict[str, Any]]],
               cluster_bindings: Iterable[Mapping[str, Any]], bindings: Iterable[Mapping[str, Any]]) -> bool:
    """RBAC: any rule of a role bound to the user allows it (ClusterRoleBindings anywhere, RoleBindings only
    in their namespace). `roles` maps (namespace or None for ClusterRoles, name) to rules."""
    if ADMIN_GROUP in user.groups:
        return True

    def granted(binding: Mapping[str, Any], ns: str | None) -> bool:
        if not any(subject_matches(s, user, ns) for s in binding.get("subjects") or []):
            return False
        ref = binding.get("roleRef") or {}
        key = (ns if ref.get("kind") == "Role" else None, str(ref.get("name")))
        return any(rule_allows(rule, attrs) for rule in roles.get(key, []))

    if any(granted(b, None) for b in cluster_bindings):
        return True
    return attrs.namespace is not None and any(
        granted(b, attrs.namespace) for b in bindings if b["metadata"].get("namespace") == attrs.namespace)


def forbidden(user: UserInfo, attrs: Attributes) -> ApiError:
    """403 worded as kube-apiserver's RBAC refusal."""
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    target = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    details: dict[str, Any] = {"group": attrs.group, "kind": attrs.resource}
    if attrs.name:
        details["name"] = attrs.name
    return ApiError(403, "Forbidden", f'{target} is forbidden: User "{user.name}" cannot {attrs.verb} resource '
                                      f'"{combined}" in API group "{attrs.group}" {scope}', details)


@dataclass
class Auth:
    """The token table and the RBAC check over one store (see the module docstring)."""

    store: Any
    tokens: dict[str, UserInfo] = field(default_factory=dict)
    #: who a request without a token is (see the module docstring)
    anonymous: UserInfo = ADMIN_USER
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_token(self, token: str, user: UserInfo) -> str:
        with self._lock:
            self.tokens[token] = user
        return token

    def token_for(self, name: str, groups: Iterable[str] = ()) -> str:
        """A fresh bearer token that authenticates as user `name` (plus `system:authenticated`)."""
        return self.add_token(f"user-{secrets.token_hex(16)}", UserInfo(name, (*groups, AUTHENTICATED)))

    def service_account_token(self, namespace: str, name: str) -> str:
        return self.add_token(f"sa-{secrets.token_hex(16)}", service_account_user(namespace, name))

    def lookup(self, token: str) -> UserInfo | None:
        with self._lock:
            return self.tokens.get(token)

    def authenticate(self, header: str | None) -> UserInfo:
        """The request's user; 401 for a token nobody issued (real servers never say more)."""
        if not header:
            return self.anonymous
        scheme, _, token = header.partition(" ")
        user = self.lookup(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return user

    def impersonate(self, requester: UserInfo, headers: Mapping[str, str], header_items: Iterable[tuple[str, str]]
                    ) -> UserInfo:
        """The user the request acts as: `requester`, or the one its Impersonate-* headers name, if allowed."""
        items = list(header_items)
        user = headers.get("Impersonate-User")
        groups = [v for k, v in items if k.lower() == "impersonate-group"]
        uid = headers.get("Impersonate-Uid")
        extras = [(k[len("impersonate-extra-"):], v) for k, v in items if k.lower().startswith("impersonate-extra-")]
        if user is None:
            if groups or uid or extras:
                raise ApiError(400, "BadRequest", "requested impersonation of groups, uid or extras "
                                                  "without impersonating a user")
            return requester
        checks: list[Attributes] = []
        if user.startswith(SA_PREFIX) and user.count(":") == 3:
            _, _, sa_ns, sa_name = user.split(":")
            checks.append(Attributes("impersonate", "", "serviceaccounts", namespace=sa_ns, name=sa_name))
            implied = [] if groups else ["system:serviceaccounts", f"system:serviceaccounts:{sa_ns}"]
        else:
            checks.append(Attributes("impersonate", "", "users", name=user))
            implied = []
        checks += [Attributes("impersonate", "", "groups", name=g) for g in groups]
        checks += [Attributes("impersonate", AUTHN_GROUP, "userextras", subresource=k.lower(), name=v)
                   for k, v in extras]
        if uid:
            checks.append(Attributes("impersonate", AUTHN_GROUP, "uids", name=uid))
        for attrs in checks:
            self.check(requester, attrs)
        final = [*groups, *implied]
        if user != ANONYMOUS and AUTHENTICATED not in final:
            final.append(AUTHENTICATED)
        return UserInfo(user, tuple(final), uid or "")

    def check(self, user: UserInfo, attrs: Attributes) -> None:
        """Raise 403 unless RBAC allows it."""
        if not authorized(user, attrs, *self._policy()):
            raise forbidden(user, attrs)

    def _policy(self) -> tuple[dict[tuple[str | None, str], list[dict[str, Any]]], list[dict[str, Any]],
                               list[dict[str, Any]]]:
        """Roles and bindings as stored now (read per request: a new RoleBinding applies at once)."""
        store = self.store

        def items(resource: str) -> list[dict[str, Any]]:
            return store.list(store.resolve(resource), None, lambda _: True)[0]

        roles: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
        for role in items("roles"):
            roles[(role["metadata"]["namespace"], role["metadata"]["name"])] = role.get("rules") or []
        for role in items("clusterroles"):
            roles[(None, role["metadata"]["name"])] = role.get("rules") or []
        return roles, items("clusterrolebindings"), items("rolebindings")

    def token_review(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The TokenReview answer for the token in `spec.token` (nothing is stored)."""
        token = str((body.get("spec") or {}).get("token") or "")
        user = self.lookup(token) if token else None
        status: dict[str, Any] = {"authenticated": user is not None, "audiences": list(
            (body.get("spec") or {}).get("audiences") or [])}
        if user is not None:
            status["user"] = user.to_review()
        else:
            status["error"] = "invalid bearer token"
        return {"kind": "TokenReview", "apiVersion": f"{AUTHN_GROUP}/v1",
                "metadata": {"creationTimestamp": None}, "spec": {}, "status": status}
