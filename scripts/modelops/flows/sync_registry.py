"""`modelops sync-registry`: make the MLflow aliases follow models.yaml (git → registry, never back).

For every model and environment: `<alias>` → the pinned version, `<alias>-previous` → the rollback
target, `<alias>-canary` → the canary (`Environment.owned_aliases`). Idempotent; an alias moved by hand
in the MLflow UI is reported as drift and put back (`Registry.follow`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.core.state import DesiredState

if TYPE_CHECKING:
    from modelops.adapters.registry import AliasAction


def sync_registry(
    ctx: Context,
    *,
    state: DesiredState | None = None,
    only: tuple[str, str] | None = None,
    dry_run: bool = False,
) -> list[AliasAction]:
    from modelops.adapters.registry import Registry

    state = state or ModelsDocument.load(ctx.models_path).state()
    return Registry.for_context(ctx).follow(state, only=only, dry_run=dry_run)
