"""Serve a model's pinned version locally on the KServe model server, optionally following models.yaml.

The version is the environment's pin in models.yaml (a canary is not served locally), or an explicit
--version. With --follow the server re-reads models.yaml and hot-swaps to each newly pinned version,
so a rollback commit converges here the way it converges in the cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.errors import BadInput
from modelops.serving.fault import Fault
from modelops.serving.sources import RegistrySource, Source

if TYPE_CHECKING:
    from modelops.serving.loader import LoadedVersion

ENV_ADMIN_TOKEN = "MODELOPS_ADMIN_TOKEN"


def pinned_source(models_path: Path, model: str, env: str, tracking_uri: str) -> RegistrySource | None:
    """The version models.yaml pins for model/env, as a registry source; None when nothing is pinned."""
    state = ModelsDocument.load(models_path).state()
    found = state.model(model)
    version = found.env(env).version
    if version is None:
        return None
    return RegistrySource(found.registered_model, int(version), tracking_uri, found.gate.task)


class PinWatcher:
    """Re-reads models.yaml only when it changed on disk."""

    def __init__(self, models_path: Path, model: str, env: str, tracking_uri: str) -> None:
        self.args = (models_path, model, env, tracking_uri)
        self._seen: tuple[int, int] | None = None
        self._last: RegistrySource | None = None

    def __call__(self) -> Source | None:
        path = self.args[0]
        try:
            stat = path.stat()
        except OSError as exc:
            raise BadInput(f"{path}: cannot read ({exc.strerror})") from None
        mark = (stat.st_mtime_ns, stat.st_size)
        if mark != self._seen:
            self._last = pinned_source(*self.args)
            self._seen = mark
        return self._last


def serve(
    ctx: Context,
    model: str,
    env: str,
    *,
    port: int,
    host: str = "127.0.0.1",
    version: int | None = None,
    follow: bool = False,
    poll_seconds: float = 2.0,
    on_ready: Callable[[str, LoadedVersion], None] | None = None,
) -> None:
    if version is not None and follow:
        raise BadInput("--version and --follow disagree: --follow serves whatever models.yaml pins; drop one")
    if not 0 <= port <= 65535:
        raise BadInput(f"--port {port}: must be between 0 and 65535")
    if poll_seconds <= 0:
        raise BadInput(f"--poll-interval {poll_seconds}: must be above 0")
    state = ModelsDocument.load(ctx.models_path).state()
    found = state.model(model)
    pinned = found.env(env).version
    chosen = version if version is not None else pinned
    if chosen is None:
        raise BadInput(
            f"{ctx.models_path}: models.{model}.environments.{env}.version is null; "
            "promote a version first or pass --version V"
        )
    tracking_uri = ctx.tracking_uri
    fault = Fault.from_env(os.environ)
    from modelops.serving.server import ServeOptions
    from modelops.serving.server import serve as run_server

    options = ServeOptions(
        name=model,
        model=model,
        env=env,
        source=RegistrySource(found.registered_model, int(chosen), tracking_uri, found.gate.task),
        host=host,
        port=port,
        follow=PinWatcher(ctx.models_path, model, env, tracking_uri) if follow else None,
        poll_seconds=poll_seconds,
        fault=fault,
        admin_loopback=True,
        admin_token=os.environ.get(ENV_ADMIN_TOKEN) or None,
        on_ready=on_ready,
    )
    run_server(options)
