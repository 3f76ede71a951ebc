"""Every `modelops …` line in the workflows is a command the real CLI accepts, with those flags."""

from __future__ import annotations

import contextlib
import io
import shlex

import pytest

from modelops.cli import build_parser
from tests.workflows.workflow_files import modelops_calls, run_steps, substitute

INVOCATIONS = [
    pytest.param(step, args, id=f"{step.where}: modelops {' '.join(args)}")
    for step in run_steps()
    for args in modelops_calls(step.script)
]

# The delivery loop as the workflows drive it; a workflow that stops calling one of these has lost a step.
LOOP_COMMANDS = {
    "validate",
    "render",
    "policy",
    "train",
    "evaluate",
    "propose",
    "changes",
    "sync-registry",
    "wait-synced",
    "rollback",
    "notify",
    "retrain",
    "status",
}


def test_the_workflows_drive_every_step_of_the_loop_through_modelops() -> None:
    called = {args[0] for _, args in (p.values for p in INVOCATIONS)}
    assert called >= LOOP_COMMANDS, f"no workflow calls: {sorted(LOOP_COMMANDS - called)}"


@pytest.mark.parametrize(("step", "args"), INVOCATIONS)
def test_invocation_parses_with_the_real_cli(step, args) -> None:
    argv = [substitute(arg, step.env) for arg in args]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            parsed = build_parser().parse_args(argv)
    except SystemExit as exit_:
        pytest.fail(
            f"{step.where}: `modelops {shlex.join(argv)}` does not parse (exit {exit_.code}): "
            f"{' '.join(stderr.getvalue().strip().splitlines()[-1:])}",
            pytrace=False,
        )
    assert callable(parsed.handler), f"{step.where}: `modelops {shlex.join(argv)}` reaches no handler"


def test_extraction_finds_commands_behind_continuations_and_redirections() -> None:
    script = (
        "status=0\n"
        '.venv/bin/modelops evaluate --model "$MODEL" \\\n'
        "  --out evidence/ --json > evaluation.json || status=$?\n"
        "cat x | modelops status --json 2>/dev/null\n"
        "echo 'modelops is not called here' # modelops neither\n"
    )
    assert modelops_calls(script) == [
        ["evaluate", "--model", "$MODEL", "--out", "evidence/", "--json"],
        ["status", "--json"],
    ]


def test_variables_take_literal_env_values_then_sample_values() -> None:
    env = {"TIMEOUT": "900", "MODEL": "${{ inputs.model }}"}
    assert substitute("$TIMEOUT", env) == "900"
    assert substitute("$MODEL", env) == "churn"
    assert substitute("drill-${UNKNOWN}", env) == "drill-${UNKNOWN}"
