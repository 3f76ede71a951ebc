"""Which event goes where, and the chat message it becomes.

Configured in policies/promotion.yaml, one line per event:

    notifications:
      chat_webhook_env: MODELOPS_CHAT_WEBHOOK_URL   # where the incoming-webhook URL is (a secret)
      events:
        promotion.merged: [chat, commit, log]
        rollback.committed: [chat, commit, log]
        canary.verdict: [chat, log]
        retrain.decision: [log]
        drift.verdict: [chat, log]

Channels: `chat` (a Slack-compatible incoming webhook: JSON with `text` and mrkdwn `blocks`),
`commit` (a GitHub commit comment on the commit the event concerns) and `log` (the local JSON-lines
log; the sandbox's). Without the block, the routing above is the default; an event a block does not
list goes to the commit comment and the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelops.errors import BadInput

EVENTS = ("promotion.merged", "rollback.committed", "canary.verdict", "retrain.decision", "drift.verdict")
CHANNELS = ("chat", "commit", "log")
DEFAULT_CHANNELS = ("commit", "log")
# Names the flows already emit, under the configured name.
ALIASES = {"rollback.finished": "rollback.committed"}


# The routing when the policy says nothing (policies/promotion.yaml spells the same out).
DEFAULT_EVENTS: Mapping[str, tuple[str, ...]] = {
    "promotion.merged": ("chat", "commit", "log"),
    "rollback.committed": ("chat", "commit", "log"),
    "canary.verdict": ("chat", "commit", "log"),
    "retrain.decision": ("chat", "log"),
    "drift.verdict": ("chat", "log"),
}


@dataclass(frozen=True)
class NotificationSettings:
    chat_webhook_env: str = "MODELOPS_CHAT_WEBHOOK_URL"
    events: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_EVENTS))

    def channels(self, event: str) -> tuple[str, ...]:
        return self.events.get(ALIASES.get(event, event), DEFAULT_CHANNELS)

    @classmethod
    def from_mapping(cls, raw: Any, source: str = "policies/promotion.yaml") -> NotificationSettings:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise BadInput(f"{source}: notifications: expected a mapping with chat_webhook_env and events")
        unknown = sorted(set(raw) - {"chat_webhook_env", "events"})
        if unknown:
            raise BadInput(
                f"{source}: notifications.{unknown[0]}: unknown key (known: chat_webhook_env, events)"
            )
        events: dict[str, tuple[str, ...]] = dict(DEFAULT_EVENTS) if raw.get("events") is None else {}
        for event, channels in (raw.get("events") or {}).items():
            if event not in EVENTS:
                raise BadInput(
                    f"{source}: notifications.events.{event}: unknown event (known: {', '.join(EVENTS)})"
                )
            listed = [channels] if isinstance(channels, str) else list(channels or [])
            for channel in listed:
                if channel not in CHANNELS:
                    raise BadInput(
                        f"{source}: notifications.events.{event}: unknown channel {channel!r} "
                        f"(known: {', '.join(CHANNELS)})"
                    )
            events[event] = tuple(listed)
        return cls(str(raw.get("chat_webhook_env", cls.chat_webhook_env)), events)


def chat_payload(event: str, message: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body: `text` for every client, one mrkdwn block for Slack."""
    name = ALIASES.get(event, event)
    facts = " · ".join(f"{k}: {v}" for k, v in sorted(fields.items()) if v is not None and k != "message")
    text = f"[modelops] {name}: {message}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{name}* {message}"}}
    ]
    if facts:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": facts}]})
    return {"text": text, "blocks": blocks}
