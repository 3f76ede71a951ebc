"""`modelops demo --model visits`: the second model, a regression, goes through the whole loop alone.

v1 is trained by the model's own script, evaluated (floors only), proposed, approved by an owner and
merged into production, served and scraped; v2 the same way at 100 %; a fault in v2, its alert through
Alertmanager and the relay, and the rollback commit put production back on v1. Churn, beside it in the
same models.yaml, is never touched. The test reads the sandbox the demo leaves behind.
"""

from __future__ import annotations

import json
import os

import pytest

from modelops.adapters.local_forge import LocalForge
from modelops.core.document import ModelsDocument
from tests.demo.helpers import origin_git, run_demo, step
from tests.helpers import REPO_ROOT, churn_block, modelops

pytestmark = pytest.mark.slow

MODEL = "visits"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory, "demo-visits", "--model", MODEL)


def _models_at(demo, rev: str) -> str:
    return origin_git(demo, "show", f"{rev}:models.yaml")


def _visits_at(demo, rev: str):
    return ModelsDocument(_models_at(demo, rev) + "\n").state().model(MODEL)


def test_the_timeline_is_the_loop_alone(demo):
    report = demo["report"]
    assert report["model"] == MODEL
    if os.environ.get("CI", "").lower() == "true":
        assert report["alerts"] == "prometheus"
    prometheus = report["alerts"] == "prometheus"
    fault = "incident: fault in v2, ModelErrorRateHigh fires"
    names = [s["name"] for s in report["steps"]]
    assert names[:7] == [
        "sandbox: origin, clone, MLflow, DVC remote, forge",
        "the sandbox's loop: visits straight to production, no canary step",
        "train v1",
        "evaluate v1 against production",
        "propose v1 → production",
        "approve #1 as carol, merge",
        "sync-registry",
    ]
    # v2 trains while v1's server, the relay and Prometheus start: these end in any order
    concurrent = [
        "train v2 (retrained, while v1 starts serving)",
        "serve visits/production locally (follows models.yaml)",
        "start the relay",
        *(["start Prometheus + Alertmanager (demo profile)"] if prometheus else []),
    ]
    assert sorted(names[7 : 7 + len(concurrent)]) == sorted(concurrent)
    assert names[7 + len(concurrent) :] == [
        "evaluate v2 against production",
        "propose v2 → production",
        "approve #2 as carol, merge",
        "sync-registry",
        "serving converges to v2",
        fault if prometheus else "SIMULATED alert: Alertmanager-format webhook to the relay",
        "relay → rollback commit on origin/main",
        "serving converges back to v1",
        *(["the alert resolves"] if prometheus else []),
        "the delivery board",
    ]
    assert step(demo, "evaluate v1")["detail"] == "PASSED (no champion: floors only)"
    assert step(demo, "evaluate v2")["detail"] == "PASSED vs v1"


def test_origin_shows_each_step_in_order(demo):
    subjects = list(reversed(origin_git(demo, "log", "--format=%s", "main").splitlines()))
    heads = [s.split(" from ", 1)[1] for s in subjects if s.startswith("Merge pull request")]
    assert heads == ["promote/visits/production/v1", "promote/visits/production/v2"]
    assert subjects[-1] == "rollback visits production: v2 → v1"
    forge = LocalForge(demo["world"] / "forge", demo["repo"])
    prs = forge.list("all")
    assert [p.state for p in prs] == ["merged", "merged"]
    # the owner-approval policy: one of visits' owners, not churn's, approved each
    assert [tuple(p.approvals) for p in prs] == [("carol",), ("carol",)]


def test_v2_was_gated_against_v1_and_served_before_its_fault(demo):
    merge_v2 = origin_git(
        demo, "log", "--format=%H", "--grep", "promote/visits/production/v2", "main"
    ).split()[0]
    production = _visits_at(demo, merge_v2).env("production")
    assert (production.version, production.previous, production.canary) == (2, 1, None)
    assert "X-Model-Version 2" in step(demo, "serving converges to v2")["detail"]
    if demo["report"]["alerts"] == "prometheus":  # the alert Prometheus raised names the faulty version
        assert "version=2" in step(demo, "incident: fault in v2")["detail"]


def test_the_incident_commit_rolls_visits_back_and_leaves_churn_untouched(demo):
    commit = demo["report"]["summary"]["incident_commit"]
    assert (
        origin_git(demo, "log", "-1", "--format=%s", commit).strip() == "rollback visits production: v2 → v1"
    )
    changed = origin_git(demo, "diff", "--name-only", f"{commit}^", commit).split()
    # the pin and visits' own rendered overlay, nothing of churn's
    assert (
        "models.yaml" in changed
        and "applications/visits/overlays/production/inferenceservice-patch.yaml" in changed
    )
    assert all(f == "models.yaml" or f.startswith("applications/visits/") for f in changed), changed
    after = _visits_at(demo, commit).env("production")
    assert after.version == 1 and 2 in after.quarantined
    seed = origin_git(demo, "rev-list", "--max-parents=0", "main").strip()
    assert churn_block(_models_at(demo, "main")) == churn_block(_models_at(demo, seed))
    assert step(demo, "serving converges back to v1")["detail"] == "X-Model-Version 1"


def test_mlflow_aliases_follow_the_rollback(demo):
    import mlflow

    sandbox = json.loads((demo["repo"] / ".modelops" / "sandbox.json").read_text("utf-8"))
    client = mlflow.MlflowClient(tracking_uri=sandbox["tracking_uri"], registry_uri=sandbox["tracking_uri"])
    production = _visits_at(demo, "main").env("production")
    assert production.version == 1
    assert int(client.get_model_version_by_alias("visits-regressor", production.alias).version) == 1
    for alias, version in ((production.previous_alias, production.previous), ("candidate", 2)):
        try:
            actual = int(client.get_model_version_by_alias("visits-regressor", alias).version)
        except mlflow.exceptions.MlflowException:
            actual = None
        assert actual == version, alias


def test_an_unknown_model_is_bad_input_in_one_line(tmp_path):
    workdir = tmp_path / "never"
    done = modelops("demo", "--model", "fraud", "--workdir", str(workdir), cwd=REPO_ROOT)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "'fraud'" in lines[0], done.stderr
    assert not workdir.exists()
