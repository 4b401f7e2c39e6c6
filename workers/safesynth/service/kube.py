"""The cluster backend's connection to the Kubernetes API server: httpx, the service's own token, impersonation.

Why httpx and not the kubernetes client: the service makes a dozen kinds of
plain REST calls and must set `Impersonate-*` headers per call, which the
generated client only offers through global configuration. No kopf here: the
service is no controller.

The service's own credentials are its ServiceAccount token (read again from
its file every minute: projected tokens are rotated) or, outside a cluster, a
kubeconfig's bearer token. API server errors become the service's typed
errors without repeating the server's message, which for a 422 quotes the
rejected value.
"""

from __future__ import annotations

import base64
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import httpx
import yaml

from safesynth.errors import BadInputError, SafeSynthError, SpecError
from safesynth.service.backend import ForbiddenError, UnauthenticatedError
from safesynth.service.records import JobConflictError, JobNotFoundError

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REREAD_SECONDS = 60.0  # kubelet refreshes projected tokens at 80 % of their life (≥ 10 min): a minute is ample
TIMEOUT_SECONDS = 30.0


class ClusterUnavailableError(SafeSynthError):
    """The API server cannot be reached or failed (HTTP 500 from the service; retryable)."""

    reason = "ClusterUnavailable"


@dataclass(frozen=True)
class User:
    """The caller as TokenReview reported them; impersonated on every call made for them."""

    name: str
    groups: tuple[str, ...] = ()

    @property
    def service_account_namespace(self) -> Optional[str]:
        """`ns` of a `system:serviceaccount:<ns>:<name>` user, else None."""
        parts = self.name.split(":")
        return parts[2] if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"] else None


def impersonation_headers(user: User) -> list[tuple[str, str]]:
    """Impersonate-User and one Impersonate-Group per group. `system:authenticated` is left out: the API server
    adds it to every impersonated user, so the service's role need not name it. No uid or extras (the chart
    grants no `impersonate` on `uids` or `userextras`)."""
    headers = [("Impersonate-User", user.name)]
    headers += [("Impersonate-Group", g) for g in user.groups if g != "system:authenticated"]
    return headers


def status_error(code: int, body: Any, what: str) -> SafeSynthError:
    """A typed error for an API server failure; `what` names the object, never a value from the request."""
    status = body if isinstance(body, dict) else {}
    if code == 401:
        return UnauthenticatedError("the cluster did not accept the service's own credentials")
    if code == 403:
        return ForbiddenError(f"forbidden: the cluster's RBAC does not allow you to {what}")
    if code == 404:
        return JobNotFoundError(f"{what}: not found")
    if code == 409:
        return JobConflictError(f"{what}: already exists or was changed meanwhile; retry or choose another name")
    if code == 422:  # the field and the kind of problem only: the cause's message quotes the value
        causes = (status.get("details") or {}).get("causes") or []
        problems = [f"{c.get('field') or '(object)'}: refused by the CRD ({c.get('reason') or 'FieldValueInvalid'})"
                    for c in causes]
        return SpecError(f"{what}: the cluster refused the object", problems or ["(object): refused by the CRD"])
    if 400 <= code < 500:
        return BadInputError(f"{what}: the cluster refused the request (HTTP {code} {status.get('reason', '')})")
    return ClusterUnavailableError(f"{what}: the Kubernetes API answered HTTP {code}; retry later")


class KubeConnection:
    """The API server URL, TLS settings and the service's own bearer token."""

    def __init__(self, server: str, *, token: Optional[str] = None, token_file: Optional[Path] = None,
                 verify: Union[bool, str] = True) -> None:
        if token is None and token_file is None:
            raise BadInputError("the cluster backend needs the service's token: a token file or a kubeconfig token")
        self.server = server.rstrip("/")
        self._token, self._token_file = token, token_file
        self._read_at = 0.0
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.server, verify=verify, timeout=TIMEOUT_SECONDS,
                                  headers={"User-Agent": "safesynth-jobs-api"})

    @classmethod
    def in_cluster(cls) -> KubeConnection:
        """The pod's ServiceAccount: KUBERNETES_SERVICE_HOST/PORT, its token file and CA bundle."""
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise BadInputError("not in a cluster (KUBERNETES_SERVICE_HOST unset): pass --kubeconfig")
        host = f"[{host}]" if ":" in host else host
        ca = SA_DIR / "ca.crt"
        return cls(f"https://{host}:{port}", token_file=SA_DIR / "token", verify=str(ca) if ca.is_file() else True)

    @classmethod
    def from_kubeconfig(cls, path: Path) -> KubeConnection:
        """The current context of a kubeconfig whose user has a bearer token (`token` or `tokenFile`)."""
        config = yaml.safe_load(path.read_text()) or {}
        context_name = config.get("current-context")
        context = next((c["context"] for c in config.get("contexts") or [] if c.get("name") == context_name), None)
        if context is None:
            raise BadInputError(f"{path}: no current context")
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next((u.get("user") or {} for u in config.get("users") or [] if u["name"] == context.get("user")), {})
        if not (user.get("token") or user.get("tokenFile")):
            raise BadInputError(f"{path}: the context's user has no bearer token (token or tokenFile)")
        verify: Union[bool, str] = not cluster.get("insecure-skip-tls-verify", False)
        if cluster.get("certificate-authority"):
            verify = str(cluster["certificate-authority"])
        elif cluster.get("certificate-authority-data"):
            ca = tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False)
            ca.write(base64.b64decode(cluster["certificate-authority-data"]))
            ca.close()
            verify = ca.name
        return cls(cluster["server"], token=user.get("token"),
                   token_file=Path(user["tokenFile"]) if user.get("tokenFile") else None, verify=verify)

    def token(self) -> str:
        with self._lock:
            if self._token_file is not None and time.monotonic() - self._read_at > TOKEN_REREAD_SECONDS:
                self._token, self._read_at = self._token_file.read_text().strip(), time.monotonic()
            assert self._token is not None
            return self._token

    def request(self, method: str, path: str, what: str, *, user: Optional[User] = None,
                json: Any = None, params: Optional[dict[str, str]] = None,
                content_type: str = "application/json") -> Any:
        """One call as `user` (impersonated) or as the service; the JSON answer, or a typed error."""
        headers = [("Authorization", f"Bearer {self.token()}"), ("Content-Type", content_type),
                   ("Accept", "application/json")]
        headers += impersonation_headers(user) if user is not None else []
        try:
            response = self._http.request(method, path, headers=headers, json=json, params=params)
        except httpx.TransportError as err:
            raise ClusterUnavailableError(f"{what}: cannot reach the Kubernetes API ({type(err).__name__})") from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise status_error(response.status_code, body, what)
        return response.json() if "json" in response.headers.get("content-type", "") else response.text

    def stream_text(self, path: str, what: str, *, user: User, params: Optional[dict[str, str]] = None
                    ) -> Iterator[bytes]:
        """A streamed GET (pod logs) as `user`."""
        headers = [("Authorization", f"Bearer {self.token()}"), *impersonation_headers(user)]
        with self._http.stream("GET", path, headers=headers, params=params, timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                raise status_error(response.status_code, None, what)
            yield from response.iter_bytes()

    def close(self) -> None:
        self._http.close()
