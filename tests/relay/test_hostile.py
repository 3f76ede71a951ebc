"""The relay under hostile clients: every request gets an answer, none holds a thread or the lock for long."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelops.core.incident import MAX_ALERTS
from modelops.errors import BadInput
from modelops.relay.log import JsonLog
from modelops.relay.server import open_relay
from tests.commands.test_hostile_input import HOSTILE
from tests.helpers import REPO_ROOT
from tests.relay.support import (
    TOKEN,
    CountingDispatcher,
    RunningRelay,
    alert,
    request,
    running_relay,
    webhook,
)

DEADLINE_S = 1.0


@pytest.fixture(scope="module")
def models_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile-relay") / "models.yaml"
    shutil.copy(REPO_ROOT / "models.yaml", path)
    return path


@pytest.fixture(scope="module")
def dispatcher() -> CountingDispatcher:
    return CountingDispatcher()


@pytest.fixture(scope="module")
def relay(
    models_path: Path, tmp_path_factory: pytest.TempPathFactory, dispatcher: CountingDispatcher
) -> Iterator[RunningRelay]:
    state = tmp_path_factory.mktemp("hostile-state")
    with running_relay(
        models_path, state, dispatcher, max_connections=40, request_deadline_s=DEADLINE_S
    ) as running:
        yield running


def raw(relay: RunningRelay, data: bytes, *, timeout: float = 10) -> bytes:
    """Send bytes as they are and read the answer until the relay closes the connection."""
    with socket.create_connection((relay.host, relay.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def post_bytes(body: bytes, *headers: str) -> bytes:
    head = ["POST /alerts HTTP/1.1", "Host: relay", f"Authorization: Bearer {TOKEN}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# -- what reaches the decision ------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["٣", "²", "３", "2.0", "+2", "02", "v2", "0", "-1", "1e3"])
def test_a_version_label_that_is_not_a_plain_decimal_is_refused_with_an_answer(
    relay: RunningRelay, dispatcher: CountingDispatcher, label: str
) -> None:
    before = len(dispatcher.rollbacks)
    response = relay.post(webhook(alert(version=label)))
    assert (response.status, response.body["status"]) == (200, "refused")  # answered, so never re-sent
    assert any(f"{label!r} is not a registry version" in e for e in response.body["errors"])
    assert len(dispatcher.rollbacks) == before


def test_deeply_nested_json_is_answered_400(relay: RunningRelay) -> None:
    response = relay.post(b'{"version": "4", "alerts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert response.status == 400
    assert "nested too deeply" in response.body["error"]


def test_two_content_length_headers_are_refused(relay: RunningRelay, dispatcher: CountingDispatcher) -> None:
    body = json.dumps(webhook(alert(alertname="Smuggled"))).encode()
    answer = raw(relay, post_bytes(body, f"Content-Length: {len(body)}", "Content-Length: 2"))
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"more than one Content-Length" in answer
    assert all(i.alertname != "Smuggled" for i in dispatcher.rollbacks)


@pytest.mark.parametrize("length", ["+5", "٥", "1_0"])
def test_a_content_length_that_is_not_plain_digits_is_refused(relay: RunningRelay, length: str) -> None:
    answer = raw(relay, post_bytes(b"{}", f"Content-Length: {length}"))
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_a_payload_over_the_alert_cap_is_413_before_any_dispatch(
    relay: RunningRelay, dispatcher: CountingDispatcher
) -> None:
    before = len(dispatcher.rollbacks)
    alerts = [alert(alertname=f"Flood{i}") for i in range(MAX_ALERTS + 1)]
    response = relay.post(webhook(*alerts))
    assert response.status == 413
    assert f"max_alerts: {MAX_ALERTS}" in response.body["error"]
    assert len(dispatcher.rollbacks) == before


# -- slow and many clients ---------------------------------------------------------------------------


def trickle(
    relay: RunningRelay, data: bytes, every_s: float, out: list[bytes], stop: threading.Event
) -> None:
    """A slow client: one byte at a time, for as long as the relay lets it."""
    with socket.create_connection((relay.host, relay.port), timeout=30) as sock:
        sock.settimeout(every_s)
        received = b""
        for byte in data:
            if stop.is_set():
                break
            try:
                sock.sendall(bytes([byte]))
                received += sock.recv(65536)
                break  # the relay answered (or closed): this client is done
            except TimeoutError:
                continue
            except OSError:
                break
        out.append(received)


def test_slow_clients_are_cut_off_at_the_deadline_while_healthz_and_alerts_are_answered(
    relay: RunningRelay, dispatcher: CountingDispatcher
) -> None:
    body = json.dumps(webhook()).encode()
    data = post_bytes(body, f"Content-Length: {len(body)}")
    answers: list[bytes] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=trickle, args=(relay, data, 0.2, answers, stop), daemon=True)
        for _ in range(30)
    ]
    for client in clients:
        client.start()
    time.sleep(0.3)
    try:
        assert request(relay.host, relay.port, "GET", "/healthz", timeout=5).status == 200
        assert relay.post(webhook(alert(alertname="WhileSlow"))).status == 200
        for client in clients:
            client.join(DEADLINE_S * 10)
    finally:
        stop.set()
    # Each slow client got a 408 (or a close) within the deadline, long before it finished sending.
    assert len(answers) == 30
    assert all(a.startswith(b"HTTP/1.1 408 ") or a == b"" for a in answers)
    assert any(a.startswith(b"HTTP/1.1 408 ") for a in answers)
    assert any(r["event"] == "slow_client" for r in relay.log_records())
    assert [i.alertname for i in dispatcher.rollbacks].count("WhileSlow") == 1


def test_past_the_connection_cap_new_connections_get_503_and_a_log_line(relay: RunningRelay) -> None:
    idle = [socket.create_connection((relay.host, relay.port), timeout=5) for _ in range(40)]
    try:
        time.sleep(0.2)
        answer = raw(relay, b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"Retry-After: 1" in answer
        limit = [r for r in relay.log_records() if r["event"] == "connection_limit"]
        assert limit and limit[0]["limit"] == 40
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if request(relay.host, relay.port, "GET", "/healthz", timeout=5).status == 200:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the relay did not answer /healthz again after the connections closed")


# -- models.yaml at start-up and on reload -------------------------------------------------------------


def test_a_hostile_models_yaml_stops_the_relay_at_start_up_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(HOSTILE["alias bomb"][0], encoding="utf-8")
    with pytest.raises(BadInput, match="values once its aliases are expanded"):
        open_relay(path, tmp_path / "state", CountingDispatcher(), JsonLog())


def test_a_hostile_models_yaml_on_reload_keeps_the_last_good_state(
    relay: RunningRelay, models_path: Path, dispatcher: CountingDispatcher
) -> None:
    good = models_path.read_text("utf-8")
    try:
        models_path.write_text(HOSTILE["deep flow nesting"][0], encoding="utf-8")
        assert relay.post(webhook(alert(alertname="DuringBadReload"))).status == 200
        unreadable = [r for r in relay.log_records() if r["event"] == "models_unreadable"]
        assert unreadable and "nested deeper than 32 levels" in unreadable[-1]["detail"]
    finally:
        models_path.write_text(good, encoding="utf-8")
