"""`modelops changes`: which (model, env) pins, canaries or quarantines changed since a git ref."""

from __future__ import annotations

from typing import Any

from modelops.adapters.gitread import read_at
from modelops.context import MODELS_FILE, Context
from modelops.core.diff import EnvChange, diff_states, workflow_matrix
from modelops.core.document import ModelsDocument
from modelops.core.state import DesiredState


def state_at(ctx: Context, ref: str) -> DesiredState:
    """The desired state as committed at `ref`; empty when models.yaml did not exist yet."""
    text = read_at(ctx.repo, ref, MODELS_FILE)
    if text is None:
        return DesiredState()
    return ModelsDocument(text + "\n", filename=f"{ref}:{MODELS_FILE}").state()


def working_state(ctx: Context) -> DesiredState:
    return ModelsDocument.load(ctx.models_path).state()


def changes_since(ctx: Context, base_ref: str) -> list[EnvChange]:
    return diff_states(state_at(ctx, base_ref), working_state(ctx))


def report(changes: list[EnvChange]) -> dict[str, Any]:
    return {"changes": [c.as_dict() for c in changes], "matrix": workflow_matrix(changes)}


def format_report(changes: list[EnvChange], base_ref: str) -> str:
    if not changes:
        return f"no pin, canary or quarantine changed since {base_ref}"
    return "\n".join(c.describe() for c in changes)
