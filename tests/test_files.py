"""A file written atomically is whole or untouched, and keeps the mode a plain write would give it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from modelops.files import write_atomically


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_readable_as_a_plain_write_would_make_it(tmp_path: Path) -> None:
    plain, atomic = tmp_path / "plain.yaml", tmp_path / "atomic.yaml"
    plain.write_text("x")
    write_atomically(atomic, "x")
    assert _mode(atomic) == _mode(plain)


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "run.sh"
    path.write_text("old")
    path.chmod(0o750)
    write_atomically(path, "new")
    assert path.read_text() == "new" and _mode(path) == 0o750


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("old")

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["models.yaml"]
