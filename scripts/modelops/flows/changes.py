"""`modelops changes`: which (model, env) pins, canaries or quarantines changed since a git ref."""

from __future__ import annotations

from typing import Any

from modelops.adapters.gitread import state_at
from modelops.context import Context
from modelops.core.diff import EnvChange, diff_states, workflow_matrix
from modelops.core.document import ModelsDocument


def changes_since(ctx: Context, base_ref: str) -> list[EnvChange]:
    return diff_states(state_at(ctx.repo, base_ref), ModelsDocument.load(ctx.models_path).state())


def report(changes: list[EnvChange]) -> dict[str, Any]:
    return {"changes": [c.as_dict() for c in changes], "matrix": workflow_matrix(changes)}


def format_report(changes: list[EnvChange], base_ref: str) -> str:
    if not changes:
        return f"no pin, canary or quarantine changed since {base_ref}"
    return "\n".join(c.describe() for c in changes)
