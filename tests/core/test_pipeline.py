"""The policy follows the pipeline: verified upstream (soak, no rollback there) and freeze windows."""

from __future__ import annotations

from datetime import UTC, datetime

from modelops.core.freeze import parse_windows
from modelops.core.policy import PolicyConfig, PullRequestFacts, evaluate_promotion
from tests.manifests.fixtures import environment, state, two_models

GOOD = {"eval.passed": "true", "git_commit": "abc", "eval.golden_md5": "f" * 32, "data_version": "d1"}
TAGS = {("churn-classifier", v): GOOD for v in range(1, 10)}
APPROVED = PullRequestFacts(number=7, approvals=("alice", "bob"), author="carol")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FREEZE = PolicyConfig(
    freeze_windows=parse_windows([{"name": "release-week", "start": "2026-12-01", "end": "2026-12-02"}])
)


def pinned_in_staging(at: str, *, rolled_back: bool = False) -> dict:
    models = two_models()
    staging = environment(5, previous=4, quarantined=[5] if rolled_back else [])
    staging["alias"] = "staging"
    staging["history"] = [
        {"at": at, "by": "ci", "action": "promote", "from": 4, "to": 5, "reason": "gate", "ref": "abc1234"}
    ]
    if rolled_back:
        staging["version"], staging["previous"] = 4, None
        staging["history"].append(
            {
                "at": "2026-12-01T11:00:00Z",
                "by": "relay",
                "action": "rollback",
                "from": 5,
                "to": 4,
                "reason": "alert",
            }
        )
    models["churn"]["environments"]["staging"] = staging
    models["churn"]["environments"]["production"]["upstream"] = "staging"
    models["churn"]["environments"]["production"]["soak"] = "2h"
    return models


def canary_of_5(base: dict) -> dict:
    head = {k: dict(v) for k, v in base.items()}
    head["churn"] = dict(base["churn"], environments=dict(base["churn"]["environments"]))
    prod = dict(head["churn"]["environments"]["production"])
    prod["canary"] = {"version": 5, "traffic": 10}
    head["churn"]["environments"]["production"] = prod
    return head


def judge(base: dict, facts: PullRequestFacts = APPROVED, config: PolicyConfig | None = None):
    return evaluate_promotion(
        state(base), state(canary_of_5(base)), facts, TAGS, config or PolicyConfig(), now=NOW
    )


def rule(result, name: str):
    return [d for d in result.decisions if d.rule == name]


def test_a_version_that_soaked_long_enough_upstream_may_be_proposed_with_the_proof() -> None:
    result = judge(pinned_in_staging("2026-12-01T09:00:00Z"))
    (decision,) = rule(result, "verified-upstream")
    assert decision.passed and result.allowed, result.decisions
    assert "served in staging for 3h00m (soak 2h00m)" in decision.message


def test_a_version_still_soaking_is_denied_with_the_time_to_go() -> None:
    result = judge(pinned_in_staging("2026-12-01T11:00:00Z"))
    (decision,) = rule(result, "verified-upstream")
    assert not decision.passed and not result.allowed
    assert "1h00m to go" in decision.message


def test_a_soak_under_a_minute_is_told_in_seconds() -> None:
    base = pinned_in_staging("2026-12-01T11:59:55Z")
    base["churn"]["environments"]["production"]["soak"] = "10s"
    (decision,) = rule(judge(base), "verified-upstream")
    assert not decision.passed and "served in staging for 5s (soak 10s); 5s to go" in decision.message


def test_a_version_rolled_back_upstream_is_never_verified() -> None:
    result = judge(pinned_in_staging("2026-11-30T09:00:00Z", rolled_back=True))
    (decision,) = rule(result, "verified-upstream")
    assert not decision.passed and "rolled back in staging" in decision.message


def test_a_version_quarantined_upstream_is_never_verified_even_when_its_rollback_left_the_history() -> None:
    base = pinned_in_staging("2026-11-30T09:00:00Z")
    base["churn"]["environments"]["staging"]["quarantined"] = [5]
    base["churn"]["environments"]["staging"]["version"] = 4
    (decision,) = rule(judge(base), "verified-upstream")
    assert not decision.passed and "quarantined there" in decision.message


def test_only_the_override_path_skips_verification() -> None:
    base = pinned_in_staging("2026-12-01T11:30:00Z")
    overridden = PullRequestFacts(number=7, labels=("override",), approvals=("alice", "bob"), author="carol")
    result = judge(base, facts=overridden)
    assert result.allowed, result.denials
    assert "skipped under the override label" in rule(result, "verified-upstream")[0].message
    one_approval = PullRequestFacts(number=7, labels=("override",), approvals=("alice",), author="carol")
    assert not judge(base, facts=one_approval).allowed


def test_a_promotion_in_a_freeze_window_is_denied_naming_it_and_a_rollback_is_not() -> None:
    base = pinned_in_staging("2026-12-01T09:00:00Z")
    result = judge(base, config=FREEZE)
    (decision,) = rule(result, "freeze")
    assert not decision.passed and "window 'release-week'" in decision.message
    # The rollback of that canary (dropped, quarantined) goes through during the freeze.
    head = canary_of_5(base)
    after = {k: v for k, v in head.items()}
    rolled = state(after)
    dropped = dict(head["churn"]["environments"]["production"], canary=None, quarantined=[1, 5])
    after["churn"] = dict(head["churn"], environments=dict(head["churn"]["environments"], production=dropped))
    rollback = evaluate_promotion(rolled, state(after), PullRequestFacts(number=None), TAGS, FREEZE, now=NOW)
    assert rollback.allowed, rollback.denials


def test_a_window_in_policies_yaml_with_a_bad_cron_names_the_field() -> None:
    import pytest

    from modelops.errors import BadInput

    with pytest.raises(BadInput, match=r"freeze_windows\[nightly\]\.cron: minute 61"):
        PolicyConfig.from_mapping(
            {"freeze_windows": [{"name": "nightly", "cron": "61 0 * * *", "duration": "1h"}]}
        )


def pipeline_with_dev(dev_pinned_at: str, *, staging_version: int | None = None) -> dict:
    models = two_models()
    dev = environment(6)
    dev["alias"] = "dev"
    dev["history"] = [
        {
            "at": dev_pinned_at,
            "by": "ci",
            "action": "promote",
            "from": None,
            "to": 6,
            "reason": "gate",
            "ref": "d1",
        }
    ]
    envs = models["churn"]["environments"]
    envs["dev"] = dev
    envs["staging"] = dict(
        envs["staging"], version=staging_version, canary=None, upstream="dev", soak="1h", auto_promote=True
    )
    envs["production"]["upstream"] = "staging"
    return models


def test_a_version_that_soaked_in_dev_is_due_for_the_auto_promoting_staging() -> None:
    from modelops.core.verification import due_promotions

    soaked = state(pipeline_with_dev("2026-12-01T10:00:00Z"))
    (due,) = due_promotions(list(soaked.models.values()), NOW)
    assert (due.model, due.env, due.version) == ("churn", "staging", 6)
    assert "served in dev for 2h00m" in due.proof.message
    # Still soaking, already served there, or quarantined: nothing is due; production never auto-promotes.
    assert due_promotions(list(state(pipeline_with_dev("2026-12-01T11:30:00Z")).models.values()), NOW) == []
    served = state(pipeline_with_dev("2026-12-01T10:00:00Z", staging_version=6))
    assert due_promotions(list(served.models.values()), NOW) == []
    rolled = pipeline_with_dev("2026-12-01T10:00:00Z")
    rolled["churn"]["environments"]["production"]["quarantined"] = [1, 6]
    assert due_promotions(list(state(rolled).models.values()), NOW) == []


def test_a_window_freezes_the_protected_environments_unless_it_names_others() -> None:
    base = state(two_models())
    staging_bump = two_models()
    staging_bump["churn"]["environments"]["staging"]["version"] = 5  # the drill's staging promotion
    staging_bump["churn"]["environments"]["staging"]["canary"] = None
    head = state(staging_bump)
    facts = PullRequestFacts(number=None)
    assert not [
        d
        for d in evaluate_promotion(base, head, facts, TAGS, FREEZE, now=NOW).decisions
        if d.rule == "freeze"
    ]
    everywhere = PolicyConfig(
        freeze_windows=parse_windows(
            [
                {
                    "name": "all-hands",
                    "start": "2026-12-01",
                    "end": "2026-12-01",
                    "environments": ["staging", "production"],
                }
            ]
        )
    )
    (decision,) = [
        d
        for d in evaluate_promotion(base, head, facts, TAGS, everywhere, now=NOW).decisions
        if d.rule == "freeze"
    ]
    assert not decision.passed and "'all-hands'" in decision.message
