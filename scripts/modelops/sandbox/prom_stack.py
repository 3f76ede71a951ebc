"""Prometheus and Alertmanager on loopback: generated configs, readiness, their HTTP APIs, a clean stop.

The embedded stand-in for kube-prometheus. `PromStack` writes prometheus.yml (the rendered rule files,
alerting to its own Alertmanager, one scrape job per target group), starts Alertmanager (clustering
off) and Prometheus on free loopback ports, each in its own process group, and stops both with their
whole group, so no process outlives the stack. Every HTTP call has a timeout, bounded retries and
raises ExternalError with one line.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import yaml

from modelops.adapters.prometheus import http_json, prometheus_data
from modelops.errors import ExternalError

# Debian ships Alertmanager as prometheus-alertmanager.
BINARY_NAMES: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "alertmanager": ("alertmanager", "prometheus-alertmanager"),
}
INSTALL_HINT = "apt-get install prometheus prometheus-alertmanager"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 3


def find_binary(name: str) -> str | None:
    """The path of `prometheus` or `alertmanager` (either of its names), or None."""
    for candidate in BINARY_NAMES.get(name, (name,)):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def missing_binaries() -> list[str]:
    return [name for name in BINARY_NAMES if find_binary(name) is None]


def binaries_available() -> bool:
    """True when both binaries are installed (the demo falls back to a stand-in otherwise)."""
    return not missing_binaries()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


_live: set[ManagedProcess] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_leftovers() -> None:
    """A caller that never reached its `finally` (an interrupted test) still leaves no strays."""
    with _live_lock:
        leftovers = list(_live)
    for process in leftovers:
        process.stop(timeout=2.0)


class ManagedProcess:
    """A child in its own process group, logging to a file; stopping it stops the whole group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stdout_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.stdout_path = stdout_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []
        self._stopped = False

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Files, not pipes: a chatty child must never block on a full pipe.
        err = self.log_path.open("wb")
        out = self.stdout_path.open("wb") if self.stdout_path else err
        self._files = [err] if out is err else [err, out]
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            self._close_files()
            raise ExternalError(f"{self.name}: cannot start {self.argv[0]} ({exc.strerror or exc})") from None
        with _live_lock:
            _live.add(self)
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def log(self) -> str:
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return ""

    def stdout(self) -> str:
        if self.stdout_path is None:
            return self.log()
        try:
            return self.stdout_path.read_text("utf-8", errors="replace")
        except OSError:
            return ""

    def last_log_line(self) -> str:
        lines = [line.strip() for line in self.log().splitlines() if line.strip()]
        return lines[-1][:300] if lines else "no output"

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM to the process group, then SIGKILL after `timeout`; returns the exit code."""
        proc = self.proc
        if proc is None or self._stopped:
            return proc.returncode if proc else None
        try:
            if proc.poll() is None:
                self._signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(STOP_TIMEOUT)
            # Grandchildren left behind in the group go too.
            self._signal_group(proc.pid, signal.SIGKILL)
        finally:
            # Never signal the group again: once empty, its id may belong to someone else.
            self._stopped = True
            self._close_files()
            with _live_lock:
                _live.discard(self)
        return proc.returncode

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def _close_files(self) -> None:
        for handle in self._files:
            handle.close()
        self._files = []


class PromStack:
    """Prometheus (with the given rules) and Alertmanager (with the given config) on loopback."""

    def __init__(
        self,
        workdir: Path,
        rules_dir: Path,
        alertmanager_config: Path,
        scrape_targets: Iterable[tuple[str, str]],
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        *,
        host: str = "127.0.0.1",
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.rules_dir = Path(rules_dir).resolve()
        self.alertmanager_config = Path(alertmanager_config).resolve()
        self.scrape_targets = list(scrape_targets)
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.host = host
        self.start_timeout = start_timeout
        self.prometheus: ManagedProcess | None = None
        self.alertmanager: ManagedProcess | None = None
        self.prometheus_port: int | None = None
        self.alertmanager_port: int | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> PromStack:
        # start_stack returns a running stack: entering it must not start a second, unstopped pair.
        return self if self.prometheus is not None and self.prometheus.alive else self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> PromStack:
        missing = missing_binaries()
        if missing:
            raise ExternalError(f"{' and '.join(missing)} not found on PATH; {INSTALL_HINT}")
        if not self.alertmanager_config.is_file():
            raise ExternalError(f"{self.alertmanager_config}: no Alertmanager configuration here")
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.alertmanager, self.alertmanager_port = self._start_ready(
                "alertmanager", self._alertmanager_argv
            )
            self.config_path.write_text(self.prometheus_config(), encoding="utf-8")
            self.prometheus, self.prometheus_port = self._start_ready("prometheus", self._prometheus_argv)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # Prometheus first: it would otherwise keep sending to an Alertmanager that is gone.
        for process in (self.prometheus, self.alertmanager):
            if process is not None:
                process.stop()

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    @property
    def prometheus_url(self) -> str:
        if self.prometheus_port is None:
            raise ExternalError("Prometheus is not running; start the stack first")
        return f"http://{self.host}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        if self.alertmanager_port is None:
            raise ExternalError("Alertmanager is not running; start the stack first")
        return f"http://{self.host}:{self.alertmanager_port}"

    def rule_files(self) -> list[str]:
        files = sorted(str(p) for p in self.rules_dir.glob("*.y*ml"))
        if not files:
            raise ExternalError(f"{self.rules_dir}: no rule files (*.yaml); run `modelops monitoring render`")
        return files

    def prometheus_config(self) -> str:
        jobs: dict[str, list[str]] = {}
        for job, target in self.scrape_targets:
            jobs.setdefault(job, []).append(target)
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": self.rule_files(),
            "alerting": {
                "alertmanagers": [
                    {
                        "api_version": "v2",
                        "static_configs": [{"targets": [f"{self.host}:{self.alertmanager_port}"]}],
                    }
                ]
            },
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]} for job, targets in jobs.items()
            ],
        }
        return "# Generated by modelops for a loopback Prometheus; do not edit.\n" + yaml.safe_dump(
            config, sort_keys=False
        )

    def _prometheus_argv(self, binary: str, port: int) -> list[str]:
        return [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
            f"--web.listen-address={self.host}:{port}",
        ]

    def _alertmanager_argv(self, binary: str, port: int) -> list[str]:
        return [
            binary,
            f"--config.file={self.alertmanager_config}",
            f"--storage.path={self.workdir / 'alertmanager-data'}",
            f"--web.listen-address={self.host}:{port}",
            # A single Alertmanager: no gossip port, no waiting for peers before notifying.
            "--cluster.listen-address=",
        ]

    def _start_ready(self, name: str, argv_for: Any) -> tuple[ManagedProcess, int]:
        binary = find_binary(name)
        assert binary is not None  # checked in start()
        problem = ""
        for _ in range(PORT_ATTEMPTS):
            port = free_port(self.host)
            process = ManagedProcess(name, argv_for(binary, port), self.workdir / f"{name}.log").start()
            problem = self._wait_ready(process, f"http://{self.host}:{port}/-/ready")
            if not problem:
                return process, port
            process.stop()
            if "address already in use" not in process.log():
                break  # another port would not help
        raise ExternalError(f"{name} did not start: {problem} (log: {self.workdir / f'{name}.log'})")

    def _wait_ready(self, process: ManagedProcess, url: str) -> str:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not process.alive:
                return f"exited with {process.returncode}: {process.last_log_line()}"
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return ""
            except (OSError, TimeoutError):
                pass
            time.sleep(0.1)
        return f"not ready within {self.start_timeout:.0f}s: {process.last_log_line()}"

    # -- HTTP APIs --------------------------------------------------------------------------------

    def alerts(self) -> list[dict[str, Any]]:
        """Prometheus' pending and firing alerts (GET /api/v1/alerts)."""
        data = prometheus_data(
            http_json(f"{self.prometheus_url}/api/v1/alerts", what="Prometheus alerts"), "Prometheus alerts"
        )
        found: list[dict[str, Any]] = data.get("alerts", []) if isinstance(data, dict) else []
        return found

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector (GET /api/v1/query)."""
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        data = prometheus_data(http_json(url, what=f"query {promql!r}"), f"query {promql!r}")
        result = data.get("result", []) if isinstance(data, dict) else []
        return result if isinstance(result, list) else [{"value": result}]

    def rules(self) -> list[dict[str, Any]]:
        """Every rule group with its rules' health (GET /api/v1/rules)."""
        data = prometheus_data(
            http_json(f"{self.prometheus_url}/api/v1/rules", what="Prometheus rules"), "Prometheus rules"
        )
        groups: list[dict[str, Any]] = data.get("groups", []) if isinstance(data, dict) else []
        return groups

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets with their health (GET /api/v1/targets)."""
        data = prometheus_data(
            http_json(f"{self.prometheus_url}/api/v1/targets", what="Prometheus targets"),
            "Prometheus targets",
        )
        active: list[dict[str, Any]] = data.get("activeTargets", []) if isinstance(data, dict) else []
        return active

    def alertmanager_alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds and has not seen resolve (GET /api/v2/alerts)."""
        url = f"{self.alertmanager_url}/api/v2/alerts"
        answer = http_json(url, what="Alertmanager alerts")
        if not isinstance(answer, list):
            raise ExternalError(f"Alertmanager alerts: {url} did not answer a list")
        return answer
