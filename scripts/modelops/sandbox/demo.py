"""`modelops demo`: the pipeline on one machine with real components, as a timeline.

The sandbox declares its own pipeline (staging → production, a 10 s soak, a canary analysis that
looks every few seconds) in its models.yaml, then:

0. v1 (a simple model) goes to staging (auto-merge), soaks, and to production (approved, merged);
   `modelops serve` follows production's pin;
1. v2 (better) is evaluated and soaks in staging while the relay, Prometheus, Alertmanager and the
   traffic start;
2. its production canary at 10 %: a second server for v2 takes 10 % of the requests (the sandbox's
   stand-in for KServe's split); `modelops analyze` reads Prometheus until it decides: `promote`,
   which opens the PR to 100 %;
3. that PR is approved and merged; serving converges to v2, the canary's server stops;
   then shifted traffic shows drift and one debounced retrain puts v3 in staging;
4. v3's canary answers 150 ms slower (the fault switch): the analysis aborts it, the rollback commit
   drops only the canary and quarantines v3, v2 keeps serving;
5. a freeze window (the sandbox's policy, active now) denies a promotion in one line;
6. a fault in v2 during the freeze: Prometheus' alert → Alertmanager → relay → rollback commit to v1,
   serving converges and the alert resolves: rollbacks are never frozen.

Every step runs the same flows the CLI and the workflows run. Without the Prometheus/Alertmanager
binaries there is nothing to analyse from: the 100 % PR is proposed by hand, the canary's and the
incident's alerts are posted to the relay in Alertmanager's format, and the demo says so.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelops.adapters.ledger import Ledger
from modelops.context import Context
from modelops.errors import ExternalError, ModelOpsError
from modelops.files import write_atomically
from modelops.output import progress

MODEL = "churn"
STAGING = "staging"
# The sandbox's pipeline (written into its own models.yaml and policy, never the template's):
# production takes only what served in staging for SOAK, and the canary analysis looks every few
# seconds at the traffic the demo sends (TRAFFIC_RATE, 10 % of it to the canary).
SOAK = "10s"
TRAFFIC_RATE = 30.0
ANALYSIS_LOOK_SECONDS = 3.0
ANALYSIS = {
    "min_requests": 30,
    "alpha_abort": 0.001,
    "alpha_promote": 0.05,
    "error_floor": 0.05,
    # Wide: on a busy laptop a healthy canary's process can be a little slower than stable's, and at
    # 0.1 one such run aborted v2. The fault puts every canary request above the stable p99.
    "latency_tail_tolerance": 0.3,
    "score_psi": 0.6,
    "interval": "5s",
    "deadline": "10m",
}
# Slower than every stable request, far under ModelLatencyP99High's 500 ms: only the analysis sees it.
CANARY_FAULT_MS = 150.0
FREEZE = "demo-freeze"
# Charges ×1.12, +0.6 support calls, +8 points of month-to-month contracts: real drift, not a pipeline bug.
DRIFT_SHIFT = (1.12, 0.6, 0.08)
ENV = "production"


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class DemoResult:
    workdir: str
    model: str = MODEL
    steps: list[Step] = field(default_factory=list)
    alert_to_commit_seconds: float | None = None
    alerts: str = "prometheus"  # or "simulated" when the binaries are missing
    summary: dict[str, Any] = field(default_factory=dict)
    board: str | None = None  # the delivery board's index.html for the demo's world

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "steps": [asdict(s) for s in self.steps],
            "alert_to_commit_seconds": self.alert_to_commit_seconds,
            "workdir": self.workdir,
            "model": self.model,
            "alerts": self.alerts,
            "summary": self.summary,
            "board": self.board,
        }


class StepFailed(Exception):
    pass


class Timeline:
    def __init__(self, result: DemoResult, echo: bool) -> None:
        self.result = result
        self.echo = echo
        self.started = time.monotonic()

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, str]]:
        note: dict[str, str] = {}
        started = time.monotonic()
        if self.echo:
            print(f"[{started - self.started:6.1f}s] {name} …", file=sys.stderr, flush=True)
        try:
            yield note
        except ModelOpsError as exc:
            self._record(name, False, started, str(exc))
            raise StepFailed(name) from exc
        except Exception as exc:
            self._record(name, False, started, f"{type(exc).__name__}: {exc}")
            raise StepFailed(name) from exc
        self._record(name, True, started, note.get("detail", ""))

    def _record(self, name: str, ok: bool, started: float, detail: str) -> None:
        seconds = round(time.monotonic() - started, 2)
        self.result.steps.append(Step(name, ok, seconds, detail))
        if self.echo:
            mark = "ok  " if ok else "FAIL"
            print(f"{mark} {name:<46} {seconds:7.1f}s  {detail}", file=sys.stderr, flush=True)


def _weaker_params(repo: Path, workdir: Path) -> Path:
    """v1 is a deliberately simple model, so v2 has something to beat."""
    import yaml

    params = yaml.safe_load((repo / "params.yaml").read_text("utf-8"))
    keep = {k: v for k, v in params[MODEL]["train"].items() if k in ("validation_fraction", "random_state")}
    params[MODEL]["train"] = {**keep, "estimator": "logistic_regression", "C": 0.05, "max_iter": 300}
    path = workdir / "params-v1.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def _promote(
    ctx: Context,
    version: int,
    evidence: Path,
    timeline: Timeline,
    label: str,
    env: str = ENV,
    *,
    model: str = MODEL,
) -> int:
    """Propose; an auto-merging environment merges by itself (the local forge's stand-in for
    GitHub's auto-merge), a protected one after a human approval. Returns the PR's number."""
    from modelops.flows.chains import promote

    with timeline.step(f"propose {label}") as note:
        proposal = promote(ctx, model, version, env, evidence_dir=evidence)
        note["detail"] = f"PR #{proposal.pr}: {proposal.title}" + (
            f" (auto-merged: {str(proposal.merge_commit)[:10]})" if proposal.merged else ""
        )
    if not proposal.merged:
        _approve_and_merge(ctx, proposal.pr, timeline, model=model)
    else:
        _sync_registry(ctx, timeline)
    return proposal.pr


def _approve_and_merge(
    ctx: Context, pr: int, timeline: Timeline, label: str = "", model: str = MODEL
) -> None:
    """The model's first owner approves (the owner-approval policy asks for one of them) and merges."""
    from modelops.adapters.forges import forge_for
    from modelops.adapters.local_forge import LocalForge
    from modelops.flows.policy import merge_pull_request

    reviewer = ctx_model(ctx, model).owners[0]
    with timeline.step(f"approve #{pr}{label} as {reviewer}, merge") as note:
        forge = forge_for(ctx)
        assert isinstance(forge, LocalForge)
        forge.approve(pr, reviewer)
        merged = merge_pull_request(ctx, pr, by=reviewer)
        note["detail"] = f"merge commit {str(merged.merge_commit)[:10]}"
    _sync_registry(ctx, timeline)


def _sync_registry(ctx: Context, timeline: Timeline) -> None:
    from modelops.flows.sync_registry import sync_registry

    with timeline.step("sync-registry") as note:
        changed = [a for a in sync_registry(ctx) if a.action != "ok"]
        note["detail"] = ", ".join(f"{a.alias}→v{a.desired}" for a in changed if a.desired) or "in sync"


def _train(
    ctx: Context, timeline: Timeline, label: str, params: Path | None = None, *, model: str = MODEL
) -> int:
    from modelops.flows.train import train

    with timeline.step(f"train {label}") as note:
        trained = train(ctx, model, params)
        note["detail"] = f"v{trained.version} (run {trained.run_id[:8]})"
    return int(trained.version)


def _evaluate(
    ctx: Context, workdir: Path, timeline: Timeline, version: int, env: str = STAGING, *, model: str = MODEL
) -> Path:
    """Against `env`'s champion; staging and production pin the same Version whenever this runs, so
    the one evaluation licenses both promotions."""
    from modelops.flows.evaluate import evaluate

    evidence = workdir / "evidence" / f"v{version}"
    with timeline.step(f"evaluate v{version} against {env}") as note:
        report = evaluate(ctx, model, version, env=env, out_dir=evidence)
        data = report.as_dict()
        champion = data.get("champion_version")
        note["detail"] = ("PASSED" if report.passed else "BLOCKED") + (
            f" vs v{champion}" if champion else " (no champion: floors only)"
        )
        if not report.passed:
            raise ExternalError(f"the gate blocked v{version}; see {evidence / 'report.md'}")
    return evidence


def run_demo(
    workdir: Path | None = None,
    *,
    source: Path,
    quick: bool = False,
    echo: bool = True,
    model: str = MODEL,
) -> DemoResult:
    """The churn model runs the whole pipeline (the module's docstring); any other model of the source's
    models.yaml runs the loop alone: train, evaluate, propose, merge, serve, a second version, a fault,
    the rollback."""
    from modelops.core.document import ModelsDocument
    from modelops.sandbox import prom_stack

    ModelsDocument.load(source / "models.yaml").state().model(model)  # exit 2 before building anything
    root = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="modelops-demo-"))
    result = DemoResult(workdir=str(root), model=model)
    timeline = Timeline(result, echo)
    logs = root / "logs"
    try:
        with ExitStack() as running:
            if model == MODEL:
                _loop(root, source, logs, timeline, result, running, prom_stack.binaries_available(), quick)
            else:
                _model_loop(root, source, timeline, result, running, model)
    except StepFailed:
        pass
    _write_board(root, timeline, result)
    if echo:
        _print_summary(result)
    return result


def _write_board(root: Path, timeline: Timeline, result: DemoResult) -> None:
    """The demo's world as the delivery board, after a failed step too: it shows how far the loop got."""
    from modelops.flows.board import write_board

    repo = root / "world" / "repo"
    if not (repo / "models.yaml").is_file():
        return
    try:
        with timeline.step("the delivery board") as note:
            board = write_board(Context(repo=repo), root / "board", evidence_dirs=[root / "evidence"])
            note["detail"] = board.index
    except StepFailed:
        return
    result.board = board.index


def _loop(
    root: Path,
    source: Path,
    logs: Path,
    timeline: Timeline,
    result: DemoResult,
    running: ExitStack,
    have_binaries: bool,
    quick: bool,
) -> None:
    from modelops.sandbox import loop

    sandbox = _sandbox(root, source, logs, timeline)
    repo = Path(sandbox.repo)
    origin = Path(sandbox.origin)
    ctx = Context(repo=repo)
    with timeline.step(
        f"the sandbox's pipeline: staging → {ENV}, soak {SOAK}, short canary analysis"
    ) as note:
        note["detail"] = _land_settings(
            ctx, "models.yaml", _pipeline_settings, "sandbox: the demo's pipeline"
        )

    # v1 from nothing to serving, through staging.
    v1 = _train(ctx, timeline, "v1 (simple model)", _weaker_params(repo, root))
    evidence1 = _evaluate(ctx, root, timeline, v1)
    _promote(ctx, v1, evidence1, timeline, f"v{v1} → {STAGING}", env=STAGING)
    v2 = _train(ctx, timeline, "v2 (gradient boosting)")  # while v1 soaks in staging
    _wait_soaked(ctx, timeline, v1)
    _promote(ctx, v1, evidence1, timeline, f"v{v1} → {ENV}")
    serving = _serve(repo, MODEL, logs, timeline, running)

    # 1. v2 soaks in staging, while the relay, Prometheus and the traffic start.
    evidence2 = _evaluate(ctx, root, timeline, v2)
    _promote(ctx, v2, evidence2, timeline, f"v{v2} → {STAGING}", env=STAGING)
    split = loop.Split()
    canary = running.enter_context(
        loop.CanaryRollout(repo, MODEL, ENV, logs, split, extra_env=loop.ONE_NATIVE_THREAD)
    )
    canary.prepare(v2)  # its server warms up meanwhile; it takes traffic once models.yaml says so
    alerting = _start_alerting(
        repo, root, logs, timeline, result, running, have_binaries, [serving.url, f"http://{canary.target}"]
    )
    relay, token, stack = alerting.relay, alerting.token, alerting.stack
    rows = loop.sample_rows(
        repo / "data" / MODEL / "golden.csv", drop=("customer_id", "timestamp", "churned")
    )
    traffic = running.enter_context(
        loop.Traffic(serving.url, MODEL, rows, rate=TRAFFIC_RATE, split=split, workers=2)
    )
    _wait_soaked(ctx, timeline, v2, label=f"1. v{v2} soaks in {STAGING}")

    # 2-3. Its production canary is analysed from real traffic: promote, and the PR to 100 % is merged.
    _warm_canary(timeline, canary, v2, rows)
    _promote(ctx, v2, evidence2, timeline, f"v{v2} → {ENV} at the canary step")
    _canary_converges(timeline, canary, f"v{v2} serves its canary share beside v{v1}")
    verdict = _analyse(
        ctx, root, timeline, stack, f"2. canary analysis of v{v2}", expect="promote", quick=quick
    )
    if verdict is None:  # no Prometheus: the step a human takes instead
        from modelops.flows.chains import promote

        pr = promote(ctx, MODEL, v2, ENV, traffic=100).pr
    else:
        pr = int(verdict.detail["pr"])
    _approve_and_merge(ctx, pr, timeline, label=f" (v{v2} → 100%)")
    with timeline.step(f"3. serving converges to v{v2}, the canary's server stops") as note:
        loop.wait_for_serving_version(serving.url, MODEL, v2, timeout=120)
        note["detail"] = f"X-Model-Version {v2}; {canary.converge()}"

    # Shifted traffic, drift, and a retrain that does not run away: v3, into staging.
    v3, evidence3 = _drift_and_retrain(ctx, root, timeline, relay.url, token, stack, quick)

    # 4. v3's canary has a fault: the analysis aborts, the canary is dropped, v2 keeps serving.
    canary.prepare(v3)
    _wait_soaked(ctx, timeline, v3)
    _warm_canary(timeline, canary, v3, rows)
    _promote(ctx, v3, evidence3, timeline, f"v{v3} → {ENV} at the canary step")
    _canary_converges(timeline, canary, f"v{v3} serves its canary share beside v{v2}")
    fault = loop.VersionFault(str(v3), latency_ms=CANARY_FAULT_MS)
    assert canary.url is not None
    with timeline.step(f"fault in v{v3}: +{CANARY_FAULT_MS:g} ms on every prediction of the canary") as note:
        loop.set_fault(canary.url, fault)
        note["detail"] = "under the 500 ms of ModelLatencyP99High: only the analysis can tell"
    before_abort = loop.branch_head(origin)
    verdict = _analyse(
        ctx, root, timeline, stack, f"4. canary analysis of v{v3}", expect="abort", quick=quick
    )
    if verdict is None:
        with timeline.step("SIMULATED: the canary's rollback alert posted to the relay") as note:
            _post_alert(relay.url, token, "ModelLatencyP99High", {"version": str(v3), "action": "rollback"})
            note["detail"] = "no Prometheus here: no analysis; payload posted directly"
    with timeline.step(f"4. the canary is dropped and v{v3} quarantined; v{v2} keeps serving") as note:
        commit = loop.wait_for_commit(
            origin, after=before_abort, subject_prefix=f"rollback {MODEL} {ENV}", timeout=120
        )
        gone = canary.converge()
        served = loop.serving_status(serving.url, MODEL).get("version")
        if str(served) != str(v2):
            raise ExternalError(f"stable serving moved to v{served}; the abort must leave v{v2} serving")
        note["detail"] = f"{commit.sha[:10]} {commit.subject}; {gone}; X-Model-Version {served}"
    result.summary["abort_commit"] = commit.sha

    # 5. A freeze window: a promotion is denied.
    with timeline.step(f"5. freeze window {FREEZE!r} on {ENV}, active now (policy commit)") as note:
        note["detail"] = _land_settings(
            ctx, "policies/promotion.yaml", _freeze_now, f"sandbox: freeze window {FREEZE} for the next hour"
        )
    with timeline.step(f"5. promoting v{v1} → {ENV} during the freeze: denied") as note:
        denial = _propose_during_freeze(repo, v1)
        note["detail"] = denial
    result.summary["freeze_denial"] = denial

    # 6. An incident during the freeze still rolls back.
    labels = ("6. incident in the freeze", "6. relay → rollback commit on origin/main, frozen or not")
    _incident(timeline, result, origin, serving, alerting, MODEL, (v2, v1), labels)
    traffic.stop()
    result.summary.update(_summary(ctx, sandbox.as_dict(), root, logs))


def _model_loop(
    root: Path, source: Path, timeline: Timeline, result: DemoResult, running: ExitStack, model: str
) -> None:
    """Any model's loop, with none of churn's pipeline (staging, soak, canary, freeze): v1 trained,
    evaluated, proposed, approved and merged into production, served and scraped; v2 the same way at
    100 %; a fault in v2, its alert through Alertmanager and the relay, the rollback commit to v1."""
    from modelops.core.params import load_params
    from modelops.sandbox import loop, prom_stack

    logs = root / "logs"
    sandbox = _sandbox(root, source, logs, timeline)
    repo, ctx = Path(sandbox.repo), Context(repo=Path(sandbox.repo))
    with timeline.step(f"the sandbox's loop: {model} straight to {ENV}, no canary step") as note:

        def no_canary(doc: Any) -> None:
            doc["models"][model].setdefault("promotion", {})["canary_steps"] = []

        note["detail"] = _land_settings(
            ctx, "models.yaml", no_canary, f"sandbox: {model} goes to {ENV} without a canary step"
        )
    v1 = _train(ctx, timeline, "v1", model=model)
    evidence1 = _evaluate(ctx, root, timeline, v1, env=ENV, model=model)
    _promote(ctx, v1, evidence1, timeline, f"v{v1} → {ENV}", model=model)
    # v2 trains while v1's server, the relay and Prometheus start: a subprocess each, so the two cores
    # of a runner work on both at once.
    with ThreadPoolExecutor(1) as background:
        training = background.submit(
            _train, ctx, timeline, "v2 (retrained, while v1 starts serving)", model=model
        )
        serving = _serve(repo, model, logs, timeline, running)
        alerting = _start_alerting(
            repo, root, logs, timeline, result, running, prom_stack.binaries_available(), [serving.url]
        )
        v2 = training.result()
    evidence2 = _evaluate(ctx, root, timeline, v2, env=ENV, model=model)
    params = load_params(repo, model)
    golden = repo / params.golden_path
    header = golden.open(encoding="utf-8").readline().strip().split(",")
    rows = loop.sample_rows(golden, drop=[c for c in header if c not in params.features])
    running.enter_context(loop.Traffic(serving.url, model, rows, rate=TRAFFIC_RATE, workers=2))
    _promote(ctx, v2, evidence2, timeline, f"v{v2} → {ENV}", model=model)
    with timeline.step(f"serving converges to v{v2}") as note:
        loop.wait_for_serving_version(serving.url, model, v2, timeout=120)
        note["detail"] = f"X-Model-Version {v2}"
    labels = ("incident", "relay → rollback commit on origin/main")
    _incident(timeline, result, Path(sandbox.origin), serving, alerting, model, (v2, v1), labels)
    result.summary.update(_summary(ctx, sandbox.as_dict(), root, logs))


def _sandbox(root: Path, source: Path, logs: Path, timeline: Timeline) -> Any:
    from modelops.sandbox.world import create_sandbox

    with timeline.step("sandbox: origin, clone, MLflow, DVC remote, forge") as note:
        sandbox = create_sandbox(root / "world", source)
        note["detail"] = sandbox.workdir
    logs.mkdir(parents=True, exist_ok=True)
    return sandbox


def _serve(repo: Path, model: str, logs: Path, timeline: Timeline, running: ExitStack) -> Any:
    from modelops.sandbox import loop

    with timeline.step(f"serve {model}/{ENV} locally (follows models.yaml)") as note:
        serving = running.enter_context(
            loop.start_serving(repo, model, ENV, logs, poll_interval=0.5, extra_env=loop.ONE_NATIVE_THREAD)
        )
        note["detail"] = f"{serving.url} serving v{loop.serving_status(serving.url, model).get('version')}"
    return serving


@dataclass(frozen=True)
class _Alerting:
    relay: Any
    token: str
    stack: Any  # None without the Prometheus/Alertmanager binaries


def _start_alerting(
    repo: Path,
    root: Path,
    logs: Path,
    timeline: Timeline,
    result: DemoResult,
    running: ExitStack,
    have_binaries: bool,
    servers: list[str],
) -> _Alerting:
    """The relay, and Prometheus (scraping `servers`) + Alertmanager when their binaries are here."""
    from modelops.sandbox import loop

    token = secrets.token_hex(16)
    token_file = root / "relay.token"
    token_file.write_text(token, encoding="utf-8")
    with timeline.step("start the relay") as note:
        relay = running.enter_context(loop.start_relay(repo, logs, token))
        note["detail"] = relay.url
    if not have_binaries:
        result.alerts = "simulated"
        progress(
            "Prometheus/Alertmanager binaries not found (see README: binaries without root): no canary "
            "analysis (it reads Prometheus), and alerts are posted to the relay by me"
        )
        return _Alerting(relay, token, None)
    with timeline.step("start Prometheus + Alertmanager (demo profile)") as note:
        stack = running.enter_context(
            loop.start_stack(
                repo,
                root,
                relay_url=relay.url,
                relay_token_file=token_file,
                scrape_targets=[("modelops-serving", url.split("://", 1)[1]) for url in servers],
            )
        )
        note["detail"] = f"prometheus {stack.prometheus_url}, alertmanager {stack.alertmanager_url}"
    return _Alerting(relay, token, stack)


def _incident(
    timeline: Timeline,
    result: DemoResult,
    origin: Path,
    serving: Any,
    alerting: _Alerting,
    model: str,
    versions: tuple[int, int],
    labels: tuple[str, str],
) -> None:
    """A fault in the serving version (`versions`: bad, good): ModelErrorRateHigh → Alertmanager → relay →
    the rollback commit on origin → serving back on the good one, and the alert resolves. `labels` name
    the fault's and the commit's steps."""
    from modelops.sandbox import loop

    serving_url, relay_url, token, stack = serving.url, alerting.relay.url, alerting.token, alerting.stack
    (bad, good), (incident, committed) = versions, labels
    where = {"model": model, "env": ENV}
    before = loop.branch_head(origin)
    if stack is not None:
        with timeline.step(f"{incident}: fault in v{bad}, ModelErrorRateHigh fires") as note:
            loop.set_fault(serving_url, loop.VersionFault(str(bad), error_rate=0.5))
            alert = loop.wait_for_alert(stack, "ModelErrorRateHigh", where, timeout=180)
            note["detail"] = f"version={alert.labels.get('version')} active since {alert.active_at:.0f}"
        alert_at = alert.observed_at
    else:
        with timeline.step("SIMULATED alert: Alertmanager-format webhook to the relay") as note:
            loop.set_fault(serving_url, loop.VersionFault(str(bad), error_rate=0.5))
            time.sleep(2)  # let the fault show in the traffic first
            alert_at = time.time()
            _post_alert(
                relay_url, token, "ModelErrorRateHigh", {"version": str(bad), "action": "rollback"}, model
            )
            note["detail"] = "no Prometheus/Alertmanager here: payload posted directly"
    with timeline.step(committed) as note:
        commit = loop.wait_for_commit(
            origin, after=before, subject_prefix=f"rollback {model} {ENV}", timeout=180
        )
        result.alert_to_commit_seconds = round(commit.observed_at - alert_at, 2)
        note["detail"] = (
            f"{commit.sha[:10]} {commit.subject} ({result.alert_to_commit_seconds}s after the alert)"
        )
    result.summary["incident_commit"] = commit.sha
    with timeline.step(f"serving converges back to v{good}") as note:
        loop.wait_for_serving_version(serving_url, model, good, timeout=120)
        note["detail"] = f"X-Model-Version {good}"
    if stack is not None:
        with timeline.step("the alert resolves") as note:
            loop.wait_for_alert_resolved(stack, "ModelErrorRateHigh", where, timeout=180)
            note["detail"] = "Prometheus and Alertmanager clear"


def _pipeline_settings(doc: Any) -> None:
    """production takes what soaked in staging for SOAK; the analysis decides on the sandbox's traffic.

    The analysis' own defaults need thousands of canary requests for a promote (the README's table);
    at TRAFFIC_RATE with 10 % to the canary that is many minutes, so the sandbox widens the tolerances
    (what "surely not worse" means) and looks every few seconds. The tests, and their rule that
    nothing passes on missing data, are the same."""
    churn = doc["models"][MODEL]
    production = churn["environments"][ENV]
    production["upstream"] = STAGING
    production["soak"] = SOAK
    churn["promotion"]["analysis"] = dict(ANALYSIS)


def _freeze_now(doc: Any) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    doc["freeze_windows"] = [
        {
            "name": FREEZE,
            "start": (now - timedelta(minutes=1)).isoformat(),
            "end": (now + timedelta(hours=1)).isoformat(),
            "timezone": "UTC",
            "reason": "the demo's freeze: promotions wait, rollbacks do not",
        }
    ]


def _land_settings(ctx: Context, relative: str, edit: Callable[[Any], None], subject: str) -> str:
    """Edit a YAML file of the sandbox's repository round-trip and land the commit on origin's main."""
    import io

    from modelops.adapters.git import Git
    from modelops.core.document import _yaml

    yaml = _yaml()  # the round-trip settings models.yaml is edited with

    def change(worktree: Path) -> str:
        path = worktree / relative
        doc = yaml.load(path.read_text("utf-8"))
        edit(doc)
        out = io.StringIO()
        yaml.dump(doc, out)
        write_atomically(path, out.getvalue())
        return subject + "\n"

    git = Git(ctx.repo)
    landed = git.land("main", change)
    git.fast_forward_checkout("main")
    return f"{str(landed.commit)[:10]} {subject} ({relative})"


def _wait_soaked(ctx: Context, timeline: Timeline, version: int, label: str = "") -> None:
    from datetime import UTC, datetime

    from modelops.core.document import ModelsDocument
    from modelops.core.verification import verify_upstream
    from modelops.sandbox import loop

    with timeline.step(label or f"v{version} soaks in {STAGING}") as note:

        def soaked() -> tuple[Any, str]:
            model = ModelsDocument.load(ctx.models_path).state().model(MODEL)
            proof = verify_upstream(model, ENV, version, datetime.now(UTC))
            return (proof if proof.passed else None), proof.message

        note["detail"] = loop.poll(
            f"v{version} to soak in {STAGING}", soaked, timeout=120, interval=1.0
        ).message


def _warm_canary(timeline: Timeline, canary: Any, version: int, rows: Any) -> None:
    with timeline.step(f"the canary's server for v{version} is up and warm (no traffic yet)") as note:
        note["detail"] = canary.warm(version, rows)


def _canary_converges(timeline: Timeline, canary: Any, label: str) -> None:
    with timeline.step(f"canary rollout: {label}") as note:
        note["detail"] = canary.converge()


def _analyse(
    ctx: Context, root: Path, timeline: Timeline, stack: Any, label: str, *, expect: str, quick: bool
) -> Any:
    """`modelops analyze` as analyze.yml runs it, every few seconds until it decides; the verdict must
    be `expect`. None without Prometheus (nothing to analyse from)."""
    from modelops.flows.chains import analyze
    from modelops.sandbox import loop

    if stack is None:
        return None
    looks = [0]
    out = root / "analysis" / label.split(" of ", 1)[-1]

    def look() -> tuple[Any, str]:
        looks[0] += 1
        analysed = analyze(ctx, MODEL, ENV, prometheus_url=stack.prometheus_url, out=out)
        verdict = analysed.analysis.verdict
        return (analysed if verdict != "inconclusive" else None), f"{verdict}: {analysed.analysis.reason}"

    with timeline.step(f"{label}: {expect}") as note:
        analysed = loop.poll(label, look, timeout=240 if quick else 600, interval=ANALYSIS_LOOK_SECONDS)
        verdict = analysed.analysis.verdict
        error = next(m for m in analysed.analysis.metrics if m.name == "error_rate")
        note["detail"] = (
            f"{verdict} after {looks[0]} looks, {analysed.analysis.elapsed_seconds:.0f}s, "
            f"{error.estimate.get('canary_n', 0):.0f} canary requests: {analysed.analysis.reason} → "
            f"{analysed.action} {analysed.detail.get('pr') or str(analysed.detail.get('commit') or '')[:10]}"
        )
        if verdict != expect:
            raise ExternalError(f"{label}: expected {expect}, the analysis said {verdict} (see {out})")
    return analysed


def _propose_during_freeze(repo: Path, version: int) -> str:
    """`modelops propose` as a person would run it: exit 1, one line naming the window."""
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelops",
            "propose",
            "--repo",
            str(repo),
            "--model",
            MODEL,
            "--version",
            str(version),
            "--env",
            ENV,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if done.returncode != 1 or len(lines) != 1 or FREEZE not in lines[0]:
        raise ExternalError(
            f"propose during the freeze: exit {done.returncode}, expected 1 and one line naming "
            f"{FREEZE!r}; stderr: {done.stderr.strip()[-500:]}"
        )
    return lines[0]


def _post_alert(
    relay_url: str, token: str, alertname: str, labels: dict[str, str], model: str = MODEL
) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alert_labels = {"alertname": alertname, "model": model, "env": ENV, "severity": "critical", **labels}
    payload = {
        "version": "4",
        "groupKey": f'{{}}:{{model="{model}", env="{ENV}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "modelops-relay",
        "groupLabels": {"model": model, "env": ENV},
        "commonLabels": alert_labels,
        "commonAnnotations": {},
        "externalURL": "http://demo.invalid/alertmanager",
        "alerts": [
            {
                "status": "firing",
                "labels": alert_labels,
                "annotations": {"summary": f"{alertname} (posted by the demo, not by Alertmanager)"},
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://demo.invalid/prometheus",
                "fingerprint": secrets.token_hex(8),
            }
        ],
    }
    request = urllib.request.Request(
        f"{relay_url}/alerts",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            answer.read()
    except OSError as exc:
        raise ExternalError(f"relay {relay_url}: posting {alertname} failed: {exc}") from None


def _post_to_alertmanager(alertmanager_url: str, alertname: str, labels: dict[str, str]) -> None:
    """Raise an alert through Alertmanager's API, so it routes to the relay the way Prometheus' would."""
    body = [
        {
            "labels": {"alertname": alertname, "model": MODEL, "env": ENV, **labels},
            "annotations": {"summary": "drift on the model's top features (from `modelops drift`)"},
            "generatorURL": "http://demo.invalid/modelops-drift",
        }
    ]
    request = urllib.request.Request(
        f"{alertmanager_url}/api/v2/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
    except OSError as exc:
        raise ExternalError(f"Alertmanager {alertmanager_url}: posting {alertname} failed: {exc}") from None


def _drift_and_retrain(
    ctx: Context, root: Path, timeline: Timeline, relay_url: str, token: str, stack: Any, quick: bool
) -> tuple[int, Path]:
    """Sustained drift → one debounced retrain → the new Version in staging (auto-merged there);
    returns it and its evaluation's directory."""
    from modelops.adapters.forges import forge_for
    from modelops.flows.drift import run_drift
    from modelops.sandbox import loop
    from modelops.sandbox.datagen import Shift, write_window

    model = ctx_model(ctx)
    windows = max(2, model.drift.sustained_windows)
    shift = Shift(
        charges_factor=DRIFT_SHIFT[0], support_calls_extra=DRIFT_SHIFT[1], month_to_month_boost=DRIFT_SHIFT[2]
    )
    verdicts = []
    with timeline.step(f"shifted traffic: {windows} windows through `modelops drift`") as note:
        for i in range(windows):
            window = write_window(
                root / "windows" / f"window-{i}.csv", "2025-06", 2000, seed=900 + i, shift=shift
            )
            run = run_drift(ctx, model=MODEL, current=window, env=ENV, out_dir=root / "drift" / f"window-{i}")
            verdicts.append(bool(run.report.drift))
        note["detail"] = (
            f"drift per window: {verdicts}, sustained: {run.sustained}; reports in {root / 'drift'}"
        )
        if not run.detected:
            raise ExternalError(f"the shifted windows were not called sustained major drift ({verdicts})")
    labels = {"action": "retrain", "severity": "major"}
    forge = forge_for(ctx)
    earlier = {p.number for p in forge.list("all")}
    with timeline.step("drift alert ×3 (a storm) → relay → one debounced retrain") as note:
        for _ in range(3):
            if stack is not None:
                _post_to_alertmanager(stack.alertmanager_url, "ModelDriftDetected", labels)
            else:
                _post_alert(relay_url, token, "ModelDriftDetected", labels)
            time.sleep(0.5)
        runs = loop.poll(
            "a retrain run in the ledger",
            lambda: (Ledger.for_context(ctx).runs(MODEL) or None, "no run yet"),
            timeout=60,
        )
        time.sleep(1.0)
        runs = Ledger.for_context(ctx).runs(MODEL)
        note["detail"] = f"{len(runs)} retrain run started for 3 alerts (the others were debounced)"
        if len(runs) != 1:
            raise ExternalError(f"expected exactly one retrain run, the ledger has {len(runs)}")
    with timeline.step("retrain: v3 trained, evaluated, proposed to staging") as note:

        def pr_for_v3() -> tuple[Any, str]:
            # A retrain proposes to staging: production starts from there, past its reviewers.
            prs = [
                p
                for p in forge.list("all")
                if p.number not in earlier and p.head.startswith(f"promote/{MODEL}/staging/")
            ]
            return (prs[-1] if prs else None), f"{len(prs)} new staging promotion PRs"

        pr = loop.poll("the retrain's promotion PR", pr_for_v3, timeout=600 if not quick else 420)
        # The retrain merges its staging PR (auto-merge) and fast-forwards this clone in its own process:
        # wait until that run has finished, so nothing moves while the aliases are made to follow.
        run_id = runs[-1].id
        loop.poll(
            f"retrain run #{run_id} to finish",
            lambda: (
                r
                if (r := next(x for x in Ledger.for_context(ctx).runs(MODEL) if x.id == run_id)).finished_at
                else None,
                f"run #{run_id} still running",
            ),
            timeout=120,
        )
        pr = forge.get(pr.number)
        if pr.state != "merged":
            raise ExternalError(f"the retrain's staging PR #{pr.number} is {pr.state}; staging auto-merges")
        from modelops.adapters.git import Git
        from modelops.flows.sync_registry import sync_registry

        # The merge happened on origin: the aliases follow origin's main, as sync.yml makes them.
        if not Git(ctx.repo).fast_forward_checkout("main"):
            raise ExternalError(f"{ctx.repo}: the working clone cannot fast-forward to origin's main")
        sync_registry(ctx)
        behind = [a for a in sync_registry(ctx, dry_run=True) if a.action != "ok"]
        if behind:
            raise ExternalError(
                "the registry does not follow models.yaml after the retrain: "
                + ", ".join(f"{a.model}/{a.alias}: {a.actual} ≠ {a.desired}" for a in behind)
            )
        note["detail"] = f"PR #{pr.number}: {pr.title} ({pr.state}; never straight to production)"
    version = int(pr.head.rsplit("/v", 1)[1])
    return version, ctx.state_dir / "retrain" / f"run-{run_id}"


def ctx_model(ctx: Context, model: str = MODEL) -> Any:
    from modelops.core.document import ModelsDocument

    return ModelsDocument.load(ctx.models_path).state().model(model)


def _summary(ctx: Context, sandbox: dict[str, str], root: Path, logs: Path) -> dict[str, Any]:
    from modelops.adapters.git import Git

    log = Git(Path(sandbox["origin"])).run("log", "--format=%h %s", "-n", "12", "main")
    return {
        "mlflow_ui": f"mlflow ui --backend-store-uri {sandbox['tracking_uri']}",
        "git_log": f"git -C {sandbox['origin']} log --oneline --graph main",
        "recent_commits": log.splitlines(),
        "reports": str(root / "evidence"),
        **({"drift_reports": str(root / "drift")} if (root / "drift").is_dir() else {}),
        "logs": str(logs),
        "prs": sandbox["forge"],
        "models_yaml": (Path(sandbox["repo"]) / "models.yaml").read_text("utf-8"),
    }


def _print_summary(result: DemoResult) -> None:
    out = sys.stderr
    print("", file=out)
    print("== timeline ==", file=out)
    for s in result.steps:
        print(f"  {'ok  ' if s.ok else 'FAIL'} {s.name:<52} {s.seconds:7.1f}s", file=out)
    print(f"  total {sum(s.seconds for s in result.steps):.1f}s", file=out)
    if result.alert_to_commit_seconds is not None:
        source = "Prometheus alert" if result.alerts == "prometheus" else "SIMULATED alert"
        print(f"\n{source} → rollback commit: {result.alert_to_commit_seconds}s", file=out)
    summary = result.summary
    if summary:
        print("\n== where to look ==", file=out)
        for key in ("mlflow_ui", "git_log", "reports", "drift_reports", "prs", "logs"):
            if key in summary:  # a model's loop alone has no drift reports
                print(f"  {key:<14} {summary[key]}", file=out)
        print("\n== origin/main ==", file=out)
        for line in summary["recent_commits"]:
            print(f"  {line}", file=out)
        print(f"\n== models.yaml: {result.model} production ==", file=out)
        text = summary["models_yaml"]
        start = text.find("      production:", text.find(f"\n  {result.model}:"))
        print("\n".join(text[start:].splitlines()[:9]), file=out)
    if result.board:
        print(f"\nboard: {result.board}", file=out)
    print(f"\ndemo {'PASSED' if result.ok else 'FAILED'} in {result.workdir}", file=out)
