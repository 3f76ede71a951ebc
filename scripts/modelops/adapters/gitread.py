"""Reading the repository's history: a file as it was at a ref, the desired state at a ref, and the
commit HEAD points at.

Read-only, so it needs none of adapters/git.py's landing machinery, but it runs git through the same
`Git.run` (timeout, typed errors).
"""

from __future__ import annotations

from pathlib import Path

from modelops.adapters.git import Git, GitCommandError
from modelops.context import MODELS_FILE
from modelops.core.document import ModelsDocument
from modelops.core.state import DesiredState
from modelops.errors import BadInput

READ_TIMEOUT = 30.0


def _ref_exists(git: Git, ref: str) -> bool:
    out = git.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False, timeout=READ_TIMEOUT)
    return bool(out)


def read_at(repo: Path, ref: str, path: str) -> str | None:
    """The text of `path` (relative to `repo`) at `ref` (without its trailing newline), or None when
    the file did not exist there.

    An unknown ref is the user's mistake (BadInput); a failing git is an ExternalError.
    """
    git = Git(repo)
    if ref.startswith("-") or not _ref_exists(git, ref):
        raise BadInput(f"--base {ref}: no such commit, branch or tag in {repo} (fetch it first?)")
    try:
        return git.run("show", f"{ref}:./{path}", timeout=READ_TIMEOUT)
    except GitCommandError as exc:
        lowered = exc.stderr.lower()
        if "does not exist" in lowered or "exists on disk, but not in" in lowered:
            return None
        raise


def state_at(repo: Path, ref: str, *, label: str | None = None) -> DesiredState:
    """The desired state as committed at `ref` (errors name `label`, default the ref); empty when
    models.yaml did not exist there yet."""
    text = read_at(repo, ref, MODELS_FILE)
    if text is None:
        return DesiredState()
    return ModelsDocument(text + "\n", filename=f"{label or ref}:{MODELS_FILE}").state()


def head_commit(repo: Path) -> str:
    """The full sha of HEAD: the revision Argo CD should report once it has synced this checkout."""
    return Git(repo).run("rev-parse", "HEAD", timeout=READ_TIMEOUT)


def contains(repo: Path, newer: str, commit: str) -> bool:
    """Whether `newer`'s history contains `commit`. Argo CD reports the resolved head of its
    targetRevision, so anything pushed to main meanwhile moves it past the commit being waited for;
    a revision unknown here is fetched from origin once before the answer is no."""
    git = Git(repo)
    if not (newer.isalnum() and commit.isalnum()):
        return False
    if not _ref_exists(git, newer):
        git.run("fetch", "--quiet", "origin", check=False, timeout=READ_TIMEOUT)
        if not _ref_exists(git, newer):
            return False
    try:
        git.run("merge-base", "--is-ancestor", commit, newer, timeout=READ_TIMEOUT)
    except GitCommandError:  # exit 1: not an ancestor
        return False
    return True
