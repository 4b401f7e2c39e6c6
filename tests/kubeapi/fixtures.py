"""pytest plugin: the `kube_api` fixture (an emulated API server per test) and its helpers.

Register with `pytest_plugins = ["tests.kubeapi.fixtures"]` in tests/conftest.py.

    def test_something(kube_api):
        kube_api.kubectl("apply", "-f", "crds/safesynthjobs.safesynth.io.yaml", check=True)
        api = kube_api.api_client()                      # kubernetes.client.ApiClient for this server
        kube_api.start_kubelet(outcome=lambda job, attempt: (0, '{"rows": 10}'))
        subprocess.run([...], env=kube_api.env)          # KUBECONFIG for kopf or any CLI
        assert kube_api.objects.get("jobs", "demo-prepare")["status"]["succeeded"] == 1
        assert ("batch", "jobs", "create") in kube_api.server.permissions(user_agent="kopf")

Function scope: a server starts in a few milliseconds, and a fresh one per
test keeps tests independent. kubectl caches discovery per host:port under
KUBECACHEDIR, so each test also gets its own cache folder.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.kubeapi.auth import Auth
from tests.kubeapi.errors import ApiError
from tests.kubeapi.kubelet import Kubelet
from tests.kubeapi.server import KubeAPIServer, RequestRecord
from tests.kubeapi.store import ObjectStore

REPO = Path(__file__).resolve().parents[2]
KUBECTL = REPO / ".cache" / "vendor" / "bin" / "kubectl"
HELM = REPO / ".cache" / "vendor" / "bin" / "helm"
CRD_FILE = REPO / "crds" / "safesynthjobs.safesynth.io.yaml"


class Objects:
    """Read access to the emulated cluster's state, by resource name as kubectl spells it."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def get(self, resource: str, name: str, namespace: str | None = "default") -> dict[str, Any]:
        """The object (a copy); raises `errors.ApiError` 404 when absent. `resource`: plural, kind or short name."""
        return self._store.get(self._store.resolve(resource), namespace, name)

    def find(self, resource: str, name: str, namespace: str | None = "default") -> dict[str, Any] | None:
        """Like get, None when absent."""
        try:
            return self.get(resource, name, namespace)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def list(self, resource: str, namespace: str | None = None, labels: dict[str, str] | None = None
             ) -> list[dict[str, Any]]:
        """Objects of a type, in one namespace or all, optionally those carrying all `labels`."""
        want = labels or {}
        items, _ = self._store.list(self._store.resolve(resource), namespace,
                                    lambda o: all((o["metadata"].get("labels") or {}).get(k) == v
                                                  for k, v in want.items()))
        return items


@dataclass
class KubeAPI:
    """What the `kube_api` fixture yields."""

    server: KubeAPIServer
    kubeconfig: Path
    env: dict[str, str]
    tmp: Path
    _kubelets: list[Kubelet] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def store(self) -> ObjectStore:
        return self.server.store

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request seen so far (verb, resource, subresource, namespace, name, status, user agent)."""
        return self.server.requests

    @property
    def objects(self) -> Objects:
        return Objects(self.server.store)

    def kubectl(self, *args: str, input: str | None = None, check: bool = False,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this server (text mode, output captured)."""
        return subprocess.run([str(KUBECTL), *args], env=self.env, input=input, capture_output=True, text=True,
                              check=check, timeout=timeout)

    def helm(self, *args: str, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the real helm against this server."""
        return subprocess.run([str(HELM), *args], env=self.env, capture_output=True, text=True, check=check,
                              timeout=timeout)

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` for this server, leaving the client's global configuration alone."""
        import kubernetes

        return kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))

    def create(self, manifest: dict[str, Any] | str | Path, namespace: str = "default") -> list[dict[str, Any]]:
        """Store objects directly (no HTTP): a dict, YAML text or a YAML file with one or more documents."""
        if isinstance(manifest, dict):
            docs = [manifest]
        else:
            text = manifest.read_text() if isinstance(manifest, Path) else str(manifest)
            docs = [d for d in yaml.safe_load_all(text) if d]
        created = []
        for doc in docs:
            group, _, version = doc["apiVersion"].rpartition("/")
            rt = next((t for t in self.store.types() if t.group == group and t.version == version
                       and t.kind == doc["kind"]), None)
            if rt is None:
                raise KeyError(f"no resource for {doc['apiVersion']} {doc['kind']}")
            ns = (doc.get("metadata") or {}).get("namespace") or namespace
            created.append(self.store.create(rt, ns if rt.namespaced else None, doc).obj)
        return created

    def enable_rbac(self) -> Auth:
        """Turn on authentication, impersonation and RBAC for this server (tests/kubeapi/auth.py); the
        kubeconfig's token stays a cluster admin, so kubectl, helm and `create` work as before."""
        return self.server.enable_rbac()

    def install_crds(self) -> None:
        """The SafeSynthJob CRD, stored directly (faster than kubectl apply; same validation)."""
        self.create(CRD_FILE)

    def start_kubelet(self, **kwargs: Any) -> Kubelet:
        """A started test kubelet (see kubelet.Kubelet for arguments), stopped at teardown."""
        kwargs.setdefault("workdir", REPO)
        kubelet = Kubelet(self.store, self.tmp / "kubelet", **kwargs).start()
        self._kubelets.append(kubelet)
        return kubelet

    def close(self) -> None:
        for kubelet in self._kubelets:
            kubelet.stop()
        self.server.stop()


def client_env(kubeconfig: Path, cache_dir: Path) -> dict[str, str]:
    """The environment for a client subprocess: this kubeconfig, a private discovery cache, no proxies,
    and no in-cluster hints (kopf would otherwise prefer a service account)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "HTTP_PROXY", "HTTPS_PROXY",
                        "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")}
    env.update(KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(cache_dir), NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost", HELM_CACHE_HOME=str(cache_dir / "helm-cache"),
               HELM_CONFIG_HOME=str(cache_dir / "helm-config"), HELM_DATA_HOME=str(cache_dir / "helm-data"))
    return env


@pytest.fixture
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPI]:
    """An emulated Kubernetes API server on 127.0.0.1, its kubeconfig, and helpers (see KubeAPI)."""
    tmp = tmp_path_factory.mktemp("kubeapi")
    server = KubeAPIServer().start()
    kubeconfig = server.write_kubeconfig(tmp / "kubeconfig")
    handle = KubeAPI(server, kubeconfig, client_env(kubeconfig, tmp / "kube-cache"), tmp)
    try:
        yield handle
    finally:
        handle.close()
