"""The demo's end state, built cheaply: production back on v1 after an alert rolled v2 back (v2
quarantined), and a v3 promotion PR waiting for a human, with v3's real gate evidence.

Built with the real flows (sandbox, MLflow, git, the local forge, the gate), without serving,
Prometheus or training, so it takes seconds rather than the demo's minutes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from modelops.adapters.incidents import DB_NAME, IncidentStore
from modelops.context import Context
from modelops.core.clock import utc_stamp
from modelops.core.incident import Incident, IncidentKind
from modelops.output import step
from tests.e2e.world import ENV, MODEL, World, build_world

# The alert fired a minute and a half before the rollback, as the relay would have recorded it.
ALERT_LEAD = timedelta(seconds=90)


@dataclass(frozen=True)
class BoardWorld:
    world: World
    ctx: Context
    incident: str
    rollback_commit: str
    pr: int


def build_board_world(root: Path) -> BoardWorld:
    from modelops.flows.evaluate import evaluate
    from modelops.flows.propose import propose
    from modelops.flows.rollback import rollback

    world = build_world(root, versions=3)
    ctx = Context(repo=world.clone)
    starts = utc_stamp(datetime.now(UTC) - ALERT_LEAD)
    incident = Incident(
        IncidentKind.ROLLBACK, MODEL, ENV, 2, "ModelErrorRateHigh", starts, "critical", "errors"
    )
    store = IncidentStore(ctx.ensure_state_dir() / DB_NAME)
    try:
        store.claim(incident)
    finally:
        store.close()
    with step("rolling production back to v1 for an alert on v2"):
        rolled = rollback(
            ctx,
            model=MODEL,
            env=ENV,
            reason="ModelErrorRateHigh on v2",
            incident=incident.id,
            alertname=incident.alertname,
            version=2,
            by="modelops-relay",
        )
    assert rolled.commit and (rolled.from_version, rolled.to_version) == (2, 1), rolled
    with step("evaluating v3 against production v1 and proposing it"):
        report = evaluate(ctx, MODEL, 3, env=ENV)
        proposal = propose(
            ctx,
            MODEL,
            3,
            ENV,
            override_reason=None if report.passed else "board test: a PR that waits for review",
            by="modelops-retrain",
        )
    sandbox = json.loads((world.clone / ".modelops" / "sandbox.json").read_text("utf-8"))
    assert Path(sandbox["forge"]).is_dir()
    return BoardWorld(world, ctx, incident.id, rolled.commit, proposal.pr)
