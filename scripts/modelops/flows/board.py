"""`modelops board --out DIR`: the delivery board as a static site, from git and, when it answers, the registry.

Reads models.yaml first: a broken one is exit 2 before anything is written. The site is built in a
temporary directory beside DIR and swapped in with renames, so a failed build leaves the previous
board in place and a reader never sees half a board. Facts the registry would add (aliases, lineage,
the evidence logged to runs) are optional: without a registry every cell says so and the rest of the
board still comes from git, the forge and the local state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.adapters.git import Git
from modelops.context import MODELS_FILE, Context
from modelops.core.board import (
    BoardInput,
    Commit,
    DriftVerdict,
    Evidence,
    LinkStyle,
    RegistryFacts,
    RetrainRun,
    VersionFacts,
    build_board,
)
from modelops.core.board_html import render_site
from modelops.core.clock import utc_stamp
from modelops.core.document import ModelsDocument
from modelops.core.forge import PullRequest
from modelops.core.state import DesiredState, parse_state
from modelops.errors import BadInput, ModelOpsError

MARKER = ".modelops-board"
COMMIT_LIMIT = 2000
PLOTS = ("roc.png", "calibration.png")
_FIELD, _RECORD = "\x1f", "\x1e"


@dataclass
class BoardResult:
    out: str
    index: str
    models: int
    environments: int
    pages: int
    bytes_index: int
    registry: str
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- facts --------------------------------------------------------------------------------------


def _commits(repo: Path, ref: str) -> list[Commit]:
    fmt = _FIELD.join(("%H", "%an", "%aI", "%s", "%b")) + _RECORD
    out = Git(repo).run("log", f"--format={fmt}", "-n", str(COMMIT_LIMIT), ref, "--")
    commits = []
    for record in out.split(_RECORD):
        parts = record.strip("\n").split(_FIELD)
        if len(parts) == 5:
            sha, author, at, subject, body = parts
            commits.append(Commit(sha, author, at, subject, body.strip()))
    return commits


def _pull_requests(ctx: Context, notes: list[str]) -> list[PullRequest]:
    try:
        if ctx.forge_kind == "local" and ctx.local_forge_dir is not None:
            from modelops.adapters.local_forge import LocalForge

            return LocalForge(ctx.local_forge_dir, ctx.repo).list("all")
        if ctx.forge_kind == "github":
            from modelops.adapters.github_forge import GitHubForge

            # Merged PRs are found from their merge commits; only the open ones need asking for.
            return GitHubForge.from_env(ctx.env).list("open")
    except ModelOpsError as exc:
        notes.append(f"pull requests not read: {exc}")
    return []


def _links(ctx: Context) -> LinkStyle:
    repository = ctx.env.get("GITHUB_REPOSITORY")
    if ctx.sandbox or not repository:
        return LinkStyle.local()
    uri = ctx.tracking_uri
    ui = uri if uri.startswith(("http://", "https://")) else None
    return LinkStyle.github(repository, ctx.env.get("GITHUB_SERVER_URL", "https://github.com"), ui)


def _registry(
    ctx: Context, state: DesiredState, offline: bool, staging: Path, notes: list[str]
) -> tuple[RegistryFacts, list[Evidence]]:
    if offline:
        return RegistryFacts(False, "--offline: the registry was not asked"), []
    if not (ctx.sandbox or ctx.env.get("MLFLOW_TRACKING_URI")):
        return RegistryFacts(False, "no registry configured (MLFLOW_TRACKING_URI is not set)"), []
    from modelops.adapters.registry import Registry

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep stderr to our lines
    registry = Registry.for_context(ctx)
    drift: dict[tuple[str, str], tuple[str, ...]] = {}
    versions: dict[str, dict[int, VersionFacts]] = {}
    evidence: list[Evidence] = []
    try:
        for model in state.models.values():
            actual = registry.aliases(model.registered_model)
            wanted: set[int] = set()
            for env in model.environments.values():
                drift[(model.name, env.name)] = tuple(
                    f"{alias}: registry {_v(actual.get(alias))}, git {_v(version)}"
                    for alias, version in env.owned_aliases().items()
                    if actual.get(alias) != version
                )
                wanted |= {v for v in (env.version, env.previous, *env.quarantined) if v is not None}
                if env.canary:
                    wanted.add(env.canary.version)
            infos = registry.versions(model.registered_model)
            versions[model.name] = {i.version: VersionFacts(i.version, i.run_id, dict(i.tags)) for i in infos}
            if infos:
                wanted.add(infos[0].version)  # the newest: often the one waiting for review
            for info in infos:
                if info.version in wanted and info.run_id:
                    evidence += _run_evidence(registry, model.name, info.version, info.run_id, staging, notes)
    except ModelOpsError as exc:
        return RegistryFacts(False, str(exc)), []
    return RegistryFacts(True, "", drift, versions), evidence


def _v(version: int | None) -> str:
    return "none" if version is None else f"v{version}"


def _run_evidence(
    registry: Any, model: str, version: int, run_id: str, staging: Path, notes: list[str]
) -> list[Evidence]:
    """The evaluation evidence logged to the version's run (evaluation/<env>/report.json and plots)."""
    found = []
    with tempfile.TemporaryDirectory(prefix="modelops-board-") as tmp:
        try:
            local = Path(registry.download_artifacts(run_id, "evaluation", tmp))
        except ModelOpsError:
            return []  # not evaluated, or evidence not logged
        for report in sorted(local.glob("*/report.json")):
            ev = _evidence_from(report.parent, model, version, report.parent.name, staging, notes)
            if ev is not None:
                found.append(ev)
    return found


def _evidence_from(
    directory: Path, model: str | None, version: int | None, env: str | None, staging: Path, notes: list[str]
) -> Evidence | None:
    try:
        report = json.loads((directory / "report.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        notes.append(f"{directory / 'report.json'}: unreadable ({exc})")
        return None
    version = version if version is not None else report.get("candidate_version")
    env = env or report.get("env")
    model = model or report.get("model")
    if not isinstance(version, int) or not isinstance(env, str) or not isinstance(model, str):
        return None
    plots = {}
    for name in PLOTS:
        if (directory / name).is_file():
            rel = f"evidence/{model}/v{version}/{env}/{name}"
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(directory / name, staging / rel)
            plots[name] = rel
    return Evidence(model, version, env, report, plots)


def _local_evidence(
    ctx: Context, dirs: list[Path], state: DesiredState, staging: Path, notes: list[str]
) -> list[Evidence]:
    """Evidence directories on disk: the state dir's and any the caller names (e.g. the demo's)."""
    found = []
    for root in (ctx.state_dir / "evidence", *dirs):
        for report in sorted(root.glob("**/report.json")) if root.is_dir() else ():
            ev = _evidence_from(report.parent, None, None, None, staging, notes)
            if ev is not None and ev.model in state.models:
                found.append(ev)
    return found


# The relay keeps its incident log and the retrain ledger in its own directory (`modelops relay
# --state`, by default <state dir>/relay); commands run by hand keep theirs in the state dir itself.
def _state_dirs(ctx: Context) -> list[Path]:
    return [ctx.state_dir, ctx.state_dir / "relay"]


def _state_records(
    ctx: Context, state: DesiredState, notes: list[str]
) -> tuple[list[DriftVerdict], list[RetrainRun], dict[str, str]]:
    """The ledgers' drift verdicts and retrains, and the relay's alert starts, where this machine has them."""
    from modelops.adapters.incidents import DB_NAME, IncidentStore
    from modelops.adapters.ledger import LEDGER_FILE, Ledger

    drift: set[DriftVerdict] = set()
    retrains: set[RetrainRun] = set()
    starts: dict[str, str] = {}
    for state_dir in _state_dirs(ctx):
        try:
            if (state_dir / LEDGER_FILE).is_file():
                ledger = Ledger.at(state_dir)
                for model in state.models.values():
                    for env in model.environments:
                        for ob in ledger.observations(model.name, env):
                            drifted = bool(ob.drifted_features) or ob.prediction_drift
                            drift.add(
                                DriftVerdict(model.name, env, utc_stamp(ob.at), drifted, ob.drifted_features)
                            )
                    for run in ledger.runs(model.name):
                        retrains.add(RetrainRun(model.name, utc_stamp(run.started_at), run.outcome))
            if (state_dir / DB_NAME).is_file():
                store = IncidentStore(state_dir / DB_NAME)
                try:
                    starts.update(store.alert_starts())
                finally:
                    store.close()
        except ModelOpsError as exc:
            notes.append(f"{state_dir}: not read: {exc}")
    return sorted(drift, key=lambda d: d.at), sorted(retrains, key=lambda r: r.started_at), starts


class _NotPlain(Exception):
    """Something only the round-trip reader judges exactly (a spelling, an alias): let it decide."""


def _display_loader() -> Any:
    """libyaml, read as YAML 1.2 reads models.yaml: plain decimal integers only, timestamps as the
    text they are, only true/false as booleans. Anything else defers to the round-trip reader."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    def integer(loader: Any, node: Any) -> int:
        text = loader.construct_scalar(node)
        if not re.fullmatch(r"-?(0|[1-9][0-9]*)", text):
            raise _NotPlain(text)
        return int(text)

    def boolean(loader: Any, node: Any) -> bool | str:
        text: str = loader.construct_scalar(node)
        return text.lower() == "true" if text.lower() in ("true", "false") else text

    Loader.add_constructor("tag:yaml.org,2002:int", integer)
    Loader.add_constructor("tag:yaml.org,2002:bool", boolean)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
    return Loader


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with its (non-recursive) `$ref`s to `$defs` written out: the same rules, validated
    about twice as fast because jsonschema no longer resolves a reference per value."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = _inlined(defs[ref.removeprefix("#/$defs/")], defs)
            rest = {k: _inlined(v, defs) for k, v in node.items() if k != "$ref"}
            return {**target, **rest}
        return {k: _inlined(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    return node


def _display_validator() -> Any:
    from modelops.core.document import _validator, schema

    full = schema()
    return _validator().evolve(schema=_inlined(full, full.get("$defs", {})))


_DEEP_FLOW = re.compile(r"(?:[\[{][^\[\]{}]*){33}")


def read_state(path: Path) -> DesiredState:
    """models.yaml's desired state, read fast for display: libyaml and the same JSON Schema and rules
    `modelops validate` applies. A file they find anything wrong with (or that uses what only the
    round-trip reader judges: anchors, a size near its bound) is read by ModelsDocument, whose error
    names the line; a board for 500 models must not wait for the round-trip reader otherwise."""
    import yaml

    from modelops.core.document import MAX_BYTES, semantic_problems

    try:
        text = path.read_text("utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        text = None
    if (
        text is not None
        and len(text.encode("utf-8")) <= MAX_BYTES
        and not re.search(r"[&*][\w-]", text)
        # 33 flow openers with no closer between them: libyaml would recurse that deep (it crashes
        # the interpreter on ~50,000), while the round-trip reader refuses it at its depth bound.
        and not _DEEP_FLOW.search(text)
    ):
        try:
            data = yaml.load(text, Loader=_display_loader())
            if isinstance(data, dict) and _display_validator().is_valid(data):
                state = parse_state(data)
                if not semantic_problems(state):
                    return state
        except (yaml.YAMLError, _NotPlain, ValueError, TypeError, KeyError):
            pass
    return ModelsDocument.load(path).state()  # raises BadInput naming the file, line and field


def gather(
    ctx: Context,
    staging: Path,
    *,
    offline: bool = False,
    evidence_dirs: list[Path] | None = None,
    now: str | None = None,
    ref: str = "HEAD",
    notes: list[str] | None = None,
) -> BoardInput:
    notes = notes if notes is not None else []
    state = read_state(ctx.models_path)  # BadInput (exit 2) before anything is written
    registry, evidence = _registry(ctx, state, offline, staging, notes)
    local = _local_evidence(ctx, list(evidence_dirs or ()), state, staging, notes)
    seen = {(e.model, e.version, e.env) for e in evidence}
    evidence += [e for e in local if (e.model, e.version, e.env) not in seen]
    drift, retrains, starts = _state_records(ctx, state, notes)
    name = ctx.env.get("GITHUB_REPOSITORY") or ctx.repo.name
    return BoardInput(
        state=state,
        now=now or utc_stamp(),
        title=f"Delivery board: {name}",
        commits=_commits(ctx.repo, ref),
        pull_requests=_pull_requests(ctx, notes),
        registry=registry,
        evidence=evidence,
        drift=drift,
        retrains=retrains,
        alert_starts=starts,
        links=_links(ctx),
    )


# -- writing ------------------------------------------------------------------------------------


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise BadInput(
            f"--out {out}: not empty and not a board written by modelops; choose another directory"
        )


def _swap_in(staging: Path, out: Path) -> None:
    """Replace `out` by `staging` with two renames: readers see the old board or the new, never half."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(out, old)
    try:
        os.replace(staging, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_board(
    ctx: Context,
    out: Path,
    *,
    offline: bool = False,
    evidence_dirs: list[Path] | None = None,
    now: str | None = None,
    ref: str = "HEAD",
) -> BoardResult:
    out = out.resolve()
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    notes: list[str] = []
    try:
        facts = gather(
            ctx, staging, offline=offline, evidence_dirs=evidence_dirs, now=now, ref=ref, notes=notes
        )
        board = build_board(facts)
        site = render_site(board)
        for rel, text in site.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        (staging / MARKER).write_text(f"{MODELS_FILE} board built {board.generated_at}\n", encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private; a web server must read it
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BoardResult(
        out=str(out),
        index=str(out / "index.html"),
        models=len(board.models),
        environments=len(board.environments),
        pages=len(site),
        bytes_index=len(site["index.html"].encode("utf-8")),
        registry="reachable" if board.registry_reachable else f"not reachable: {board.registry_detail}",
        notes=notes,
    )
