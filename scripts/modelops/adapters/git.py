"""git, through its CLI: every call has a timeout and a typed error.

Writes to shared branches go through `land`, which never touches the caller's working tree: it checks
out the remote branch in a throw-away worktree, applies a change function, commits and pushes. When
the push loses a race, it fetches again and re-applies the change on the new tip — a re-apply, not a
rebase, so two edits of models.yaml never conflict textually and no update is lost. A writer that can
judge whether its commit still holds on the new tip (`replay`) gets a cheaper retry first: its commit
cherry-picked onto the tip, kept only when the judge says the winners' edits and its own commute.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelops.errors import BadInput, ExternalError

GIT_TIMEOUT = 120.0
# How long a write keeps retrying lost push races while main does not move; each time another writer
# lands, the wait starts again (progress), up to the cap.
LAND_DEADLINE_S = 300.0
PAUSE_CAP_S = 16.0
LAND_CAP_FACTOR = 2  # 10 minutes, inside rollback.yml's 15-minute job timeout
FETCH_ATTEMPTS = 5
# No prompts, and no automatic gc or maintenance: a repack under the feet of parallel writers sharing
# this object store breaks their fetches ("did not send all necessary objects").
QUIET_GIT = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "gc.auto",
    "GIT_CONFIG_VALUE_0": "0",
    "GIT_CONFIG_KEY_1": "maintenance.auto",
    "GIT_CONFIG_VALUE_1": "false",
}


WORKTREE_PREFIX = "modelops-wt-"
_WORKTREE_PID = re.compile(rf"^{WORKTREE_PREFIX}(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@dataclass(frozen=True)
class Moved:
    """A lost race, for a writer's judge: its commit `ours` (made on `base`) cherry-picked as `result`
    onto the winners' `tip`, and the paths both sides changed."""

    base: str
    ours: str
    tip: str
    result: str
    shared_paths: frozenset[str]


@dataclass(frozen=True)
class Landed:
    commit: str | None
    attempts: int
    changed: bool


class Git:
    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def run(
        self, *args: str, cwd: Path | None = None, timeout: float = GIT_TIMEOUT, check: bool = True
    ) -> str:
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=cwd or self.repo,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**os.environ, **QUIET_GIT},
            )
        except FileNotFoundError:
            raise ExternalError("git: not found on PATH; install git") from None
        except subprocess.TimeoutExpired:
            raise ExternalError(
                f"git {args[0]}: timed out after {timeout:.0f}s in {cwd or self.repo}"
            ) from None
        if check and proc.returncode != 0:
            detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            raise GitCommandError(args, detail[-1] if detail else f"exit {proc.returncode}", proc.stderr)
        return proc.stdout.strip()

    def head(self) -> str:
        return self.run("rev-parse", "HEAD")

    def is_dirty(self) -> bool:
        return bool(self.run("status", "--porcelain", "--untracked-files=no"))

    def current_branch(self) -> str | None:
        name = self.run("rev-parse", "--abbrev-ref", "HEAD")
        return None if name == "HEAD" else name

    def show(self, ref: str, path: str) -> str:
        """A file's text at a ref (e.g. origin/main:models.yaml)."""
        try:
            return self.run("show", f"{ref}:{path}")
        except GitCommandError as exc:
            raise BadInput(f"{path} at {ref}: {exc.detail}") from None

    def remote_url(self, remote: str = "origin") -> str | None:
        url = self.run("remote", "get-url", remote, check=False)
        return url or None

    def fetch_tip(self, branch: str, remote: str = "origin") -> str | None:
        """The remote branch's tip, fetched into a private ref so concurrent callers never fight over a lock."""
        private = f"refs/modelops/fetch/{uuid.uuid4().hex}"
        for attempt in range(1, FETCH_ATTEMPTS + 1):
            try:
                self.run(
                    "fetch", "--no-write-fetch-head", "--quiet", remote, f"+refs/heads/{branch}:{private}"
                )
                break
            except GitCommandError as exc:
                if (
                    "couldn't find remote ref" in exc.stderr
                    or "could not find remote ref" in exc.stderr.lower()
                ):
                    return None
                # Fetch's connectivity check reads every worktree's HEAD; one that a parallel writer is
                # adding or removing right then fails the check ("did not send all necessary objects").
                # That passes in milliseconds, so a short, bounded retry covers it.
                if attempt == FETCH_ATTEMPTS:
                    raise ExternalError(f"git fetch {remote} {branch}: {exc.detail}") from None
                self._pause(attempt, 0.1)
        sha = self.run("rev-parse", private)
        self.run("update-ref", "-d", private)
        return sha

    def fast_forward_checkout(self, branch: str = "main", remote: str = "origin") -> bool:
        """Bring the caller's checkout up to the remote tip when that is a clean fast-forward."""
        if self.current_branch() != branch or self.is_dirty():
            return False
        tip = self.fetch_tip(branch, remote)
        if tip is None:
            return False
        self.run("merge", "--ff-only", "--quiet", tip, check=False)
        self.run("update-ref", f"refs/remotes/{remote}/{branch}", tip, check=False)
        return self.head() == tip

    def land(
        self,
        branch: str,
        change: Callable[[Path], str | None],
        *,
        base: str = "main",
        force: bool = False,
        deadline_s: float = LAND_DEADLINE_S,
        remote: str = "origin",
        backoff: float = 0.05,
        replay: Callable[[Moved], bool] | None = None,
    ) -> Landed:
        """Apply `change` on top of the remote `branch` (or `base` when the branch is new) and push.

        `change(worktree)` edits files (or commits by itself, as a merge does) and returns a commit
        message, or None when there is nothing to do (the change is already there). With `force`, the
        branch is rebuilt from `base` every time (a proposal branch belongs to automation); otherwise the
        push must fast-forward and a lost race fetches and re-applies, after a jittered pause. Bounded by
        time, not by attempts: with fifty writers at once a fixed count drops the unlucky ones, while a
        deadline lets every writer through in turn and still stops. The deadline counts from the last
        time the branch moved, since a writer that keeps losing to others who land is waiting its turn,
        not stuck; it never runs past LAND_CAP_FACTOR deadlines in all. Past it, ExternalError.

        With `replay`, a lost race first cherry-picks the commit onto the new tip and asks the judge
        whether the result is what a re-apply would give; a conflict or a "no" re-applies as above. With
        many writers at once, re-applying costs each retry a full parse and render of models.yaml, so the
        contention costs O(writers²) of CPU; a replayed retry is a few git commands.
        """
        last_error = ""
        started = time.monotonic()
        cap = started + LAND_CAP_FACTOR * deadline_s
        give_up = started + deadline_s
        seen: set[str] = set()

        def moved_on(tip: str) -> None:
            nonlocal give_up
            if seen and tip not in seen:
                give_up = min(cap, time.monotonic() + deadline_s)
            seen.add(tip)

        attempt = 0
        while attempt == 0 or time.monotonic() < give_up:
            attempt += 1
            try:
                start = None if force else self.fetch_tip(branch, remote)
                if start is None:
                    start = self.fetch_tip(base, remote)
            except ExternalError as exc:
                # Parallel writers share this object store; a fetch can trip over another's ref or
                # pack update. Such a failure is local and passing, so it is retried like a lost race.
                last_error = str(exc)
                self._pause(attempt, backoff)
                continue
            if start is None:
                raise ExternalError(f"git: {remote} has no branch {base!r}")
            moved_on(start)
            if attempt == 1:
                self.clean_leftovers()
            # The pid in the name tells a later run whether the writer that made it is still alive.
            worktree = Path(tempfile.mkdtemp(prefix=f"{WORKTREE_PREFIX}{os.getpid()}-"))
            try:
                try:
                    self.run("worktree", "add", "--detach", "--quiet", str(worktree), start)
                except GitCommandError as exc:
                    last_error = exc.detail
                    self._pause(attempt, backoff)
                    continue
                message = change(worktree)
                if message is None:
                    return Landed(commit=None, attempts=attempt, changed=False)
                self.run("add", "-A", cwd=worktree)
                if self.run("status", "--porcelain", cwd=worktree):
                    self.run("commit", "--quiet", "-m", message, cwd=worktree)
                sha = self.run("rev-parse", "HEAD", cwd=worktree)
                if sha == start:  # neither edits nor a commit of the change's own (e.g. a merge)
                    return Landed(commit=None, attempts=attempt, changed=False)
                push = ["push", "--quiet", "--porcelain", remote, f"HEAD:refs/heads/{branch}"]
                if force:
                    push.insert(1, "--force")
                pushed, last_error = self._push(push, worktree, remote, branch)
                if pushed:
                    return Landed(commit=sha, attempts=attempt, changed=True)
                ours = sha
                while replay is not None and not force and time.monotonic() < give_up:
                    self._pause(attempt, backoff)
                    replayed = self._replay(worktree, branch, remote, start, ours, replay, moved_on)
                    if replayed is None:
                        break  # a conflict, an overlap or a fetch that failed: re-apply instead
                    attempt += 1
                    pushed, last_error = self._push(push, worktree, remote, branch)
                    if pushed:
                        return Landed(commit=replayed, attempts=attempt, changed=True)
            finally:
                self.run("worktree", "remove", "--force", str(worktree), check=False)
                shutil.rmtree(worktree, ignore_errors=True)
            # Lost a race: wait a little and re-apply.
            self._pause(attempt, backoff)
        raise ExternalError(
            f"git push {remote} {branch}: other writers kept winning for {time.monotonic() - started:.0f}s "
            f"({attempt} attempts; "
            f"last: {last_error}); run the same command again: it re-applies on the newest {branch}"
        )

    def _push(self, push: list[str], worktree: Path, remote: str, branch: str) -> tuple[bool, str]:
        """(True, "") when the push landed; (False, why) when it lost a race. A refusal by rule raises."""
        try:
            self.run(*push, cwd=worktree)
            return True, ""
        except GitCommandError as exc:
            if (rule := refusing_rule(exc.stderr)) is not None:
                # Branch protection says no: a retry cannot change that.
                raise PushRefused(f"git push {remote} {branch}: refused by the repository: {rule}") from None
            return False, exc.detail

    def _replay(
        self,
        worktree: Path,
        branch: str,
        remote: str,
        base: str,
        ours: str,
        judge: Callable[[Moved], bool],
        moved_on: Callable[[str], None],
    ) -> str | None:
        """`ours` cherry-picked onto the remote's new tip in `worktree`, when the judge accepts it."""
        try:
            tip = self.fetch_tip(branch, remote)
        except ExternalError:
            return None
        if tip is None:
            return None
        moved_on(tip)
        try:
            self.run("checkout", "--detach", "--quiet", tip, cwd=worktree)
            # A conflict, or a commit that became empty (a winner made the same change), re-applies.
            self.run("cherry-pick", ours, cwd=worktree)
        except GitCommandError:
            self.run("cherry-pick", "--abort", cwd=worktree, check=False)
            return None
        result = self.run("rev-parse", "HEAD", cwd=worktree)
        theirs = set(self.run("diff", "--name-only", base, tip).splitlines())
        mine = set(self.run("diff", "--name-only", base, ours).splitlines())
        moved = Moved(base=base, ours=ours, tip=tip, result=result, shared_paths=frozenset(theirs & mine))
        return result if judge(moved) else None

    def clean_leftovers(self) -> list[str]:
        """Worktrees (registered, or only a temp folder) left by a writer killed part-way (kill -9, OOM):
        removed once their process is gone. Returns the folders removed."""
        removed = []
        listing = self.run("worktree", "list", "--porcelain", check=False)
        registered = [
            line.removeprefix("worktree ") for line in listing.splitlines() if line.startswith("worktree ")
        ]
        strays = [str(p) for p in Path(tempfile.gettempdir()).glob(f"{WORKTREE_PREFIX}*") if p.is_dir()]
        for path in dict.fromkeys([*registered, *strays]):
            match = _WORKTREE_PID.search(Path(path).name)
            if match is None or _alive(int(match.group(1))):
                continue
            if path in registered:
                self.run("worktree", "remove", "--force", path, check=False)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        if removed:
            self.run("worktree", "prune", check=False)
        return removed

    @staticmethod
    def _pause(attempt: int, backoff: float) -> None:
        """Exponential backoff with full jitter (a random pause up to the cap), so contenders spread out
        instead of retrying in lock-step. The cap is high because only one writer lands per round: with
        a 2 s cap, fifty writers retried about fifty times a second, and their retries took the two
        cores the one landing needed."""
        time.sleep(random.uniform(0, min(PAUSE_CAP_S, backoff * 2 ** min(attempt - 1, 12))))


class GitCommandError(ExternalError):
    def __init__(self, args: tuple[str, ...], detail: str, stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:2])}: {detail}")
        self.detail = detail
        self.stderr = stderr


class PushRefused(ExternalError):
    """The remote refused the push by rule (branch protection, a ruleset), not because it moved on."""


# How GitHub (GH006 protected branch, GH013 rulesets) and a pre-receive hook say "not allowed".
_REFUSALS = ("GH006", "GH013", "protected branch", "repository rule violations", "pre-receive hook declined")


def refusing_rule(stderr: str) -> str | None:
    """The remote's own line when a push was refused by rule; None for a lost race or a network error."""
    lowered = stderr.lower()
    if not any(marker.lower() in lowered for marker in _REFUSALS):
        return None
    for line in stderr.splitlines():
        text = line.removeprefix("remote:").strip()
        if any(marker.lower() in text.lower() for marker in _REFUSALS):
            return text.removeprefix("error:").strip()[:300]
    return stderr.strip().splitlines()[-1][:300]
