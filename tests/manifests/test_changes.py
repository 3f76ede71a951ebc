"""`modelops changes`: which (model, env) pins, canaries and quarantines changed since a git ref."""

from __future__ import annotations

import json

from modelops.core.diff import classify, diff_states, workflow_matrix
from modelops.core.state import parse_state
from tests.helpers import modelops
from tests.manifests.fixtures import (
    document,
    environment,
    git,
    make_repo,
    model,
    state,
    two_models,
    write_models,
)


def env_of(**kwargs):
    raw = {"churn": model("churn-classifier", production=environment(**kwargs))}
    return parse_state(document(raw)).model("churn").env("production")


def test_a_new_pin_is_a_promotion():
    assert classify(env_of(version=3, previous=2), env_of(version=4, previous=3)) == "promote"


def test_returning_to_previous_and_quarantining_the_left_version_is_a_rollback():
    before = env_of(version=4, previous=3)
    assert classify(before, env_of(version=3, quarantined=[4])) == "rollback"
    # Going back without quarantining is an ordinary pin change, judged like any promotion.
    assert classify(before, env_of(version=3, previous=4)) == "promote"


def test_canary_changes_are_classified_by_outcome():
    pinned = env_of(version=3)
    canary = env_of(version=3, canary={"version": 4, "traffic": 10})
    assert classify(pinned, canary) == "canary"
    assert classify(canary, env_of(version=3, canary={"version": 4, "traffic": 25})) == "canary"
    assert classify(canary, pinned) == "canary-stop"
    assert classify(canary, env_of(version=3, quarantined=[4])) == "rollback"
    assert classify(canary, env_of(version=4, previous=3)) == "promote"


def test_quarantine_scale_and_unpin_and_no_change():
    assert classify(env_of(version=3), env_of(version=3, quarantined=[1])) == "quarantine"
    assert classify(env_of(version=3), env_of(version=3, replicas=3)) == "scale"
    assert classify(env_of(version=3), env_of(version=None)) == "unpin"
    assert classify(env_of(version=3), env_of(version=3)) is None


def test_diff_lists_each_changed_model_and_environment_once_in_order():
    base = two_models()
    head = two_models()
    head["fraud"]["environments"]["production"]["version"] = 7
    head["churn"]["environments"]["staging"]["canary"] = None
    head["new"] = model("new-model")
    changes = diff_states(state(base), state(head))
    assert [(c.model, c.env, c.kind) for c in changes] == [
        ("churn", "staging", "canary-stop"),
        ("fraud", "production", "promote"),
        ("new", "production", "added"),
        ("new", "staging", "added"),
    ]
    assert workflow_matrix(changes)["include"][1] == {
        "model": "fraud",
        "env": "production",
        "kind": "promote",
    }


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
