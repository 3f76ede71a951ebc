"""Where a model version to serve comes from: the registry, or a directory KServe filled.

Kept apart from the loader so the CLI can name a source without importing numpy, pandas or mlflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RegistrySource:
    registered_model: str
    version: int
    tracking_uri: str
    task: str = "binary"  # the model's gate.task: what its outputs mean

    @property
    def uri(self) -> str:
        return f"models:/{self.registered_model}/{self.version}"

    @property
    def label(self) -> str:
        return str(self.version)

    def describe(self) -> str:
        return f"{self.registered_model} v{self.version} ({self.tracking_uri})"


@dataclass(frozen=True)
class DirectorySource:
    path: Path
    version: str
    run_id: str | None = None
    tracking_uri: str | None = None
    task: str = "binary"

    @property
    def label(self) -> str:
        return self.version

    def describe(self) -> str:
        return f"{self.path} (version {self.version})"


Source = RegistrySource | DirectorySource
