"""models.yaml as this repository ships it, whatever a fork has promoted since.

The pure tests specify behaviour on the template's models (their settings, comments and layout), so a
fork's own pins, canaries, quarantines and histories are blanked here: `make unit` is a required check
on every pull request of a fork that has promoted anything, and must not depend on what it promoted."""

from __future__ import annotations

from functools import cache

from modelops.core.document import ModelsDocument
from tests.helpers import REPO_ROOT

EMPTY_STATE = {"version": None, "run_id": None, "previous": None, "canary": None}


@cache
def template_text() -> str:
    doc = ModelsDocument((REPO_ROOT / "models.yaml").read_text("utf-8"), filename="models.yaml")
    for name in doc.state().models:
        for env in doc.state().model(name).environments:
            node = doc._env_node(name, env)
            for key, value in EMPTY_STATE.items():
                if key in node:
                    node[key] = value
            for key in ("quarantined", "history"):
                if key in node:
                    node[key].clear()
    return doc.dump()
