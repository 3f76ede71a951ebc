"""Typed errors. The CLI maps each family to an exit code; messages are one line for users."""

from __future__ import annotations

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_BAD_INPUT = 2
EXIT_EXTERNAL = 3


class ModelOpsError(Exception):
    """Base: an error whose message is fit to show a user as one line."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class Denied(ModelOpsError):
    """A gate or policy said no (exit 1)."""

    exit_code = EXIT_DENIED


class BadInput(ModelOpsError):
    """The user's input is wrong: a file, field, flag or value (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class ExternalError(ModelOpsError):
    """An external system failed or timed out: MLflow, git, DVC, GitHub, Kubernetes (exit 3)."""

    exit_code = EXIT_EXTERNAL
