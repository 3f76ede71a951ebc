"""`modelops board --out DIR` from a real git repository, without a registry: git alone builds it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, churn_only, modelops, require_binary, run

NO_REGISTRY = {"MLFLOW_TRACKING_URI": "", "GITHUB_REPOSITORY": ""}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    require_binary("git")
    repo = tmp_path / "repo"
    repo.mkdir()
    text = churn_only((REPO_ROOT / "models.yaml").read_text("utf-8"))
    text = text.replace(
        "      production:\n        version: null\n        run_id: null\n        alias: production\n"
        "        previous: null\n        replicas: 2\n        canary: null\n        quarantined: []\n"
        "        history: []",
        "      production:\n        version: 1\n        run_id: null\n        alias: production\n"
        "        previous: null\n        replicas: 2\n        canary: null\n        quarantined: [2]\n"
        "        history:\n"
        "          - {at: '2026-11-30T10:00:00Z', by: relay, action: rollback, from: 2, to: 1, reason: errors, ref: inc-9}",
    )
    assert "quarantined: [2]" in text
    (repo / "models.yaml").write_text(text, encoding="utf-8")
    run(["git", "init", "-q", "-b", "main"], cwd=repo)
    run(["git", "add", "models.yaml"], cwd=repo)
    run(
        ["git", "commit", "-q", "-m", "rollback churn production: v2 → v1", "-m", "Incident: inc-9"], cwd=repo
    )
    return repo


def board(repo: Path, out: Path, *extra: str):
    return modelops("board", "--repo", str(repo), "--out", str(out), *extra, env=NO_REGISTRY)


def test_without_a_registry_the_board_builds_from_git_and_says_so(repo, tmp_path):
    out = tmp_path / "site"
    result = board(repo, out, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["models"] == 1 and report["environments"] == 2
    assert report["registry"].startswith("not reachable")
    index = (out / "index.html").read_text("utf-8")
    assert index.count('data-field="registry">registry not reachable<') == 2  # one per cell
    sha = run(["git", "rev-parse", "HEAD"], cwd=repo).stdout.strip()
    assert f'href="commits/{sha}.html" data-quarantined="2"' in index
    commit_page = (out / "commits" / f"{sha}.html").read_text("utf-8")
    assert "rollback churn production: v2 → v1" in commit_page


def test_a_broken_models_yaml_is_exit_2_in_one_line_and_the_previous_board_stays(repo, tmp_path):
    out = tmp_path / "site"
    assert board(repo, out).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (repo / "models.yaml").write_text("models:\n  churn: [unclosed\n", encoding="utf-8")
    result = board(repo, out)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "models.yaml" in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []  # no stray temp dir


def test_a_schema_error_is_exit_2_naming_the_field(repo, tmp_path):
    text = (repo / "models.yaml").read_text("utf-8").replace("version: 1\n", "version: one\n", 1)
    (repo / "models.yaml").write_text(text, encoding="utf-8")
    result = board(repo, tmp_path / "site")
    assert result.returncode == 2 and "version" in result.stderr
    assert not (tmp_path / "site").exists()


def test_rebuilding_replaces_the_previous_board(repo, tmp_path):
    out = tmp_path / "site"
    assert board(repo, out).returncode == 0
    (out / "stale.html").write_text("old", encoding="utf-8")
    assert board(repo, out).returncode == 0
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()


def test_it_refuses_to_replace_a_directory_it_did_not_write(repo, tmp_path):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "keep.md").write_text("mine", encoding="utf-8")
    result = board(repo, out)
    assert result.returncode == 2 and "not a board written by modelops" in result.stderr
    assert (out / "keep.md").read_text("utf-8") == "mine"


def test_help_names_the_output_directory():
    result = modelops("board", "--help")
    assert result.returncode == 0 and "--out DIR" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("version: 1\n", "version: 010\n", "plain decimal"),  # libyaml would read 8
        ("alias: production\n", "alias: production\n        colour: blue\n", "colour"),
        ("previous: null\n        replicas: 2", "previous: 1\n        replicas: 2", "previous"),
    ],
)
def test_the_fast_reader_refuses_what_validate_refuses_and_names_it(repo, tmp_path, old, new, named):
    text = (repo / "models.yaml").read_text("utf-8")
    assert old in text
    (repo / "models.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    board_result = board(repo, tmp_path / "site")
    validate = modelops("validate", "--repo", str(repo))
    assert board_result.returncode == validate.returncode == 2
    assert named in board_result.stderr and board_result.stderr.strip().endswith(validate.stderr.strip())


def test_the_fast_reader_reads_the_state_validate_reads(repo):
    from modelops.core.document import ModelsDocument
    from modelops.flows.board import read_state

    for path in (repo / "models.yaml", REPO_ROOT / "models.yaml"):
        assert read_state(path) == ModelsDocument.load(path).state()


def test_in_a_fork_links_point_to_github_and_the_board_copies_no_commit(repo, tmp_path):
    out = tmp_path / "site"
    result = modelops(
        "board",
        "--repo",
        str(repo),
        "--out",
        str(out),
        env={**NO_REGISTRY, "GITHUB_REPOSITORY": "acme/models"},
    )
    assert result.returncode == 0, result.stderr
    sha = run(["git", "rev-parse", "HEAD"], cwd=repo).stdout.strip()
    index = (out / "index.html").read_text("utf-8")
    assert f'href="https://github.com/acme/models/commit/{sha}" data-quarantined="2"' in index
    assert not (out / "commits").exists()
    assert "Delivery board: acme/models" in index
