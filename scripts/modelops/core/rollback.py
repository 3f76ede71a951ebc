"""Rollback rules: which version an environment falls back to, and what becomes quarantined.

Both `modelops rollback` and the promotion PR's rollback plan ask these functions, so the version a
PR promises to fall back to is the version a rollback will choose.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from modelops.core.state import Environment
from modelops.errors import BadInput, Denied


class NotServing(BadInput):
    """The alerted version does not serve in that environment: a decision that cannot change."""


@dataclass(frozen=True)
class RollbackPlan:
    from_version: int
    to_version: int
    new_previous: int | None
    drops_canary: bool


def fallback_after_promotion(env: Environment, new_version: int) -> int | None:
    """The version a promotion of `new_version` would fall back to: what serves now."""
    if env.version == new_version:
        return env.previous
    return env.version


def already_rolled_back(env: Environment, ref: str | None, bad_version: int | None) -> str | None:
    """Why a rollback has nothing left to do, or None: this incident (`ref`) already rolled `env`
    back, or the bad version no longer serves and an earlier incident quarantined it."""
    if ref and any(h.action == "rollback" and h.ref == ref for h in env.history):
        return "already rolled back for this incident"
    serving = {env.version, env.canary.version if env.canary else None}
    if bad_version is not None and bad_version not in serving and bad_version in env.quarantined:
        return f"v{bad_version} was already rolled back (quarantined)"
    return None


def plan_rollback(env: Environment, bad_version: int | None = None) -> RollbackPlan:
    """Undo the newest change: a running canary first, else the pin goes back to `previous`."""
    if env.canary is not None and bad_version in (None, env.canary.version):
        if env.version is None:
            raise Denied(f"{env.name}: canary v{env.canary.version} has no pinned version to fall back to")
        return RollbackPlan(env.canary.version, env.version, env.previous, drops_canary=True)
    if env.version is None:
        raise Denied(f"{env.name}: nothing is pinned, so there is nothing to roll back")
    if bad_version is not None and bad_version != env.version:
        raise NotServing(
            f"{env.name}: v{bad_version} is not serving (pinned v{env.version}"
            + (f", canary v{env.canary.version}" if env.canary else "")
            + ")"
        )
    if env.previous is None:
        raise Denied(f"{env.name}: v{env.version} has no previous version recorded to roll back to")
    if env.previous in env.quarantined:
        raise Denied(
            f"{env.name}: previous v{env.previous} is quarantined too; a human must choose a version"
        )
    return RollbackPlan(env.version, env.previous, _previous_of(env, env.previous), drops_canary=False)


def _previous_of(env: Environment, version: int) -> int | None:
    """What served before `version` was last promoted, if it is still a safe target."""
    for entry in reversed(env.history):
        if entry.action == "promote" and entry.to == version:
            prior = entry.from_
            if prior is None or prior in env.quarantined or prior == env.version:
                return None
            return prior
    return None


class Verdict(enum.Enum):
    ACT = "act"  # roll back now
    DONE = "done"  # already rolled back: for this incident, or the version is quarantined already
    REFUSE = "refuse"  # can never happen: the version does not serve here
    DEFER = "defer"  # not now (nothing safe to fall back to yet): decide again on the next delivery


def judge(env: Environment, bad_version: int | None, incident: str | None = None) -> tuple[Verdict, str]:
    """What a rollback request would come to on this state, without doing it.

    Only a version that does not serve is refused for good; a missing fallback can be fixed by a
    human (or a promotion), so it is deferred and the next re-send asks again.
    """
    done = already_rolled_back(env, incident, bad_version)
    if done is not None:
        return Verdict.DONE, done
    try:
        plan_rollback(env, bad_version)
    except NotServing as exc:
        return Verdict.REFUSE, str(exc)
    except (Denied, BadInput) as exc:
        return Verdict.DEFER, str(exc)
    return Verdict.ACT, ""
