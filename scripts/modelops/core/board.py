"""The delivery board's view model: what serves where, since when and why, as plain data.

Pure: the flow gathers the facts (desired state, git commits, pull requests, the registry when it
answers, evaluation evidence, the relay's and the ledger's records) and this module turns them into
a Board that a renderer prints. Nothing here reads a file or asks a server, so a board for 500
models is built from memory in milliseconds and is the same every time for the same facts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

from modelops.core.forge import PullRequest
from modelops.core.pipeline import downstream, soak_seconds, stages
from modelops.core.state import DesiredState, Environment, HistoryEntry, Model
from modelops.errors import BadInput

SUMMARY_DAYS = 30
NOT_REACHABLE = "registry not reachable"
PROMOTION_ACTIONS = ("promote", "canary")


# -- the facts the flow gathers -----------------------------------------------------------------


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    at: str  # ISO 8601, UTC
    subject: str
    body: str = ""


@dataclass(frozen=True)
class VersionFacts:
    """A registered Version as the registry reports it."""

    version: int
    run_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistryFacts:
    """What the registry said; `reachable=False` when it was not configured or did not answer."""

    reachable: bool
    detail: str = ""
    # (model, env) -> the aliases that disagree with models.yaml, e.g. "production: registry v2, git v1"
    drift: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    versions: Mapping[str, Mapping[int, VersionFacts]] = field(default_factory=dict)  # model -> versions


@dataclass(frozen=True)
class Evidence:
    """One evaluation's report.json, and where its plots sit inside the site."""

    model: str
    version: int
    env: str
    report: Mapping[str, Any]
    plots: Mapping[str, str] = field(default_factory=dict)  # plot file name -> site-relative path


@dataclass(frozen=True)
class DriftVerdict:
    model: str
    env: str
    at: str
    drift: bool
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetrainRun:
    model: str
    started_at: str
    outcome: str | None
    detail: str = ""


@dataclass(frozen=True)
class LinkStyle:
    """Where links point: the board's own pages for a sandbox, or GitHub and the MLflow UI for a fork.

    Templates take `{sha}`, `{number}` and `{name}`/`{version}`.
    """

    forge: str  # "local" | "github" | "none"
    commit: str = "commits/{sha}.html"
    pull_request: str = "prs/{number}.html"
    mlflow_version: str | None = None

    @classmethod
    def local(cls) -> LinkStyle:
        return cls(forge="local")

    @classmethod
    def github(
        cls, repository: str, server: str = "https://github.com", mlflow_ui: str | None = None
    ) -> LinkStyle:
        base = f"{server.rstrip('/')}/{repository}"
        ui = mlflow_ui.rstrip("/") if mlflow_ui else None
        return cls(
            forge="github",
            commit=base + "/commit/{sha}",
            pull_request=base + "/pull/{number}",
            mlflow_version=None if ui is None else ui + "/#/models/{name}/versions/{version}",
        )

    @property
    def pages_for_commits(self) -> bool:
        """A sandbox has no web forge, so the board writes a page per linked commit and PR itself."""
        return not self.commit.startswith(("http://", "https://"))

    def commit_url(self, sha: str) -> str:
        return self.commit.format(sha=sha)

    def pr_url(self, number: int) -> str:
        return self.pull_request.format(number=number)

    def version_url(self, name: str, version: int) -> str | None:
        return None if self.mlflow_version is None else self.mlflow_version.format(name=name, version=version)


@dataclass(frozen=True)
class BoardInput:
    state: DesiredState
    now: str
    title: str = "Delivery board"
    commits: Sequence[Commit] = ()  # newest first, as git log prints them
    pull_requests: Sequence[PullRequest] = ()
    registry: RegistryFacts = field(default_factory=lambda: RegistryFacts(reachable=False))
    evidence: Sequence[Evidence] = ()
    drift: Sequence[DriftVerdict] = ()
    retrains: Sequence[RetrainRun] = ()
    alert_starts: Mapping[str, str] = field(default_factory=dict)  # incident id -> alert start
    links: LinkStyle = field(default_factory=LinkStyle.local)


# -- the view model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class Quarantine:
    version: int
    rollback: Link | None  # the commit that rolled it back, when git still has it


@dataclass(frozen=True)
class SoakProgress:
    served_hours: float
    hours: float
    next_env: str | None

    @property
    def percent(self) -> int:
        return 100 if self.hours <= 0 else min(100, int(100 * self.served_hours / self.hours))


@dataclass(frozen=True)
class Cell:
    model: str
    env: str
    version: int | None
    previous: int | None
    canary: tuple[int, int] | None  # (version, traffic %)
    since: str | None
    served_for: str
    registry: str  # "in sync", "drift: …" or NOT_REACHABLE
    registry_ok: bool | None  # None when the registry did not answer
    quarantined: tuple[Quarantine, ...]
    soak: SoakProgress | None
    waiting: tuple[Link, ...]  # open promotion PRs into this environment


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    env: str | None
    kind: str  # promote | canary | rollback | drift | retrain | commit
    by: str
    what: str
    why: str
    links: tuple[Link, ...] = ()
    incident: str | None = None


@dataclass(frozen=True)
class GateView:
    env: str
    passed: bool
    against: int | None
    evaluated_at: str
    table: tuple[tuple[str, str, str], ...]  # (check, value, verdict)
    failed: tuple[str, ...]
    plots: tuple[tuple[str, str], ...]  # (site-relative path, alt text)


@dataclass(frozen=True)
class VersionView:
    version: int
    where: tuple[str, ...]  # e.g. "production (pinned)", "staging (canary 10%)", "production (quarantined)"
    gates: tuple[GateView, ...]
    lineage: tuple[tuple[str, str], ...]
    registry_link: Link | None
    open_prs: tuple[Link, ...]


@dataclass(frozen=True)
class ModelView:
    name: str
    registered_model: str
    owners: tuple[str, ...]
    cells: tuple[Cell, ...]
    timeline: tuple[TimelineEntry, ...]
    versions: tuple[VersionView, ...]


@dataclass(frozen=True)
class Summary:
    days: int
    promotions: int
    rollbacks: int
    alert_to_rollback_seconds: tuple[float, ...]
    gate_passed: int
    gate_blocked: int

    @property
    def alert_to_rollback_median(self) -> float | None:
        return median(self.alert_to_rollback_seconds) if self.alert_to_rollback_seconds else None


@dataclass(frozen=True)
class CommitPage:
    commit: Commit


@dataclass(frozen=True)
class Board:
    title: str
    generated_at: str
    environments: tuple[str, ...]
    models: tuple[ModelView, ...]
    summary: Summary
    registry_reachable: bool
    registry_detail: str
    links: LinkStyle
    commit_pages: tuple[Commit, ...]  # commits the board links to and must show itself (sandbox)
    pr_pages: tuple[PullRequest, ...]


# -- time -------------------------------------------------------------------------------------


def parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def duration(seconds: float) -> str:
    """A short human duration: 45 s, 12 min, 5 h 20 min, 3 d 4 h."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# -- building -----------------------------------------------------------------------------------

_ROLLBACK_SUBJECT = re.compile(r"^rollback (?P<model>\S+) (?P<env>\S+): v(?P<from>\d+) → v(?P<to>\d+)")
_INCIDENT_LINE = re.compile(r"^Incident: (?P<id>\S+)\s*$", re.MULTILINE)
_MERGE_SUBJECT = re.compile(r"^Merge pull request #(?P<number>\d+)(?: from (?P<source>\S+))?")


@dataclass
class _Index:
    """Look-ups over the facts, built once: a board for 500 models must not scan every list per cell."""

    rollback_commits: dict[tuple[str, str, int], Commit] = field(default_factory=dict)
    incident_commits: dict[str, Commit] = field(default_factory=dict)
    merge_commits: dict[int, Commit] = field(default_factory=dict)
    merges_by_branch: dict[str, tuple[int, Commit]] = field(default_factory=dict)
    commits_by_sha: dict[str, Commit] = field(default_factory=dict)
    prs_by_branch: dict[str, list[PullRequest]] = field(default_factory=dict)
    evidence: dict[tuple[str, int], list[Evidence]] = field(default_factory=dict)
    drift: dict[str, list[DriftVerdict]] = field(default_factory=dict)
    retrains: dict[str, list[RetrainRun]] = field(default_factory=dict)
    linked_commits: dict[str, Commit] = field(default_factory=dict)
    linked_prs: dict[int, PullRequest] = field(default_factory=dict)


def _index(facts: BoardInput) -> _Index:
    index = _Index()
    for commit in facts.commits:  # newest first: the first match is the newest
        index.commits_by_sha[commit.sha] = commit
        match = _ROLLBACK_SUBJECT.match(commit.subject)
        if match:
            key = (match["model"], match["env"], int(match["from"]))
            index.rollback_commits.setdefault(key, commit)
            incident = _INCIDENT_LINE.search(commit.body)
            if incident:
                index.incident_commits.setdefault(incident["id"], commit)
        merge = _MERGE_SUBJECT.match(commit.subject)
        if merge:
            index.merge_commits.setdefault(int(merge["number"]), commit)
            # GitHub says "from owner/promote/…", the local forge "from promote/…".
            source = merge["source"] or ""
            start = source.find("promote/")
            if start >= 0:
                index.merges_by_branch.setdefault(source[start:], (int(merge["number"]), commit))
    for pr in facts.pull_requests:
        index.prs_by_branch.setdefault(pr.head, []).append(pr)
    for ev in facts.evidence:
        index.evidence.setdefault((ev.model, ev.version), []).append(ev)
    for verdict in facts.drift:
        index.drift.setdefault(verdict.model, []).append(verdict)
    for run in facts.retrains:
        index.retrains.setdefault(run.model, []).append(run)
    return index


def _commit_link(index: _Index, links: LinkStyle, commit: Commit, text: str | None = None) -> Link:
    index.linked_commits[commit.sha] = commit
    return Link(text or f"commit {commit.sha[:10]}", links.commit_url(commit.sha))


def _pr_link(index: _Index, links: LinkStyle, pr: PullRequest) -> Link:
    index.linked_prs[pr.number] = pr
    return Link(f"PR #{pr.number}", links.pr_url(pr.number))


def _since(env: Environment, version: int, actions: tuple[str, ...]) -> str | None:
    for entry in reversed(env.history):
        if entry.to == version and entry.action in actions:
            return entry.at
    return None


def _registry_cell(facts: RegistryFacts, model: Model, env: Environment) -> tuple[str, bool | None]:
    if not facts.reachable:
        return NOT_REACHABLE, None
    drift = facts.drift.get((model.name, env.name), ())
    return ("in sync", True) if not drift else ("drift: " + "; ".join(drift), False)


def _open_prs(index: _Index, links: LinkStyle, model: str, env: str) -> tuple[Link, ...]:
    prefix = f"promote/{model}/{env}/v"
    found = [
        pr
        for branch, prs in index.prs_by_branch.items()
        if branch.startswith(prefix)
        for pr in prs
        if pr.state == "open"
    ]
    return tuple(
        Link(f"PR #{pr.number}: {pr.title}", _pr_link(index, links, pr).url)
        for pr in sorted(found, key=lambda p: p.number)
    )


def _cell(facts: BoardInput, index: _Index, model: Model, env: Environment, now: datetime) -> Cell:
    since = _since(env, env.version, ("promote", "rollback")) if env.version is not None else None
    started = parse_time(since) if since else None
    served_for = duration((now - started).total_seconds()) if started else "unknown"
    if env.version is None:
        served_for = "—"
    soak = None
    if env.soak is not None and started is not None:  # only where the pipeline declares a soak
        try:
            hours = soak_seconds(env.soak) / 3600
        except BadInput:
            hours = None  # `modelops validate` names it; the board still shows the rest
        if hours is not None:
            following = downstream(model, env.name)
            soak = SoakProgress(
                (now - started).total_seconds() / 3600, hours, following[0] if following else None
            )
    quarantined = []
    for version in env.quarantined:
        commit = index.rollback_commits.get((model.name, env.name, version))
        quarantined.append(
            Quarantine(
                version,
                None
                if commit is None
                else _commit_link(index, facts.links, commit, f"rollback of v{version}"),
            )
        )
    registry, ok = _registry_cell(facts.registry, model, env)
    return Cell(
        model=model.name,
        env=env.name,
        version=env.version,
        previous=env.previous,
        canary=(env.canary.version, env.canary.traffic) if env.canary else None,
        since=since,
        served_for=served_for,
        registry=registry,
        registry_ok=ok,
        quarantined=tuple(quarantined),
        soak=soak,
        waiting=_open_prs(index, facts.links, model.name, env.name),
    )


def _history_entry(
    facts: BoardInput, index: _Index, model: Model, env: Environment, entry: HistoryEntry
) -> TimelineEntry:
    links: list[Link] = []
    frm = f"v{entry.from_}" if entry.from_ is not None else "nothing"
    to = f"v{entry.to}" if entry.to is not None else "nothing"
    if entry.action in PROMOTION_ACTIONS and entry.to is not None:
        what = f"{entry.action} {to} (from {frm})"
        branch = f"promote/{model.name}/{env.name}/v{entry.to}"
        prs = index.prs_by_branch.get(branch, ())
        for pr in prs:
            links.append(_pr_link(index, facts.links, pr))
            merge = index.merge_commits.get(pr.number)
            if merge is not None:
                links.append(_commit_link(index, facts.links, merge, f"merge {merge.sha[:10]}"))
        if not prs and branch in index.merges_by_branch:  # a forge that lists only open PRs
            number, merge = index.merges_by_branch[branch]
            links.append(Link(f"PR #{number}", facts.links.pr_url(number)))
            links.append(_commit_link(index, facts.links, merge, f"merge {merge.sha[:10]}"))
    elif entry.action == "rollback":
        what = f"rollback {frm} → {to}"
        commit = (index.incident_commits.get(entry.ref) if entry.ref else None) or (
            index.rollback_commits.get((model.name, env.name, entry.from_))
            if entry.from_ is not None
            else None
        )
        if commit is not None:
            links.append(_commit_link(index, facts.links, commit))
    else:
        what = f"{entry.action} {frm} → {to}"
    incident = entry.ref if entry.action == "rollback" else None
    return TimelineEntry(
        entry.at, env.name, entry.action, entry.by, what, entry.reason, tuple(links), incident
    )


def _timeline(facts: BoardInput, index: _Index, model: Model) -> tuple[TimelineEntry, ...]:
    entries = [
        _history_entry(facts, index, model, env, h)
        for env in model.environments.values()
        for h in env.history
    ]
    for verdict in index.drift.get(model.name, ()):
        entries.append(
            TimelineEntry(
                verdict.at,
                verdict.env,
                "drift",
                "modelops drift",
                "drift" if verdict.drift else "no drift",
                ", ".join(verdict.features) or "no feature beyond its band",
            )
        )
    for run in index.retrains.get(model.name, ()):
        entries.append(
            TimelineEntry(
                run.started_at,
                None,
                "retrain",
                "modelops retrain",
                f"retrain {run.outcome or 'running'}",
                run.detail,
            )
        )
    return tuple(
        sorted(entries, key=lambda e: parse_time(e.at) or datetime.min.replace(tzinfo=UTC), reverse=True)
    )


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return "—" if value is None else str(value)


def _plot_alt(name: str, report: Mapping[str, Any]) -> str:
    metric = str(report.get("primary_metric", "roc_auc"))
    metrics = report.get("metrics") or {}
    challenger = (metrics.get("challenger") or {}).get(metric)
    champion = (metrics.get("champion") or {}).get(metric)
    candidate, champ_v = report.get("candidate_version"), report.get("champion_version")
    against = f" against champion v{champ_v} ({metric} {_fmt(champion)})" if champ_v is not None else ""
    if name.startswith("roc"):
        return f"ROC curve on the golden set: challenger v{candidate} ({metric} {_fmt(challenger)}){against}."
    if name.startswith("calibration"):
        ece = (metrics.get("challenger") or {}).get("ece")
        return (
            f"Calibration curve in 10 bins: challenger v{candidate} (ECE {_fmt(ece)})"
            + (f" against champion v{champ_v}" if champ_v is not None else "")
            + "; the diagonal is perfect calibration."
        )
    return f"Evaluation plot {name} for v{candidate}."


def _gate_view(ev: Evidence) -> GateView:
    report = ev.report
    rows: list[tuple[str, str, str]] = []
    for check in report.get("checks") or ():
        if isinstance(check, Mapping):
            value = check.get("value", check.get("observed"))
            threshold = check.get("threshold")
            shown = _fmt(value) + (f" (needs {_fmt(threshold)})" if threshold is not None else "")
            rows.append((str(check.get("name", "check")), shown, "pass" if check.get("passed") else "FAIL"))
    plots = tuple((path, _plot_alt(name, report)) for name, path in ev.plots.items())
    champion = report.get("champion_version")
    return GateView(
        env=ev.env,
        passed=bool(report.get("passed")),
        against=int(champion) if isinstance(champion, int) else None,
        evaluated_at=str(report.get("evaluated_at", "")),
        table=tuple(rows),
        failed=tuple(str(f) for f in report.get("failed") or ()),
        plots=plots,
    )


_LINEAGE_TAGS = (
    ("git commit (training)", "git_commit"),
    ("train data md5", "data.train_md5"),
    ("golden md5", "data.golden_md5"),
    ("data version", "data_version"),
    ("params hash", "params_hash"),
    ("modelops", "modelops_version"),
    ("gate verdict", "eval.passed"),
    ("evaluated against", "eval.champion_version"),
)


def _versions(
    facts: BoardInput, index: _Index, model: Model, cells: Sequence[Cell]
) -> tuple[VersionView, ...]:
    known: set[int] = set(facts.registry.versions.get(model.name, {}))
    known |= {v for (m, v) in index.evidence if m == model.name}
    where: dict[int, list[str]] = {}
    for env in model.environments.values():
        if env.version is not None:
            where.setdefault(env.version, []).append(f"{env.name} (pinned)")
        if env.previous is not None:
            where.setdefault(env.previous, []).append(f"{env.name} (rollback target)")
        if env.canary is not None:
            where.setdefault(env.canary.version, []).append(f"{env.name} (canary {env.canary.traffic}%)")
        for q in env.quarantined:
            where.setdefault(q, []).append(f"{env.name} (quarantined)")
    prs_for: dict[int, list[Link]] = {}
    for branch, prs in index.prs_by_branch.items():
        parts = branch.split("/")
        if len(parts) == 4 and parts[0] == "promote" and parts[1] == model.name and parts[3][1:].isdigit():
            for pr in prs:
                if pr.state == "open":
                    prs_for.setdefault(int(parts[3][1:]), []).append(_pr_link(index, facts.links, pr))
    known |= set(where) | set(prs_for)
    views = []
    for version in sorted(known, reverse=True):
        info = facts.registry.versions.get(model.name, {}).get(version)
        tags = info.tags if info else {}
        lineage = [(label, tags[key]) for label, key in _LINEAGE_TAGS if key in tags]
        if info and info.run_id:
            lineage.insert(0, ("MLflow run", info.run_id))
        url = facts.links.version_url(model.registered_model, version)
        views.append(
            VersionView(
                version=version,
                where=tuple(where.get(version, ())),
                gates=tuple(_gate_view(ev) for ev in index.evidence.get((model.name, version), ())),
                lineage=tuple(lineage),
                registry_link=Link(f"{model.registered_model} v{version} in MLflow", url) if url else None,
                open_prs=tuple(prs_for.get(version, ())),
            )
        )
    return tuple(views)


def _summary(facts: BoardInput, index: _Index, now: datetime) -> Summary:
    start = now - timedelta(days=SUMMARY_DAYS)

    def recent(at: str) -> bool:
        when = parse_time(at)
        return when is not None and start <= when <= now + timedelta(minutes=5)

    promotions = rollbacks = 0
    lead_times: list[float] = []
    for model in facts.state.models.values():
        for env in model.environments.values():
            for h in env.history:
                if not recent(h.at):
                    continue
                if h.action in PROMOTION_ACTIONS:
                    promotions += 1
                elif h.action == "rollback":
                    rollbacks += 1
                    commit = index.incident_commits.get(h.ref) if h.ref else None
                    alert = parse_time(facts.alert_starts.get(h.ref, "")) if h.ref else None
                    landed = parse_time(commit.at) if commit else None
                    if alert is not None and landed is not None:
                        lead_times.append(max(0.0, (landed - alert).total_seconds()))
    verdicts: dict[tuple[str, int, str], bool] = {}
    for model_name, versions in facts.registry.versions.items():
        for info in versions.values():
            at, verdict = info.tags.get("eval.evaluated_at"), info.tags.get("eval.passed")
            if at and verdict is not None and recent(at):
                verdicts[(model_name, info.version, info.tags.get("eval.env", ""))] = verdict == "true"
    for ev in facts.evidence:
        if recent(str(ev.report.get("evaluated_at", ""))):
            verdicts[(ev.model, ev.version, ev.env)] = bool(ev.report.get("passed"))
    passed = sum(verdicts.values())
    return Summary(SUMMARY_DAYS, promotions, rollbacks, tuple(lead_times), passed, len(verdicts) - passed)


def build_board(facts: BoardInput) -> Board:
    now = parse_time(facts.now) or datetime.now(UTC)
    index = _index(facts)
    environments: list[str] = []
    models = []
    for model in sorted(facts.state.models.values(), key=lambda m: m.name):
        ordered = [model.environments[name] for name in stages(model)]  # upstreams first
        for env in ordered:
            if env.name not in environments:
                environments.append(env.name)
        cells = tuple(_cell(facts, index, model, env, now) for env in ordered)
        models.append(
            ModelView(
                name=model.name,
                registered_model=model.registered_model,
                owners=model.owners,
                cells=cells,
                timeline=_timeline(facts, index, model),
                versions=_versions(facts, index, model, cells),
            )
        )
    pages = facts.links.pages_for_commits
    return Board(
        title=facts.title,
        generated_at=facts.now,
        environments=tuple(environments),
        models=tuple(models),
        summary=_summary(facts, index, now),
        registry_reachable=facts.registry.reachable,
        registry_detail=facts.registry.detail,
        links=facts.links,
        commit_pages=tuple(index.linked_commits.values()) if pages else (),
        pr_pages=tuple(sorted(index.linked_prs.values(), key=lambda p: p.number)) if pages else (),
    )
