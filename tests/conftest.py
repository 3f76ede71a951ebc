"""Fixtures shared by every suite. Helpers live in tests/helpers.py."""

from __future__ import annotations

import os

import pytest

# The suite runs MLflow servers, model servers, Prometheus and trainings side by side on two cores.
# OpenMP pools sized to every core then spin against each other: one churn fit took 8-17 s instead of
# 0.8 s. Set before any native library loads, and inherited by every process a test starts.
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits made by tests carry a known identity, whatever the machine's git config says."""
    for var, value in GIT_IDENTITY.items():
        monkeypatch.setenv(var, value)
