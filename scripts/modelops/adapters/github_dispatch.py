"""Start the rollback workflow on GitHub for an incident.

Two ways, both one POST:
- `repository`: POST /repos/{owner}/{repo}/dispatches, event_type `rollback`, the incident in
  client_payload (the token needs contents: write);
- `workflow`: POST /repos/{owner}/{repo}/actions/workflows/rollback.yml/dispatches on a ref, the incident
  as string inputs (the token needs actions: write).
The workflow itself runs `modelops rollback --incident ID`, which is idempotent per incident, so a
dispatch repeated after an ambiguous failure does not roll back twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelops.adapters.github_client import call_github, github_client, repository_name
from modelops.core.incident import Incident
from modelops.errors import BadInput, ExternalError

if TYPE_CHECKING:
    import github

ROLLBACK_EVENT = "rollback"
ROLLBACK_WORKFLOW = "rollback.yml"
MODES = ("repository", "workflow")


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
class GitHubRollbackDispatch:
    client: github.Github
    repository: str
    mode: str = "repository"
    ref: str = "main"
    workflow: str = ROLLBACK_WORKFLOW

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        mode: str = "repository",
        ref: str | None = None,
        **client_options: Any,
    ) -> GitHubRollbackDispatch:
        if mode not in MODES:
            raise BadInput(f"--github-dispatch {mode!r}: expected one of {', '.join(MODES)}")
        client = github_client(env, **client_options).withLazy(True)
        return cls(
            client=client,
            repository=repository_name(env),
            mode=mode,
            ref=ref or env.get("GITHUB_REF_NAME") or "main",
        )

    def dispatch(self, incident: Incident) -> str:
        """Start the workflow; returns a short description of what was asked of GitHub."""
        repo = self.client.get_repo(self.repository)
        payload = rollback_payload(incident)
        if self.mode == "repository":
            sent = call_github(
                f"repository_dispatch {ROLLBACK_EVENT!r} to {self.repository}",
                lambda: repo.create_repository_dispatch(ROLLBACK_EVENT, client_payload=payload),
            )
            target = f"{self.repository} repository_dispatch {ROLLBACK_EVENT}"
        else:
            inputs = {k: "" if v is None else str(v) for k, v in payload.items()}
            workflow = repo.get_workflow(self.workflow)
            sent = call_github(
                f"workflow_dispatch {self.workflow} on {self.repository}@{self.ref}",
                lambda: workflow.create_dispatch(self.ref, inputs, throw=True),
            )
            target = f"{self.repository} {self.workflow}@{self.ref}"
        if sent is False:
            raise ExternalError(f"GitHub: {target} was not accepted (expected HTTP 204)")
        return target
