"""actionlint and zizmor pass on the real workflows, and catch the mistakes they are there to catch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import REPO_ROOT, require_binary, run
from tests.workflows.workflow_files import GITHUB_DIR, WORKFLOWS_DIR

ZIZMOR_CONFIG = REPO_ROOT / "zizmor.yml"


def actionlint(*files: Path, cwd: Path = REPO_ROOT):
    return run([require_binary("actionlint"), "-no-color", *map(str, files)], cwd=cwd, check=False)


def zizmor(target: Path) -> tuple[int, list[dict]]:
    result = run(
        [
            require_binary("zizmor"),
            "--offline",
            "--no-progress",
            "--strict-collection",
            "--config",
            str(ZIZMOR_CONFIG),
            "--min-severity",
            "medium",
            "--format",
            "json",
            str(target),
        ],
        check=False,
    )
    assert result.returncode != 1 and result.stdout.strip(), f"zizmor did not run: {result.stderr[-2000:]}"
    return result.returncode, json.loads(result.stdout)


def repo_copy(tmp_path: Path, workflow: str, mutate) -> Path:
    """A repository holding the real .github/ with one workflow changed."""
    shutil.copytree(GITHUB_DIR, tmp_path / ".github")
    path = tmp_path / ".github" / "workflows" / workflow
    original = path.read_text("utf-8")
    changed = mutate(original)
    assert changed != original, "the mutation did not apply"
    path.write_text(changed, "utf-8")
    return tmp_path


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    result = actionlint(*sorted(WORKFLOWS_DIR.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_flags_an_output_of_a_job_that_is_not_needed(tmp_path: Path) -> None:
    repo = repo_copy(
        tmp_path,
        "sync.yml",
        lambda text: text.replace(
            "fromJSON(needs.changes.outputs.matrix)", "fromJSON(needs.change.outputs.matrix)"
        ),
    )
    result = actionlint(repo / ".github" / "workflows" / "sync.yml", cwd=repo)
    assert result.returncode == 1
    assert "needs.change" in result.stdout


def test_actionlint_flags_an_undefined_dispatch_input(tmp_path: Path) -> None:
    repo = repo_copy(
        tmp_path, "rollback.yml", lambda text: text.replace("inputs.reason ||", "inputs.reasons ||")
    )
    result = actionlint(repo / ".github" / "workflows" / "rollback.yml", cwd=repo)
    assert result.returncode == 1
    assert "reasons" in result.stdout


def test_zizmor_finds_nothing_at_medium_severity_or_above() -> None:
    code, findings = zizmor(GITHUB_DIR)
    summary = [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings]
    assert findings == [], summary
    assert code == 0


def test_zizmor_flags_an_action_pinned_to_a_tag(tmp_path: Path) -> None:
    repo = repo_copy(
        tmp_path,
        "pr.yml",
        lambda text: text.replace(
            "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "actions/checkout@v7.0.1", 1
        ),
    )
    code, findings = zizmor(repo / ".github")
    assert code != 0
    assert {f["ident"] for f in findings} == {"unpinned-uses"}


def test_zizmor_flags_event_text_expanded_inside_a_script(tmp_path: Path) -> None:
    repo = repo_copy(
        tmp_path,
        "rollback.yml",
        lambda text: text.replace(
            "run: .venv/bin/modelops wait-synced",
            'run: echo "${{ github.event.client_payload.reason }}" && .venv/bin/modelops wait-synced',
        ),
    )
    code, findings = zizmor(repo / ".github")
    assert code != 0
    assert "template-injection" in {f["ident"] for f in findings}


def test_zizmor_flags_a_write_token_handed_to_pull_request_code(tmp_path: Path) -> None:
    repo = repo_copy(
        tmp_path, "pr.yml", lambda text: text.replace("  pull_request:\n", "  pull_request_target:\n")
    )
    code, findings = zizmor(repo / ".github")
    assert code != 0
    assert "dangerous-triggers" in {f["ident"] for f in findings}


def test_the_pin_policy_is_a_commit_for_every_action() -> None:
    import yaml

    config = yaml.safe_load(ZIZMOR_CONFIG.read_text("utf-8"))
    assert config["rules"]["unpinned-uses"]["config"]["policies"] == {"*": "hash-pin"}
