"""The promotion policy: who may change what serves in production, and on what evidence."""

from __future__ import annotations

from modelops.core.policy import PolicyConfig, PullRequestFacts, evaluate_promotion, tags_needed
from tests.core.policy_facts import APPROVED, GOOD_TAGS, tags_for, with_production
from tests.manifests.fixtures import environment, state, two_models


def judge(base, head, facts=APPROVED, tags=None, config=None):
    tags = tags if tags is not None else tags_for(4, 5)
    return evaluate_promotion(state(base), state(head), facts, tags, config or PolicyConfig())


def failed(result) -> list[str]:
    return [d.rule for d in result.decisions if not d.passed]


def test_an_approved_canary_of_an_evaluated_version_is_allowed():
    base = with_production(version=3, previous=2)
    head = with_production(version=3, previous=2, canary={"version": 4, "traffic": 10})
    result = judge(base, head)
    assert result.allowed, result.decisions
    assert {d.rule for d in result.decisions} >= {
        "owner-approval",
        "lineage",
        "not-quarantined",
        "canary-limit",
    }


def test_pinning_the_canary_at_100_percent_is_allowed():
    base = with_production(version=3, previous=2, canary={"version": 4, "traffic": 10})
    head = with_production(version=4, previous=3)
    assert judge(base, head).allowed


def test_a_production_change_needs_an_owner_approval_and_the_authors_own_does_not_count():
    base = with_production(version=3, previous=2)
    head = with_production(version=3, previous=2, canary={"version": 4, "traffic": 10})
    for facts in (
        PullRequestFacts(number=7),
        PullRequestFacts(number=7, approvals=("mallory",), author="carol"),
        PullRequestFacts(number=7, approvals=("alice",), author="alice"),
    ):
        result = judge(base, head, facts=facts)
        assert failed(result) == ["owner-approval"], facts
        (denial,) = result.denials
        assert "PR #7" in denial.fix and "approve" in denial.fix


def test_a_version_without_evaluation_evidence_is_denied_naming_the_missing_tags():
    base = with_production(version=3, previous=2)
    head = with_production(version=3, previous=2, canary={"version": 4, "traffic": 10})
    partial = {
        ("churn-classifier", 4): {"eval.passed": "false", "git_commit": "unknown", "data_version": "d1"}
    }
    result = judge(base, head, tags=partial)
    assert failed(result) == ["lineage"]
    (denial,) = result.denials
    assert "eval.passed=false" in denial.message and "git_commit missing" in denial.message
    assert "eval.golden_md5 missing" in denial.message and "data_version" not in denial.message
    assert "modelops evaluate --model churn --candidate 4" in denial.fix
    assert failed(judge(base, head, tags={})) == ["lineage"]


def test_a_quarantined_version_is_denied_unless_overridden_with_two_owner_approvals():
    base = with_production(version=3, previous=2, quarantined=[4])
    head = with_production(version=3, previous=2, quarantined=[4], canary={"version": 4, "traffic": 10})
    assert failed(judge(base, head)) == ["not-quarantined"]
    # Dropping it from the list in the same PR does not launder it.
    head_unlisted = with_production(version=3, previous=2, canary={"version": 4, "traffic": 10})
    assert failed(judge(base, head_unlisted)) == ["not-quarantined"]
    override = PullRequestFacts(number=7, labels=("override",), approvals=("alice",), author="carol")
    assert failed(judge(base, head, facts=override)) == ["override"]
    both = PullRequestFacts(number=7, labels=("override",), approvals=("alice", "bob"), author="carol")
    assert judge(base, head, facts=both).allowed


def test_going_to_100_percent_without_a_canary_step_is_denied():
    base = with_production(version=3, previous=2)
    head = with_production(version=4, previous=3)
    result = judge(base, head)
    assert failed(result) == ["canary-first"]
    assert "--traffic 10" in result.denials[0].fix
    # A model without canary steps may go straight to 100 %.
    no_steps = with_production(version=4, previous=3)
    no_steps_base = with_production(version=3, previous=2)
    no_steps["churn"]["promotion"]["canary_steps"] = no_steps_base["churn"]["promotion"]["canary_steps"] = []
    assert judge(no_steps_base, no_steps).allowed
    # The first pin has nothing to canary against.
    assert judge(with_production(), with_production(version=4)).allowed


def test_a_canary_above_half_the_traffic_is_denied():
    base = with_production(version=3, previous=2)
    head = with_production(version=3, previous=2, canary={"version": 4, "traffic": 60})
    assert failed(judge(base, head)) == ["canary-limit"]


def test_two_models_in_one_pr_need_the_multi_model_label():
    base = with_production(version=3, previous=2)
    base["fraud"]["environments"]["production"] = environment(7, alias="production")
    head = with_production(version=3, previous=2, canary={"version": 4, "traffic": 10})
    head["fraud"]["environments"]["production"] = environment(
        7, alias="production", canary={"version": 8, "traffic": 10}
    )
    tags = {**tags_for(4), ("fraud-detector", 8): GOOD_TAGS}
    facts = PullRequestFacts(number=7, approvals=("alice", "bob"), author="carol")
    assert failed(judge(base, head, facts=facts, tags=tags)) == ["one-model"]
    labelled = PullRequestFacts(number=7, labels=("multi-model",), approvals=("alice", "bob"), author="carol")
    assert judge(base, head, facts=labelled, tags=tags).allowed


def test_a_rollback_commit_is_allowed_without_review_or_tags():
    base = with_production(version=4, previous=3)
    head = with_production(version=3, quarantined=[4])
    result = judge(base, head, facts=PullRequestFacts(number=None), tags={})
    assert result.allowed
    assert [d.rule for d in result.decisions] == ["rollback", "one-model"]
    canary_base = with_production(version=3, previous=2, canary={"version": 4, "traffic": 10})
    canary_head = with_production(version=3, previous=2, quarantined=[4])
    assert judge(canary_base, canary_head, facts=PullRequestFacts(number=None), tags={}).allowed


def test_staging_changes_are_not_judged():
    base = two_models()
    head = two_models()
    head["fraud"]["environments"]["staging"]["version"] = 9
    result = judge(base, head, facts=PullRequestFacts(number=None), tags={})
    assert result.allowed and [d.rule for d in result.decisions] == ["scope"]


def test_only_the_versions_a_change_starts_serving_need_tags():
    base = with_production(version=3, previous=2)
    head = with_production(version=3, previous=2, canary={"version": 4, "traffic": 10})
    head["fraud"]["environments"]["staging"]["version"] = 9
    assert tags_needed(state(base), state(head)) == [("churn-classifier", 4)]
    assert tags_needed(state(head), state(with_production(version=2, quarantined=[3]))) == []


def test_a_callable_tag_source_is_asked_with_the_registered_name_and_version():
    asked = []

    def source(name, version):
        asked.append((name, version))
        return GOOD_TAGS

    base = with_production(version=3, previous=2)
    head = with_production(version=3, previous=2, canary={"version": 4, "traffic": 10})
    assert judge(base, head, tags=source).allowed
    assert asked == [("churn-classifier", 4)]
