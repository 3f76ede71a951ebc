from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, modelops, require_binary


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, str]:
    """A fresh sandbox built from this checkout: origin, clone, registry, DVC remote, forge."""
    require_binary("git")
    result = modelops("sandbox", "create", str(tmp_path / "world"), "--json", cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
