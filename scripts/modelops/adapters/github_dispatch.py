"""Start a workflow on GitHub: the rollback for an incident, or a retrain the relay decided.

Two ways, both one POST:
- `repository`: POST /repos/{owner}/{repo}/dispatches, an event type (`rollback`, `retrain`) and the
  fields in client_payload (the token needs contents: write);
- `workflow`: POST /repos/{owner}/{repo}/actions/workflows/{file}/dispatches on a ref, the fields as
  string inputs (the token needs actions: write).
Requests go through `GitHubCalls`: rate limits are waited out within a bound (and not asked again
before they lift), 5xx answers retried, and a refusal reports GitHub's own message. The rollback
workflow runs `modelops rollback --incident ID`, idempotent per incident, so a dispatch repeated after
an ambiguous failure does not roll back twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelops.adapters.github_client import GitHubCalls, RetryPolicy, github_client, repository_name
from modelops.core.incident import Incident
from modelops.errors import BadInput

if TYPE_CHECKING:
    import github

ROLLBACK_EVENT = "rollback"
ROLLBACK_WORKFLOW = "rollback.yml"
RETRAIN_EVENT = "retrain"
RETRAIN_WORKFLOW = "retrain.yml"
MODES = ("repository", "workflow")
SCOPES = {"repository": "contents: write", "workflow": "actions: write"}
# GitHub refuses a client_payload with more than 10 top-level properties.
CLIENT_PAYLOAD_MAX_KEYS = 10
# The relay answers a webhook; it waits out a short rate limit, and leaves a long one to the next delivery.
RELAY_RETRY = RetryPolicy(max_attempts=4, max_wait_s=30.0, backoff_s=0.5, backoff_max_s=8.0)


def rollback_payload(incident: Incident) -> dict[str, Any]:
    return {
        "model": incident.model,
        "env": incident.env,
        "reason": incident.reason,
        "incident": incident.id,
        "alertname": incident.alertname,
        "version": incident.version,
    }


@dataclass
class GitHubDispatch:
    client: github.Github
    repository: str
    mode: str = "repository"
    ref: str = "main"
    calls: GitHubCalls = field(default_factory=lambda: GitHubCalls("", retry=RELAY_RETRY))

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        mode: str = "repository",
        ref: str | None = None,
        retry: RetryPolicy = RELAY_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout_s: int = 15,
    ) -> GitHubDispatch:
        if mode not in MODES:
            raise BadInput(f"--github-dispatch {mode!r}: expected one of {', '.join(MODES)}")
        client = github_client(env, timeout_s=timeout_s, clock=clock)
        repository = repository_name(env)
        calls = GitHubCalls(
            str(client.requester.base_url),
            retry=retry,
            sleep=sleep,
            clock=clock,
            forbidden_hint=f"the relay's token needs {SCOPES[mode]} on {repository} (docs/github.md)",
        )
        return cls(client, repository, mode, ref or env.get("GITHUB_REF_NAME") or "main", calls)

    def send(self, event: str, workflow: str, fields: Mapping[str, Any]) -> str:
        """Start `workflow` (by `event` in repository mode); returns what was asked of GitHub."""
        if self.mode == "repository":
            if len(fields) > CLIENT_PAYLOAD_MAX_KEYS:
                raise BadInput(
                    f"client_payload: {len(fields)} fields, GitHub allows {CLIENT_PAYLOAD_MAX_KEYS}"
                )
            path = f"/repos/{self.repository}/dispatches"
            body: dict[str, Any] = {"event_type": event, "client_payload": dict(fields)}
            target = f"{self.repository} repository_dispatch {event}"
        else:
            path = f"/repos/{self.repository}/actions/workflows/{workflow}/dispatches"
            inputs = {k: "" if v is None else str(v) for k, v in fields.items()}
            body = {"ref": self.ref, "inputs": inputs}
            target = f"{self.repository} {workflow}@{self.ref}"
        # requestJsonAndCheck raises on any answer but 2xx, with GitHub's body: its message survives.
        requester = self.client.requester
        self.calls("POST", path, lambda: requester.requestJsonAndCheck("POST", path, input=body))
        return target

    def dispatch(self, incident: Incident) -> str:
        """Start the rollback workflow for an incident."""
        return self.send(ROLLBACK_EVENT, ROLLBACK_WORKFLOW, rollback_payload(incident))
