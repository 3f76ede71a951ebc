"""Notifications: one line per event in the policy; a chat receiver that is down never stops the action."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from modelops.core.notifications import NotificationSettings
from modelops.errors import BadInput
from modelops.sandbox.prom_stack import free_port
from tests.helpers import modelops
from tests.relay.sandbox import GitSandbox, make_git_sandbox

POLICY = """notifications:
  chat_webhook_env: TEAM_CHAT_URL
  events:
    rollback.committed: [chat, log]
    drift.verdict: [log]
"""


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/T000/B000", received
    server.shutdown()


def rollback(root: Path, url: str) -> tuple[object, GitSandbox]:
    box = make_git_sandbox(root)
    (box.clone / "policies").mkdir()
    (box.clone / "policies" / "promotion.yaml").write_text(POLICY, "utf-8")
    result = modelops(
        "rollback",
        "--model",
        "churn",
        "--env",
        "production",
        "--reason",
        "error rate",
        "--incident",
        "inc-1",
        "--no-registry",
        "--repo",
        str(box.clone),
        env={"TEAM_CHAT_URL": url},
    )
    return result, box


def test_a_rollback_reaches_the_chat_as_slack_compatible_json(
    tmp_path: Path, receiver: tuple[str, list[dict]]
) -> None:
    url, received = receiver
    before = len(received)
    result, box = rollback(tmp_path, url)
    clone = box.clone
    assert result.returncode == 0, result.stderr
    (payload,) = received[before:]  # started is not routed to chat; committed is
    assert payload["text"].startswith("[modelops] rollback.committed: churn production: v2 → v1")
    assert payload["blocks"][0]["type"] == "section" and payload["blocks"][0]["text"]["type"] == "mrkdwn"
    log = [
        json.loads(line) for line in (clone / ".modelops" / "notifications.jsonl").read_text().splitlines()
    ]
    # rollback.started is not listed, so it keeps the default channels (commit, log), not chat.
    assert [r["event"] for r in log] == ["rollback.started", "rollback.finished"]


def test_a_receiver_that_is_down_is_logged_and_counted_and_the_rollback_still_lands(tmp_path: Path) -> None:
    result, box = rollback(tmp_path, f"http://127.0.0.1:{free_port()}/down")
    clone = box.clone
    assert result.returncode == 0, result.stderr
    assert box.rollback_commits() == ["rollback churn production: v2 → v1"]
    assert "chat notification of rollback.finished failed" in result.stderr
    log = [
        json.loads(line) for line in (clone / ".modelops" / "notifications.jsonl").read_text().splitlines()
    ]
    failed = [r for r in log if r["event"] == "notification.failed"]
    assert failed and failed[0]["channel"] == "chat" and failed[0]["of"] == "rollback.finished"
    counter = (clone / ".modelops" / "metrics" / "modelops_notification_failed.prom").read_text()
    assert 'modelops_notification_failed_total{channel="chat",event="rollback.finished"} 1' in counter


def test_an_unknown_event_or_channel_names_the_line() -> None:
    with pytest.raises(BadInput, match=r"notifications.events.deploy.done: unknown event"):
        NotificationSettings.from_mapping({"events": {"deploy.done": ["chat"]}})
    with pytest.raises(BadInput, match=r"notifications.events.drift.verdict: unknown channel 'email'"):
        NotificationSettings.from_mapping({"events": {"drift.verdict": ["email"]}})
