"""Writing files so that a failure never leaves a half-written one: a temp file beside it, then a rename."""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """A replaced file keeps its mode; a new one gets what the umask gives (mkstemp's own is 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, text: str) -> None:
    write_bytes_atomically(path, text.encode("utf-8"))


@cache
def _umask() -> int:
    # Reading the umask means setting it; done once, so threads writing files never see the swap.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
