"""`modelops demo` closes the loop; the test reads the sandbox it leaves behind, not its printout.

The timeline (issue 14): v1 and v2 reach production through staging and its soak; v2's 10 % canary is
analysed from real traffic and promoted, its PR to 100 % approved and merged; after drift, the retrained
v3's canary carries a fault, the analysis aborts it, v2 keeps serving and v3 is quarantined; a freeze
window denies a promotion, and an incident during the freeze still rolls production back to v1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelops.adapters.local_forge import LocalForge
from modelops.core.document import ModelsDocument
from modelops.core.freeze import parse_windows
from tests.demo.helpers import origin_git, run_demo, step

pytestmark = pytest.mark.slow

REVIEWER = "alice"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory, "demo")


def _state_at(demo, rev: str):
    return ModelsDocument(origin_git(demo, "show", f"{rev}:models.yaml") + "\n").state().model("churn")


def _subjects(demo) -> list[str]:
    return origin_git(demo, "log", "--format=%s", "main").splitlines()


def _analysis(demo, version: int) -> dict:
    return json.loads((demo["workdir"] / "analysis" / f"v{version}" / "analysis.json").read_text("utf-8"))


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_the_timeline_is_machine_readable(demo):
    report = demo["report"]
    assert report["steps"] and all({"name", "ok", "seconds"} <= set(s) for s in report["steps"])
    assert report["alert_to_commit_seconds"] is not None and report["alert_to_commit_seconds"] >= 0
    assert Path(report["workdir"]).exists()


def test_every_production_version_soaked_in_staging_first(demo):
    churn = _state_at(demo, "main")
    production = churn.env("production")
    assert production.upstream == "staging" and production.soak  # the sandbox's own pipeline
    staged = {e.to: _stamp(e.at) for e in churn.env("staging").history if e.action == "promote"}
    entered = [e for e in production.history if e.action in ("promote", "canary")]
    assert {e.to for e in entered} == {1, 2, 3}
    for entry in entered:
        assert (_stamp(entry.at) - staged[entry.to]).total_seconds() >= 10, entry


def test_the_v2_canary_is_analysed_from_real_traffic_and_promoted(demo):
    analysis = _analysis(demo, 2)
    assert (analysis["canary"], analysis["stable"]) == (2, 1) and analysis["verdict"] == "promote"
    assert analysis["action"] == "propose", "the evidence says what was done"
    metrics = {m["metric"]: m for m in analysis["metrics"] if m["required"]}
    assert all(m["status"] == "pass" for m in metrics.values()), metrics
    error = metrics["error_rate"]["estimate"]
    # Real requests through the split: about 10 % reached the canary (which joined the window late).
    assert error["canary_n"] >= 30 and 5 <= error["stable_n"] / error["canary_n"] <= 25
    # The verdict opened the PR to 100 %; a human approved it.
    forge = LocalForge(demo["world"] / "forge", demo["repo"])
    (full,) = [
        p for p in forge.list("all") if p.head == "promote/churn/production/v2" and "canary" not in p.title
    ]
    assert full.state == "merged" and REVIEWER in full.approvals
    assert f"propose {full.number}" in step(demo, "2. canary analysis of v2")["detail"]


def test_the_faulty_v3_canary_is_aborted_and_only_the_canary_is_dropped(demo):
    analysis = _analysis(demo, 3)
    assert (analysis["canary"], analysis["stable"]) == (3, 2) and analysis["verdict"] == "abort"
    failed = [m["metric"] for m in analysis["metrics"] if m["status"] == "fail"]
    assert failed == ["latency_p99"]
    commit = demo["report"]["summary"]["abort_commit"]
    message = origin_git(demo, "log", "-1", "--format=%B", commit)
    assert message.startswith("rollback churn production: v3 → v2")
    assert "canary analysis aborted v3" in message and "| latency_p99 | fail |" in message
    after = _state_at(demo, commit).env("production")
    assert (
        after.version == 2 and after.canary is None and 3 in after.quarantined and 2 not in after.quarantined
    )
    assert "X-Model-Version 2" in step(demo, "4. the canary is dropped")["detail"]


def test_a_promotion_during_the_freeze_is_denied_in_one_line(demo):
    denial = demo["report"]["summary"]["freeze_denial"]
    assert "\n" not in denial and "frozen by window 'demo-freeze'" in denial
    forge = LocalForge(demo["world"] / "forge", demo["repo"])
    # The denial opened nothing: v1's only production PR is the first promotion's.
    assert [p.head for p in forge.list("all")].count("promote/churn/production/v1") == 1


def test_an_incident_during_the_freeze_still_rolls_back(demo):
    summary = demo["report"]["summary"]
    incident = summary["incident_commit"]
    subject = origin_git(demo, "log", "-1", "--format=%s", incident).strip()
    assert subject == "rollback churn production: v2 → v1"
    policy = origin_git(demo, "show", f"{incident}:policies/promotion.yaml")
    import yaml

    (window,) = parse_windows(yaml.safe_load(policy)["freeze_windows"])
    landed = datetime.fromtimestamp(int(origin_git(demo, "log", "-1", "--format=%ct", incident)), UTC)
    assert window.name == "demo-freeze" and window.active(landed) is not None


def test_origin_shows_the_sequence_in_order(demo):
    subjects = list(reversed(_subjects(demo)))
    merges = [s for s in subjects if s.startswith("Merge pull request")]
    heads = [m.split(" from ", 1)[1] for m in merges]
    assert [h for h in heads if "/production/" in h] == [
        "promote/churn/production/v1",
        "promote/churn/production/v2",  # its canary step
        "promote/churn/production/v2",  # 100 %, proposed by the analysis
        "promote/churn/production/v3",  # its canary step
    ]
    rollbacks = [s for s in subjects if s.startswith("rollback churn production")]
    assert rollbacks == ["rollback churn production: v3 → v2", "rollback churn production: v2 → v1"]
    freeze = subjects.index("sandbox: freeze window demo-freeze for the next hour")
    assert subjects.index(rollbacks[0]) < freeze < subjects.index(rollbacks[1])


def test_the_end_state_production_on_v1_with_v2_and_v3_quarantined(demo):
    churn = _state_at(demo, "main")
    production = churn.env("production")
    assert production.version == 1 and production.canary is None
    assert {2, 3} <= set(production.quarantined)
    assert churn.env("staging").version == 3


def test_mlflow_aliases_equal_models_yaml(demo):
    import mlflow

    sandbox = json.loads((demo["repo"] / ".modelops" / "sandbox.json").read_text("utf-8"))
    uri = sandbox["tracking_uri"]
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    state = ModelsDocument.load(demo["repo"] / "models.yaml").state()
    for env in state.model("churn").environments.values():
        for alias, version in ((env.alias, env.version), (env.previous_alias, env.previous)):
            try:
                actual = int(client.get_model_version_by_alias("churn-classifier", alias).version)
            except mlflow.exceptions.MlflowException:
                actual = None
            assert actual == version, alias


def test_the_retrained_v3_went_to_staging_before_production(demo):
    forge = LocalForge(demo["world"] / "forge", demo["repo"])
    prs = forge.list("all")
    staging = next(p for p in prs if p.head == "promote/churn/staging/v3")
    production = next(p for p in prs if p.head == "promote/churn/production/v3")
    assert staging.state == "merged" and not staging.approvals  # staging auto-merges
    assert staging.number < production.number
    assert REVIEWER in production.approvals  # production still needs a human


def test_the_demo_writes_its_board_showing_the_end_state(demo):
    index = Path(demo["report"]["board"])
    assert index.name == "index.html" and index.is_file()
    html = index.read_text("utf-8")
    production = html.split('data-env="production">', 1)[1].split("</td>", 1)[0]
    assert 'data-field="version">v1<' in production
    assert 'data-quarantined="2"' in production and 'data-quarantined="3"' in production
    staging = html.split('data-env="staging">', 1)[1].split("</td>", 1)[0]
    assert 'data-field="version">v3<' in staging
