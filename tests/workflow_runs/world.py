"""The world the workflow files run in, one per test module.

    GitHub        tests/forge_github/hub.py (REST + GraphQL double), events → act runs
    origin        the sandbox's bare repository, its hooks asking the double about every push
    registry      a real `mlflow server` on loopback (a runner has no registry of its own)
    DVC remote    S3 on moto's standalone server, configured as a fork following the README does
    cluster       a Kubernetes double that serves what Argo CD would have synced from origin's main
    relay         `modelops relay`, dispatching to the double with an App installation token

Runner jobs get a controlled environment: the system PATH (never the test venv), a home of their own,
uv's warm cache offline (no job downloads a package), and the stand-ins' locations. Each lock's venv is
built once per world, as a runner's tool cache would hold it; a job's `make venv` links it in and
installs the job's own checkout (standins/runner-bin/uv), some 20 s less in each of the loop's ~20 jobs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from werkzeug import Request, Response
from werkzeug.serving import make_server

from tests.core.inference_services import inference_service
from tests.forge_github.hub import APP_CLIENT_ID, APP_ID, Hub, Run, install_hooks
from tests.helpers import VENV_BIN, modelops
from tests.workflow_runs.act import STANDINS, RunResult, require_act, run_act

BUCKET = "modelops-data"
DVC_REMOTE = f"s3://{BUCKET}/dvc"
KUBE_TOKEN = "harness-kube-token"
RELAY_TOKEN = "harness-relay-token"
REGION = "us-east-1"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "harness", "AWS_SECRET_ACCESS_KEY": "harness", "AWS_REGION": REGION}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, text=True, capture_output=True, env={**os.environ, **(env or {})}
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def wait_http(url: str, what: str, process: subprocess.Popen[Any] | None = None, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise AssertionError(f"{what} did not answer at {url} within {timeout}s")


class KubeDouble:
    """The two reads wait-synced makes, answered as if Argo CD had synced origin's main."""

    def __init__(self, origin: Path) -> None:
        self.origin = origin
        self.reads: list[str] = []
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()

    def _show(self, path: str) -> str | None:
        done = subprocess.run(
            ["git", "show", f"main:{path}"], cwd=self.origin, text=True, capture_output=True
        )
        return done.stdout if done.returncode == 0 else None

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.reads.append(request.path)
        if request.headers.get("Authorization") != f"Bearer {KUBE_TOKEN}":
            return _kube(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})(
                environ, start_response
            )
        parts = request.path.strip("/").split("/")
        if request.path.startswith("/apis/argoproj.io/") and parts[-2] == "applications":
            head = subprocess.run(
                ["git", "rev-parse", "main"], cwd=self.origin, text=True, capture_output=True
            ).stdout.strip()
            body = {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": parts[-1]},
                "status": {"sync": {"status": "Synced", "revision": head}, "health": {"status": "Healthy"}},
            }
            return _kube(200, body)(environ, start_response)
        if request.path.startswith("/apis/serving.kserve.io/") and parts[-2] == "inferenceservices":
            env = parts[-3].removeprefix("models-")
            patch = self._show(f"applications/{parts[-1]}/overlays/{env}/inferenceservice-patch.yaml")
            document = yaml.safe_load(patch) if patch else None
            if not document or document.get("$patch") == "delete":
                return _kube(404, {"kind": "Status", "code": 404, "reason": "NotFound"})(
                    environ, start_response
                )
            predictor = document["spec"]["predictor"]
            mode = document["metadata"]["annotations"]["serving.kserve.io/deploymentMode"]
            body = inference_service(
                predictor["model"]["storageUri"],
                predictor.get("canaryTrafficPercent"),
                mode=mode,
                name=parts[-1],
            )
            body["spec"]["predictor"] = predictor
            return _kube(200, body)(environ, start_response)
        return _kube(404, {"kind": "Status", "code": 404, "reason": "NotFound"})(environ, start_response)


def _kube(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


@dataclass
class World:
    root: Path
    act: str
    origin: Path
    clone: Path
    hub: Hub
    kube: KubeDouble
    tracking_uri: str
    s3_url: str
    variables: dict[str, str]
    secrets: dict[str, str]
    runner_env: dict[str, str]
    results: dict[int, RunResult] = field(default_factory=dict)

    # -- running workflows ------------------------------------------------------------------------

    def execute(self, run: Run, checkout: Path, run_secrets: dict[str, str]) -> RunResult:
        env = {"GITHUB_API_URL": self.hub.url, "GITHUB_GRAPHQL_URL": f"{self.hub.url}/graphql"}
        result = run_act(
            act=self.act,
            checkout=checkout,
            workflow=run.workflow,
            event=run.event,
            payload=run.payload,
            run_id=run.id,
            actor=run.actor,
            env=env,
            variables=self.variables,
            secrets={**self.secrets, **run_secrets},
            runner_env=self.runner_env,
            jobs=run.jobs,
        )
        self.results[run.id] = result
        return result

    def finished(self, runs: list[Run]) -> list[RunResult]:
        self.hub.wait_idle()
        out = []
        for run in runs:
            assert not isinstance(run.result, BaseException), f"{run.workflow}: {run.result!r}"
            out.append(run.result)
        return out

    def origin_file(self, path: str, ref: str = "main") -> str:
        return git(self.origin, "show", f"{ref}:{path}")

    def origin_subjects(self) -> list[str]:
        return git(self.origin, "log", "--format=%s", "main").splitlines()

    def aliases(self, registered: str) -> dict[str, int]:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        model = client.get_registered_model(registered)
        return {alias: int(version) for alias, version in model.aliases.items()}

    def push_as(
        self, login: str, clone: Path, refspec: str = "HEAD:main"
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "push", "--quiet", "-o", f"token={self.hub.token_of(login)}", "origin", refspec],
            cwd=clone,
            text=True,
            capture_output=True,
        )

    def dispatch_workflow(self, workflow: str, inputs: dict[str, str], token: str) -> requests.Response:
        return requests.post(
            f"{self.hub.url}/repos/acme/models/actions/workflows/{workflow}/dispatches",
            json={"ref": "main", "inputs": inputs},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )


def _runner_bin(root: Path) -> Path:
    """What the setup-python stand-in adds to PATH: uv (the test venv's, pinned by the lock), behind
    the runner's venv cache (standins/runner-bin/uv)."""
    bin_dir = root / "runner-bin"
    bin_dir.mkdir()
    (bin_dir / "uv").symlink_to(STANDINS / "runner-bin" / "uv")
    return bin_dir


def build_venv_cache(clone: Path, cache: Path, runner_env: dict[str, str]) -> None:
    """One venv per lock, built by the real uv from the warm package cache as `make venv` would (without
    the project itself, which each job installs from its own checkout)."""
    for lock in ("requirements.lock", "requirements-rollback.lock"):
        content = (clone / lock).read_bytes()
        # Built where the jobs find it: its entry points name this interpreter.
        venv = cache / hashlib.sha256(content).hexdigest()
        env = {**runner_env, "PATH": os.environ.get("PATH", "")}
        subprocess.run(["python3.11", "-m", "venv", "--without-pip", str(venv)], check=True, env=env)
        synced = subprocess.run(
            [
                str(VENV_BIN / "uv"),
                "pip",
                "sync",
                "-q",
                "--python",
                str(venv / "bin" / "python"),
                str(clone / lock),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        assert synced.returncode == 0, f"{lock}: {synced.stderr[-2000:]}"


def runner_environment(root: Path, hub: Hub, kube: KubeDouble, s3_url: str, origin: Path) -> dict[str, str]:
    home = root / "runner-home"
    home.mkdir()
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN)
    return {
        "PATH": path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "HARNESS_ORIGIN": str(origin),
        "HARNESS_HUB_URL": hub.url,
        "HARNESS_STANDINS": str(STANDINS),
        "HARNESS_BIN": str(_runner_bin(root)),
        "HARNESS_UV": str(VENV_BIN / "uv"),
        "HARNESS_VENV_CACHE": str(root / "runner-venvs"),
        "HARNESS_ARTIFACTS": str(root / "artifacts"),
        "HARNESS_KUBE_URL": kube.url,
        "HARNESS_KUBE_TOKEN": KUBE_TOKEN,
        # Where "AWS" is for this runner: S3 on the local server (the DVC remote stays s3://...).
        "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        # No job downloads a package: uv installs the lock from the warm cache.
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
        "UV_OFFLINE": "1",
        "UV_LINK_MODE": "hardlink",
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


@contextmanager
def _process(
    cmd: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process group (mlflow's uvicorn has workers), stopped with the group."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        try:
            yield process
        finally:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def _binary(name: str) -> str:
    return str(VENV_BIN / name)


@contextmanager
def build_world(root: Path, *, seed: bool = True, venv_cache: bool = True) -> Iterator[World]:
    """venv_cache=False: every job builds its venvs from the lock with the real uv, as on a cold runner."""
    act = require_act()
    with ExitStack() as stack:
        # The servers boot while the sandbox is made.
        s3_port, mlflow_port = free_port(), free_port()
        s3_url = f"http://127.0.0.1:{s3_port}"
        moto = stack.enter_context(
            _process([_binary("moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)], root / "moto.log")
        )
        (root / "mlflow").mkdir()
        mlflow = stack.enter_context(
            _process(
                [
                    _binary("mlflow"),
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(mlflow_port),
                    "--workers",
                    "1",
                    "--backend-store-uri",
                    f"sqlite:///{root / 'mlflow' / 'mlflow.db'}",
                    "--artifacts-destination",
                    str(root / "mlflow" / "artifacts"),
                    "--serve-artifacts",
                ],
                root / "mlflow.log",
                # No job runner (a huey consumer per CPU): the loop runs no MLflow server-side jobs.
                {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            )
        )
        created = modelops("sandbox", "create", str(root / "sandbox"))
        assert created.returncode == 0, created.stderr[-3000:]
        clone, origin = root / "sandbox" / "repo", root / "sandbox" / "origin.git"
        wait_http(s3_url, "moto server", moto)
        tracking_uri = f"http://127.0.0.1:{mlflow_port}"

        hub = Hub(
            origin,
            root / "runs",
            execute=lambda run, checkout, secrets: world.execute(run, checkout, secrets),
        )
        # A fork runs no workflow until its owner enables Actions: the world is set up before.
        hub.actions_enabled = False
        stack.callback(hub.close)
        install_hooks(origin, hub.url)
        kube = KubeDouble(origin)
        stack.callback(kube.close)

        # The fork follows the README: an S3 DVC remote in .dvc/config, the data pushed to it.
        s3_env = {**os.environ, **S3_KEYS, "AWS_ENDPOINT_URL_S3": s3_url, "AWS_EC2_METADATA_DISABLED": "true"}
        import boto3

        boto3.client(
            "s3",
            endpoint_url=s3_url,
            region_name=REGION,
            aws_access_key_id="harness",
            aws_secret_access_key="harness",
        ).create_bucket(Bucket=BUCKET)
        dvc = _binary("dvc")
        subprocess.run(
            [dvc, "remote", "add", "-d", "storage", DVC_REMOTE], cwd=clone, check=True, capture_output=True
        )
        pushed = subprocess.run(
            [dvc, "push", "-r", "storage", "--quiet"], cwd=clone, env=s3_env, capture_output=True, text=True
        )
        assert pushed.returncode == 0, pushed.stderr
        git(clone, "add", ".dvc/config")
        git(clone, "commit", "--quiet", "-m", "DVC remote: S3")
        wait_http(tracking_uri + "/health", "mlflow server", mlflow, timeout=180)

        world = World(
            root=root,
            act=act,
            origin=origin,
            clone=clone,
            hub=hub,
            kube=kube,
            tracking_uri=tracking_uri,
            s3_url=s3_url,
            variables={
                "MLFLOW_TRACKING_URI": tracking_uri,
                "MODELOPS_APP_ID": APP_ID,
                "MODELOPS_APP_CLIENT_ID": APP_CLIENT_ID,
                "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/modelops",
                "AWS_REGION": REGION,
                "EKS_CLUSTER": "harness",
                "PROPOSE_PRODUCTION": "true",
            },
            secrets={
                "MODELOPS_APP_PRIVATE_KEY": hub.app_private_key,
                "MLFLOW_TRACKING_TOKEN": "harness-mlflow",
            },
            runner_env=runner_environment(root, hub, kube, s3_url, origin),
        )
        if venv_cache:
            build_venv_cache(clone, root / "runner-venvs", world.runner_env)
        pushed = world.push_as("alice", clone)
        assert pushed.returncode == 0, pushed.stderr
        if seed:
            seed_production(world)
        hub.actions_enabled = True
        # board.yml (Pages) runs on every push to main; tests/board covers it, so here it is
        # disabled, as a fork without Pages would (a disabled workflow starts no run).
        hub.disabled_workflows.add("board.yml")
        yield world
        for run in hub.runs:
            if run.status in ("queued", "in_progress"):
                hub.wait_idle(timeout=120)


def seed_production(world: World) -> dict[int, str]:
    """churn v1 and v2 in the registry, staging and production = v2 (previous v1) on origin and in the aliases,
    as the fork's owner sets it up before enabling Actions; visits the same, so that two models can
    have incidents at once (its versions carry churn's artifacts: a rollback never loads a model).
    Returns churn's run ids."""
    from mlflow import MlflowClient

    from modelops.context import Context
    from modelops.core.document import ModelsDocument
    from modelops.flows.render import render
    from modelops.flows.sync_registry import sync_registry
    from tests.e2e.world import register_versions

    run_ids = register_versions(world.clone, {"tracking_uri": world.tracking_uri, "artifact_root": None}, 2)  # type: ignore[dict-item]
    client = MlflowClient(tracking_uri=world.tracking_uri, registry_uri=world.tracking_uri)
    client.create_registered_model("visits-regressor")
    for version in (1, 2):
        # MLflow 3: the source is the logged model (models:/m-...), named by its model_id.
        source = client.get_model_version("churn-classifier", str(version)).source
        client.create_model_version(
            "visits-regressor", source, run_id=run_ids[version], model_id=source.removeprefix("models:/")
        )
    doc = ModelsDocument.load(world.clone / "models.yaml")
    for model, env in itertools.product(("churn", "visits"), ("staging", "production")):
        for version, day, reason in ((1, "01", "first version"), (2, "02", "newer version")):
            doc.promote(
                model,
                env,
                version,
                at=f"2026-01-{day}T00:00:00Z",
                by="alice",
                reason=reason,
                run_id=run_ids[version],
            )
    (world.clone / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    render(Context(repo=world.clone))
    publish(world, world.clone, "promote churn v2 and visits v2 to staging and production")
    sync_registry(Context(repo=world.clone, tracking_uri_override=world.tracking_uri))
    return run_ids


@contextmanager
def relay(world: World) -> Iterator[str]:
    """`modelops relay` on a plain clone of origin (as git-sync gives it), dispatching with an App token."""
    checkout = fresh_clone(world, "relay-repo")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))},
        "GITHUB_TOKEN": world.hub.app_token(),
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_API_URL": world.hub.url,
        "MODELOPS_RELAY_TOKEN": RELAY_TOKEN,
    }
    cmd = [
        _binary("modelops"),
        "relay",
        "--repo",
        str(checkout),
        "--port",
        str(port),
        "--state",
        str(world.root / "relay-state"),
    ]
    with (world.root / "relay.log").open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=checkout)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", "relay", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(20)


def publish(world: World, clone: Path, message: str, login: str = "alice") -> None:
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "-m", message)
    pushed = world.push_as(login, clone)
    assert pushed.returncode == 0, pushed.stderr


def fresh_clone(world: World, name: str) -> Path:
    target = world.root / name
    if target.exists():
        shutil.rmtree(target)
    git(world.root, "clone", "--quiet", str(world.origin), str(target))
    return target
