"""One world per module: building it (sandbox, servers, a seeded registry) is the expensive part."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workflow_runs.world import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(tmp_path_factory.mktemp("workflows")) as built:
        # The fork is set up as docs/github.md says: main protected, the App the only bypass actor.
        built.hub.ruleset_enforced = True
        yield built
