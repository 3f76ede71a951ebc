"""A Promotion: moving a Version into an Environment, as a pull request.

Pure decisions and texts: which step a promotion takes (canary first when the model asks for one),
whether the version may be proposed, the branch, title, labels and body of its pull request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modelops.core.pipeline import stage
from modelops.core.rollback import fallback_after_promotion
from modelops.core.state import Environment, Model
from modelops.errors import BadInput, Denied

PRODUCTION = "production"


@dataclass(frozen=True)
class PromotionPlan:
    model: str
    env: str
    version: int
    traffic: int  # 100 pins the version; less runs it as a canary beside the pin
    from_version: int | None
    fallback: int | None
    override_reason: str | None

    @property
    def branch(self) -> str:
        return f"promote/{self.model}/{self.env}/v{self.version}"

    @property
    def is_canary(self) -> bool:
        return self.traffic < 100

    @property
    def title(self) -> str:
        step = f" at {self.traffic}% canary" if self.is_canary else ""
        origin = f" (from v{self.from_version})" if self.from_version is not None else " (first version)"
        return f"promote {self.model} v{self.version} → {self.env}{step}{origin}"

    @property
    def labels(self) -> list[str]:
        labels = ["promotion", f"env:{self.env}"]
        if self.is_canary:
            labels.append("canary")
        if self.override_reason:
            labels.append("override")
        return labels


def plan_promotion(
    model: Model, env: Environment, version: int, traffic: int | None, override_reason: str | None
) -> PromotionPlan:
    """Choose the step: a model with canary steps goes through its first step before 100 %."""
    if version in model.quarantined_anywhere() and not override_reason:
        raise Denied(
            f"{model.name} v{version} is quarantined (rolled back before); "
            "only a human proposal with --override-reason may bring it back"
        )
    if traffic is not None and not 1 <= traffic <= 100:
        raise BadInput(f"--traffic {traffic}: must be between 1 and 100")
    if traffic is None:
        already_canary = env.canary is not None and env.canary.version == version
        steps = stage(model, env).canary_steps
        wants_canary = bool(steps) and env.version is not None
        traffic = steps[0] if wants_canary and not already_canary else 100
    if env.version == version and traffic == 100 and env.canary is None:
        raise BadInput(f"{model.name} {env.name} already pins v{version}; nothing to propose")
    return PromotionPlan(
        model=model.name,
        env=env.name,
        version=version,
        traffic=traffic,
        from_version=env.version,
        fallback=env.version if traffic < 100 else fallback_after_promotion(env, version),
        override_reason=override_reason,
    )


def check_evaluation(tags: Mapping[str, str], plan: PromotionPlan) -> str | None:
    """Why the version's evaluation does not license this promotion, or None when it does."""
    if tags.get("eval.passed") != "true":
        state = "failed its evaluation" if tags.get("eval.passed") == "false" else "has not been evaluated"
        return f"{plan.model} v{plan.version} {state} (eval.passed={tags.get('eval.passed', 'missing')})"
    champion = tags.get("eval.champion_version", "")
    expected = "" if plan.from_version is None else str(plan.from_version)
    if champion.lower() in ("none", "null"):
        champion = ""
    if champion != expected:
        return (
            f"{plan.model} v{plan.version} was evaluated against champion "
            f"{'v' + champion if champion else 'none'}, but {plan.env} now pins "
            f"{'v' + expected if expected else 'nothing'}; run `modelops evaluate --model {plan.model} "
            f"--candidate {plan.version} --env {plan.env}` again"
        )
    return None


def commit_message(plan: PromotionPlan, by: str) -> str:
    lines = [plan.title, "", f"Proposed-by: {by}"]
    if plan.override_reason:
        lines.append(f"Override: {plan.override_reason}")
    return "\n".join(lines) + "\n"


# GitHub refuses a pull request body longer than this.
PR_BODY_MAX_CHARS = 65_536
EVIDENCE_SLOT = "\x00evidence\x00"


def pr_body(
    plan: PromotionPlan,
    *,
    report_markdown: str | None,
    lineage: Mapping[str, str],
    owners: tuple[str, ...],
    full_report: str | None = None,
    max_chars: int = PR_BODY_MAX_CHARS,
) -> str:
    """The PR text; an evaluation report too long for GitHub is cut (never inside a chart) and linked."""
    rows = "\n".join(f"| {k} | {v} |" for k, v in lineage.items())
    fallback = (
        f"v{plan.fallback}" if plan.fallback is not None else "nothing (first version: rollback is refused)"
    )
    step = f"{plan.traffic}% canary beside v{plan.from_version}" if plan.is_canary else "100% of traffic"
    parts = [
        f"## Promotion: {plan.model} v{plan.version} → {plan.env}",
        "",
        f"- **Step:** {step}",
        f"- **Rollback plan:** on `action=rollback` alerts, the relay commits {plan.env} back to **{fallback}** "
        f"and quarantines v{plan.version}.",
        f"- **Reviewers:** {', '.join('@' + o for o in owners)}",
    ]
    if plan.override_reason:
        parts += [
            "",
            f"> **Override:** {plan.override_reason}",
            "> The evaluation gate did not license this promotion; policy requires an extra owner approval.",
        ]
    parts += ["", "### Lineage", "", "| | |", "|---|---|", rows, ""]
    report = report_markdown.strip() if report_markdown else "_No evaluation report._"
    link = f"Full report: {full_report}" if full_report else ""
    parts += ["### Evaluation evidence", "", EVIDENCE_SLOT]
    if link:
        parts += ["", link]
    parts += [
        "",
        "### Checklist",
        "",
        "- [ ] Evidence reviewed: the CI lower bound clears the margin and every guardrail passes",
        "- [ ] Slices and fairness checked for regressions that matter to this model's users",
        f"- [ ] Rollback target {fallback} is healthy and still servable",
        "- [ ] Dashboards and alerts for this model are green before merging",
    ]
    frame = "\n".join(parts) + "\n"
    room = max_chars - len(frame) + len(EVIDENCE_SLOT)
    if len(report) > room:
        note = f"\n\n_Cut to fit a pull request body ({max_chars:,} characters)" + (
            "; the full report is linked below._" if full_report else "._"
        )
        report = _cut(report, max(0, room - len(note))) + note
    return frame.replace(EVIDENCE_SLOT, report, 1)


def _cut(text: str, limit: int) -> str:
    """The longest run of whole lines within `limit`, never ending inside a fenced block (a chart)."""
    kept: list[str] = []
    size = 0
    for line in text.splitlines():
        if size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    if sum(1 for line in kept if line.startswith("```")) % 2:
        while kept and not kept[-1].startswith("```"):
            kept.pop()
        if kept:
            kept.pop()
    return "\n".join(kept).rstrip()
