"""Fixtures shared by every suite. Helpers live in tests/helpers.py."""

from __future__ import annotations

import pytest

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
