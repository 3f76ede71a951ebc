"""End to end in a sandbox: train → evaluate → propose → approve → merge → sync-registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from modelops.core.document import ModelsDocument
from tests.helpers import REPO_ROOT, modelops, require_binary, run


def ok(result):
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout) if result.stdout.strip().startswith("{") else result.stdout


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A sandbox where v1 was trained, evaluated and merged into production through a reviewed PR."""
    require_binary("git")
    base = tmp_path_factory.mktemp("promotion")
    sandbox = ok(modelops("sandbox", "create", str(base / "world"), "--json", cwd=REPO_ROOT))
    repo = Path(sandbox["repo"])
    trained = ok(modelops("train", "--model", "churn", "--json", cwd=repo))
    evidence = base / "evidence-v1"
    verdict = ok(
        modelops(
            "evaluate",
            "--model",
            "churn",
            "--candidate",
            str(trained["version"]),
            "--env",
            "production",
            "--out",
            str(evidence),
            "--json",
            cwd=repo,
        )
    )
    proposal = ok(
        modelops(
            "propose",
            "--model",
            "churn",
            "--version",
            str(trained["version"]),
            "--env",
            "production",
            "--evidence",
            str(evidence),
            "--json",
            cwd=repo,
        )
    )
    return {
        "sandbox": sandbox,
        "repo": repo,
        "trained": trained,
        "verdict": verdict,
        "proposal": proposal,
        "base": base,
    }


def test_an_unapproved_production_pr_cannot_merge_and_an_owners_approval_lets_it(world):
    repo, pr = world["repo"], world["proposal"]["pr"]
    assert world["verdict"]["passed"] is True and world["verdict"]["champion_version"] is None
    refused = modelops("pr", "merge", str(pr), cwd=repo)
    assert refused.returncode == 1 and "owner" in refused.stderr
    ok(modelops("pr", "approve", str(pr), "--as", "alice", cwd=repo))
    merged = ok(modelops("pr", "merge", str(pr), "--json", cwd=repo))
    assert merged["state"] == "merged"
    ok(modelops("sync-registry", cwd=repo))

    version = world["trained"]["version"]
    log = run(["git", "log", "--format=%s", "origin/main"], cwd=repo).stdout.splitlines()
    assert log[0] == f"Merge pull request #{pr} from promote/churn/production/v{version}"
    state = ModelsDocument.load(repo / "models.yaml").state()
    assert state.model("churn").env("production").version == version

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=world["sandbox"]["tracking_uri"])
    assert int(client.get_model_version_by_alias("churn-classifier", "production").version) == version
    overlay = (repo / "applications/churn/overlays/production").rglob("*.yaml")
    rendered = "\n".join(p.read_text("utf-8") for p in overlay)
    assert f"/churn-classifier/{version}" in rendered
    status = ok(modelops("status", "--json", cwd=repo))
    assert status["registry"]["models"]["churn"]["production"]["in_sync"] is True


def test_the_pr_carries_evidence_lineage_rollback_plan_and_checklist(world):
    body = ok(modelops("pr", "show", str(world["proposal"]["pr"]), "--json", cwd=world["repo"]))["body"]
    for needle in (
        "Evaluation evidence",
        "golden md5",
        "Rollback plan",
        "Checklist",
        "MLflow run",
        world["trained"]["run_id"],
    ):
        assert needle in body, needle
    labels = ok(modelops("pr", "show", str(world["proposal"]["pr"]), "--json", cwd=world["repo"]))["labels"]
    assert set(labels) >= {"promotion", "env:production"}


def test_proposing_the_same_version_twice_gives_one_pr(world):
    repo = world["repo"]
    version = str(world["trained"]["version"])
    # Staging pins nothing, so v1's evaluation against production's (empty) champion does not license it;
    # a human override does, and it is the same PR both times.
    proposal = ["propose", "--model", "churn", "--version", version, "--env", "staging"]
    override = ["--override-reason", "seed staging", "--json"]
    first = ok(modelops(*proposal, *override, cwd=repo))
    second = ok(modelops(*proposal, *override, cwd=repo))
    assert first["created"] is True and second["created"] is False and first["pr"] == second["pr"]
    open_prs = ok(modelops("pr", "list", "--json", cwd=repo))["prs"]
    assert [p["number"] for p in open_prs if p["head"].startswith("promote/churn/staging/")] == [first["pr"]]
    assert "override" in open_prs[-1]["labels"]
    ok(modelops("pr", "close", str(first["pr"]), "--comment", "test done", cwd=repo))


def test_a_failed_or_quarantined_version_is_refused_with_exit_1(world):
    repo, base = world["repo"], world["base"]
    params = yaml.safe_load((repo / "params.yaml").read_text("utf-8"))
    params["churn"]["train"].update(max_iter=2, max_depth=1, learning_rate=0.01)
    crippled = base / "crippled.yaml"
    crippled.write_text(yaml.safe_dump(params), encoding="utf-8")
    worse = ok(modelops("train", "--model", "churn", "--params", str(crippled), "--json", cwd=repo))
    verdict = modelops(
        "evaluate",
        "--model",
        "churn",
        "--candidate",
        str(worse["version"]),
        "--env",
        "production",
        "--json",
        cwd=repo,
    )
    assert verdict.returncode == 1 and json.loads(verdict.stdout)["passed"] is False
    refused = modelops(
        "propose", "--model", "churn", "--version", str(worse["version"]), "--env", "production", cwd=repo
    )
    assert refused.returncode == 1 and "failed its evaluation" in refused.stderr

    doc = ModelsDocument.load(repo / "models.yaml")
    doc.root["models"]["churn"]["environments"]["staging"]["quarantined"].append(worse["version"])
    (repo / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    run(["git", "commit", "-qam", "quarantine the crippled version"], cwd=repo)
    run(["git", "push", "-q", "origin", "main"], cwd=repo)
    refused = modelops(
        "propose", "--model", "churn", "--version", str(worse["version"]), "--env", "staging", cwd=repo
    )
    assert refused.returncode == 1 and "quarantined" in refused.stderr


def test_sync_registry_reports_and_corrects_an_alias_moved_by_hand(world):
    import mlflow

    repo = world["repo"]
    client = mlflow.MlflowClient(tracking_uri=world["sandbox"]["tracking_uri"])
    pinned = ModelsDocument.load(repo / "models.yaml").state().model("churn").env("production").version
    wrong = max(int(v.version) for v in client.search_model_versions("name='churn-classifier'"))
    assert wrong != pinned
    client.set_registered_model_alias("churn-classifier", "production", str(wrong))  # "in the MLflow UI"

    status = ok(modelops("status", "--json", cwd=repo))
    assert status["registry"]["models"]["churn"]["production"]["in_sync"] is False
    fixed = ok(modelops("sync-registry", "--json", cwd=repo))
    corrected = [c for c in fixed["changed"] if c["alias"] == "production"]
    assert corrected == [
        {
            "model": "churn",
            "env": "production",
            "alias": "production",
            "desired": pinned,
            "actual": wrong,
            "action": "corrected",
        }
    ]
    assert int(client.get_model_version_by_alias("churn-classifier", "production").version) == pinned
    again = ok(modelops("sync-registry", "--json", cwd=repo))
    assert again["changed"] == []


def test_an_approved_pr_for_a_version_quarantined_meanwhile_does_not_merge(world):
    """Approved for production, then rolled back in staging (quarantined there): the merge is judged on
    main as it is now, so it is refused, and origin never pins a quarantined version."""
    repo, base = world["repo"], world["base"]
    fresh = ok(modelops("train", "--model", "churn", "--json", cwd=repo))
    version = str(fresh["version"])
    evidence = base / f"evidence-v{version}"
    evaluate = ["evaluate", "--model", "churn", "--candidate", version, "--env", "production"]
    ok(modelops(*evaluate, "--out", str(evidence), "--json", cwd=repo))
    propose = ["propose", "--model", "churn", "--version", version, "--env", "production"]
    proposal = ok(modelops(*propose, "--evidence", str(evidence), "--json", cwd=repo))
    ok(modelops("pr", "approve", str(proposal["pr"]), "--as", "alice", cwd=repo))

    run(["git", "pull", "-q", "--ff-only", "origin", "main"], cwd=repo)
    doc = ModelsDocument.load(repo / "models.yaml")
    doc.root["models"]["churn"]["environments"]["staging"]["quarantined"].append(int(version))
    (repo / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    run(["git", "commit", "-qam", f"staging rolled back v{version}"], cwd=repo)
    run(["git", "push", "-q", "origin", "main"], cwd=repo)

    refused = modelops("pr", "merge", str(proposal["pr"]), cwd=repo)
    assert refused.returncode == 1, refused.stderr
    assert f"v{version} is quarantined" in refused.stderr
    origin = ModelsDocument(run(["git", "show", "origin/main:models.yaml"], cwd=repo).stdout).state()
    assert origin.model("churn").env("production").version != int(version)
    shown = ok(modelops("pr", "show", str(proposal["pr"]), "--json", cwd=repo))
    assert shown["state"] == "open"
