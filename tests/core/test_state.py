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
