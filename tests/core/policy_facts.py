"""Desired states, registry tags and pull-request facts for the promotion policy's specifications."""

from __future__ import annotations

from modelops.core.policy import PullRequestFacts
from tests.manifests.fixtures import environment, two_models

GOOD_TAGS = {"eval.passed": "true", "git_commit": "abc123", "eval.golden_md5": "f" * 32, "data_version": "d1"}
APPROVED = PullRequestFacts(number=7, approvals=("alice",), author="carol")


def tags_for(*good: int, registered: str = "churn-classifier"):
    return {(registered, v): GOOD_TAGS for v in good}


def with_production(name: str = "churn", **env):
    models = two_models()
    models[name]["environments"]["production"] = environment(alias="production", **env)
    return models
