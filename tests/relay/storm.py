"""An alert storm as Alertmanager produces one: many deliveries of one incident, some broken, with retries.

Shared by the storm test and the relay benchmark.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tests.relay.support import SECRET, TOKEN, Response, alert, request, sign, webhook


@dataclass(frozen=True)
class Delivery:
    kind: str  # "valid" | "signed" | "malformed" | "wrong-version" | "unauthenticated"
    body: bytes
    headers: dict[str, str]


def storm_deliveries(count: int, seed: int = 20261121) -> list[Delivery]:
    """`count` deliveries of one incident: mostly valid re-sends (some HMAC-signed, some grouped with
    resolved or unrelated alerts), plus malformed, wrong-version and unauthenticated ones."""
    rng = random.Random(seed)
    bearer = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    out: list[Delivery] = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.05:
            out.append(Delivery("malformed", b'{"version": "4", "alerts": [', dict(bearer)))
        elif roll < 0.08:
            out.append(Delivery("wrong-version", json.dumps(webhook(version="3")).encode(), dict(bearer)))
        elif roll < 0.12:
            body = json.dumps(webhook()).encode()
            out.append(
                Delivery(
                    "unauthenticated",
                    body,
                    {"Authorization": "Bearer guess", **sign(body, "guess")},
                )
            )
        else:
            extra = rng.choice(
                [
                    [],
                    [alert(status="resolved", alertname="ChurnLatencyHigh")],
                    [alert(action=None, alertname="Info")],
                ]
            )
            alerts = [alert(), *extra]
            rng.shuffle(alerts)
            body = json.dumps(webhook(*alerts)).encode()
            if n % 7 == 0:
                out.append(
                    Delivery(
                        "signed",
                        body,
                        {**sign(body, SECRET), "Content-Type": "application/json"},
                    )
                )
            else:
                out.append(Delivery("valid", body, dict(bearer)))
    return out


EXPECTED_STATUS = {
    "valid": 200,
    "signed": 200,
    "malformed": 400,
    "wrong-version": 400,
    "unauthenticated": 401,
}


def deliver(
    address: Callable[[], tuple[str, int]],
    delivery: Delivery,
    *,
    deadline_s: float = 600,
    backoff_s: float = 0.05,
) -> Response:
    """Deliver like Alertmanager: retry on connection errors and 5xx until answered or out of time."""
    give_up = time.monotonic() + deadline_s
    while True:
        host, port = address()
        try:
            response = request(
                host, port, "POST", "/alerts", delivery.body, delivery.headers, timeout=deadline_s
            )
            if response.status < 500:
                return response
        except OSError:  # refused, reset, timed out
            pass
        if time.monotonic() > give_up:
            raise AssertionError(f"{delivery.kind} delivery not answered within {deadline_s}s")
        time.sleep(backoff_s)


def run_storm(
    address: Callable[[], tuple[str, int]],
    deliveries: list[Delivery],
    *,
    workers: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> list[tuple[Delivery, Response]]:
    done = 0

    def one(delivery: Delivery) -> tuple[Delivery, Response]:
        nonlocal done
        response = deliver(address, delivery)
        done += 1
        if on_progress:
            on_progress(done)
        return delivery, response

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, deliveries))


def outcomes(results: list[tuple[Delivery, Response]]) -> list[str]:
    return [
        incident["outcome"]
        for _, response in results
        if isinstance(response.body, dict)
        for incident in response.body.get("incidents", [])
        if "outcome" in incident
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def summary(results: list[tuple[Delivery, Response]]) -> dict[str, Any]:
    by_kind: dict[str, dict[int, int]] = {}
    for delivery, response in results:
        by_kind.setdefault(delivery.kind, {}).setdefault(response.status, 0)
        by_kind[delivery.kind][response.status] += 1
    return by_kind
