"""A rollback commit's trailers say who rolled back and why, and nothing in an alert or a flag can add one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from modelops.context import Context
from modelops.core.incident import decide, parse_webhook
from modelops.core.text import single_line
from modelops.flows.rollback import rollback
from tests.helpers import modelops
from tests.relay.sandbox import ENV, MODEL, GitSandbox, git, make_git_sandbox
from tests.relay.support import alert, webhook

FORGED = "HighErrors\n\nRolled-back-by: mallory\nIncident: inc-forged"


@pytest.fixture
def sandbox(tmp_path: Path) -> GitSandbox:
    return make_git_sandbox(tmp_path)


def trailers(sandbox: GitSandbox) -> list[tuple[str, str]]:
    message = git("log", "-1", "--format=%B", "main", cwd=sandbox.origin)
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"], input=message, text=True, capture_output=True, check=True
    ).stdout
    return [tuple(line.split(": ", 1)) for line in parsed.splitlines()]  # type: ignore[misc]


def test_an_alert_name_with_line_breaks_cannot_write_a_trailer_of_its_own(sandbox: GitSandbox) -> None:
    hostile = alert(alertname=FORGED, version="2")
    hostile["annotations"]["summary"] = "boom\nRolled-back-by: mallory"
    [decision] = [
        decide(a, sandbox.origin_state()) for a in parse_webhook(json.dumps(webhook(hostile)).encode()).alerts
    ]
    incident = decision.incident
    assert incident is not None
    rollback(
        Context(repo=sandbox.clone),
        model=MODEL,
        env=ENV,
        reason=incident.reason,
        incident=incident.id,
        alertname=incident.alertname,
        version=incident.version,
        by="relay",
        sync_registry=False,
    )
    found = trailers(sandbox)
    assert [v for k, v in found if k == "Rolled-back-by"] == ["relay"]
    assert [v for k, v in found if k == "Incident"] == [incident.id]
    assert "mallory" not in dict(found)["Rolled-back-by"]
    # The text survives, escaped, on one line: a reader sees what the alert said.
    assert dict(found)["Alert"] == "HighErrors\\x0a\\x0aRolled-back-by: mallory\\x0aIncident: inc-forged"
    history = sandbox.origin_state().model(MODEL).env(ENV).history[-1]
    assert "\n" not in history.reason and history.ref == incident.id


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--reason", "bad\nRolled-back-by: mallory"),
        ("--incident", "inc-1\rRolled-back-by: mallory"),
        ("--alert", "A\u2028Rolled-back-by: mallory"),
        ("--reason", "x" * 301),
    ],
)
def test_a_flag_with_a_line_break_or_over_the_limit_is_exit_2_and_nothing_lands(
    sandbox: GitSandbox, flag: str, value: str
) -> None:
    before = sandbox.origin_head()
    args = {"--reason": "high error rate", flag: value}
    argv = [a for k, v in args.items() for a in (k, v)]
    result = modelops(
        "rollback", "--repo", str(sandbox.clone), "--model", MODEL, "--env", ENV, "--no-registry", *argv
    )
    assert result.returncode == 2, result.stderr
    assert flag in result.stderr and "Traceback" not in result.stderr
    assert sandbox.origin_head() == before


def test_single_line_escapes_controls_and_bounds_the_length() -> None:
    assert single_line("a\tb\x1b[31mc\u202ed") == "a b\\x1b[31mc\\u202ed"
    assert len(single_line("y" * 1000)) == 300
