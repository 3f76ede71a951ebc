"""Which (model, env) pins, canaries and quarantines changed between two desired states."""

from __future__ import annotations

from modelops.core.diff import classify, diff_states, workflow_matrix
from modelops.core.state import parse_state
from tests.manifests.fixtures import document, environment, model, state, two_models


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
