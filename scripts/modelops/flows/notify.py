"""`modelops notify rollback-failed`: people and Prometheus hear that an automatic rollback failed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from modelops.adapters.notify import Notifier
from modelops.context import Context
from modelops.core.document import ModelsDocument
from modelops.errors import ExternalError


@dataclass
class NotifyResult:
    model: str
    env: str
    channels: list[str] = field(default_factory=list)
    issue_url: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def rollback_failed(ctx: Context, *, model: str, env: str, reason: str, incident: str | None) -> NotifyResult:
    from modelops.adapters import pushgateway

    ModelsDocument.load(ctx.models_path).state().model(model).env(env)  # bad names are exit 2
    result = NotifyResult(model=model, env=env)
    message = f"automatic rollback of {model} {env} failed" + (f" (incident {incident})" if incident else "")
    Notifier(ctx).notify("rollback.failed", f"{message}: {reason}", model=model, env=env, incident=incident)
    result.channels.append("log")
    pushgateway.bump_textfile(ctx.state_dir / "metrics", model, env)
    result.channels.append("textfile")
    # People first: an unreachable Pushgateway (an in-cluster one seen from a hosted runner) must not
    # keep the issue from being opened.
    if ctx.forge_kind == "github":
        result.issue_url = _open_issue(ctx, model, env, f"{message}.\n\nReason: {reason}\n")
        result.channels.append("github-issue")
    if url := ctx.env.get("MODELOPS_PUSHGATEWAY_URL"):
        try:
            pushgateway.push(url, model, env, auth=ctx.env.get("MODELOPS_PUSHGATEWAY_AUTH", ""))
        except ExternalError as exc:
            told = f"; told {', '.join(result.channels)}" + (
                f" ({result.issue_url})" if result.issue_url else ""
            )
            raise ExternalError(
                f"{exc} (MODELOPS_PUSHGATEWAY_URL must be reachable from the runner){told}"
            ) from None
        result.channels.append("pushgateway")
    return result


def _open_issue(ctx: Context, model: str, env: str, body: str) -> str:
    from modelops.adapters.github_client import github_client
    from modelops.errors import ExternalError

    try:
        repo = github_client(ctx.env).get_repo(ctx.env["GITHUB_REPOSITORY"])
        issue = repo.create_issue(title=f"Rollback failed: {model} {env}", body=body, labels=["incident"])
    except Exception as exc:
        raise ExternalError(f"GitHub: could not open the rollback-failed issue: {exc}") from None
    return str(issue.html_url)
