"""The README's walkthrough, run as written: from `modelops init model` to a merged staging promotion."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO_ROOT

START, END = "<!-- walkthrough:start -->", "<!-- walkthrough:end -->"
WORLD = "/tmp/byom"
MAX_COMMANDS = 10


def walkthrough() -> list[str]:
    """The commands of the README's walkthrough block, comments dropped, in order."""
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    block = readme.split(START, 1)[1].split(END, 1)[0]
    body = block.split("```sh\n", 1)[1].split("```", 1)[0]
    return [re.sub(r"\s+#\s.*$", "", line).strip() for line in body.splitlines() if line.strip()]


def test_the_walkthrough_is_at_most_ten_commands_from_sandbox_to_status() -> None:
    commands = walkthrough()
    assert 0 < len(commands) <= MAX_COMMANDS
    assert commands[0].startswith(f"modelops sandbox create {WORLD}")
    assert any(c.startswith("modelops init model ") for c in commands)
    assert any(c.startswith("modelops propose ") and "--env staging" in c for c in commands)


@pytest.mark.slow
def test_the_walkthrough_ends_with_the_new_model_pinned_in_staging_on_origin_and_in_mlflow(
    tmp_path: Path,
) -> None:
    world = tmp_path / "byom"
    shims = tmp_path / "bin"
    shims.mkdir()
    # `modelops` as the user has it on PATH: this interpreter, this checkout.
    (shims / "modelops").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m modelops "$@"\n')
    (shims / "modelops").chmod(0o755)
    script = "\n".join(["set -euo pipefail", *(c.replace(WORLD, str(world)) for c in walkthrough())])
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "GITHUB_", "MODELOPS_APP")) and k != "CI_MLFLOW"
    }
    env["PATH"] = os.pathsep.join([str(shims), str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        ["bash", "-c", script], cwd=REPO_ROOT, env=env, text=True, capture_output=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    name = next(c.split()[3] for c in walkthrough() if c.startswith("modelops init model "))
    origin_models = subprocess.run(
        ["git", "--git-dir", str(world / "origin.git"), "show", "main:models.yaml"],
        check=True,
        text=True,
        capture_output=True,
    ).stdout
    staging = yaml.safe_load(origin_models)["models"][name]["environments"]["staging"]
    assert staging["version"] == 1
    assert staging["history"][-1]["action"] == "promote"
    assert f"{name}: staging v1" in done.stdout or re.search(
        rf"^{name} .*\n\s+staging\s+v1\b", done.stdout, re.M
    )

    from mlflow import MlflowClient

    sandbox = json.loads((world / "repo" / ".modelops" / "sandbox.json").read_text("utf-8"))
    client = MlflowClient(tracking_uri=sandbox["tracking_uri"])
    registered = yaml.safe_load(origin_models)["models"][name]["registered_model"]
    assert int(client.get_model_version_by_alias(registered, "staging").version) == 1
    assert int(client.get_model_version_by_alias(registered, "candidate").version) == 1
