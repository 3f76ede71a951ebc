"""Notifications about rollbacks and other automated changes.

Always appended to a local JSON-lines log (the embedded default); on GitHub, also a commit comment
on the commit the event concerns, so the people watching the repository see it where it happened;
and a chat webhook (Slack-compatible JSON) for the events policies/promotion.yaml routes there
(core/notifications.py). A channel that fails never fails the action it reports: the failure is
logged and counted in modelops_notification_failed_total (a textfile under the state directory).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from modelops.context import Context
from modelops.core.clock import utc_stamp
from modelops.core.contract import NOTIFICATION_FAILED_TOTAL
from modelops.core.notifications import NotificationSettings, chat_payload
from modelops.errors import ModelOpsError

CHAT_TIMEOUT_S = 5.0


def notification_settings(repo: Path) -> NotificationSettings:
    """The `notifications` block of policies/promotion.yaml (defaults when absent or unreadable:
    a broken policy file is reported by `policy check`, and must not silence a rollback's notice)."""
    import yaml

    path = repo / "policies" / "promotion.yaml"
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) if path.is_file() else None
        return NotificationSettings.from_mapping(
            (raw or {}).get("notifications") if isinstance(raw, dict) else None
        )
    except (OSError, yaml.YAMLError, ModelOpsError) as exc:
        print(f"modelops: warning: notifications: {exc}", file=sys.stderr)
        return NotificationSettings()


class Notifier:
    def __init__(self, ctx: Context, settings: NotificationSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings if settings is not None else notification_settings(ctx.repo)

    @property
    def log_path(self) -> Path:
        return self.ctx.state_dir / "notifications.jsonl"

    def notify(self, event: str, message: str, *, commit: str | None = None, **fields: Any) -> None:
        channels = self.settings.channels(event)
        record = {"at": utc_stamp(), "event": event, "message": message, "commit": commit, **fields}
        if "log" in channels or event == "notification.failed":
            self._log(record)
        print(f"[{event}] {message}", file=sys.stderr, flush=True)
        if "commit" in channels and self.ctx.forge_kind == "github" and commit:
            self._comment_on_commit(commit, f"**{event}**: {message}")
        if "chat" in channels:
            self._chat(event, message, {"commit": commit, **fields})

    def _log(self, record: dict[str, Any]) -> None:
        try:
            self.ctx.ensure_state_dir()
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(record, sort_keys=True) + "\n")
        except OSError as exc:  # a notification must never break the change it reports
            print(f"modelops: warning: could not write {self.log_path}: {exc}", file=sys.stderr)

    def _chat(self, event: str, message: str, fields: dict[str, Any]) -> None:
        import urllib.error
        import urllib.request

        url = self.ctx.env.get(self.settings.chat_webhook_env)
        if not url:
            return None  # no chat on this machine (a sandbox, a laptop): nothing was promised
        body = json.dumps(chat_payload(event, message, fields)).encode("utf-8")
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=CHAT_TIMEOUT_S) as answer:
                answer.read(1024)
        except (OSError, urllib.error.HTTPError, TimeoutError) as exc:
            self._failed("chat", event, str(getattr(exc, "reason", None) or exc))
        return None

    def _failed(self, channel: str, event: str, problem: str) -> None:
        from modelops.adapters.pushgateway import bump_counter

        print(f"modelops: warning: {channel} notification of {event} failed: {problem}", file=sys.stderr)
        self._log(
            {
                "at": utc_stamp(),
                "event": "notification.failed",
                "channel": channel,
                "of": event,
                "problem": problem,
            }
        )
        try:
            bump_counter(
                self.ctx.state_dir / "metrics",
                NOTIFICATION_FAILED_TOTAL,
                {"channel": channel, "event": event},
            )
        except OSError as exc:
            print(f"modelops: warning: could not count the failed notification: {exc}", file=sys.stderr)

    def _comment_on_commit(self, commit: str, body: str) -> None:
        from modelops.errors import ModelOpsError

        try:
            from modelops.adapters.github_client import github_client

            repo = github_client(self.ctx.env).get_repo(self.ctx.env["GITHUB_REPOSITORY"])
            repo.get_commit(commit).create_comment(body)
        except (ModelOpsError, Exception) as exc:  # best effort by design: the local log has it
            print(f"modelops: warning: commit comment on {commit[:8]} failed: {exc}", file=sys.stderr)
