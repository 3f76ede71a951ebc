"""The KServe predictor: scores with the serving version and records the metric contract.

One predictor serves one model in one environment. The version behind it can change while it runs
(a hot swap to a newly pinned version): each request reads the serving version once, so its
prediction, its metrics and its X-Model-Version header always name the same version.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kserve import Model
from kserve.errors import ModelNotReady
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from modelops.core import contract
from modelops.core.metrics import outputs_problem, served_scores
from modelops.serving.fault import FaultSwitch, InjectedFault
from modelops.serving.loader import LoadedVersion
from modelops.serving.metrics import SeriesKey, ServingMetrics
from modelops.serving.payload import BadPayload, to_frame, v1_response, v2_outputs
from modelops.serving.summaries import FeatureSummaries, ScoreCounts

log = logging.getLogger("modelops.serving")

V2_TYPES = {"double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32", "boolean": "BOOL"}
# Scoring runs in a worker thread above this many rows, so one big batch cannot stall the event loop.
INLINE_ROWS = 64


class PredictionFailed(Exception):
    """A prediction that failed, with the status to answer and the version that failed it."""

    def __init__(self, status: int, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


@dataclass(frozen=True)
class Serving:
    loaded: LoadedVersion
    key: SeriesKey
    summaries: FeatureSummaries
    scores: ScoreCounts
    since: float

    @property
    def headers(self) -> dict[str, str]:
        return {contract.HEADER_VERSION: self.loaded.version, contract.HEADER_RUN_ID: self.loaded.run_id}


class Predictor(Model):  # type: ignore[misc]  # kserve ships no types
    def __init__(self, name: str, model: str, env: str, metrics: ServingMetrics, fault: FaultSwitch) -> None:
        super().__init__(name, return_response_headers=True)
        self.model = model
        self.env = env
        self.metrics = metrics
        self.fault = fault
        self.serving: Serving | None = None

    # KServe's default start() marks a model ready at registration; ours is ready after warm-up only.
    def start(self) -> None:
        return None

    def load(self) -> bool:
        return self.ready

    def activate(self, loaded: LoadedVersion) -> Serving:
        """Switch to an already warmed-up version; from now on requests use it."""
        key = SeriesKey(self.model, self.env, loaded.version)
        since = time.time()
        summaries = self.metrics.start_serving(
            key, loaded.run_id, loaded.specs, at=since, score_edges=loaded.score_edges
        )
        scores = self.metrics.scores(key)
        assert scores is not None  # start_serving made it
        previous = self.serving
        self.serving = Serving(loaded, key, summaries, scores, since)
        self.ready = True
        if previous is None:
            log.info("%s/%s: serving v%s (run %s)", self.model, self.env, loaded.version, loaded.run_id)
        elif previous.loaded.version != loaded.version:
            log.info(
                "%s/%s: now serving v%s (was v%s)",
                self.model,
                self.env,
                loaded.version,
                previous.loaded.version,
            )
        return self.serving

    def get_input_types(self) -> list[dict[str, Any]]:
        if self.serving is None:
            return []
        types = self.serving.loaded.input_types
        return [{"name": n, "datatype": V2_TYPES.get(t, "BYTES"), "shape": [-1]} for n, t in types.items()]

    def get_output_types(self) -> list[dict[str, Any]]:
        if self.serving is not None and self.serving.loaded.task == "multiclass":
            return [
                {"name": "predictions", "datatype": "FP64", "shape": [-1, -1]},
                {"name": "labels", "datatype": "BYTES", "shape": [-1]},
            ]
        return [{"name": "predictions", "datatype": "FP64", "shape": [-1]}]

    async def predict(
        self,
        payload: dict[str, Any] | InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        serving = self.serving
        if serving is None:
            raise ModelNotReady(self.name)
        if response_headers is not None:
            response_headers.update(serving.headers)
        labels = serving.key.labels()
        started = time.perf_counter()
        try:
            await self.fault.apply(str(serving.loaded.version))
            frame = to_frame(payload, serving.loaded.input_types)
            serving.summaries.observe(frame)
            if len(frame) > INLINE_ROWS:
                outputs = await asyncio.to_thread(serving.loaded.predict, frame)
            else:
                outputs = serving.loaded.predict(frame)
            loaded = serving.loaded
            problem = outputs_problem(loaded.task, outputs, len(frame), loaded.classes)
            if problem:
                raise ValueError(problem)
        except BadPayload as exc:
            self._failed(labels, started)
            raise PredictionFailed(
                400, f"bad request for {self.name} v{serving.loaded.version}: {exc}", serving.headers
            ) from None
        except InjectedFault as exc:
            self._failed(labels, started)
            raise PredictionFailed(500, str(exc), serving.headers) from None
        except Exception as exc:
            self._failed(labels, started)
            log.exception("%s v%s: prediction failed", self.name, serving.loaded.version)
            raise PredictionFailed(
                500,
                f"{self.name} v{serving.loaded.version} failed to score: {type(exc).__name__}: {exc}",
                serving.headers,
            ) from None
        self.metrics.latency.labels(**labels).observe(time.perf_counter() - started)
        self.metrics.requests.labels(**labels, outcome="ok").inc()
        loaded = serving.loaded
        serving.scores.observe(served_scores(loaded.task, outputs))
        if isinstance(payload, InferRequest):
            return InferResponse(
                response_id=payload.id or str(uuid.uuid4()),
                model_name=self.name,
                model_version=loaded.version,
                infer_outputs=[InferOutput(**o) for o in v2_outputs(loaded.task, outputs, loaded.classes)],
            )
        return v1_response(loaded.task, outputs, loaded.classes)

    def _failed(self, labels: dict[str, str], started: float) -> None:
        self.metrics.latency.labels(**labels).observe(time.perf_counter() - started)
        self.metrics.requests.labels(**labels, outcome="error").inc()
