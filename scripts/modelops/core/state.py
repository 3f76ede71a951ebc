"""Desired state: the typed view of models.yaml.

Vocabulary: a Model is served in Environments; each Environment pins one immutable registry Version,
remembers the previous one (the rollback target), may run a Canary, and keeps quarantined Versions
that automation must never bring back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelops.core.readiness import DEFAULT_MODE, deployment_mode

REQUIRED_ENVIRONMENTS = ("staging", "production")
HISTORY_LIMIT = 10
# Argo CD's name for the cluster it runs in.
DEFAULT_CLUSTER = "https://kubernetes.default.svc"


@dataclass(frozen=True)
class Canary:
    version: int
    traffic: int
    run_id: str | None = None

    def as_dict(self) -> dict[str, int]:
        return {"version": self.version, "traffic": self.traffic}


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    by: str
    action: str
    to: int | None
    from_: int | None
    reason: str
    ref: str | None = None
    override: bool = False


# Registry aliases. Each environment owns `<alias>` (the pin), `<alias>-previous` (the rollback target)
# and `<alias>-canary`; training owns `candidate`; `champion` is kept free for people's own use.
CANDIDATE_ALIAS = "candidate"
RESERVED_ALIASES = (CANDIDATE_ALIAS, "champion")
PREVIOUS_SUFFIX = "-previous"
CANARY_SUFFIX = "-canary"


def is_reserved_alias(alias: str) -> bool:
    """An alias an environment may not take: the reserved names and any rollback-target alias."""
    return alias in RESERVED_ALIASES or alias.endswith(PREVIOUS_SUFFIX)


@dataclass(frozen=True)
class Environment:
    name: str
    version: int | None
    alias: str
    run_id: str | None
    previous: int | None
    canary: Canary | None
    quarantined: tuple[int, ...]
    history: tuple[HistoryEntry, ...]
    replicas: int = 1
    # The pipeline (core/pipeline.py): where a Version must come from, how long it soaks here before
    # the next environment may take it, the canary steps, and where Argo CD deploys it.
    upstream: str | None = None
    soak: str | None = None
    canary_steps: tuple[int, ...] | None = None
    auto_promote: bool | None = None
    cluster: str = DEFAULT_CLUSTER
    namespace: str | None = None
    # KServe's deployment mode there (core/readiness.py): Knative splits traffic, Standard does not.
    deployment_mode: str = DEFAULT_MODE

    @property
    def previous_alias(self) -> str:
        return f"{self.alias}{PREVIOUS_SUFFIX}"

    @property
    def canary_alias(self) -> str:
        return f"{self.alias}{CANARY_SUFFIX}"

    def owned_aliases(self) -> dict[str, int | None]:
        """The aliases this environment owns in the registry, and the version each should name."""
        return {
            self.alias: self.version,
            self.previous_alias: self.previous,
            self.canary_alias: self.canary.version if self.canary else None,
        }


@dataclass(frozen=True)
class GateSettings:
    primary_metric: str = "roc_auc"
    task: str = "binary"
    margin: float = 0.0
    floor: float = 0.70
    bootstrap_samples: int = 2000
    seed: int = 20261121
    confidence: float = 0.95
    slices: tuple[str, ...] = ()
    min_slice_rows: int = 100
    slice_margin: float = 0.02
    ece_margin: float = 0.02
    latency_budget_ms: float = 200.0
    sensitive_column: str | None = None
    fairness_min_ratio: float = 0.8


TRAIN_BACKENDS = ("local", "argo")
DEFAULT_ARGO_TIMEOUT_MINUTES = 240.0


@dataclass(frozen=True)
class ArgoSettings:
    """Where `train.backend: argo` submits: a WorkflowTemplate in a namespace, run in an image."""

    namespace: str | None = None
    template: str | None = None
    image: str | None = None
    timeout_minutes: float = DEFAULT_ARGO_TIMEOUT_MINUTES


@dataclass(frozen=True)
class TrainSettings:
    """How a model trains: the user's command, and where it runs."""

    command: str | None = None
    backend: str = "local"
    argo: ArgoSettings = field(default_factory=ArgoSettings)


@dataclass(frozen=True)
class DriftSettings:
    psi_watch: float = 0.1
    psi_drift: float = 0.2
    pipeline_bug_psi: float = 0.5
    alpha: float = 0.01
    top_features: tuple[str, ...] = ()
    sustained_windows: int = 2
    cooldown_hours: float = 6.0
    seasonal_reference: str = "same_month"


@dataclass(frozen=True)
class Model:
    name: str
    registered_model: str
    owners: tuple[str, ...]
    gate: GateSettings
    drift: DriftSettings
    canary_steps: tuple[int, ...]
    auto_merge_staging: bool
    environments: Mapping[str, Environment]
    train: TrainSettings = field(default_factory=TrainSettings)

    def env(self, name: str) -> Environment:
        from modelops.errors import BadInput

        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments))
            raise BadInput(
                f"models.yaml: model {self.name!r} has no environment {name!r} (known: {known})"
            ) from None

    def quarantined_anywhere(self) -> frozenset[int]:
        """Versions rolled back in any environment: automation never proposes these again."""
        return frozenset(v for e in self.environments.values() for v in e.quarantined)


@dataclass(frozen=True)
class DesiredState:
    models: Mapping[str, Model] = field(default_factory=dict)

    def model(self, name: str) -> Model:
        from modelops.errors import BadInput

        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise BadInput(f"models.yaml: no model {name!r} (known: {known})") from None


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value or ())


def _gate(raw: Mapping[str, Any]) -> GateSettings:
    defaults = GateSettings()
    return GateSettings(
        primary_metric=raw.get("primary_metric", defaults.primary_metric),
        task=str(raw.get("task", defaults.task)),
        margin=float(raw.get("margin", defaults.margin)),
        floor=float(raw.get("floor", defaults.floor)),
        bootstrap_samples=int(raw.get("bootstrap_samples", defaults.bootstrap_samples)),
        seed=int(raw.get("seed", defaults.seed)),
        confidence=float(raw.get("confidence", defaults.confidence)),
        slices=_tuple(raw.get("slices")),
        min_slice_rows=int(raw.get("min_slice_rows", defaults.min_slice_rows)),
        slice_margin=float(raw.get("slice_margin", defaults.slice_margin)),
        ece_margin=float(raw.get("ece_margin", defaults.ece_margin)),
        latency_budget_ms=float(raw.get("latency_budget_ms", defaults.latency_budget_ms)),
        sensitive_column=raw.get("sensitive_column", defaults.sensitive_column),
        fairness_min_ratio=float(raw.get("fairness_min_ratio", defaults.fairness_min_ratio)),
    )


def _drift(raw: Mapping[str, Any]) -> DriftSettings:
    d = DriftSettings()
    return DriftSettings(
        psi_watch=float(raw.get("psi_watch", d.psi_watch)),
        psi_drift=float(raw.get("psi_drift", d.psi_drift)),
        pipeline_bug_psi=float(raw.get("pipeline_bug_psi", d.pipeline_bug_psi)),
        alpha=float(raw.get("alpha", d.alpha)),
        top_features=_tuple(raw.get("top_features")),
        sustained_windows=int(raw.get("sustained_windows", d.sustained_windows)),
        cooldown_hours=float(raw.get("cooldown_hours", d.cooldown_hours)),
        seasonal_reference=str(raw.get("seasonal_reference", d.seasonal_reference)),
    )


def _history(raw: Any) -> tuple[HistoryEntry, ...]:
    return tuple(
        HistoryEntry(
            at=str(h.get("at", "")),
            by=str(h.get("by", "")),
            action=str(h.get("action", "")),
            to=h.get("to"),
            from_=h.get("from"),
            reason=str(h.get("reason", "")),
            ref=None if h.get("ref") is None else str(h.get("ref")),
            override=h.get("override") is True,
        )
        for h in (raw or ())
    )


def _environment(name: str, raw: Mapping[str, Any]) -> Environment:
    destination = raw.get("destination") or {}
    steps = raw.get("canary_steps")
    canary_raw = raw.get("canary")
    canary = (
        Canary(
            version=int(canary_raw["version"]),
            traffic=int(canary_raw["traffic"]),
            run_id=canary_raw.get("run_id"),
        )
        if canary_raw
        else None
    )
    return Environment(
        name=name,
        version=raw.get("version"),
        alias=str(raw.get("alias", name)),
        run_id=raw.get("run_id"),
        previous=raw.get("previous"),
        canary=canary,
        quarantined=_tuple(raw.get("quarantined")),
        history=_history(raw.get("history")),
        replicas=int(raw.get("replicas", 1)),
        upstream=None if raw.get("upstream") is None else str(raw["upstream"]),
        soak=None if raw.get("soak") is None else str(raw["soak"]),
        canary_steps=None if steps is None else tuple(int(s) for s in steps),
        auto_promote=None if raw.get("auto_promote") is None else bool(raw["auto_promote"]),
        cluster=str(destination.get("cluster", DEFAULT_CLUSTER)),
        namespace=None if destination.get("namespace") is None else str(destination["namespace"]),
        deployment_mode=deployment_mode(str(raw.get("deployment_mode") or DEFAULT_MODE)),
    )


def _train(raw: Mapping[str, Any]) -> TrainSettings:
    argo = raw.get("argo") or {}
    return TrainSettings(
        command=raw.get("command"),
        backend=str(raw.get("backend", "local")),
        argo=ArgoSettings(
            namespace=None if argo.get("namespace") is None else str(argo["namespace"]),
            template=None if argo.get("template") is None else str(argo["template"]),
            image=None if argo.get("image") is None else str(argo["image"]),
            timeout_minutes=float(argo.get("timeout_minutes", DEFAULT_ARGO_TIMEOUT_MINUTES)),
        ),
    )


def parse_state(data: Mapping[str, Any]) -> DesiredState:
    """Build the typed state from a document that already passed the JSON Schema."""
    models: dict[str, Model] = {}
    for name, raw in (data.get("models") or {}).items():
        promotion = raw.get("promotion") or {}
        train = raw.get("train") or {}
        models[name] = Model(
            name=name,
            registered_model=str(raw["registered_model"]),
            owners=_tuple(raw.get("owners")),
            gate=_gate(raw.get("gate") or {}),
            drift=_drift(raw.get("drift") or {}),
            canary_steps=_tuple(promotion.get("canary_steps")),
            auto_merge_staging=bool(promotion.get("auto_merge_staging", False)),
            environments={
                env_name: _environment(env_name, env_raw)
                for env_name, env_raw in (raw.get("environments") or {}).items()
            },
            train=_train(train),
        )
    return DesiredState(models=models)
