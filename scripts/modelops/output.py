"""Printing for commands: JSON on stdout with --json, human text otherwise; progress on stderr."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def emit(args: Any, data: Any, human: str | None = None) -> None:
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
        sys.stdout.write("\n")
    elif human is not None:
        sys.stdout.write(human if human.endswith("\n") else human + "\n")
    sys.stdout.flush()


def github_output(path: str | None, **values: object) -> None:
    """Append `key=value` lines to a GitHub Actions output file (the step's $GITHUB_OUTPUT)."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        for key, value in values.items():
            text = "" if value is None else str(value)
            if "\n" in text:
                raise ValueError(f"output {key}: one line expected")
            out.write(f"{key}={text}\n")


def progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


@contextmanager
def step(message: str) -> Iterator[None]:
    """Announce a long step on stderr and say how long it took."""
    started = time.monotonic()
    progress(message)
    yield
    print(f"  done in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
