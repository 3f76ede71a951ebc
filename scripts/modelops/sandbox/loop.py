"""The closed loop on one machine: serving, relay, Prometheus and Alertmanager, and the waits between them.

Steps the demo, the end-to-end test and the benchmark share:

    start_serving   `modelops serve --follow` in its own process group
    start_relay     `modelops relay` (token from the caller) in its own process group
    start_stack     render the monitoring profile pointing at the relay, start Prometheus + Alertmanager
    CanaryRollout   the sandbox's stand-in for KServe's canary: a second server for the canary Version
                    and a traffic split, both following models.yaml's `canary`
    Traffic         steady predictions in a thread; can pin an injected fault to one version, and
                    sends a share to the canary's server when a Split says so
    wait_for_alert, wait_for_relay_dispatch, wait_for_commit, wait_for_serving_version,
    wait_for_alert_resolved
                    bounded polls with a progress line on stderr whenever what they see changes

Every wait raises ExternalError with one line naming what it waited for and what it saw last.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from modelops.adapters.git import Git
from modelops.adapters.prometheus import http_json
from modelops.core import contract
from modelops.errors import ExternalError
from modelops.files import write_atomically
from modelops.output import progress
from modelops.sandbox.prom_stack import ManagedProcess, PromStack, free_port

T = TypeVar("T")

RELAY_TOKEN_ENV = "MODELOPS_RELAY_TOKEN"
# A predictor answering one row per request runs one native thread (as the gate times it): OpenMP's
# thread pool (HistGradientBoosting's) on a busy 2-core machine makes a single-row prediction 10-100x
# slower, which a canary analysis rightly calls a latency regression.
ONE_NATIVE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
POLL_SECONDS = 0.25
# A wait that sees nothing change still says it is alive this often.
HEARTBEAT_SECONDS = 10.0


def poll(
    what: str, check: Callable[[], tuple[T | None, str]], timeout: float, interval: float = POLL_SECONDS
) -> T:
    """Call `check` until it returns a result; `check` also says what it sees, which is printed when it
    changes. A check that raises ExternalError counts as "not yet" (a server may be restarting)."""
    started = time.monotonic()
    deadline = started + timeout
    last_seen, last_print = "", 0.0
    while True:
        try:
            result, seen = check()
        except ExternalError as exc:
            result, seen = None, str(exc)
        now = time.monotonic()
        if result is not None:
            return result
        if seen != last_seen or now - last_print >= HEARTBEAT_SECONDS:
            progress(f"{what}: {seen} ({now - started:.0f}s/{timeout:.0f}s)")
            last_seen, last_print = seen, now
        if now >= deadline:
            raise ExternalError(f"{what}: not within {timeout:.0f}s (last seen: {seen})")
        time.sleep(interval)


def parse_timestamp(stamp: str) -> float:
    """Unix seconds of an RFC 3339 time as Prometheus and Alertmanager write it (nanoseconds allowed)."""
    text = stamp.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text).timestamp()


# -- processes ------------------------------------------------------------------------------------


@dataclass
class Service:
    """A modelops server running in the background, and where it answers."""

    name: str
    process: ManagedProcess
    url: str

    def stop(self) -> int | None:
        return self.process.stop()

    def __enter__(self) -> Service:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _modelops_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelops", *args]


def _json_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        found, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _start_service(
    name: str, process: ManagedProcess, url_of: Callable[[], str | None], what: str, timeout: float
) -> Service:
    process.start()

    def check() -> tuple[str | None, str]:
        if not process.alive:
            raise _Exited(f"{name} exited with {process.returncode}: {process.last_log_line()}")
        url = url_of()
        return url, "starting" if url is None else "up"

    try:
        url = poll(what, check, timeout)
    except _Exited as exc:
        process.stop()
        raise ExternalError(f"{exc} (log: {process.log_path})") from None
    except BaseException:
        process.stop()
        raise
    return Service(name, process, url)


class _Exited(Exception):
    """A started server died: waiting longer cannot help (not an ExternalError, so poll stops)."""


def start_serving(
    repo: Path,
    model: str,
    env: str,
    logdir: Path,
    *,
    follow: bool = True,
    poll_interval: float = 1.0,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 180.0,
) -> Service:
    """`modelops serve` on a free loopback port; returns once the pinned version answers."""
    argv = _modelops_argv(
        "serve", "--repo", str(repo), "--model", model, "--env", env, "--port", "0", "--json"
    )
    if follow:
        argv += ["--follow", "--poll-interval", f"{poll_interval:g}"]
    process = ManagedProcess(
        f"serve {model}/{env}",
        argv,
        logdir / f"serve-{model}-{env}.log",
        env={**os.environ, **(extra_env or {})},
        stdout_path=logdir / f"serve-{model}-{env}.out",
    )

    def ready_url() -> str | None:
        # `serve --json` prints one object once the version is warm: {"url": ..., "version": ...}.
        announced = _json_object(process.stdout())
        return str(announced["url"]) if announced and "url" in announced else None

    return _start_service("serve", process, ready_url, f"serving {model}/{env}", timeout)


def start_relay(repo: Path, logdir: Path, token: str, *, timeout: float = 60.0) -> Service:
    """`modelops relay` on a free loopback port, authenticating Alertmanager with `token`."""
    process = ManagedProcess(
        "relay",
        _modelops_argv("relay", "--repo", str(repo), "--host", "127.0.0.1", "--port", "0"),
        logdir / "relay.log",
        env={**os.environ, RELAY_TOKEN_ENV: token},
    )

    def listening_url() -> str | None:
        for event in relay_events(process.log()):
            if event.get("event") == "listening":
                return f"http://{event['host']}:{event['port']}"
        return None

    return _start_service("relay", process, listening_url, "relay", timeout)


def relay_events(log_text: str) -> list[dict[str, Any]]:
    """The relay's structured log: one JSON object per line (other lines are skipped)."""
    events = []
    for line in log_text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def start_stack(
    repo: Path,
    workdir: Path,
    *,
    relay_url: str,
    relay_token_file: Path | None,
    scrape_targets: Iterable[tuple[str, str]],
    profile: str = "demo",
) -> PromStack:
    """Render `profile`'s rules and Alertmanager config (rollback/retrain → the relay) and start both.

    `scrape_targets` are (job, host:port) pairs; the relay's /metrics is scraped as job modelops-relay.
    The returned stack is running; stop it (or use it as a context manager)."""
    from modelops.core.alert_rules import Profile
    from modelops.flows.monitoring import render

    rendered = render(
        repo,
        Profile.named(profile, None),
        workdir / "monitoring",
        relay_url=relay_url.rstrip("/") + "/alerts",
        relay_token_file=str(relay_token_file.resolve()) if relay_token_file else None,
    )
    assert rendered.alertmanager is not None
    relay_hostport = relay_url.split("://", 1)[-1].rstrip("/")
    targets = [*scrape_targets, ("modelops-relay", relay_hostport)]
    interval = rendered.evaluation_interval or "1s"
    stack = PromStack(
        workdir / "prometheus",
        workdir / "monitoring" / "rules",
        Path(rendered.alertmanager),
        targets,
        scrape_interval="1s",
        evaluation_interval=interval,
    )
    progress(f"starting Prometheus and Alertmanager ({profile} rules, evaluated every {interval})")
    return stack.start()


# -- traffic --------------------------------------------------------------------------------------


def _json_value(text: str) -> str | float | None:
    """A CSV cell as a client would send it: empty is missing, a number is a number."""
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return number if number == number and abs(number) != float("inf") else None


def sample_rows(csv_path: Path, limit: int = 200, drop: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Rows of a data file to send as predictions, numbers as JSON numbers and empty cells as null."""
    rows = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append({k: _json_value(v) for k, v in row.items() if k not in drop})
            if len(rows) >= limit:
                break
    if not rows:
        raise ExternalError(f"{csv_path}: no rows to send")
    return rows


@dataclass(frozen=True)
class Response:
    at: float
    status: int
    version: str | None


@dataclass(frozen=True)
class VersionFault:
    """Fail `error_rate` of the predictions of one version only, or slow them by `latency_ms` (the
    server's fault switch takes a version), so the rollback target answers normally once it serves again."""

    version: str
    error_rate: float = 0.0
    latency_ms: float = 0.0


def set_fault(url: str, fault: VersionFault) -> None:
    """Turn on the fault switch of the server at `url` for `fault.version`."""
    http_json(
        f"{url.rstrip('/')}/admin/fault",
        what="setting the fault switch",
        method="POST",
        body={"error_rate": fault.error_rate, "latency_ms": fault.latency_ms, "version": fault.version},
    )
    progress(
        f"fault switch at {url}: error_rate={fault.error_rate:g} latency_ms={fault.latency_ms:g} "
        f"for v{fault.version} only"
    )


class Split:
    """Which share of the traffic goes to the canary's server (KServe's canaryTrafficPercent).

    Each request draws from a seeded generator, so the canary sees a random sample of the rows (a
    fixed every-tenth pattern would send it the same few rows of a repeating sample)."""

    def __init__(self, seed: int = 20261201) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._canary: tuple[str, int] | None = None

    def set(self, url: str, percent: int) -> None:
        with self._lock:
            self._canary = (url.rstrip("/"), percent)

    def clear(self) -> None:
        with self._lock:
            self._canary = None

    @property
    def canary(self) -> tuple[str, int] | None:
        with self._lock:
            return self._canary

    def pick(self, stable_url: str) -> str:
        with self._lock:
            if self._canary is None:
                return stable_url
            url, percent = self._canary
            return url if self._rng.random() * 100 < percent else stable_url


def predict(url: str, model: str, row: Mapping[str, Any], timeout: float = 10.0) -> Response:
    """One prediction request; every answer is recorded, a failed connection as status 0."""
    body = json.dumps({"instances": [dict(row)]}).encode("utf-8")
    request = urllib.request.Request(
        f"{url.rstrip('/')}/v1/models/{model}:predict",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            return Response(time.time(), answer.status, answer.headers.get(contract.HEADER_VERSION))
    except urllib.error.HTTPError as exc:
        exc.read()
        return Response(time.time(), exc.code, exc.headers.get(contract.HEADER_VERSION))
    except (OSError, TimeoutError):
        return Response(time.time(), 0, None)


class Traffic:
    """Steady predictions from `workers` background threads, `rate` per second in all, recording every
    answer (more than one worker keeps the rate while a slow answer holds one of them)."""

    def __init__(
        self,
        url: str,
        model: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        rate: float = 5.0,
        fault: VersionFault | None = None,
        timeout: float = 10.0,
        split: Split | None = None,
        workers: int = 1,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.rows = list(rows)
        self.interval = workers / rate
        self.fault = fault
        self.timeout = timeout
        self.split = split
        self.responses: list[Response] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), name=f"modelops-traffic-{n}", daemon=True)
            for n in range(workers)
        ]
        self._lock = threading.Lock()

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> Traffic:
        if self.fault is not None:
            set_fault(self.url, self.fault)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(self.timeout + 5)

    def _run(self, worker: int = 0) -> None:
        index = worker * 7919  # workers start at different rows
        next_at = time.monotonic()
        while not self._stop.is_set():
            row = self.rows[index % len(self.rows)]
            index += 1
            response = self._predict(row)
            with self._lock:
                self.responses.append(response)
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _predict(self, row: Mapping[str, Any]) -> Response:
        url = self.split.pick(self.url) if self.split is not None else self.url
        return predict(url, self.model, row, self.timeout)

    def snapshot(self) -> list[Response]:
        with self._lock:
            return list(self.responses)

    def first_answer_from(self, version: str) -> float | None:
        """When `version` first answered (its X-Model-Version header), or None."""
        return next((r.at for r in self.snapshot() if r.version == version), None)

    def counts(self, since: float = 0.0) -> Counter[tuple[str | None, int]]:
        """(version, HTTP status) → how many answers, from `since` (unix seconds) on."""
        return Counter((r.version, r.status) for r in self.snapshot() if r.at >= since)


class CanaryRollout:
    """The canary of one Model in one Environment as KServe runs it, on this machine: while models.yaml
    declares `canary: {version, traffic}`, a second `modelops serve --version` for that Version answers
    `traffic` % of the requests (through `split`); once the canary is dropped or promoted, it stops and
    the stable server, which follows the pin, takes everything again.

    The canary's server keeps one port (`port`), so Prometheus scrapes it as a target from the start.
    `prepare` starts a Version's server ahead, without traffic: its warm-up is many seconds here."""

    def __init__(
        self,
        repo: Path,
        model: str,
        env: str,
        logdir: Path,
        split: Split,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.repo, self.model, self.env, self.logdir, self.split = repo, model, env, logdir, split
        self.extra_env = dict(extra_env or {})
        self.port = free_port()
        self.version: int | None = None
        self._process: ManagedProcess | None = None
        self._url: str | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str | None:
        return self._url

    def prepare(self, version: int) -> None:
        """Start the server for `version` (stopping another's) and return at once."""
        if self.version == version and self._process is not None:
            return
        self.stop()
        self._start(version)

    def warm(
        self, version: int, rows: Sequence[Mapping[str, Any]], count: int = 20, timeout: float = 180.0
    ) -> str:
        """Wait until `version`'s server answers, then send it `count` predictions of its own: a fresh
        process answers its first requests slowly, and an analysis that starts counting at the canary's
        declaration should compare served versions, not a cold start with a warm one. Call it before the
        canary is declared, so these requests fall outside the analysis' window."""
        self.prepare(version)
        url = self._wait_ready(timeout)
        answers = [predict(url, self.model, row) for row in rows[:count]]
        failed = [r.status for r in answers if r.status != 200]
        if failed:
            raise ExternalError(f"the canary server for v{version} failed warm-up predictions: {failed}")
        return f"v{version} at {url}: {len(answers)} warm-up predictions answered"

    def declared(self) -> tuple[int, int] | None:
        from modelops.core.document import ModelsDocument

        env = ModelsDocument.load(self.repo / "models.yaml").state().model(self.model).env(self.env)
        return (env.canary.version, env.canary.traffic) if env.canary is not None else None

    def converge(self, timeout: float = 180.0) -> str:
        """Make the canary's server and the split match models.yaml; returns what now serves."""
        declared = self.declared()
        if declared is None:
            self.split.clear()
            self.stop()
            return "no canary: the stable server takes all traffic"
        version, traffic = declared
        if self.version != version or self._process is None:
            self.stop()
            self._start(version)
        assert self._process is not None
        self._url = self._wait_ready(timeout)
        self.split.set(self._url, traffic)
        return f"canary v{version} at {self._url} takes {traffic}% of the traffic"

    def _start(self, version: int) -> None:
        argv = _modelops_argv(
            "serve",
            "--repo",
            str(self.repo),
            "--model",
            self.model,
            "--env",
            self.env,
            "--port",
            str(self.port),
            "--version",
            str(version),
            "--json",
        )
        name = f"{self.model}-{self.env}-canary-v{version}"
        self._process = ManagedProcess(
            f"serve {self.model}/{self.env} canary v{version}",
            argv,
            self.logdir / f"serve-{name}.log",
            env={**os.environ, **self.extra_env},
            stdout_path=self.logdir / f"serve-{name}.out",
        )
        self._process.start()
        self.version, self._url = version, None

    def _wait_ready(self, timeout: float) -> str:
        process = self._process
        assert process is not None

        def check() -> tuple[str | None, str]:
            if not process.alive:
                raise _Exited(f"canary server exited with {process.returncode}: {process.last_log_line()}")
            announced = _json_object(process.stdout())
            url = str(announced["url"]) if announced and "url" in announced else None
            return url, "starting" if url is None else "up"

        try:
            return poll(f"the canary server for v{self.version}", check, timeout)
        except _Exited as exc:
            raise ExternalError(f"{exc} (log: {process.log_path})") from None

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
        self._process, self.version, self._url = None, None, None

    def __enter__(self) -> CanaryRollout:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.split.clear()
        self.stop()


# -- waits ----------------------------------------------------------------------------------------


def serving_status(url: str, model: str) -> dict[str, Any]:
    answer = http_json(f"{url.rstrip('/')}/v1/models/{model}/status", what=f"status of {model}", attempts=1)
    return answer if isinstance(answer, dict) else {}


def _matches(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


@dataclass
class AlertSeen:
    alertname: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str
    active_at: float  # Prometheus' activeAt: when the condition first held (pending began)
    observed_at: float  # when this poll first saw `state`

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wait_for_alert(
    stack: PromStack,
    alertname: str,
    labels: Mapping[str, str] | None = None,
    *,
    state: str = "firing",
    timeout: float = 120.0,
) -> AlertSeen:
    """Wait until Prometheus holds `alertname` (with `labels`) in `state` (pending or firing)."""
    wanted = {**(labels or {}), "alertname": alertname}
    description = ",".join(f"{k}={v}" for k, v in sorted(wanted.items()) if k != "alertname")

    def check() -> tuple[AlertSeen | None, str]:
        found = [a for a in stack.alerts() if _matches(a.get("labels", {}), wanted)]
        states = sorted({str(a.get("state")) for a in found})
        for alert in found:
            if alert.get("state") == state:
                return (
                    AlertSeen(
                        alertname=alertname,
                        labels=dict(alert.get("labels", {})),
                        annotations=dict(alert.get("annotations", {})),
                        state=state,
                        active_at=parse_timestamp(str(alert["activeAt"])),
                        observed_at=time.time(),
                    ),
                    state,
                )
        return None, "/".join(states) if states else "inactive"

    return poll(f"alert {alertname}{{{description}}} {state}", check, timeout)


def wait_for_alert_resolved(
    stack: PromStack,
    alertname: str,
    labels: Mapping[str, str] | None = None,
    *,
    in_alertmanager: bool = True,
    timeout: float = 120.0,
) -> float:
    """Wait until neither Prometheus (pending or firing) nor, optionally, Alertmanager holds the alert.
    Returns when that was first seen (unix seconds)."""
    wanted = {**(labels or {}), "alertname": alertname}

    def check() -> tuple[float | None, str]:
        held = [str(a.get("state")) for a in stack.alerts() if _matches(a.get("labels", {}), wanted)]
        if held:
            return None, f"Prometheus: {'/'.join(sorted(set(held)))}"
        if in_alertmanager:
            active = [a for a in stack.alertmanager_alerts() if _matches(a.get("labels", {}), wanted)]
            if active:
                return None, "Prometheus: resolved; Alertmanager: still active"
        return time.time(), "resolved"

    return poll(f"alert {alertname} to resolve", check, timeout)


def wait_for_relay_dispatch(
    relay: Service, *, kind: str = "rollback", model: str | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """Wait for the relay's log to record a dispatched incident of `kind` (and model); returns the event."""

    def check() -> tuple[dict[str, Any] | None, str]:
        events = relay_events(relay.process.log())
        for event in events:
            if event.get("kind") != kind or (model and event.get("model") != model):
                continue
            if event.get("event") == "dispatched":
                return event, "dispatched"
        mine = [str(e.get("event")) for e in events if e.get("kind") == kind]
        return None, f"last {kind} event: {mine[-1]}" if mine else f"no {kind} webhook yet"

    return poll(f"relay {kind} dispatch", check, timeout)


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    body: str
    committed_at: float  # the committer date (whole seconds)
    observed_at: float  # when the wait first saw it on the branch

    @property
    def message(self) -> str:
        return f"{self.subject}\n\n{self.body}".strip()


def branch_head(repo: Path, branch: str = "main") -> str:
    return Git(repo).run("rev-parse", branch)


def wait_for_commit(
    repo: Path,
    *,
    after: str,
    branch: str = "main",
    subject_prefix: str = "",
    timeout: float = 120.0,
) -> Commit:
    """Wait for a commit on `branch` of `repo` (a bare origin or a clone) newer than `after` whose
    subject starts with `subject_prefix`; returns the oldest such commit."""
    git = Git(repo)

    def check() -> tuple[Commit | None, str]:
        listing = git.run("log", "--reverse", "--format=%H%x00%ct%x00%s%x00%b%x1e", f"{after}..{branch}")
        records = [r.strip("\n") for r in listing.split("\x1e") if r.strip()]
        for record in records:
            sha, stamp, subject, body = [*record.split("\x00"), "", "", ""][:4]
            if subject.startswith(subject_prefix):
                return Commit(sha, subject, body.strip(), float(stamp), time.time()), subject
        return None, f"{len(records)} new commit(s), none matching" if records else "no new commit"

    what = f"a commit {subject_prefix!r} on {branch}" if subject_prefix else f"a commit on {branch}"
    return poll(what, check, timeout)


def wait_for_serving_version(url: str, model: str, version: int | str, *, timeout: float = 120.0) -> float:
    """Wait until the server at `url` serves `version` of `model`; returns when it was first seen."""

    def check() -> tuple[float | None, str]:
        serving = serving_status(url, model).get("version")
        if str(serving) == str(version):
            return time.time(), f"v{serving}"
        return None, f"serving v{serving}"

    return poll(f"{model} to serve v{version}", check, timeout)


# -- figures --------------------------------------------------------------------------------------


@dataclass
class LoopTimes:
    """Unix-second marks of one rollback loop; the durations between them are the loop's figures."""

    version_start: float | None = None
    alert_active: float | None = None  # Prometheus activeAt (pending began, after the burn-in)
    alert_firing_seen: float | None = None
    commit_seen: float | None = None
    commit_time: float | None = None  # committer date (whole seconds)
    serving_converged: float | None = None
    alert_resolved: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def durations(self) -> dict[str, float | None]:
        def between(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(b - a, 3)

        return {
            "version_start_to_alert_active_s": between(self.version_start, self.alert_active),
            "alert_active_to_firing_s": between(self.alert_active, self.alert_firing_seen),
            "alert_active_to_commit_s": between(self.alert_active, self.commit_seen),
            "alert_firing_to_commit_s": between(self.alert_firing_seen, self.commit_seen),
            "commit_to_serving_s": between(self.commit_seen, self.serving_converged),
            "commit_to_resolved_s": between(self.commit_seen, self.alert_resolved),
        }

    def as_dict(self) -> dict[str, Any]:
        marks = {k: v for k, v in asdict(self).items() if k != "extra"}
        return {"marks": marks, "durations": self.durations(), **self.extra}

    def write(self, path: Path) -> None:
        write_atomically(path, json.dumps(self.as_dict(), indent=2) + "\n")
