"""`modelops demo` closes the loop; the test reads the sandbox it leaves behind, not its printout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modelops.adapters.local_forge import LocalForge
from modelops.core.document import ModelsDocument
from tests.helpers import REPO_ROOT, modelops, require_binary, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    require_binary("git")
    if os.environ.get("CI", "").lower() == "true":
        # In CI the real alerting path is part of what the demo proves.
        require_binary("prometheus")
        require_binary("alertmanager")
    workdir = tmp_path_factory.mktemp("demo") / "run"
    result = modelops("demo", "--workdir", str(workdir), "--quick", "--json", cwd=REPO_ROOT)
    report = json.loads(result.stdout)
    failed = [s for s in report["steps"] if not s["ok"]]
    assert result.returncode == 0, f"{failed}\n{result.stderr[-3000:]}"
    world = workdir / "world"
    return {"report": report, "world": world, "repo": world / "repo", "origin": world / "origin.git"}


def test_the_timeline_is_machine_readable(demo):
    report = demo["report"]
    assert report["steps"] and all({"name", "ok", "seconds"} <= set(s) for s in report["steps"])
    assert report["alert_to_commit_seconds"] is not None and report["alert_to_commit_seconds"] >= 0
    assert Path(report["workdir"]).exists()


def test_origin_shows_the_promotion_merges_and_the_rollback_commit(demo):
    subjects = run(["git", "log", "--format=%s", "main"], cwd=demo["origin"]).stdout.splitlines()
    merges = [s for s in subjects if s.startswith("Merge pull request")]
    assert len(merges) >= 3  # v1; v2 at its canary step; v2 at 100 %
    rollbacks = [s for s in subjects if s.startswith("rollback churn production")]
    assert rollbacks == ["rollback churn production: v2 → v1"]
    # The rollback came after the production promotions it undid (the retrain's staging merge may follow).
    production = [s for s in merges if "promote/churn/production/" in s]
    assert subjects.index(rollbacks[0]) < subjects.index(production[0])


def test_v2_is_quarantined_and_production_serves_v1(demo):
    text = run(["git", "show", "main:models.yaml"], cwd=demo["origin"]).stdout
    production = ModelsDocument(text + "\n").state().model("churn").env("production")
    assert production.version == 1 and 2 in production.quarantined


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


def test_the_retrained_v3_is_proposed_to_staging_never_straight_to_production(demo):
    forge = LocalForge(demo["world"] / "forge", demo["repo"])
    heads = [p.head for p in forge.list("all")]
    assert "promote/churn/staging/v3" in heads
    assert "promote/churn/production/v3" not in heads


def test_the_demo_writes_its_board_showing_the_end_state(demo):
    index = Path(demo["report"]["board"])
    assert index.name == "index.html" and index.is_file()
    html = index.read_text("utf-8")
    production = html.split('data-env="production">', 1)[1].split("</td>", 1)[0]
    assert 'data-field="version">v1<' in production and 'data-quarantined="2"' in production
    staging = html.split('data-env="staging">', 1)[1].split("</td>", 1)[0]
    assert "v3" in staging  # the retrained v3: pinned by auto-merge, or its PR waiting for review
