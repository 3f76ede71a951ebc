"""What changed in the desired state between two versions of models.yaml, per (Model, Environment).

The promotion policy judges these changes, `modelops changes` feeds them to workflow matrices (which
Applications to wait for after a merge), and both classify a change the same way:

- `promote`: the pin moved to a new Version (a canary, if any, ends with it);
- `rollback`: the pin went back to the previous Version and the Version it left is quarantined, or a
  running canary was dropped and its Version quarantined;
- `canary`: a canary started, or its Version or traffic changed, the pin unchanged;
- `canary-stop`: the canary was removed without promotion or quarantine;
- `unpin`: the pin was cleared;
- `quarantine`: only the quarantine list changed;
- `scale`: only the replicas changed (the overlay changes, so Argo CD has something to sync);
- `added` / `removed`: the Model or Environment appeared or disappeared.

Edits that change nothing served (history, descriptions, gate settings) are not changes here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelops.core.state import Canary, DesiredState, Environment

KINDS = ("added", "removed", "promote", "rollback", "unpin", "canary", "canary-stop", "quarantine", "scale")


@dataclass(frozen=True)
class EnvChange:
    model: str
    env: str
    kind: str
    before: Environment | None
    after: Environment | None

    @property
    def from_version(self) -> int | None:
        return self.before.version if self.before else None

    @property
    def to_version(self) -> int | None:
        return self.after.version if self.after else None

    @property
    def newly_quarantined(self) -> tuple[int, ...]:
        old = set(self.before.quarantined) if self.before else set()
        return tuple(v for v in (self.after.quarantined if self.after else ()) if v not in old)

    @property
    def introduced_versions(self) -> tuple[int, ...]:
        """Versions this change starts sending traffic to (a new pin and/or a new canary)."""
        if self.after is None or self.kind == "rollback":
            return ()
        found: list[int] = []
        if self.after.version is not None and self.after.version != self.from_version:
            found.append(self.after.version)
        before_canary = self.before.canary.version if self.before and self.before.canary else None
        if self.after.canary is not None and self.after.canary.version != before_canary:
            found.append(self.after.canary.version)
        return tuple(dict.fromkeys(found))

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "env": self.env,
            "kind": self.kind,
            "from": self.from_version,
            "to": self.to_version,
            "canary": {"from": _canary(self.before), "to": _canary(self.after)},
            "quarantined": list(self.newly_quarantined),
        }

    def describe(self) -> str:
        def served(env: Environment | None) -> str:
            if env is None:
                return "absent"
            pin = f"v{env.version}" if env.version is not None else "unpinned"
            if env.canary is not None:
                pin += f" + canary v{env.canary.version} at {env.canary.traffic}%"
            return pin

        text = f"{self.model}/{self.env}: {self.kind}: {served(self.before)} -> {served(self.after)}"
        if self.newly_quarantined:
            text += " (quarantined " + ", ".join(f"v{v}" for v in self.newly_quarantined) + ")"
        return text


def _canary(env: Environment | None) -> dict[str, int] | None:
    return env.canary.as_dict() if env is not None and env.canary is not None else None


def _same_canary(a: Canary | None, b: Canary | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.version, a.traffic) == (b.version, b.traffic)


def classify(before: Environment | None, after: Environment | None) -> str | None:
    """The kind of change between two states of one Environment, or None when nothing served changed."""
    if before is None and after is None:
        return None
    if before is None:
        return "added"
    if after is None:
        return "removed"
    newly_quarantined = set(after.quarantined) - set(before.quarantined)
    if after.version != before.version:
        if after.version is None:
            return "unpin"
        if (
            before.version is not None
            and after.version == before.previous
            and before.version in after.quarantined
            and after.canary is None
        ):
            return "rollback"
        return "promote"
    if not _same_canary(before.canary, after.canary):
        if after.canary is None:
            assert before.canary is not None
            return "rollback" if before.canary.version in newly_quarantined else "canary-stop"
        return "canary"
    if set(after.quarantined) != set(before.quarantined):
        return "quarantine"
    if after.replicas != before.replicas:
        return "scale"
    return None


def diff_states(base: DesiredState, head: DesiredState) -> list[EnvChange]:
    """Every (Model, Environment) whose served state differs, in (model, env) order."""
    return list(_changes(base, head))


def _changes(base: DesiredState, head: DesiredState) -> Iterator[EnvChange]:
    for name in sorted(set(base.models) | set(head.models)):
        before_model = base.models.get(name)
        after_model = head.models.get(name)
        before_envs = before_model.environments if before_model else {}
        after_envs = after_model.environments if after_model else {}
        for env in sorted(set(before_envs) | set(after_envs)):
            before = before_envs.get(env)
            after = after_envs.get(env)
            kind = classify(before, after)
            if kind is not None:
                yield EnvChange(model=name, env=env, kind=kind, before=before, after=after)


def workflow_matrix(changes: list[EnvChange]) -> dict[str, list[dict[str, str]]]:
    """A GitHub Actions `strategy.matrix` with one entry per changed (model, env) still deployed."""
    include = [
        {"model": c.model, "env": c.env, "kind": c.kind} for c in changes if c.kind not in ("removed",)
    ]
    return {"include": include}
