"""`modelops doctor github`: what the workflow files need from GitHub, against what GitHub has.

The expectations come from the repository itself, so they cannot drift from it: the required checks
are pr.yml's job names (a job that can be skipped cannot be required), the variables every `vars.X`
the workflows read, the secrets every `secrets.X` a job reads, per the environment it runs in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelops.context import Context
from modelops.core.doctor import Check, Expectations, diagnose
from modelops.core.document import ModelsDocument

WORKFLOWS = Path(".github") / "workflows"
ACTIONS = Path(".github") / "actions"
# Read by the workflows only when set: docs/github.md says what each one changes.
OPTIONAL_VARIABLES = (
    "PROPOSE_PRODUCTION",
    "MODELOPS_PUSHGATEWAY_URL",
    "DRILL_KNOWN_GOOD_VERSION",
    "MLFLOW_READ_URI",
)
OPTIONAL_SECRETS = ("MLFLOW_TRACKING_TOKEN", "MODELOPS_PUSHGATEWAY_AUTH")
_VARS = re.compile(r"\bvars\.([A-Za-z_][A-Za-z0-9_]*)")
_SECRETS = re.compile(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)")


def _load(path: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML

    loaded: dict[str, Any] = YAML(typ="safe").load(path.read_text("utf-8"))
    return loaded


def expectations(ctx: Context) -> Expectations:
    workflows = sorted((ctx.repo / WORKFLOWS).glob("*.yml"))
    texts = [p.read_text("utf-8") for p in [*workflows, *sorted((ctx.repo / ACTIONS).rglob("action.yml"))]]
    names = sorted({m for text in texts for m in _VARS.findall(text)})
    secrets: dict[str, set[str]] = {}
    for path in workflows:
        for job in (_load(path).get("jobs") or {}).values():
            env = job.get("environment")
            env = env.get("name") if isinstance(env, Mapping) else env
            used = set(_SECRETS.findall(str(job))) - {"GITHUB_TOKEN"}
            if env and used:
                secrets.setdefault(str(env), set()).update(used)
    pr_jobs = (_load(ctx.repo / WORKFLOWS / "pr.yml").get("jobs") or {}).values()
    checks = tuple(str(job.get("name")) for job in pr_jobs if "if" not in job and job.get("name"))
    state = ModelsDocument.load(ctx.models_path).state()
    return Expectations(
        required_checks=checks,
        variables=tuple(n for n in names if n not in OPTIONAL_VARIABLES),
        optional_variables=tuple(n for n in names if n in OPTIONAL_VARIABLES),
        secrets={env: tuple(sorted(used)) for env, used in sorted(secrets.items())},
        optional_secrets=OPTIONAL_SECRETS,
        auto_merge_needed=any(m.auto_merge_staging for m in state.models.values()),
    )


def doctor_github(
    ctx: Context,
    *,
    app_client_id: str = "",
    app_key: str | None = None,
    relay_client_id: str = "",
    relay_key: str | None = None,
    relay_mode: str = "repository",
) -> list[Check]:
    from modelops.adapters.github_settings import GitHubSettings, app_installation

    expect = expectations(ctx)
    # Settings are read with the admin's GITHUB_TOKEN, never with an App's own token.
    admin_env = {k: v for k, v in ctx.env.items() if not k.startswith("MODELOPS_APP_")}
    app = app_installation(ctx.env, app_client_id, app_key, "the GitHub App") if app_key else None
    relay = app_installation(ctx.env, relay_client_id, relay_key, "the relay's App") if relay_key else None
    setup = GitHubSettings(admin_env).read(
        environments=tuple(expect.secrets), app=app, relay=relay, relay_mode=relay_mode
    )
    return diagnose(setup, expect)
