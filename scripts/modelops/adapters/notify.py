"""Notifications about rollbacks and other automated changes.

Always appended to a local JSON-lines log (the embedded default); on GitHub, also a commit comment
on the commit the event concerns, so the people watching the repository see it where it happened.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from modelops.context import Context
from modelops.core.clock import utc_stamp


class Notifier:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def log_path(self) -> Path:
        return self.ctx.state_dir / "notifications.jsonl"

    def notify(self, event: str, message: str, *, commit: str | None = None, **fields: Any) -> None:
        record = {"at": utc_stamp(), "event": event, "message": message, "commit": commit, **fields}
        try:
            self.ctx.ensure_state_dir()
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(record, sort_keys=True) + "\n")
        except OSError as exc:  # a notification must never break the change it reports
            print(f"modelops: warning: could not write {self.log_path}: {exc}", file=sys.stderr)
        print(f"[{event}] {message}", file=sys.stderr, flush=True)
        if self.ctx.forge_kind == "github" and commit:
            self._comment_on_commit(commit, f"**{event}**: {message}")

    def _comment_on_commit(self, commit: str, body: str) -> None:
        from modelops.errors import ModelOpsError

        try:
            from modelops.adapters.github_client import github_client

            repo = github_client(self.ctx.env).get_repo(self.ctx.env["GITHUB_REPOSITORY"])
            repo.get_commit(commit).create_comment(body)
        except (ModelOpsError, Exception) as exc:  # best effort by design: the local log has it
            print(f"modelops: warning: commit comment on {commit[:8]} failed: {exc}", file=sys.stderr)
