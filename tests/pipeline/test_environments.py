"""Environments form a pipeline declared in models.yaml; today's staging/production file still works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelops.core.document import ModelsDocument
from modelops.core.pipeline import PipelineLimits, downstream, stages
from tests.helpers import REPO_ROOT, churn_only, modelops

# churn alone, so that each problem is reported once
TODAY = churn_only((REPO_ROOT / "models.yaml").read_text("utf-8"))


def env(alias: str, **extra: Any) -> str:
    lines = ["version: null", f"alias: {alias}", "canary: null", "quarantined: []", "history: []"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "\n".join("        " + line for line in lines)


def models(envs: dict[str, dict[str, Any]]) -> str:
    body = "\n".join(f"      {name}:\n" + env(name, **extra) for name, extra in envs.items())
    return f"""apiVersion: modelops/v1
models:
  churn:
    registered_model: churn-classifier
    owners: [alice, bob]
    promotion:
      canary_steps: [10]
    environments:
{body}
"""


FOUR = {
    "dev": {"auto_promote": "true"},
    "staging": {"upstream": "dev", "soak": "30m", "auto_promote": "true"},
    "prod-eu": {
        "upstream": "staging",
        "soak": "2h",
        "canary_steps": "[10, 25]",
        "destination": "{cluster: 'https://eu.example', namespace: churn-eu}",
    },
    "prod-us": {"upstream": "staging", "soak": "1d", "destination": "{cluster: 'https://us.example'}"},
}
LIMITS = PipelineLimits(protected=("prod-eu", "prod-us"), max_canary_traffic=50)


def problems(text: str, limits: PipelineLimits = LIMITS) -> list[str]:
    return [f"{p.path}: {p.message}" for p in ModelsDocument(text).problems(limits)]


def test_todays_file_is_valid_and_gets_derived_defaults() -> None:
    doc = ModelsDocument(TODAY)
    assert doc.problems() == []
    churn = doc.state().model("churn")
    resolved = stages(churn)
    assert list(resolved) == ["staging", "production"]
    assert resolved["staging"].auto_promote is True  # from promotion.auto_merge_staging
    assert resolved["production"].auto_promote is False
    assert resolved["production"].canary_steps == (10,)
    assert resolved["staging"].canary_steps == ()  # model-level steps are production's
    assert resolved["production"].upstream is None and resolved["production"].soak_seconds == 0
    assert resolved["production"].namespace == "models-production"
    assert resolved["production"].cluster == "https://kubernetes.default.svc"


def test_any_number_of_environments_with_any_names_in_pipeline_order() -> None:
    text = models(dict(reversed(list(FOUR.items()))))
    assert problems(text) == []
    churn = ModelsDocument(text).state().model("churn")
    resolved = stages(churn)
    assert list(resolved)[:2] == ["dev", "staging"]
    assert set(list(resolved)[2:]) == {"prod-eu", "prod-us"}
    assert resolved["prod-eu"].soak_seconds == 7200 and resolved["prod-us"].soak_seconds == 86400
    assert resolved["prod-eu"].canary_steps == (10, 25)
    assert resolved["prod-us"].canary_steps == (10,)  # a last stage takes promotion.canary_steps
    assert resolved["staging"].canary_steps == ()
    assert (resolved["prod-eu"].cluster, resolved["prod-eu"].namespace) == ("https://eu.example", "churn-eu")
    assert resolved["prod-us"].namespace == "models-prod-us"
    assert sorted(downstream(churn, "staging")) == ["prod-eu", "prod-us"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"dev": {"upstream": "prod-us"}},
            "models.churn.environments.dev.upstream: upstream cycle: dev → prod-us → staging → dev",
        ),
        (
            {"staging": {"upstream": "qa"}},
            "models.churn.environments.staging.upstream: unknown environment 'qa'",
        ),
        ({"staging": {"upstream": "staging"}}, "an environment cannot be its own upstream"),
        (
            {"prod-us": {"soak": "'two days'"}},
            "models.churn.environments.prod-us.soak: 'two days' is not a duration",
        ),
        (
            {"prod-eu": {"canary_steps": "[10, 60]"}},
            "prod-eu.canary_steps: step 60 is over the admission limit of 50%",
        ),
        ({"prod-eu": {"canary_steps": "[25, 10]"}}, "prod-eu.canary_steps: steps must rise strictly"),
        ({"prod-us": {"auto_promote": "true"}}, "prod-us.auto_promote: prod-us is protected"),
        (
            {"prod-us": {"upstream": "null"}},
            "prod-us.upstream: unreachable: no upstream, but the pipeline's entry is 'dev'",
        ),
    ],
)
def test_bad_pipelines_name_the_field(change: dict[str, dict[str, Any]], expected: str) -> None:
    envs = {name: dict(extra) for name, extra in FOUR.items()}
    for name, extra in change.items():
        envs[name].update(extra)
        if extra.get("upstream") == "null":
            del envs[name]["upstream"]
    found = problems(models(envs))
    assert any(expected in p for p in found), found


def test_model_level_canary_step_over_the_limit_names_promotion() -> None:
    text = TODAY.replace("canary_steps: [10]", "canary_steps: [60]")
    assert "models.churn.promotion.canary_steps: step 60 is over the admission limit of 50%" in problems(
        text, PipelineLimits()
    )


def test_validate_reads_the_admission_limit_from_the_policy_and_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "promotion.yaml").write_text("max_canary_traffic: 20\n", encoding="utf-8")
    (tmp_path / "models.yaml").write_text(TODAY.replace("canary_steps: [10]", "canary_steps: [25]"), "utf-8")
    result = modelops("validate", "--repo", str(tmp_path))
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"{tmp_path / 'models.yaml'}:")
    assert line.endswith(": models.churn.promotion.canary_steps: step 25 is over the admission limit of 20%")
