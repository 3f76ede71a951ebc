"""A failed rollback pages: the counter behind ModelRollbackFailed grows, locally and on a Pushgateway."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request

import pytest

from tests.helpers import REPO_ROOT, modelops, require_binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pushgateway(tmp_path):
    binary = require_binary("pushgateway")
    port = _free_port()
    proc = subprocess.Popen(
        # Debian's build persists to /var/lib/prometheus by default, which every instance would share.
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/-/ready", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _series(text: str) -> dict[str, float]:
    return {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("modelops_rollback_failed_total{")
    }


def test_each_failure_grows_the_counter_and_lands_in_the_log(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "models.yaml").write_text((REPO_ROOT / "models.yaml").read_text("utf-8"), encoding="utf-8")
    for _ in range(2):
        result = modelops(
            "notify",
            "rollback-failed",
            "--model",
            "churn",
            "--env",
            "production",
            "--reason",
            "x",
            "--incident",
            "inc-9",
            cwd=repo,
        )
        assert result.returncode == 0, result.stderr
    series = _series((repo / ".modelops" / "metrics" / "modelops_rollback_failed.prom").read_text("utf-8"))
    assert series == {'modelops_rollback_failed_total{model="churn",env="production"}': 2.0}
    log = (repo / ".modelops" / "notifications.jsonl").read_text("utf-8").splitlines()
    assert len(log) == 2 and all('"incident": "inc-9"' in line for line in log)


def test_a_pushgateway_receives_a_growing_value(tmp_path, pushgateway):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "models.yaml").write_text((REPO_ROOT / "models.yaml").read_text("utf-8"), encoding="utf-8")
    values = []
    for _ in range(2):
        result = modelops(
            "notify",
            "rollback-failed",
            "--model",
            "churn",
            "--env",
            "staging",
            "--reason",
            "x",
            cwd=repo,
            env={"MODELOPS_PUSHGATEWAY_URL": pushgateway},
        )
        assert result.returncode == 0, result.stderr
        text = urllib.request.urlopen(f"{pushgateway}/metrics", timeout=5).read().decode()
        values += [v for k, v in _series(text).items() if 'model="churn"' in k and 'env="staging"' in k]
        time.sleep(0.01)
    assert len(values) == 2 and values[1] > values[0] > 0


def test_an_unknown_model_is_bad_input(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "models.yaml").write_text((REPO_ROOT / "models.yaml").read_text("utf-8"), encoding="utf-8")
    result = modelops(
        "notify", "rollback-failed", "--model", "nope", "--env", "production", "--reason", "x", cwd=repo
    )
    assert result.returncode == 2 and "no model 'nope'" in result.stderr
    assert not (repo / ".modelops" / "metrics").exists()


def test_an_unreachable_pushgateway_still_lets_the_issue_page_and_says_what_to_fix(tmp_path, httpserver):
    # A GitHub-hosted runner cannot reach an in-cluster Pushgateway: the issue must be opened anyway.
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "models.yaml").write_text((REPO_ROOT / "models.yaml").read_text("utf-8"), encoding="utf-8")
    issue_url = httpserver.url_for("/acme/models/issues/12")
    httpserver.expect_request("/repos/acme/models/issues", method="POST").respond_with_json(
        {"number": 12, "id": 12, "html_url": issue_url, "title": "Rollback failed: churn production"},
        status=201,
    )
    result = modelops(
        "notify", "rollback-failed", "--model", "churn", "--env", "production", "--reason", "push refused",
        cwd=repo,
        env={
            "GITHUB_TOKEN": "ghp_test",
            "GITHUB_REPOSITORY": "acme/models",
            "GITHUB_API_URL": httpserver.url_for("/").rstrip("/"),
            "MODELOPS_PUSHGATEWAY_URL": "http://127.0.0.1:9",
        },
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert len(httpserver.log) == 1, "the issue was opened before the push was tried"
    error = result.stderr.strip().splitlines()[-1]  # after the notification's own log line
    assert (
        error.startswith("modelops: error:") and "reachable from the runner" in error and issue_url in error
    )
