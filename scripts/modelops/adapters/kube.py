"""The Kubernetes API, read-only, through the official client: custom objects (Argo CD Applications,
KServe InferenceServices).

Configuration: the kubeconfig named by KUBECONFIG (a path list is merged, as kubectl does), else
~/.kube/config, else the in-cluster service account. An Argo CD destination cluster other than its own
(`https://kubernetes.default.svc`) is reached through the kubeconfig context whose cluster has that
server URL (`Kube.for_cluster`). Each request has a timeout; connection failures and server errors are
retried a bounded number of times with backoff, then raise ExternalError.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelops.errors import BadInput, ExternalError

REQUEST_TIMEOUT = 10.0
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class Kube:
    def __init__(self, api_client: Any, server: str, request_timeout: float = REQUEST_TIMEOUT) -> None:
        from kubernetes import client

        self.server = server
        self.request_timeout = request_timeout
        self.custom = client.CustomObjectsApi(api_client)

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

    def get_custom(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict[str, Any] | None:
        """One namespaced custom object, or None when it does not exist."""
        from kubernetes.client.exceptions import ApiException

        what = f"GET {group}/{version} {plural} {namespace}/{name}"
        last = ""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                found: dict[str, Any] = self.custom.get_namespaced_custom_object(  # type: ignore[assignment]
                    group, version, namespace, plural, name, _request_timeout=self.request_timeout
                )
                return found
            except ApiException as exc:
                if exc.status == 404:
                    return None
                if exc.status in (401, 403):
                    raise ExternalError(
                        f"Kubernetes at {self.server}: {what}: {exc.status} {exc.reason}; check the credentials "
                        "and RBAC of the kubeconfig"
                    ) from None
                last = f"{exc.status} {exc.reason}"
                if exc.status is not None and exc.status < 500 and exc.status != 429:
                    break
            except Exception as exc:  # urllib3 connection, timeout and protocol errors
                last = _one_line(exc)
            if attempt < ATTEMPTS:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
        raise ExternalError(f"Kubernetes at {self.server}: {what} failed: {last}")


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
