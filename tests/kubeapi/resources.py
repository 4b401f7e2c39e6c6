"""The resource types the emulated server serves, and their discovery documents.

A `ResourceType` carries what discovery publishes (kind, scope, verbs, short
names, subresources) and what the storage layer needs to know (does it keep a
`.status` apart from the main resource, does it count `metadata.generation`).
Built-in types are listed here; custom resources are added at run time when a
CustomResourceDefinition is created (see `store.ObjectStore`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The verbs kube-apiserver lists for an ordinary read-write resource.
ALL_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource (group, version, plural) and the semantics its storage follows."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    #: e.g. ("status",) or ("status", "log"); "status" turns on status-subresource semantics.
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    #: metadata.generation counts spec changes (CRs, Jobs, Deployments, CRDs; not ConfigMaps).
    has_generation: bool = False
    #: the kubernetes python client model, used to spot unknown fields in built-in objects.
    model: str | None = None
    #: for custom resources: the CRD version entry (schema, printer columns).
    crd_version: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: one collection per (group, plural), whatever version it is read in."""
        return (self.group, self.plural)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def is_custom(self) -> bool:
        return self.crd_version is not None

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def base_path(self, namespace: str | None) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"


def _core(plural: str, kind: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    return ResourceType("", "v1", plural, kind, namespaced, singular=kind.lower(), **kw)


BUILTIN: tuple[ResourceType, ...] = (
    _core("namespaces", "Namespace", namespaced=False, short_names=("ns",), subresources=("status", "finalize"),
          verbs=("create", "delete", "get", "list", "patch", "update", "watch"), model="V1Namespace"),
    _core("configmaps", "ConfigMap", short_names=("cm",), model="V1ConfigMap"),
    _core("secrets", "Secret", model="V1Secret"),
    _core("pods", "Pod", short_names=("po",), subresources=("status", "log"), categories=("all",), model="V1Pod"),
    _core("events", "Event", short_names=("ev",), model="CoreV1Event"),
    _core("serviceaccounts", "ServiceAccount", short_names=("sa",), model="V1ServiceAccount"),
    _core("services", "Service", short_names=("svc",), subresources=("status",), categories=("all",),
          model="V1Service"),
    ResourceType("batch", "v1", "jobs", "Job", True, "job", subresources=("status",), categories=("all",),
                 has_generation=True, model="V1Job"),
    ResourceType("apps", "v1", "deployments", "Deployment", True, "deployment", short_names=("deploy",),
                 subresources=("status",), categories=("all",), has_generation=True, model="V1Deployment"),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True, "role", model="V1Role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, "rolebinding",
                 model="V1RoleBinding"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, "clusterrole",
                 model="V1ClusterRole"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False,
                 "clusterrolebinding", model="V1ClusterRoleBinding"),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                 "customresourcedefinition", short_names=("crd", "crds"), subresources=("status",),
                 categories=("api-extensions",), has_generation=True, model="V1CustomResourceDefinition"),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, "lease", model="V1Lease"),
    ResourceType("events.k8s.io", "v1", "events", "Event", True, "event", short_names=("ev",),
                 model="EventsV1Event"),
)

#: Preferred group order in /apis, as kube-apiserver sorts them (built-ins first, then CRD groups).
BUILTIN_GROUP_ORDER = ("apps", "events.k8s.io", "batch", "rbac.authorization.k8s.io", "apiextensions.k8s.io",
                       "coordination.k8s.io")


def api_resource_entry(rt: ResourceType) -> list[dict[str, Any]]:
    """The APIResourceList entries for one type: the resource itself, then one per subresource."""
    main: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular or rt.kind.lower(),
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    entries = [main]
    for sub in rt.subresources:
        verbs = {"status": ["get", "patch", "update"], "log": ["get"], "finalize": ["update"]}.get(sub, ["get"])
        kind = {"log": "Pod", "finalize": "Namespace"}.get(sub, rt.kind)
        entries.append({"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                        "kind": kind, "verbs": verbs})
    return entries
