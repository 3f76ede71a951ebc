"""`modelops wait-synced` against a local server speaking the Kubernetes REST paths it reads."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from modelops.cli import main
from tests.core.inference_services import inference_service, upstream, with_spec
from tests.helpers import modelops
from tests.manifests.fixtures import PREFIX, git, make_repo, two_models, write_models

APP = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/{name}"
ISVC = "/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices/{name}"
TOKEN = "wait-synced-test-token"


def kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": {"server": server}}],
                "users": [{"name": "test", "user": {"token": TOKEN}}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
                "current-context": "test",
            }
        )
    )
    return path


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo", two_models(), commit=True)


def application(
    revision: str, sync: str = "Synced", health: str = "Healthy", message: str | None = None
) -> dict:
    status = {"sync": {"status": sync, "revision": revision}, "health": {"status": health}}
    if message:
        status["health"]["message"] = message
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "status": status}


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def wait(monkeypatch, capsys):
    """Run `modelops wait-synced` in this process (the kubernetes client is slow to import)."""

    def run(repo: Path, config: Path, *args: str) -> tuple[Outcome, float]:
        monkeypatch.setenv("KUBECONFIG", str(config))
        monkeypatch.setenv("HOME", str(repo))
        capsys.readouterr()
        started = time.monotonic()
        code = main(["wait-synced", "--repo", str(repo), "--json", *args])
        took = time.monotonic() - started
        out, err = capsys.readouterr()
        return Outcome(code, out, err), took

    return run


def paths(httpserver: HTTPServer) -> list[str]:
    return [request.path for request, _ in httpserver.log]


def test_success_when_synced_healthy_at_head_and_serving_the_canary_split(repo, tmp_path, httpserver):
    head = git(repo, "rev-parse", "HEAD")
    httpserver.expect_request(APP.format(name="churn-staging")).respond_with_json(application(head))
    httpserver.expect_request(ISVC.format(ns="models-staging", name="churn")).respond_with_json(
        inference_service(f"{PREFIX}/churn-classifier/5", canary=10)
    )
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    args = ("--model", "churn", "--env", "staging", "--timeout", "5", "--json")
    # Through a real subprocess once, as a workflow runs it.
    result = modelops(
        "wait-synced", "--repo", str(repo), *args, env={"KUBECONFIG": str(config), "HOME": str(repo)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["polls"] == 1
    assert report["expected"]["storage_uri"] == f"{PREFIX}/churn-classifier/5"
    assert paths(httpserver) == [
        APP.format(name="churn-staging"),
        ISVC.format(ns="models-staging", name="churn"),
    ]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r, _ in httpserver.log)


def test_polls_while_argo_cd_is_at_an_older_revision_then_succeeds(repo, tmp_path, httpserver, wait):
    head = git(repo, "rev-parse", "HEAD")
    app = APP.format(name="churn-production")
    httpserver.expect_oneshot_request(app).respond_with_json(application("0" * 40, sync="OutOfSync"))
    httpserver.expect_oneshot_request(app).respond_with_json(application("0" * 40))
    httpserver.expect_request(app).respond_with_json(application(head))
    httpserver.expect_request(ISVC.format(ns="models-production", name="churn")).respond_with_json(
        inference_service(f"{PREFIX}/churn-classifier/3", canary=None)
    )
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    result, _ = wait(
        repo, config, "--model", "churn", "--env", "production", "--timeout", "20", "--interval", "0.1"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["polls"] == 3
    assert paths(httpserver) == [app, app, app, ISVC.format(ns="models-production", name="churn")]
    assert "OutOfSync" in result.stderr and "expected " + head in result.stderr


def test_a_degraded_application_fails_at_once(repo, tmp_path, httpserver, wait):
    head = git(repo, "rev-parse", "HEAD")
    httpserver.expect_request(APP.format(name="churn-production")).respond_with_json(
        application(head, health="Degraded", message="predictor CrashLoopBackOff")
    )
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    result, took = wait(
        repo, config, "--model", "churn", "--env", "production", "--timeout", "60", "--interval", "5"
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert not report["ok"] and "Degraded: predictor CrashLoopBackOff" in report["detail"]
    assert len(httpserver.log) == 1 and took < 30


def test_a_wrong_storage_uri_fails_at_the_timeout_naming_both(repo, tmp_path, httpserver, wait):
    head = git(repo, "rev-parse", "HEAD")
    httpserver.expect_request(APP.format(name="churn-production")).respond_with_json(application(head))
    httpserver.expect_request(ISVC.format(ns="models-production", name="churn")).respond_with_json(
        inference_service(f"{PREFIX}/churn-classifier/2", canary=None)
    )
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    result, _ = wait(
        repo, config, "--model", "churn", "--env", "production", "--timeout", "0.5", "--interval", "0.2"
    )
    assert result.returncode == 1
    detail = json.loads(result.stdout)["detail"]
    assert detail.startswith("timed out after 0.5s")
    assert f"serves {PREFIX}/churn-classifier/2, expected {PREFIX}/churn-classifier/3" in detail
    assert len(httpserver.log) >= 4  # polled more than once


def test_an_explicit_revision_and_an_unpinned_environment_whose_service_is_gone(
    repo, tmp_path, httpserver, wait
):
    httpserver.expect_request(APP.format(name="fraud-production")).respond_with_json(
        application("abc1234def")
    )
    httpserver.expect_request(ISVC.format(ns="models-production", name="fraud")).respond_with_data(
        json.dumps({"kind": "Status", "code": 404, "reason": "NotFound"}),
        status=404,
        content_type="application/json",
    )
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    args = ("--model", "fraud", "--env", "production", "--timeout", "2", "--revision", "abc1234")
    result, _ = wait(repo, config, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "absent, as nothing is pinned" in json.loads(result.stdout)["detail"]


def test_an_unreachable_cluster_exits_3(repo, tmp_path, wait):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = kubeconfig(tmp_path, f"http://127.0.0.1:{port}")
    result, _ = wait(repo, config, "--model", "churn", "--env", "staging", "--timeout", "30")
    assert result.returncode == 3
    assert f"Kubernetes at http://127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_a_synced_revision_whose_history_holds_the_expected_commit_counts_and_one_that_does_not_waits(
    repo, tmp_path, httpserver, wait
):
    """Argo CD reports the resolved head of `main`: a later push moves it past the commit waited for."""
    expected = git(repo, "rev-parse", "HEAD")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "someone else's change")
    later = git(repo, "rev-parse", "HEAD")
    elsewhere = git(repo, "commit-tree", f"{expected}^{{tree}}", "-m", "a history that never had it")
    app = APP.format(name="churn-production")
    httpserver.expect_oneshot_request(app).respond_with_json(application(elsewhere))
    httpserver.expect_request(app).respond_with_json(application(later))
    httpserver.expect_request(ISVC.format(ns="models-production", name="churn")).respond_with_json(
        inference_service(f"{PREFIX}/churn-classifier/3", canary=None)
    )
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    result, _ = wait(
        repo,
        config,
        "--model",
        "churn",
        "--env",
        "production",
        "--revision",
        expected,
        "--timeout",
        "20",
        "--interval",
        "0.1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["polls"] == 2  # the unrelated revision waited, the later one counted
    assert f"synced at {elsewhere}" in result.stderr


def test_an_unhealthy_application_without_a_message_is_explained_by_the_inference_services_condition(
    repo, tmp_path, httpserver, wait
):
    """Argo CD before v3.5 leaves the Application's health message empty (here Argo CD's own fixture)."""
    head = git(repo, "rev-parse", "HEAD")
    httpserver.expect_request(APP.format(name="churn-production")).respond_with_json(
        application(head, health="Progressing")
    )
    waiting = with_spec(upstream("progressing.yaml"), f"{PREFIX}/churn-classifier/3")
    httpserver.expect_request(ISVC.format(ns="models-production", name="churn")).respond_with_json(waiting)
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    result, _ = wait(
        repo, config, "--model", "churn", "--env", "production", "--timeout", "0.3", "--interval", "0.1"
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["detail"] == (
        "timed out after 0.3s: Application argocd/churn-production is Progressing; InferenceService "
        'models-production/churn: Ready Unknown: RevisionMissing: Configuration "hello-world-predictor-default" '
        "is waiting for a Revision to become ready."
    )


def test_a_degraded_application_without_a_message_fails_at_once_naming_the_failed_load(
    repo, tmp_path, httpserver, wait
):
    head = git(repo, "rev-parse", "HEAD")
    httpserver.expect_request(APP.format(name="churn-production")).respond_with_json(
        application(head, health="Degraded")
    )
    failed = with_spec(upstream("degraded.yaml"), f"{PREFIX}/churn-classifier/3")
    httpserver.expect_request(ISVC.format(ns="models-production", name="churn")).respond_with_json(failed)
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    result, _ = wait(repo, config, "--model", "churn", "--env", "production", "--timeout", "60")
    assert result.returncode == 1
    detail = json.loads(result.stdout)["detail"]
    assert detail.startswith("Application argocd/churn-production is Degraded; InferenceService ")
    assert "model BlockedByFailedLoad: Ready False: Predictor ingress not created" in detail
    assert len(httpserver.log) == 2


def test_a_failed_load_behind_a_healthy_application_fails_at_once(repo, tmp_path, httpserver, wait):
    head = git(repo, "rev-parse", "HEAD")
    httpserver.expect_request(APP.format(name="churn-production")).respond_with_json(application(head))
    failed = inference_service(f"{PREFIX}/churn-classifier/3", ready="False", reason="RevisionFailed")
    failed["status"]["modelStatus"] = {"transitionStatus": "BlockedByFailedLoad"}
    httpserver.expect_request(ISVC.format(ns="models-production", name="churn")).respond_with_json(failed)
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    result, took = wait(repo, config, "--model", "churn", "--env", "production", "--timeout", "60")
    assert result.returncode == 1 and took < 30
    assert json.loads(result.stdout)["detail"] == (
        "InferenceService models-production/churn is not ready: model BlockedByFailedLoad: "
        "Ready False: RevisionFailed"
    )


def test_a_standard_mode_environment_is_in_sync_without_traffic_targets(tmp_path, httpserver, wait):
    models = two_models()
    models["churn"]["environments"]["production"].update(deployment_mode="Standard", canary_steps=[])
    repo = make_repo(tmp_path / "standard", models, commit=True)
    head = git(repo, "rev-parse", "HEAD")
    httpserver.expect_request(APP.format(name="churn-production")).respond_with_json(application(head))
    raw = with_spec(upstream("healthy_raw.yaml"), f"{PREFIX}/churn-classifier/3")
    httpserver.expect_request(ISVC.format(ns="models-production", name="churn")).respond_with_json(raw)
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    result, _ = wait(repo, config, "--model", "churn", "--env", "production", "--timeout", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["expected"]["deployment_mode"] == "Standard"
    assert "Ready in Standard mode" in report["detail"]
    # The same InferenceService in an environment that asks for Knative: KServe will not switch modes.
    models["churn"]["environments"]["production"]["deployment_mode"] = "Knative"
    write_models(repo, models)
    git(repo, "commit", "-qam", "production back to Knative")
    httpserver.clear()
    httpserver.expect_request(APP.format(name="churn-production")).respond_with_json(
        application(git(repo, "rev-parse", "HEAD"))
    )
    httpserver.expect_request(ISVC.format(ns="models-production", name="churn")).respond_with_json(raw)
    result, _ = wait(repo, config, "--model", "churn", "--env", "production", "--timeout", "60")
    assert result.returncode == 1
    assert (
        "KServe runs it in Standard mode but models.yaml asks for Knative"
        in json.loads(result.stdout)["detail"]
    )


def two_cluster_kubeconfig(tmp_path: Path, argocd: str, prod_eu: str) -> Path:
    """Argo CD's cluster is the current context; prod-eu is another context, found by its server URL."""
    path = tmp_path / "kubeconfig-two"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "argocd", "cluster": {"server": argocd}},
                    {"name": "eu", "cluster": {"server": prod_eu}},
                ],
                "users": [{"name": "test", "user": {"token": TOKEN}}],
                "contexts": [
                    {"name": "argocd", "context": {"cluster": "argocd", "user": "test"}},
                    {"name": "prod-eu", "context": {"cluster": "eu", "user": "test"}},
                ],
                "current-context": "argocd",
            }
        )
    )
    return path


def test_the_inference_service_is_read_in_the_environments_own_destination_cluster(
    tmp_path, httpserver, wait
):
    eu = HTTPServer(host="127.0.0.1")
    eu.start()
    try:
        models = two_models()
        models["churn"]["environments"]["production"]["destination"] = {"cluster": eu.url_for("/")}
        repo = make_repo(tmp_path / "repo", models, commit=True)
        head = git(repo, "rev-parse", "HEAD")
        httpserver.expect_request(APP.format(name="churn-production")).respond_with_json(application(head))
        isvc = ISVC.format(ns="models-production", name="churn")
        eu.expect_request(isvc).respond_with_json(
            inference_service(f"{PREFIX}/churn-classifier/3", canary=None)
        )
        config = two_cluster_kubeconfig(tmp_path, httpserver.url_for(""), eu.url_for(""))
        result, _ = wait(repo, config, "--model", "churn", "--env", "production", "--timeout", "5")
        assert result.returncode == 0, result.stdout + result.stderr
        assert paths(httpserver) == [APP.format(name="churn-production")]  # Argo CD's cluster
        assert [r.path for r, _ in eu.log] == [isvc]  # the destination's
        assert json.loads(result.stdout)["expected"]["cluster"] == eu.url_for("/")
    finally:
        eu.clear()
        if eu.is_running():
            eu.stop()


def test_a_destination_cluster_no_kubeconfig_context_reaches_is_exit_2_naming_it(tmp_path, httpserver, wait):
    models = two_models()
    models["churn"]["environments"]["production"]["destination"] = {"cluster": "https://prod-us.invalid"}
    repo = make_repo(tmp_path / "repo", models, commit=True)
    config = kubeconfig(tmp_path, httpserver.url_for(""))
    result, _ = wait(repo, config, "--model", "churn", "--env", "production", "--timeout", "5")
    assert result.returncode == 2
    assert "reaches cluster https://prod-us.invalid" in result.stderr and len(result.stderr.splitlines()) == 1
    assert httpserver.log == []  # refused before reading anything
