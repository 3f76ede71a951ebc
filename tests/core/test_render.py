"""What models.yaml renders to: the overlays Argo CD syncs, as text, from the desired state alone."""

from __future__ import annotations

from modelops.core.render import is_generated_path, plan, render_overlays, storage_uri
from tests.manifests.fixtures import state, two_models

PREFIX = "s3://bucket/models"


def test_rendering_is_a_function_of_the_desired_state() -> None:
    first = render_overlays(state(two_models()), PREFIX)
    assert first == render_overlays(state(two_models()), PREFIX)
    assert first and all(is_generated_path(path) for path in first)


def test_a_version_is_served_from_its_immutable_storage_uri() -> None:
    assert storage_uri(PREFIX + "/", "churn-classifier", 5) == "s3://bucket/models/churn-classifier/5"


def test_the_plan_writes_what_differs_and_deletes_what_is_no_longer_rendered() -> None:
    rendered = render_overlays(state(two_models()), PREFIX)
    some = sorted(rendered)[0]
    stale = "applications/gone/overlays/production/kustomization.yaml"
    existing = {**rendered, some: "edited by hand", stale: "old"}
    diff = plan(rendered, existing)
    assert (list(diff.write), list(diff.delete), diff.unchanged) == ([some], [stale], len(rendered) - 1)
