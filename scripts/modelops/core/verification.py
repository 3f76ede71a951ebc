"""Verified upstream: a Version may enter an Environment only after it soaked in the upstream one.

The proof is read from git: the upstream Environment's history in models.yaml records when the
Version was pinned there at 100 % (the entry's time and the commit it names), and what happened after.
It soaked when it served there for at least the downstream Environment's `soak` and was not rolled
back there: a rollback alert that fired, or a canary analysis that aborted, leaves a rollback commit
that quarantines the Version, so a quarantined Version never counts as verified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from modelops.core.pipeline import stage
from modelops.core.state import Model


@dataclass(frozen=True)
class Verification:
    required: bool
    passed: bool
    message: str
    upstream: str | None = None
    since: str | None = None
    until: str | None = None
    soaked_seconds: float = 0.0
    soak_seconds: int = 0
    ref: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "required": self.required,
            "passed": self.passed,
            "message": self.message,
            "upstream": self.upstream,
            "since": self.since,
            "until": self.until,
            "soaked_seconds": self.soaked_seconds,
            "soak_seconds": self.soak_seconds,
            "ref": self.ref,
        }

    def markdown(self) -> str:
        if not self.required:
            return f"_{self.message}_"
        mark = "verified" if self.passed else "NOT verified"
        rows = [
            f"**{mark}:** {self.message}",
            "",
            "| upstream | pinned there | until | soaked | soak required | proof |",
            "|---|---|---|---|---|---|",
            f"| {self.upstream} | {self.since or '—'} | {self.until or 'still serving'} | "
            f"{_span(self.soaked_seconds)} | {_span(self.soak_seconds)} | {self.ref or 'models.yaml history'} |",
        ]
        return "\n".join(rows)


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{max(0, int(seconds))}s"  # a short soak (a sandbox's) reads as seconds, not "0m"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def verify_upstream(model: Model, env: str, version: int, now: datetime) -> Verification:
    """Did `version` soak in `env`'s upstream (as `model`, the state before the change, records)?"""
    target = stage(model, model.env(env))
    if target.upstream is None:
        return Verification(False, True, f"{env} has no upstream: nothing to verify")
    upstream = model.environments.get(target.upstream)
    if upstream is None:
        return Verification(True, False, f"upstream {target.upstream!r} is not declared", target.upstream)

    def refused(message: str) -> Verification:
        return Verification(True, False, message, upstream=upstream.name, soak_seconds=target.soak_seconds)

    if version in upstream.quarantined:
        return refused(f"v{version} was rolled back in {upstream.name} (quarantined there)")
    entries = list(upstream.history)
    pinned_at = None
    for i, entry in enumerate(entries):
        if entry.action == "promote" and entry.to == version:
            pinned_at = i
    if pinned_at is None:
        still = upstream.version == version
        why = "its pin there is older than the recorded history" if still else "it never served there at 100%"
        return refused(f"v{version} has no soak record in {upstream.name}: {why}")
    entry = entries[pinned_at]
    since = parse_stamp(entry.at)
    if since is None:
        return refused(f"{upstream.name} history has an unreadable time {entry.at!r}")
    later = [e for e in entries[pinned_at + 1 :] if e.action in ("promote", "rollback")]
    until_entry = later[0] if later else None
    until = parse_stamp(until_entry.at) if until_entry is not None else None
    if until_entry is not None and until_entry.action == "rollback" and until_entry.from_ == version:
        return refused(f"v{version} was rolled back in {upstream.name} at {until_entry.at}")
    soaked = ((until or now) - since).total_seconds()
    passed = soaked >= target.soak_seconds
    text = f"v{version} served in {upstream.name} for {_span(soaked)} (soak {_span(target.soak_seconds)})" + (
        "" if passed else f"; {_span(target.soak_seconds - soaked)} to go"
    )
    return Verification(
        True,
        passed,
        text,
        upstream.name,
        entry.at,
        until_entry.at if until_entry is not None else None,
        soaked,
        target.soak_seconds,
        entry.ref,
    )


@dataclass(frozen=True)
class DuePromotion:
    """A Version that soaked upstream and may now be proposed to an auto-promoting Environment."""

    model: str
    env: str
    version: int
    proof: Verification


def due_promotions(models: Sequence[Model], now: datetime) -> list[DuePromotion]:
    """For every auto-promoting Environment with an upstream: the upstream's pin, once it soaked there,
    unless it already serves here (or runs as the canary) or is quarantined anywhere."""
    due: list[DuePromotion] = []
    for model in models:
        for name, env in model.environments.items():
            target = stage(model, env)
            if not target.auto_promote or target.upstream is None:
                continue
            upstream = model.environments.get(target.upstream)
            version = upstream.version if upstream is not None else None
            if version is None or version in model.quarantined_anywhere():
                continue
            if version == env.version or (env.canary is not None and env.canary.version == version):
                continue
            proof = verify_upstream(model, name, version, now)
            if proof.passed:
                due.append(DuePromotion(model.name, name, version, proof))
    return due
