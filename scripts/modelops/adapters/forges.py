"""Which forge serves a context: the sandbox's local forge, or GitHub when its credentials are set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.context import Context
from modelops.core.forge import Forge
from modelops.errors import BadInput

if TYPE_CHECKING:
    from modelops.adapters.local_forge import LocalForge


def forge_for(ctx: Context) -> Forge:
    if ctx.forge_kind == "local" and ctx.local_forge_dir is not None:
        from modelops.adapters.local_forge import LocalForge

        return LocalForge(ctx.local_forge_dir, ctx.repo, author=ctx.actor)
    if ctx.forge_kind == "github":
        from modelops.adapters.github_forge import GitHubForge

        return GitHubForge.from_env(ctx.env)
    raise BadInput("no forge configured: run inside a sandbox, or set GITHUB_TOKEN and GITHUB_REPOSITORY")


def local_forge(ctx: Context) -> LocalForge:
    """The sandbox's forge, for what only it does from the command line (approve, merge)."""
    from modelops.adapters.local_forge import LocalForge

    forge = forge_for(ctx)
    if not isinstance(forge, LocalForge):
        raise BadInput(
            "approve and merge from the command line are for the local forge; on GitHub, use the PR page"
        )
    return forge
