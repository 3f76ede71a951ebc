"""A Kubernetes API double with Argo Workflows installed, and an actor playing Argo's controller.

The API side keeps the real server's rules for what `train.backend: argo` calls: bearer tokens (401),
201 on create with the stored object, 409 AlreadyExists on a name clash, 404 NotFound (also after a
delete, which takes the Workflow's pods with it, as their owner references do), 400 for the log of a
container that has not started, errors as Status objects. It is served by pytest_httpserver, the
server the wait-synced tests use.

The controller (a thread per Workflow) resolves the Workflow's WorkflowTemplate as installed in the
double, moves the Workflow Pending → Running → Succeeded/Failed, and runs each DAG task's container
or script on this machine, as the template says: its `{{workflow.parameters.*}}` substituted, the
repository standing in for the image's /workspace, the output becoming the pod's `main` log. With
`behaviour` set, the next Workflows instead hang in Running, or are deleted by someone else mid-run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN = "argo-cluster-token"
WORKFLOWS = re.compile(r"^/apis/argoproj\.io/v1alpha1/namespaces/([^/]+)/workflows(?:/([^/]+))?$")
PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+)/log)?$")
PARAMETER = re.compile(r"\{\{workflow\.parameters\.([a-z0-9-]+)\}\}")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_status(code: int) -> str:
    """Go's net/http reason phrases, as the API server sends them (werkzeug would upper-case them)."""
    return f"{code} {HTTPStatus(code).phrase}"


def status_object(code: int, reason: str, message: str) -> Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return Response(json.dumps(body), status=http_status(code), content_type="application/json")


def ok(body: Any, code: int = 200) -> Response:
    return Response(json.dumps(body), status=http_status(code), content_type="application/json")


class ArgoCluster:
    def __init__(self, repo: Path, namespaces: tuple[str, ...] = ("modelops-training",)) -> None:
        self.repo = repo
        self.namespaces = set(namespaces)
        self.templates: dict[tuple[str, str], dict[str, Any]] = {}
        self.workflows: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []  # request bodies, as submitted
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self.controllers: list[threading.Thread] = []
        self.behaviour = "run"  # | hang | vanish
        # werkzeug logs every request; the steps' logs are what the tests read.
        self._werkzeug = logging.getLogger("werkzeug")
        self._level = self._werkzeug.level
        self._werkzeug.setLevel(logging.WARNING)
        self.server = HTTPServer(host="127.0.0.1")
        self.server.expect_request(re.compile(r"^/api")).respond_with_handler(self._handle)
        self.server.start()
        self.url = self.server.url_for("").rstrip("/")

    def close(self) -> None:
        for thread in self.controllers:
            thread.join(timeout=60)
        self.server.clear()
        if self.server.is_running():
            self.server.stop()
        self._werkzeug.setLevel(self._level)

    def install(self, template: dict[str, Any], namespace: str) -> None:
        self.templates[(namespace, template["metadata"]["name"])] = template

    def kubeconfig(self, path: Path) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "argo", "cluster": {"server": self.url}}],
            "users": [{"name": "runner", "user": {"token": TOKEN}}],
            "contexts": [{"name": "argo", "context": {"cluster": "argo", "user": "runner"}}],
            "current-context": "argo",
        }
        path.write_text(json.dumps(config), "utf-8")
        return path

    def verbs(self) -> list[str]:
        return [method for method, _ in self.requests]

    # -- the API server ---------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return status_object(401, "Unauthorized", "Unauthorized")
        with self.lock:
            if match := WORKFLOWS.match(request.path):
                return self._workflows(request, match.group(1), match.group(2))
            if (match := PODS.match(request.path)) and request.method == "GET":
                return self._pods(request, match.group(1), match.group(2))
        return status_object(404, "NotFound", "the server could not find the requested resource")

    def _workflows(self, request: Request, namespace: str, name: str | None) -> Response:
        if namespace not in self.namespaces:
            return status_object(404, "NotFound", f'namespaces "{namespace}" not found')
        if name is None and request.method == "POST":
            body = json.loads(request.get_data(as_text=True))
            if body.get("apiVersion") != "argoproj.io/v1alpha1" or body.get("kind") != "Workflow":
                return status_object(400, "BadRequest", "the API version in the data does not match")
            name = (body.get("metadata") or {}).get("name")
            if not name:
                return status_object(
                    422, "Invalid", 'Workflow.argoproj.io "" is invalid: metadata.name: Required'
                )
            if (namespace, name) in self.workflows:
                return status_object(409, "AlreadyExists", f'workflows.argoproj.io "{name}" already exists')
            self.created.append(json.loads(json.dumps(body)))
            stored = json.loads(json.dumps(body))
            stored["metadata"].update(
                namespace=namespace,
                uid=hashlib.sha1(f"{namespace}/{name}".encode()).hexdigest(),
                creationTimestamp=now(),
                resourceVersion=str(len(self.requests)),
            )
            self.workflows[(namespace, name)] = stored
            thread = threading.Thread(target=self._control, args=(namespace, name), daemon=True)
            self.controllers.append(thread)
            thread.start()
            return ok(stored, 201)
        if name is None:
            return status_object(405, "MethodNotAllowed", f"{request.method} is not supported here")
        found = self.workflows.get((namespace, name))
        if found is None:
            return status_object(404, "NotFound", f'workflows.argoproj.io "{name}" not found')
        if request.method == "GET":
            return ok(found)
        if request.method == "DELETE":
            self._delete(namespace, name)
            return ok(found)
        return status_object(405, "MethodNotAllowed", f"{request.method} is not supported here")

    def _delete(self, namespace: str, name: str) -> None:
        with self.lock:
            self.workflows.pop((namespace, name), None)
            for key in [k for k, p in self.pods.items() if p["workflow"] == name and k[0] == namespace]:
                del self.pods[key]

    def _pods(self, request: Request, namespace: str, pod: str | None) -> Response:
        if pod is None:
            selector = parse_qs(request.query_string.decode()).get("labelSelector", [""])[0]
            key, _, value = selector.partition("=")
            items = [
                p["object"]
                for (ns, _), p in sorted(self.pods.items())
                if ns == namespace and p["object"]["metadata"]["labels"].get(key) == value
            ]
            return ok({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
        found = self.pods.get((namespace, pod))
        if found is None:
            return status_object(404, "NotFound", f'pods "{pod}" not found')
        container = request.args.get("container", "main")
        if container not in ("main", "init", "wait"):
            return status_object(400, "BadRequest", f"container {container} is not valid for pod {pod}")
        if not found["started"]:
            return status_object(
                400, "BadRequest", f'container "main" in pod "{pod}" is waiting to start: PodInitializing'
            )
        return Response("".join(found["log"]), status=http_status(200), content_type="text/plain")

    # -- the controller ---------------------------------------------------------------------------

    def _status(self, namespace: str, name: str, **fields: Any) -> bool:
        """Update the Workflow's status; False once it is gone (deleted while this ran)."""
        with self.lock:
            found = self.workflows.get((namespace, name))
            if found is None:
                return False
            found.setdefault("status", {}).update(fields)
            found["metadata"]["resourceVersion"] = str(len(self.requests) + 1)
            return True

    def _control(self, namespace: str, name: str) -> None:
        time.sleep(0.2)
        workflow = self.workflows[(namespace, name)]
        behaviour = self.behaviour
        ref = workflow["spec"]["workflowTemplateRef"]["name"]
        template = self.templates.get((namespace, ref))
        started = now()
        if not self._status(namespace, name, phase="Pending", startedAt=started, progress="0/2", nodes={}):
            return
        if template is None:
            self._status(
                namespace,
                name,
                phase="Error",
                finishedAt=now(),
                message=f'workflowtemplates.argoproj.io "{ref}" not found',
            )
            return
        values = {p["name"]: p.get("value", "") for p in template["spec"]["arguments"]["parameters"]}
        values.update({p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]})
        templates = {t["name"]: t for t in template["spec"]["templates"]}
        tasks = templates[template["spec"]["entrypoint"]]["dag"]["tasks"]
        root = {"id": name, "name": name, "displayName": name, "type": "DAG", "phase": "Running"}
        root.update(templateName=template["spec"]["entrypoint"], startedAt=started)
        nodes: dict[str, Any] = {name: root}
        time.sleep(0.2)
        if not self._status(namespace, name, phase="Running", nodes=nodes):
            return
        for done, task in enumerate(tasks):
            node_id = f"{name}-{int(hashlib.sha1(task['name'].encode()).hexdigest()[:8], 16)}"
            pod = f"{name}-{task['template']}-{node_id.rsplit('-', 1)[1][:10]}"
            node = {"id": node_id, "name": f"{name}.{task['name']}", "displayName": task["name"]}
            node.update(type="Pod", templateName=task["template"], phase="Running", startedAt=now())
            nodes[node_id] = node
            record = self._pod(namespace, pod, name, node["name"])
            self._status(namespace, name, nodes=nodes)
            if behaviour in ("hang", "vanish"):
                record["started"] = True
                record["log"].append("epoch 1 of 100\n")
                if behaviour == "vanish":
                    time.sleep(1.0)
                    self._delete(namespace, name)
                return
            code = self._run(templates[task["template"]], values, record)
            node.update(
                phase="Succeeded" if code == 0 else "Failed",
                finishedAt=now(),
                outputs={"exitCode": str(code)},
            )
            if code != 0:
                node["message"] = f"Error (exit code {code})"
                root.update(phase="Failed", finishedAt=now())
                self._status(
                    namespace,
                    name,
                    phase="Failed",
                    finishedAt=now(),
                    progress=f"{done}/{len(tasks)}",
                    message=f"child '{node_id}' failed",
                    nodes=nodes,
                )
                return
            self._status(namespace, name, nodes=nodes, progress=f"{done + 1}/{len(tasks)}")
        root.update(phase="Succeeded", finishedAt=now())
        self._status(namespace, name, phase="Succeeded", finishedAt=now(), nodes=nodes)

    def _pod(self, namespace: str, pod: str, workflow: str, node_name: str) -> dict[str, Any]:
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod,
                "namespace": namespace,
                "creationTimestamp": now(),
                "labels": {"workflows.argoproj.io/workflow": workflow},
                "annotations": {"workflows.argoproj.io/node-name": node_name},
            },
        }
        record = {"object": obj, "workflow": workflow, "log": [], "started": False}
        with self.lock:
            self.pods[(namespace, pod)] = record
        return record

    def _run(self, step: dict[str, Any], values: dict[str, str], record: dict[str, Any]) -> int:
        """Run one step as its template says, with the repository as the image's /workspace."""

        def resolve(text: str) -> str:
            return PARAMETER.sub(lambda m: values[m.group(1)], text).replace("/workspace", str(self.repo))

        spec = step.get("container") or step["script"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELOPS_"))}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.update({e["name"]: resolve(e["value"]) for e in spec.get("env", [])})
        argv = [resolve(part) for part in [*spec.get("command", []), *spec.get("args", [])]]
        argv = [sys.executable if part == "python" else part for part in argv]
        with tempfile.TemporaryDirectory() as scratch:
            if "source" in spec:
                script = Path(scratch) / "script.py"
                script.write_text(resolve(spec["source"]), "utf-8")
                argv.append(str(script))
            proc = subprocess.Popen(
                argv,
                cwd=resolve(spec.get("workingDir", str(self.repo))),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            record["started"] = True
            assert proc.stdout is not None
            for line in proc.stdout:
                record["log"].append(line)
            return proc.wait()
