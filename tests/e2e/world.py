"""A sandbox whose production serves churn v2 with v1 as its rollback target, built the way a user would:
`modelops sandbox create`, two registered versions, a models.yaml commit on origin, `sync-registry`."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.flows.render import render
from modelops.flows.sync_registry import sync_registry
from modelops.output import step
from tests.helpers import modelops

MODEL = "churn"
ENV = "production"
REGISTERED = "churn-classifier"
TRAINING_ROWS = 1500


@dataclass(frozen=True)
class World:
    workdir: Path
    clone: Path
    origin: Path
    tracking_uri: str
    run_ids: dict[int, str]

    def origin_models(self) -> ModelsDocument:
        return ModelsDocument(git(self.origin, "show", "main:models.yaml"))

    def origin_subjects(self) -> list[str]:
        return git(self.origin, "log", "--format=%s", "main").splitlines()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, text=True, capture_output=True).stdout


def _checked(result: subprocess.CompletedProcess[str], what: str) -> str:
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result.stdout


def register_versions(clone: Path, sandbox: dict[str, str], count: int) -> dict[int, str]:
    """Register `count` small sklearn Pipelines on the sandbox's training data; returns run ids."""
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    import skops.io
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    params = yaml.safe_load((clone / "params.yaml").read_text("utf-8"))["churn"]
    numeric, categorical = params["features"]["numeric"], params["features"]["categorical"]
    frame = pd.read_csv(clone / "data" / "churn" / "train.csv", nrows=TRAINING_ROWS)
    # Typed as training types them: numeric columns as floats (a missing value is NaN), categories as text.
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in categorical:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    features, target = frame[numeric + categorical], frame[params["target"]]

    mlflow.set_tracking_uri(sandbox["tracking_uri"])
    mlflow.set_registry_uri(sandbox["tracking_uri"])
    try:
        experiment = mlflow.create_experiment("churn-e2e", artifact_location=sandbox["artifact_root"])
        run_ids = {}
        for version in range(1, count + 1):
            pipeline = Pipeline(
                [
                    (
                        "prep",
                        ColumnTransformer(
                            [
                                ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
                                (
                                    "cat",
                                    make_pipeline(
                                        SimpleImputer(strategy="constant", fill_value="missing"),
                                        OneHotEncoder(handle_unknown="ignore"),
                                    ),
                                    categorical,
                                ),
                            ]
                        ),
                    ),
                    ("clf", LogisticRegression(C=10.0 ** (1 - version), max_iter=300)),
                ]
            ).fit(features, target)
            example = features.head(3)
            with mlflow.start_run(experiment_id=experiment) as run:
                info = mlflow.sklearn.log_model(
                    pipeline,
                    name="model",
                    signature=infer_signature(example, pipeline.predict_proba(example)[:, 1]),
                    input_example=example,
                    registered_model_name=REGISTERED,
                    pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
                    serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                    skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)),
                )
            assert int(info.registered_model_version) == version
            run_ids[version] = run.info.run_id
    finally:
        mlflow.set_tracking_uri("")
        mlflow.set_registry_uri("")
    return run_ids


def build_world(root: Path, versions: int = 2) -> World:
    workdir = root / "sandbox"
    with step(f"creating a sandbox in {workdir}"):
        _checked(modelops("sandbox", "create", str(workdir)), "modelops sandbox create")
    clone = workdir / "repo"
    sandbox = json.loads((clone / ".modelops" / "sandbox.json").read_text("utf-8"))
    with step(f"registering churn v1 to v{versions}"):
        run_ids = register_versions(clone, sandbox, versions)

    doc = ModelsDocument.load(clone / "models.yaml")
    doc.promote(MODEL, ENV, 1, at="2026-01-01T00:00:00Z", by="e2e", reason="first version", run_id=run_ids[1])
    doc.promote(MODEL, ENV, 2, at="2026-01-02T00:00:00Z", by="e2e", reason="newer version", run_id=run_ids[2])
    (clone / "models.yaml").write_text(doc.dump(), encoding="utf-8")
    with step("committing production = v2 (previous v1) to origin and syncing the registry"):
        # The flows behind `modelops render` and `modelops sync-registry`, in this process: MLflow is
        # imported here already, and a cold CLI start would pay for it twice more.
        ctx = Context(repo=clone)
        render(ctx)
        git(clone, "add", "-A", "models.yaml", "applications")
        git(clone, "commit", "--quiet", "-m", "promote churn v2 to production")
        git(clone, "push", "--quiet", "origin", "HEAD:main")
        synced = {(a.alias, a.desired) for a in sync_registry(ctx)}
        assert {("production", 2), ("production-previous", 1)} <= synced, synced
    return World(workdir, clone, Path(sandbox["origin"]), sandbox["tracking_uri"], run_ids)
