"""`modelops demo`: the whole loop closed on one machine with real components, as a timeline.

1. train v1, evaluate it (no champion), propose to production, approve, merge, sync-registry, serve v1;
2. train v2 (better), evaluate it against v1, propose (10 % canary), approve, merge; then 100 %;
3. inject a fault into v2: Prometheus scrapes it and the rule fires after its burn-in;
4. Alertmanager posts to the relay, the rollback commit returns production to v1 and quarantines v2,
   serving converges and the alert resolves;
5. shifted traffic shows drift; a debounced retrain produces v3, evaluates it, and opens a PR that
   waits for a human.

Every step runs the same flows the CLI and the workflows run. Without the Prometheus/Alertmanager
binaries, step 3 posts an Alertmanager-format payload to the relay itself and says so.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelops.adapters.ledger import Ledger
from modelops.context import Context
from modelops.errors import ExternalError, ModelOpsError
from modelops.output import progress

MODEL = "churn"
# Charges ×1.12, +0.6 support calls, +8 points of month-to-month contracts: real drift, not a pipeline bug.
DRIFT_SHIFT = (1.12, 0.6, 0.08)
ENV = "production"
REVIEWER = "alice"


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class DemoResult:
    workdir: str
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


def _promote(ctx: Context, version: int, evidence: Path, timeline: Timeline, label: str) -> None:
    from modelops.adapters.forges import forge_for
    from modelops.flows.chains import promote
    from modelops.flows.policy import merge_pull_request
    from modelops.flows.sync_registry import sync_registry

    with timeline.step(f"propose {label}") as note:
        proposal = promote(ctx, MODEL, version, ENV, evidence_dir=evidence)
        note["detail"] = f"PR #{proposal.pr}: {proposal.title}"
    with timeline.step(f"approve #{proposal.pr} as {REVIEWER}, merge") as note:
        from modelops.adapters.local_forge import LocalForge

        forge = forge_for(ctx)
        assert isinstance(forge, LocalForge)
        forge.approve(proposal.pr, REVIEWER)
        merged = merge_pull_request(ctx, proposal.pr, by=REVIEWER)
        note["detail"] = f"merge commit {str(merged.merge_commit)[:10]}"
    with timeline.step("sync-registry") as note:
        changed = [a for a in sync_registry(ctx) if a.action != "ok"]
        note["detail"] = ", ".join(f"{a.alias}→v{a.desired}" for a in changed if a.desired) or "in sync"


def _train_and_evaluate(
    ctx: Context, workdir: Path, timeline: Timeline, label: str, params: Path | None = None
) -> tuple[int, Path]:
    from modelops.flows.evaluate import evaluate
    from modelops.flows.train import train

    with timeline.step(f"train {label}") as note:
        trained = train(ctx, MODEL, params)
        note["detail"] = f"v{trained.version} (run {trained.run_id[:8]})"
    evidence = workdir / "evidence" / f"v{trained.version}"
    with timeline.step(f"evaluate v{trained.version} against {ENV}") as note:
        report = evaluate(ctx, MODEL, trained.version, env=ENV, out_dir=evidence)
        data = report.as_dict()
        champion = data.get("champion_version")
        note["detail"] = ("PASSED" if report.passed else "BLOCKED") + (
            f" vs v{champion}" if champion else " (no champion: floors only)"
        )
        if not report.passed:
            raise ExternalError(f"the gate blocked v{trained.version}; see {evidence / 'report.md'}")
    return trained.version, evidence


def run_demo(
    workdir: Path | None = None, *, source: Path, quick: bool = False, echo: bool = True
) -> DemoResult:
    from modelops.sandbox import prom_stack

    root = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="modelops-demo-"))
    result = DemoResult(workdir=str(root))
    timeline = Timeline(result, echo)
    logs = root / "logs"
    try:
        with ExitStack() as running:
            _loop(root, source, logs, timeline, result, running, prom_stack.binaries_available(), quick)
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
    from modelops.sandbox.world import create_sandbox

    with timeline.step("sandbox: origin, clone, MLflow, DVC remote, forge") as note:
        sandbox = create_sandbox(root / "world", source)
        note["detail"] = sandbox.workdir
    repo = Path(sandbox.repo)
    logs.mkdir(parents=True, exist_ok=True)
    ctx = Context(repo=repo)

    # 1. v1 from nothing to serving.
    v1, evidence1 = _train_and_evaluate(ctx, root, timeline, "v1 (simple model)", _weaker_params(repo, root))
    _promote(ctx, v1, evidence1, timeline, f"v{v1} → {ENV}")
    with timeline.step(f"serve {MODEL}/{ENV} locally (follows models.yaml)") as note:
        serving = running.enter_context(loop.start_serving(repo, MODEL, ENV, logs, poll_interval=0.5))
        note["detail"] = f"{serving.url} serving v{loop.serving_status(serving.url, MODEL).get('version')}"

    # 2. v2, better, through a canary.
    v2, evidence2 = _train_and_evaluate(ctx, root, timeline, "v2 (gradient boosting)")
    _promote(ctx, v2, evidence2, timeline, f"v{v2} → {ENV} at the canary step")
    _promote(ctx, v2, evidence2, timeline, f"v{v2} → {ENV} at 100%")
    with timeline.step(f"serving converges to v{v2}") as note:
        loop.wait_for_serving_version(serving.url, MODEL, v2, timeout=120)
        note["detail"] = f"X-Model-Version {v2}"

    # 3-4. A fault in v2; the alert rolls it back by a commit.
    token = secrets.token_hex(16)
    token_file = root / "relay.token"
    token_file.write_text(token, encoding="utf-8")
    with timeline.step("start the relay") as note:
        relay = running.enter_context(loop.start_relay(repo, logs, token))
        note["detail"] = relay.url
    rows = loop.sample_rows(
        repo / "data" / MODEL / "golden.csv", drop=("customer_id", "timestamp", "churned")
    )
    origin = Path(sandbox.origin)
    before = loop.branch_head(origin)
    traffic = running.enter_context(
        loop.Traffic(serving.url, MODEL, rows, rate=8.0, fault=loop.VersionFault(str(v2), 0.5))
    )
    if have_binaries:
        with timeline.step("start Prometheus + Alertmanager (demo profile)") as note:
            stack = running.enter_context(
                loop.start_stack(
                    repo,
                    root,
                    relay_url=relay.url,
                    relay_token_file=token_file,
                    scrape_targets=[("modelops-serving", serving.url.split("://", 1)[1])],
                )
            )
            note["detail"] = f"prometheus {stack.prometheus_url}, alertmanager {stack.alertmanager_url}"
        with timeline.step(f"fault in v{v2}: ModelErrorRateHigh fires after burn-in") as note:
            alert = loop.wait_for_alert(
                stack, "ModelErrorRateHigh", {"model": MODEL, "env": ENV}, timeout=180
            )
            note["detail"] = f"version={alert.labels.get('version')} active since {alert.active_at:.0f}"
        alert_at = alert.observed_at
    else:
        result.alerts = "simulated"
        progress(
            "Prometheus/Alertmanager binaries not found (see README: binaries without root); "
            "posting an Alertmanager-format webhook to the relay myself"
        )
        with timeline.step("SIMULATED alert: Alertmanager-format webhook to the relay") as note:
            time.sleep(2)  # let the fault show in the traffic first
            alert_at = time.time()
            _post_alert(relay.url, token, "ModelErrorRateHigh", {"version": str(v2), "action": "rollback"})
            note["detail"] = "no Prometheus/Alertmanager here: payload posted directly"
    with timeline.step("relay → rollback commit on origin/main") as note:
        commit = loop.wait_for_commit(
            origin, after=before, subject_prefix=f"rollback {MODEL} {ENV}", timeout=180
        )
        result.alert_to_commit_seconds = round(commit.observed_at - alert_at, 2)
        note["detail"] = (
            f"{commit.sha[:10]} {commit.subject} ({result.alert_to_commit_seconds}s after the alert)"
        )
    with timeline.step(f"serving converges back to v{v1}") as note:
        loop.wait_for_serving_version(serving.url, MODEL, v1, timeout=120)
        note["detail"] = f"X-Model-Version {v1}"
    if have_binaries:
        with timeline.step("the alert resolves") as note:
            loop.wait_for_alert_resolved(
                stack, "ModelErrorRateHigh", {"model": MODEL, "env": ENV}, timeout=180
            )
            note["detail"] = "Prometheus and Alertmanager clear"
    traffic.stop()

    # 5. Drift, and a retrain that does not run away.
    _drift_and_retrain(ctx, root, timeline, relay.url, token, stack if have_binaries else None, quick)
    result.summary = _summary(ctx, sandbox.as_dict(), root, logs)


def _post_alert(relay_url: str, token: str, alertname: str, labels: dict[str, str]) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alert_labels = {"alertname": alertname, "model": MODEL, "env": ENV, "severity": "critical", **labels}
    payload = {
        "version": "4",
        "groupKey": f'{{}}:{{model="{MODEL}", env="{ENV}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "modelops-relay",
        "groupLabels": {"model": MODEL, "env": ENV},
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
) -> None:
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
        if pr.state == "merged":
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


def ctx_model(ctx: Context) -> Any:
    from modelops.core.document import ModelsDocument

    return ModelsDocument.load(ctx.models_path).state().model(MODEL)


def _summary(ctx: Context, sandbox: dict[str, str], root: Path, logs: Path) -> dict[str, Any]:
    from modelops.adapters.git import Git

    log = Git(Path(sandbox["origin"])).run("log", "--format=%h %s", "-n", "12", "main")
    return {
        "mlflow_ui": f"mlflow ui --backend-store-uri {sandbox['tracking_uri']}",
        "git_log": f"git -C {sandbox['origin']} log --oneline --graph main",
        "recent_commits": log.splitlines(),
        "reports": str(root / "evidence"),
        "drift_reports": str(root / "drift"),
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
            print(f"  {key:<14} {summary[key]}", file=out)
        print("\n== origin/main ==", file=out)
        for line in summary["recent_commits"]:
            print(f"  {line}", file=out)
        print("\n== models.yaml: churn production ==", file=out)
        text = summary["models_yaml"]
        start = text.find("      production:")
        print("\n".join(text[start:].splitlines()[:9]), file=out)
    if result.board:
        print(f"\nboard: {result.board}", file=out)
    print(f"\ndemo {'PASSED' if result.ok else 'FAILED'} in {result.workdir}", file=out)
