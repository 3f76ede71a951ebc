"""`modelops status` shows the active and the next freeze window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.helpers import REPO_ROOT, modelops


def test_status_shows_the_active_and_next_window(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    (tmp_path / "models.yaml").write_text((REPO_ROOT / "models.yaml").read_text("utf-8"), "utf-8")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "promotion.yaml").write_text(
        "freeze_windows:\n"
        f"  - {{name: incident-review, start: '{today - timedelta(days=1)}', end: '{today + timedelta(days=1)}'}}\n"
        f"  - {{name: next-quarter, start: '{today + timedelta(days=90)}', end: '{today + timedelta(days=91)}'}}\n",
        "utf-8",
    )
    result = modelops("status", "--offline", "--repo", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    freeze = json.loads(result.stdout)["freeze"]
    assert freeze["active"]["name"] == "incident-review"
    assert freeze["next"]["name"] == "next-quarter"
    assert freeze["next"]["start"] == f"{today + timedelta(days=90)}T00:00:00Z"
    text = modelops("status", "--offline", "--repo", str(tmp_path)).stdout
    assert "freeze now: incident-review" in text and "next freeze: next-quarter" in text
