"""Running the predictor in KServe's ModelServer, locally and in the cluster.

KServe's own start() binds 0.0.0.0, opens a gRPC port and insists a model is ready before it listens.
Here the REST server binds the requested host, starts listening first, and the version loads and
warms up behind it, so /v1/models/<name> answers "not ready" until the warm-up prediction passed.

Next to KServe's routes the server adds:
- GET  /v1/models/<name>/summaries[?version=V]  feature summaries (the drift snapshot format)
- GET  /v1/models/<name>/status                 which version serves, since when
- GET|POST /admin/fault                         the fault switch (loopback, or a bearer token)
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse

from modelops.errors import BadInput, ModelOpsError
from modelops.serving.fault import Fault, FaultSwitch
from modelops.serving.loader import LoadedVersion, load, warm_up
from modelops.serving.sources import Source

if TYPE_CHECKING:
    from modelops.serving.predictor import Predictor

log = logging.getLogger("modelops.serving")

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# A version that failed to load is tried again after this long, not on every poll.
RETRY_FAILED_AFTER_SECONDS = 30.0


@dataclass
class ServeOptions:
    name: str  # the model's name on the endpoint path, /v1/models/<name>
    model: str  # the model in models.yaml, the `model` label
    env: str
    source: Source
    host: str = "127.0.0.1"
    port: int = 8080
    follow: Callable[[], Source | None] | None = None
    poll_seconds: float = 2.0
    fault: Fault = field(default_factory=Fault)
    admin_loopback: bool = True
    admin_token: str | None = None
    grace_seconds: int = 10
    on_ready: Callable[[str, LoadedVersion], None] | None = None


def import_kserve() -> None:
    """Import kserve without letting it parse our command line: kserve.model_server reads sys.argv
    with its own parser at import time."""
    if "kserve.model_server" in sys.modules:
        return
    saved = sys.argv
    sys.argv = saved[:1]
    try:
        import kserve.model_server  # noqa: F401
    finally:
        sys.argv = saved


class Follower(threading.Thread):
    """Polls the desired version and hot-swaps to it: load, warm up, then switch."""

    def __init__(
        self, predictor: Predictor, desired: Callable[[], Source | None], poll: float, stop: threading.Event
    ):
        super().__init__(name="modelops-follow", daemon=True)
        self.predictor = predictor
        self.desired = desired
        self.poll = poll
        self.stop = stop
        self._failed: dict[str, float] = {}
        self._last_problem: str | None = None

    def run(self) -> None:
        while not self.stop.wait(self.poll):
            self.step()

    def step(self) -> None:
        try:
            source = self.desired()
        except ModelOpsError as exc:
            if str(exc) != self._last_problem:
                log.warning("follow: %s; still serving the current version", exc)
                self._last_problem = str(exc)
            return
        self._last_problem = None
        serving = self.predictor.serving
        if source is None or (serving is not None and serving.loaded.version == source.label):
            return
        if time.monotonic() < self._failed.get(source.label, 0.0):
            return
        log.info("follow: %s is now pinned; loading it", source.describe())
        try:
            loaded = load(source)
            warm_up(loaded)
        except ModelOpsError as exc:
            self._failed[source.label] = time.monotonic() + RETRY_FAILED_AFTER_SECONDS
            log.error(
                "follow: cannot switch to %s: %s; still serving the current version", source.describe(), exc
            )
            return
        if not self.stop.is_set():
            self.predictor.activate(loaded)


def _admin_allowed(request: Any, options: ServeOptions) -> str | None:
    """None when the caller may use the admin endpoints, else why not."""
    authorization = request.headers.get("authorization", "")
    if options.admin_token and authorization.startswith("Bearer "):
        if hmac.compare_digest(authorization[len("Bearer ") :].encode(), options.admin_token.encode()):
            return None
        return "wrong admin token"
    client = request.client.host if request.client else ""
    if options.admin_loopback and client in LOOPBACK:
        return None
    if options.admin_token:
        return "admin endpoints need 'Authorization: Bearer <MODELOPS_ADMIN_TOKEN>'"
    return "admin endpoints answer loopback clients only"


def _add_routes(app: Any, predictor: Predictor, switch: FaultSwitch, options: ServeOptions) -> None:
    from modelops.serving.metrics import SeriesKey
    from modelops.serving.predictor import PredictionFailed

    def not_serving(model_name: str) -> JSONResponse | None:
        if model_name != predictor.name:
            return JSONResponse({"error": f"Model with name {model_name} does not exist."}, status_code=404)
        if predictor.serving is None:
            return JSONResponse({"error": f"Model with name {model_name} is not ready."}, status_code=503)
        return None

    async def summaries(model_name: str, version: str | None = None) -> JSONResponse:
        problem = not_serving(model_name)
        if problem is not None:
            return problem
        assert predictor.serving is not None
        key = SeriesKey(predictor.model, predictor.env, version or predictor.serving.loaded.version)
        found = predictor.metrics.summaries(key)
        if found is None:
            return JSONResponse({"error": f"version {key.version} has not served here"}, status_code=404)
        return JSONResponse({"model": key.model, "env": key.env, "version": key.version, **found.snapshot()})

    async def status(model_name: str) -> JSONResponse:
        problem = not_serving(model_name)
        if problem is not None:
            return problem
        serving = predictor.serving
        assert serving is not None
        return JSONResponse(
            {
                "model": predictor.model,
                "env": predictor.env,
                "version": serving.loaded.version,
                "run_id": serving.loaded.run_id,
                "since": serving.since,
                "inputs": serving.loaded.input_names,
                "task": serving.loaded.task,
                "flavor": serving.loaded.flavor,
                "score_edges": list(serving.loaded.score_edges),
                "reference_profile": serving.loaded.has_profile,
                "fault": switch.fault.as_dict(),
            }
        )

    async def get_fault(request: Request) -> JSONResponse:
        refused = _admin_allowed(request, options)
        if refused:
            return JSONResponse({"error": refused}, status_code=403)
        return JSONResponse(switch.fault.as_dict())

    async def set_fault(request: Request) -> JSONResponse:
        refused = _admin_allowed(request, options)
        if refused:
            return JSONResponse({"error": refused}, status_code=403)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise BadInput(
                    'POST /admin/fault: expected a JSON object like {"error_rate": 0.5, "latency_ms": 800, "version": "2"}'
                )
            fault = Fault.parse(body, "POST /admin/fault")
        except ValueError:
            return JSONResponse({"error": "POST /admin/fault: body is not JSON"}, status_code=400)
        except BadInput as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        switch.set(fault)
        client = request.client.host if request.client else "?"
        log.warning(
            "fault switch set by %s: error_rate=%g latency_ms=%g", client, fault.error_rate, fault.latency_ms
        )
        return JSONResponse(fault.as_dict())

    async def prediction_failed(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PredictionFailed)
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=exc.headers)

    app.add_api_route("/v1/models/{model_name}/summaries", summaries, methods=["GET"])
    app.add_api_route("/v1/models/{model_name}/status", status, methods=["GET"])
    app.add_api_route("/admin/fault", get_fault, methods=["GET"])
    app.add_api_route("/admin/fault", set_fault, methods=["POST"])
    app.add_exception_handler(PredictionFailed, prediction_failed)


class _Runner:
    def __init__(self, options: ServeOptions) -> None:
        import_kserve()
        from kserve import ModelServer

        from modelops.serving.metrics import shared_metrics
        from modelops.serving.predictor import Predictor

        self.options = options
        self.switch = FaultSwitch(options.fault)
        self.predictor = Predictor(options.name, options.model, options.env, shared_metrics(), self.switch)
        self.model_server = ModelServer(
            http_port=options.port,
            enable_grpc=False,
            workers=1,
            enable_latency_logging=False,
            grace_period=options.grace_seconds,
        )
        # KServe sends the access log to stdout; stdout belongs to the command's own output.
        # One line per request about its timing is noise next to the metrics.
        logging.getLogger("kserve.trace").setLevel(logging.WARNING)
        for handler in logging.getLogger("uvicorn.access").handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)
        self.stop = threading.Event()
        self.failure: ModelOpsError | None = None
        self.rest: Any = None

    def run(self) -> None:
        from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
        from kserve.model_server import app
        from kserve.protocol.rest.server import RESTServer

        ms = self.model_server
        ms.register_model(self.predictor)
        _add_routes(app, self.predictor, self.switch, self.options)
        self.rest = RESTServer(
            FASTAPI_APP_IMPORT_STRING,
            ms.dataplane,
            ms.model_repository_extension,
            self.options.port,
            workers=1,
            grace_period=self.options.grace_seconds,
            event_loop=ms.event_loop,
            timeout_keep_alive=ms.timeout_keep_alive,
        )
        self.rest.config.host = self.options.host
        # uvicorn handles SIGINT/SIGTERM while it serves and re-raises them once it has drained; these
        # handlers receive that re-raise (and any signal that arrives before uvicorn listens).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        asyncio.run(self._serve())
        self.stop.set()
        if self.failure is not None:
            raise self.failure

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()
        if self.rest is not None:
            self.rest._server.should_exit = True

    async def _serve(self) -> None:
        await asyncio.gather(self.rest.start(), self._load_when_listening())

    async def _load_when_listening(self) -> None:
        uvicorn_server = self.rest._server
        while not uvicorn_server.started:
            if uvicorn_server.should_exit or self.stop.is_set():
                return
            await asyncio.sleep(0.01)
        sockets = [s for server in uvicorn_server.servers for s in server.sockets]
        port = sockets[0].getsockname()[1] if sockets else self.options.port
        host = self.options.host if ":" not in self.options.host else f"[{self.options.host}]"
        url = f"http://{host}:{port}"
        threading.Thread(target=self._load_first, args=(url,), name="modelops-load", daemon=True).start()

    def _load_first(self, url: str) -> None:
        try:
            loaded = load(self.options.source)
            warm_up(loaded)
        except ModelOpsError as exc:
            self.failure = exc
            self.rest._server.should_exit = True
            return
        if self.stop.is_set():
            return
        self.predictor.activate(loaded)
        if self.options.on_ready is not None:
            self.options.on_ready(url, loaded)
        if self.options.follow is not None:
            Follower(self.predictor, self.options.follow, self.options.poll_seconds, self.stop).start()


def _configure_logging() -> None:
    logger = logging.getLogger("modelops")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s modelops %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def serve(options: ServeOptions) -> None:
    """Serve until SIGTERM/SIGINT. Raises ExternalError when the first version cannot load."""
    _configure_logging()
    _Runner(options).run()
