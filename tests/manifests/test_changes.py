"""`modelops changes`: which (model, env) pins, canaries and quarantines changed since a git ref."""

from __future__ import annotations

import json

from tests.helpers import modelops
from tests.manifests.fixtures import (
    git,
    make_repo,
    model,
    two_models,
    write_models,
)


def test_cli_reports_changes_since_a_ref_as_json_for_a_workflow_matrix(tmp_path):
    models = two_models()
    repo = make_repo(tmp_path, models, commit=True)
    models["churn"]["environments"]["production"].update(version=4, previous=3)
    write_models(repo, models)
    result = modelops("changes", "--base", "HEAD", "--json", "--repo", str(repo))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (change,) = report["changes"]
    assert {k: change[k] for k in ("model", "env", "from", "to", "kind")} == {
        "model": "churn",
        "env": "production",
        "from": 3,
        "to": 4,
        "kind": "promote",
    }
    assert report["matrix"] == {"include": [{"model": "churn", "env": "production", "kind": "promote"}]}
    human = modelops("changes", "--base", "HEAD", "--repo", str(repo))
    assert "churn/production: promote: v3 -> v4" in human.stdout


def test_cli_sees_no_change_for_history_only_edits_and_refuses_an_unknown_ref(tmp_path):
    models = two_models()
    repo = make_repo(tmp_path, models, commit=True)
    models["churn"]["environments"]["production"]["history"] = [
        {
            "at": "2026-01-01T00:00:00Z",
            "by": "x",
            "action": "promote",
            "from": 2,
            "to": 3,
            "reason": "r",
            "ref": None,
        }
    ]
    write_models(repo, models)
    result = modelops("changes", "--base", "HEAD", "--json", "--repo", str(repo))
    assert json.loads(result.stdout) == {"changes": [], "matrix": {"include": []}}
    bad = modelops("changes", "--base", "no-such-branch", "--repo", str(repo))
    assert bad.returncode == 2 and "no-such-branch" in bad.stderr


def test_a_base_without_models_yaml_counts_everything_as_added(tmp_path):
    repo = tmp_path
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("x\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "first")
    write_models(repo, {"churn": model("churn-classifier")})
    result = modelops("changes", "--base", "HEAD", "--json", "--repo", str(repo))
    assert [c["kind"] for c in json.loads(result.stdout)["changes"]] == ["added", "added"]
