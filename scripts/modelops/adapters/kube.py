"""The Kubernetes API through the official client: custom objects (Argo CD Applications, KServe
InferenceServices read; Argo Workflows created, read and deleted) and pod logs.

Configuration: the kubeconfig named by KUBECONFIG (a path list is merged, as kubectl does), else
~/.kube/config, else the in-cluster service account. An Argo CD destination cluster other than its own
(`https://kubernetes.default.svc`) is reached through the kubeconfig context whose cluster has that
server URL (`Kube.for_cluster`). Each request has a timeout; reads are retried on connection failures
and server errors a bounded number of times with backoff, then raise ExternalError. A create is sent
once: a retried create whose first attempt did land would read as a name clash.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from modelops.errors import BadInput, ExternalError

REQUEST_TIMEOUT = 10.0
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
T = TypeVar("T")


class _Missing(Exception):
    """404: the object does not exist (or no longer does)."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class Kube:
    def __init__(self, api_client: Any, server: str, request_timeout: float = REQUEST_TIMEOUT) -> None:
        from kubernetes import client

        self.server = server
        self.request_timeout = request_timeout
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None, context: str | None = None) -> Kube:
        from kubernetes import client, config

        env = os.environ if env is None else env
        configuration = client.Configuration()
        kubeconfig = env.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        paths = [p for p in kubeconfig.split(os.pathsep) if p]
        try:
            if any(Path(p).expanduser().is_file() for p in paths):
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig,
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
            elif env.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            else:
                raise ExternalError(
                    f"Kubernetes: no kubeconfig at {kubeconfig} and not running in a cluster; set KUBECONFIG"
                )
        except (config.ConfigException, OSError, ValueError, TypeError) as exc:
            raise BadInput(f"Kubernetes: kubeconfig {kubeconfig} is unusable: {_one_line(exc)}") from None
        # Our own loop retries; urllib3's hidden retries would multiply the wait on a dead server.
        configuration.retries = False
        return cls(client.ApiClient(configuration), configuration.host)

    @classmethod
    def for_cluster(cls, server: str, env: Mapping[str, str] | None = None) -> Kube:
        """The destination cluster `server` as Argo CD names it: its own cluster is the default
        configuration (where Argo CD's Applications are read); any other is the kubeconfig context
        whose cluster has that server URL."""
        from modelops.core.state import DEFAULT_CLUSTER

        if server.rstrip("/") == DEFAULT_CLUSTER:
            return cls.from_environment(env)
        env = os.environ if env is None else env
        kubeconfig = env.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        context = _context_for_server(kubeconfig, server)
        if context is None:
            raise BadInput(
                f"Kubernetes: no context in kubeconfig {kubeconfig} reaches cluster {server} (an "
                "environment's destination.cluster); add one whose cluster has that server URL"
            )
        return cls.from_environment(env, context=context)

    def _call(self, what: str, fn: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
        """fn with bounded retries of transient failures; 404 raises _Missing, the rest ExternalError."""
        from kubernetes.client.exceptions import ApiException

        last = ""
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except ApiException as exc:
                if exc.status == 404:
                    raise _Missing(what) from None
                if exc.status in (401, 403):
                    raise ExternalError(
                        f"Kubernetes at {self.server}: {what}: {exc.status} {exc.reason}; check the credentials "
                        "and RBAC of the kubeconfig"
                    ) from None
                last = f"{exc.status} {exc.reason}{_status_message(exc)}"
                if exc.status is not None and exc.status < 500 and exc.status != 429:
                    break
            except Exception as exc:  # urllib3 connection, timeout and protocol errors
                last = _one_line(exc)
            if attempt < attempts:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
        raise ExternalError(f"Kubernetes at {self.server}: {what} failed: {last}")

    def get_custom(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict[str, Any] | None:
        """One namespaced custom object, or None when it does not exist."""
        try:
            found: Any = self._call(
                f"GET {group}/{version} {plural} {namespace}/{name}",
                lambda: self.custom.get_namespaced_custom_object(
                    group, version, namespace, plural, name, _request_timeout=self.request_timeout
                ),
            )
        except _Missing:
            return None
        return dict(found)

    def create_custom(self, group: str, version: str, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a namespaced custom object; the object as the API server stored it."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        what = f"POST {group}/{version} {plural} {namespace}/{name}"
        try:
            created: Any = self._call(
                what,
                lambda: self.custom.create_namespaced_custom_object(
                    group, version, namespace, plural, body, _request_timeout=self.request_timeout
                ),
                attempts=1,
            )
        except _Missing:
            raise ExternalError(
                f"Kubernetes at {self.server}: {what}: 404 Not Found; is the {group} CRD installed and the "
                f"namespace {namespace} there?"
            ) from None
        return dict(created)

    def delete_custom(self, group: str, version: str, namespace: str, plural: str, name: str) -> bool:
        """Delete a namespaced custom object; False when it was already gone."""
        try:
            self._call(
                f"DELETE {group}/{version} {plural} {namespace}/{name}",
                lambda: self.custom.delete_namespaced_custom_object(
                    group, version, namespace, plural, name, _request_timeout=self.request_timeout
                ),
            )
        except _Missing:
            return False
        return True

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The pods matching a label selector, oldest first: name, labels and annotations."""
        found: Any = self._call(
            f"GET pods in {namespace} ({selector})",
            lambda: self.core.list_namespaced_pod(
                namespace, label_selector=selector, _request_timeout=self.request_timeout
            ),
        )
        items = sorted(
            found.items or [], key=lambda p: (str(p.metadata.creation_timestamp or ""), p.metadata.name)
        )
        return [
            {
                "name": str(p.metadata.name),
                "labels": dict(p.metadata.labels or {}),
                "annotations": dict(p.metadata.annotations or {}),
            }
            for p in items
        ]

    def pod_log(self, namespace: str, pod: str, container: str) -> str | None:
        """A container's log so far; None while it has none (not started, or the pod is gone)."""
        from kubernetes.client.exceptions import ApiException

        try:
            text: str = self.core.read_namespaced_pod_log(
                pod, namespace, container=container, _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            if exc.status in (400, 404):  # 400: the container is waiting to start
                return None
            raise ExternalError(
                f"Kubernetes at {self.server}: GET pods/log {namespace}/{pod}: {exc.status} {exc.reason}"
            ) from None
        except Exception as exc:
            raise ExternalError(
                f"Kubernetes at {self.server}: GET pods/log {namespace}/{pod}: {_one_line(exc)}"
            ) from None
        return text


def _status_message(exc: Any) -> str:
    """The message of the Status object the API server answers an error with, when there is one."""
    import json

    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {_one_line(Exception(message))}" if message else ""


def _context_for_server(kubeconfig: str, server: str) -> str | None:
    """The first context (in file order, over a KUBECONFIG path list) whose cluster's server is `server`."""
    import yaml

    want = server.rstrip("/")
    for part in (p for p in kubeconfig.split(os.pathsep) if p):
        path = Path(part).expanduser()
        try:
            loaded = yaml.safe_load(path.read_text("utf-8")) if path.is_file() else None
        except (OSError, yaml.YAMLError) as exc:
            raise BadInput(f"Kubernetes: kubeconfig {path} is unusable: {_one_line(exc)}") from None
        if not isinstance(loaded, dict):
            continue
        clusters = {
            c.get("name"): str((c.get("cluster") or {}).get("server", "")).rstrip("/")
            for c in loaded.get("clusters") or []
            if isinstance(c, dict)
        }
        for entry in loaded.get("contexts") or []:
            if isinstance(entry, dict) and clusters.get((entry.get("context") or {}).get("cluster")) == want:
                return str(entry.get("name"))
    return None
