"""`modelops policy check`: the promotion policy on a models.yaml change, with facts from the registry
and the forge."""

from __future__ import annotations

import json

import pytest

from modelops.cli import main
from modelops.core.policy import PolicyConfig, PullRequestFacts
from tests.core.policy_facts import GOOD_TAGS, with_production
from tests.helpers import modelops
from tests.manifests.fixtures import make_repo, two_models, write_models


def test_settings_come_from_policies_promotion_yaml_and_unknown_keys_are_refused():
    from modelops.errors import BadInput
    from tests.helpers import REPO_ROOT

    assert PolicyConfig.load(REPO_ROOT) == PolicyConfig()
    with pytest.raises(BadInput, match="unknown setting 'max_model_per_pr'"):
        PolicyConfig.from_mapping({"max_model_per_pr": 2})


@pytest.fixture(scope="module")
def registry_uri(tmp_path_factory):
    """A real MLflow registry (SQLite) where churn-classifier v4 passed evaluation and v5 did not."""
    import mlflow

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn-classifier")
    for version in (1, 2, 3, 4, 5):
        tags = GOOD_TAGS if version != 5 else {"eval.passed": "false"}
        created = client.create_model_version("churn-classifier", f"file:///artifacts/{version}", tags=tags)
        assert str(created.version) == str(version)
    return uri


@pytest.fixture
def policy_check(monkeypatch, capsys):
    """`modelops policy check` run in this process (mlflow is slow to import in every subprocess)."""

    def run(repo, *args: str, tracking_uri: str) -> tuple[int, str, str]:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        capsys.readouterr()
        code = main(["policy", "check", "--base", "HEAD", "--repo", str(repo), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_reads_tags_from_the_registry_and_denies_with_rule_and_fix(tmp_path, registry_uri, policy_check):
    repo = make_repo(tmp_path / "repo", with_production(version=3, previous=2), commit=True)
    write_models(repo, with_production(version=3, previous=2, canary={"version": 4, "traffic": 10}))
    args = ("--pr", "12", "--author", "carol")
    code, out, _ = policy_check(repo, *args, "--approvals", "alice,dave", "--json", tracking_uri=registry_uri)
    assert code == 0, out
    assert json.loads(out)["allowed"] is True

    write_models(repo, with_production(version=3, previous=2, canary={"version": 5, "traffic": 10}))
    code, out, _ = policy_check(repo, *args, "--json", tracking_uri=registry_uri)
    assert code == 1
    report = json.loads(out)
    assert report["allowed"] is False
    failing = {d["rule"]: d for d in report["decisions"] if not d["passed"]}
    assert set(failing) == {"lineage", "owner-approval"}
    assert "eval.passed=false" in failing["lineage"]["message"] and failing["lineage"]["fix"]
    code, out, _ = policy_check(repo, *args, tracking_uri=registry_uri)
    assert code == 1
    assert "DENY lineage:" in out and "(fix: " in out


def test_a_version_the_registry_does_not_know_fails_lineage(tmp_path, registry_uri, policy_check):
    repo = make_repo(tmp_path / "repo", with_production(version=3, previous=2), commit=True)
    write_models(repo, with_production(version=3, previous=2, canary={"version": 9, "traffic": 10}))
    code, out, _ = policy_check(repo, "--approvals", "alice", "--json", tracking_uri=registry_uri)
    assert code == 1
    assert [d["rule"] for d in json.loads(out)["decisions"] if not d["passed"]] == ["lineage"]


def test_an_unreachable_registry_exits_3(tmp_path, policy_check, monkeypatch):
    repo = make_repo(tmp_path / "repo", with_production(version=3, previous=2), commit=True)
    write_models(repo, with_production(version=3, previous=2, canary={"version": 4, "traffic": 10}))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    code, _, err = policy_check(repo, tracking_uri="http://127.0.0.1:9")
    assert code == 3
    assert "MLflow at http://127.0.0.1:9" in err and "Traceback" not in err


def test_cli_without_a_production_change_never_asks_the_registry(tmp_path):
    repo = make_repo(tmp_path / "repo", two_models(), commit=True)
    models = two_models()
    models["fraud"]["environments"]["staging"]["version"] = 9
    write_models(repo, models)
    # An unreachable registry would exit 3: not asked when nothing protected changed.
    result = modelops(
        "policy",
        "check",
        "--base",
        "HEAD",
        "--repo",
        str(repo),
        env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   scope:" in result.stdout


def test_the_flow_asks_a_facts_provider_for_the_pull_request(tmp_path, registry_uri, monkeypatch):
    from modelops.context import Context
    from modelops.flows.policy import check_policy

    repo = make_repo(tmp_path / "repo", with_production(version=3, previous=2), commit=True)
    write_models(repo, with_production(version=3, previous=2, canary={"version": 4, "traffic": 10}))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry_uri)
    asked = []

    def provider(number):
        asked.append(number)
        return PullRequestFacts(number=number, approvals=("bob",), author="carol")

    result = check_policy(Context(repo=repo), "HEAD", pr=31, facts_provider=provider)
    assert asked == [31]
    assert result.allowed, result.decisions


def test_policy_check_enforces_the_soak_on_the_diff_in_git(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import subprocess
    from datetime import UTC, datetime, timedelta

    from tests.helpers import modelops
    from tests.manifests.fixtures import environment, make_repo, model, write_models

    pinned = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def models(staging_version: int | None, soak: str) -> dict:
        dev = environment(6)
        dev["history"] = [
            {"at": pinned, "by": "ci", "action": "promote", "from": None, "to": 6, "reason": "gate"}
        ]
        staging = dict(environment(staging_version), upstream="dev", soak=soak)
        production = dict(environment(), upstream="staging")
        return {"churn": model("churn-classifier", staging=staging, production=production, dev=dev)}

    repo = make_repo(tmp_path / "repo", models(None, "2h"), commit=True)
    write_models(repo, models(6, "2h"))
    denied = modelops("policy", "check", "--base", "HEAD", "--repo", str(repo), "--json")
    assert denied.returncode == 1, denied.stderr
    (decision,) = [d for d in json.loads(denied.stdout)["decisions"] if d["rule"] == "verified-upstream"]
    assert not decision["passed"] and "served in dev for 1h00m (soak 2h00m); " in decision["message"]
    assert decision["message"].endswith(" to go")
    # The soak the base branch declares is the one that counts: commit a 30-minute soak first.
    write_models(repo, models(None, "30m"))
    subprocess.run(["git", "commit", "-qam", "soak 30m"], cwd=repo, check=True)
    write_models(repo, models(6, "30m"))
    allowed = modelops("policy", "check", "--base", "HEAD", "--repo", str(repo))
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
