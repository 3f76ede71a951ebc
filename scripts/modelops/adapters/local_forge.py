"""The local forge: pull requests for a sandbox, with no accounts.

A PR is a branch on the sandbox's origin plus its state (title, body, labels, reviews, status) in
`<forge>/prs.json` beside the origin; each PR is also rendered to `<forge>/pr-<n>.md` so a person can
read it. `merge` makes a real merge commit on origin/main and, like branch protection, refuses unless
the promotion policy allows it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from modelops.adapters.git import Git
from modelops.core.clock import utc_stamp
from modelops.core.forge import PullRequest, Review
from modelops.errors import BadInput, Denied, ModelOpsError
from modelops.files import write_atomically


def _to_json(pr: PullRequest) -> dict[str, Any]:
    return asdict(pr)


def _from_json(raw: dict[str, Any]) -> PullRequest:
    raw = dict(raw)
    raw["reviews"] = tuple(Review(**r) for r in raw.get("reviews", ()))
    for key in ("labels", "reviewers", "comments"):
        raw[key] = tuple(raw.get(key, ()))
    return PullRequest(**raw)


class LocalForge:
    def __init__(self, directory: Path, repo: Path, author: str = "modelops") -> None:
        self.dir = directory
        self.repo = repo
        self.author = author
        self.dir.mkdir(parents=True, exist_ok=True)

    # -- storage: one JSON file under an exclusive lock, so parallel proposals never lose an update --

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with open(self.dir / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = self.dir / "prs.json"
            data: dict[str, Any] = (
                json.loads(path.read_text("utf-8")) if path.exists() else {"next": 1, "prs": {}}
            )
            yield data
            write_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
            fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        path = self.dir / "prs.json"
        return json.loads(path.read_text("utf-8")) if path.exists() else {"next": 1, "prs": {}}

    def _save(self, data: dict[str, Any], pr: PullRequest) -> PullRequest:
        data["prs"][str(pr.number)] = _to_json(pr)
        self._write_markdown(pr)
        return pr

    def _write_markdown(self, pr: PullRequest) -> None:
        reviews = "\n".join(f"- {r.user}: {r.state} ({r.at})" for r in pr.reviews) or "- none yet"
        comments = "\n\n".join(f"> {c}" for c in pr.comments)
        text = (
            f"# #{pr.number} {pr.title}\n\n"
            f"- state: **{pr.state}**\n- branch: `{pr.head}` → `{pr.base}`\n"
            f"- labels: {', '.join(pr.labels)}\n- reviewers: {', '.join(pr.reviewers)}\n"
            + (f"- merge commit: `{pr.merge_commit}`\n" if pr.merge_commit else "")
            + f"\n## Reviews\n{reviews}\n\n---\n\n{pr.body}\n"
            + (f"\n## Comments\n\n{comments}\n" if comments else "")
        )
        write_atomically(self.dir / f"pr-{pr.number}.md", text)

    def _get(self, data: dict[str, Any], number: int) -> PullRequest:
        raw = data["prs"].get(str(number))
        if raw is None:
            raise BadInput(f"no pull request #{number} in {self.dir}")
        return _from_json(raw)

    # -- the Forge protocol --------------------------------------------------------------------

    def find_open(self, head: str, base: str = "main") -> PullRequest | None:
        for raw in self._read()["prs"].values():
            pr = _from_json(raw)
            if pr.state == "open" and pr.head == head and pr.base == base:
                return pr
        return None

    def open(
        self, *, head: str, base: str, title: str, body: str, labels: list[str], reviewers: list[str]
    ) -> PullRequest:
        with self._locked() as data:
            number = int(data["next"])
            data["next"] = number + 1
            pr = PullRequest(
                number=number,
                title=title,
                body=body,
                head=head,
                base=base,
                state="open",
                url=(self.dir / f"pr-{number}.md").as_uri(),
                labels=tuple(labels),
                reviewers=tuple(reviewers),
                author=self.author,
                head_sha=Git(self.repo).fetch_tip(head) or "",
            )
            return self._save(data, pr)

    def update(self, number: int, *, title: str, body: str, labels: list[str]) -> PullRequest:
        with self._locked() as data:
            pr = self._get(data, number)
            # A new head dismisses earlier approvals, as "dismiss stale reviews" does on GitHub.
            head_sha = Git(self.repo).fetch_tip(pr.head) or pr.head_sha
            reviews = pr.reviews if head_sha == pr.head_sha else ()
            return self._save(
                data,
                replace(pr, title=title, body=body, labels=tuple(labels), head_sha=head_sha, reviews=reviews),
            )

    def comment(self, number: int, body: str) -> None:
        with self._locked() as data:
            pr = self._get(data, number)
            self._save(data, replace(pr, comments=(*pr.comments, body)))

    def close(self, number: int, comment: str | None = None) -> PullRequest:
        with self._locked() as data:
            pr = self._get(data, number)
            if pr.state == "merged":
                raise BadInput(f"pull request #{number} is already merged")
            comments = (*pr.comments, comment) if comment else pr.comments
            return self._save(data, replace(pr, state="closed", comments=comments))

    def get(self, number: int) -> PullRequest:
        return self._get(self._read(), number)

    def list(self, state: str = "open") -> list[PullRequest]:
        prs = [_from_json(raw) for raw in self._read()["prs"].values()]
        return sorted((p for p in prs if state == "all" or p.state == state), key=lambda p: p.number)

    def enable_auto_merge(self, number: int) -> None:
        with self._locked() as data:
            self._save(data, replace(self._get(data, number), auto_merge=True))

    # -- what a person does on a forge -----------------------------------------------------------

    def approve(self, number: int, user: str) -> PullRequest:
        with self._locked() as data:
            pr = self._get(data, number)
            if pr.state != "open":
                raise BadInput(f"pull request #{number} is {pr.state}; only open PRs can be reviewed")
            if user == pr.author:
                raise Denied(f"{user} opened #{number} and cannot approve it")
            review = Review(user=user, state="APPROVED", at=utc_stamp())
            return self._save(data, replace(pr, reviews=(*pr.reviews, review)))

    def merge(
        self, number: int, *, by: str, check: Callable[[PullRequest, Path], None] | None = None
    ) -> PullRequest:
        """Merge into the base with a real merge commit; `check(pr, worktree)` raises Denied when policy
        says no to the merge result (the worktree holds it, its first parent is the base's tip now)."""
        pr = self.get(number)
        if pr.state != "open":
            raise BadInput(f"pull request #{number} is {pr.state}")
        git = Git(self.repo)
        head_tip = git.fetch_tip(pr.head)
        if head_tip is None:
            raise BadInput(f"pull request #{number}: branch {pr.head} no longer exists on origin")
        if pr.head_sha and head_tip != pr.head_sha:
            raise Denied(f"pull request #{number}: {pr.head} moved since it was reviewed; review again")

        def change(worktree: Path) -> str | None:
            message = self._merge_message(pr, by)
            try:
                git.run("merge", "--no-ff", "--no-edit", "--quiet", "-m", message, head_tip, cwd=worktree)
            except ModelOpsError:
                raise Denied(
                    f"pull request #{number} conflicts with {pr.base}; run `modelops propose` again to refresh it"
                ) from None
            if check is not None:
                # Judged on what would land, against the base as it is now (a lost push race judges
                # again on the newer base): not the merge base the PR was reviewed on.
                check(pr, worktree)
            return message

        landed = git.land(pr.base, change)
        git.run("push", "--quiet", "origin", "--delete", pr.head, check=False)
        with self._locked() as data:
            merged = replace(self._get(data, number), state="merged", merge_commit=landed.commit)
            return self._save(data, merged)

    @staticmethod
    def _merge_message(pr: PullRequest, by: str) -> str:
        return f"Merge pull request #{pr.number} from {pr.head}\n\n{pr.title}\n\nMerged-by: {by}"


def default_author() -> str:
    return os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "modelops"
