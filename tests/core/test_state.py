"""The desired state: models, environments, and the registry aliases each environment owns."""

from __future__ import annotations

import pytest

from modelops.core.state import is_reserved_alias
from modelops.errors import BadInput
from tests.core.histories import churn


def test_an_environment_owns_its_alias_its_rollback_target_and_its_canary() -> None:
    model = churn([("promote", "production", 1), ("promote", "production", 2), ("canary", "production", 3)])
    production = model.env("production")
    assert production.owned_aliases() == {
        production.alias: 2,
        f"{production.alias}-previous": 1,
        f"{production.alias}-canary": 3,
    }
    assert churn().env("production").owned_aliases() == {
        production.alias: None,
        f"{production.alias}-previous": None,
        f"{production.alias}-canary": None,
    }


@pytest.mark.parametrize(
    ("alias", "reserved"),
    [("candidate", True), ("champion", True), ("prod-previous", True), ("staging", False)],
)
def test_training_and_rollback_names_are_reserved(alias: str, reserved: bool) -> None:
    assert is_reserved_alias(alias) is reserved


def test_an_unknown_environment_is_bad_input_naming_the_known_ones() -> None:
    with pytest.raises(BadInput, match="staging"):
        churn().env("nowhere")


def test_a_version_quarantined_in_any_environment_counts() -> None:
    model = churn([("promote", "staging", 1), ("promote", "staging", 2), ("rollback", "staging", 0)])
    assert 2 in model.quarantined_anywhere()


def test_a_model_trains_locally_unless_it_names_another_backend() -> None:
    from modelops.core.state import DEFAULT_ARGO_TIMEOUT_MINUTES, parse_state

    base = {"registered_model": "churn-classifier", "environments": {}}
    local = parse_state({"models": {"churn": base}}).model("churn").train
    assert local.backend == "local" and local.argo.namespace is None
    argo = {
        "backend": "argo",
        "argo": {"namespace": "training", "template": "modelops-train", "image": "i:1"},
    }
    on_argo = parse_state({"models": {"churn": {**base, "train": argo}}}).model("churn").train
    assert on_argo.backend == "argo" and on_argo.argo.template == "modelops-train"
    assert on_argo.argo.timeout_minutes == DEFAULT_ARGO_TIMEOUT_MINUTES
