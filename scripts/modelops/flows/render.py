"""`modelops render`: write applications/<model>/{base,overlays} from models.yaml, or check they match."""

from __future__ import annotations

from modelops.adapters.overlays import RenderResult, render_into
from modelops.context import Context


def render(ctx: Context, check: bool = False) -> RenderResult:
    """Bring the generated files in line with models.yaml (or, with check, only say what differs)."""
    return render_into(ctx.repo, check=check)
