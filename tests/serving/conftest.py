"""Fixtures: one real MLflow registry per session, and real model servers in subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.serving.registry import Registry, build_registry

START_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Metrics:
    """A parsed /metrics scrape: sample values by name and labels."""

    def __init__(self, text: str) -> None:
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples.append((sample.name, dict(sample.labels), float(sample.value)))

    def find(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        return [
            (lbl, value)
            for sample_name, lbl, value in self.samples
            if sample_name == name and all(lbl.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        found = self.find(name, **labels)
        assert len(found) == 1, f"expected one {name}{labels}, found {found}"
        return found[0][1]


class ServerProcess:
    """A model server in a subprocess, talked to over HTTP like any client would."""

    def __init__(
        self, argv: list[str], env: Mapping[str, str], port: int, logdir: Path, name: str = "churn"
    ) -> None:
        self.port = port
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = logdir / "stdout.txt"
        self.stderr_path = logdir / "stderr.txt"
        logdir.mkdir(parents=True, exist_ok=True)
        # Files, not pipes: a chatty server must never block on a full pipe.
        self._out = self.stdout_path.open("w")
        self._err = self.stderr_path.open("w")
        self.proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=self._out, stderr=self._err)
        self.readiness: list[int] = []

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.stderr()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"server did not listen within {START_TIMEOUT}s:\n{self.stderr()[-3000:]}")

    def wait_ready(self) -> None:
        """Poll the model's readiness from the moment it listens, recording every status seen."""
        self.wait_listening()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.stderr()[-3000:]}")
            status = requests.get(f"{self.url}/v1/models/{self.name}", timeout=10).status_code
            self.readiness.append(status)
            if status == 200:
                return
            time.sleep(0.02)
        raise AssertionError(f"model not ready within {START_TIMEOUT}s:\n{self.stderr()[-3000:]}")

    def predict(self, body: Any, **kw: Any) -> requests.Response:
        return requests.post(f"{self.url}/v1/models/{self.name}:predict", json=body, timeout=30, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=30, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=body, timeout=30, **kw)

    def metrics(self) -> Metrics:
        response = self.get("/metrics")
        response.raise_for_status()
        return Metrics(response.text)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return build_registry(tmp_path_factory.mktemp("registry"))


def modelops_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelops", *args]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[ServerProcess] = []

    def start(argv: list[str], env: Mapping[str, str], port: int, name: str = "churn") -> ServerProcess:
        server = ServerProcess(argv, env, port, tmp_path / f"server{len(started)}", name)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL)
