"""What DVC declares and whether the disk agrees: dvc.lock and *.dvc files, remotes, verification."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelops.adapters import dvc_data
from modelops.core.lineage import Lineage, eval_tags, params_hash
from modelops.errors import BadInput, ExternalError
from tests.helpers import REPO_ROOT


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_bytes(b"x\n1\n")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "b.csv").write_bytes(b"y\n2\n")
    a_md5, b_md5 = _md5(b"x\n1\n"), _md5(b"y\n2\n")
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  gen:\n    cmd: gen\n    outs:\n"
        f"    - path: data/a.csv\n      hash: md5\n      md5: {a_md5}\n      size: 4\n"
    )
    (tmp_path / "raw" / "b.csv.dvc").write_text(f"outs:\n- md5: {b_md5}\n  size: 4\n  path: b.csv\n")
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text(
        "[core]\n    remote = shared\n['remote \"shared\"']\n    url = s3://bucket/dvc\n"
    )
    return tmp_path


def test_outs_come_from_dvc_lock_and_dvc_files(repo: Path) -> None:
    assert dvc_data.declared_outs(repo) == {
        "data/a.csv": _md5(b"x\n1\n"),
        "raw/b.csv": _md5(b"y\n2\n"),
    }


def test_this_repository_declares_train_and_golden() -> None:
    outs = dvc_data.declared_outs(REPO_ROOT)
    assert {"data/churn/train.csv", "data/churn/golden.csv"} <= set(outs)


def test_verify_returns_the_md5_of_matching_data(repo: Path) -> None:
    assert dvc_data.verify(repo, "raw/b.csv") == _md5(b"y\n2\n")


def test_verify_refuses_edited_data(repo: Path) -> None:
    (repo / "data" / "a.csv").write_bytes(b"x\n9\n")
    with pytest.raises(ExternalError, match=r"data/a.csv: md5 .* on disk but DVC declares .*dvc pull"):
        dvc_data.verify(repo, "data/a.csv")


def test_verify_refuses_missing_data(repo: Path) -> None:
    (repo / "data" / "a.csv").unlink()
    with pytest.raises(ExternalError, match=r"missing on disk.*dvc pull data/a\.csv"):
        dvc_data.verify(repo, "data/a.csv")


def test_an_untracked_path_is_bad_input(repo: Path) -> None:
    with pytest.raises(BadInput, match="not a DVC-tracked output"):
        dvc_data.verify(repo, "data/other.csv")


def test_remote_url_prefers_the_local_config(repo: Path) -> None:
    assert dvc_data.remote_url(repo) == "s3://bucket/dvc"
    (repo / ".dvc" / "config.local").write_text(
        "[core]\n    remote = sandbox\n['remote \"sandbox\"']\n    url = /tmp/remote\n"
    )
    assert dvc_data.remote_url(repo) == "/tmp/remote"


def test_no_remote_is_none(tmp_path: Path) -> None:
    assert dvc_data.remote_url(tmp_path) is None


def test_data_version_changes_with_any_declared_md5(repo: Path) -> None:
    before = dvc_data.data_version(repo)
    lock = repo / "dvc.lock"
    lock.write_text(lock.read_text().replace(_md5(b"x\n1\n"), "0" * 32))
    assert dvc_data.data_version(repo) != before
    assert len(before) == 12


def test_params_hash_ignores_key_order_but_not_values() -> None:
    assert params_hash({"a": 1, "b": {"c": 2}}) == params_hash({"b": {"c": 2}, "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 2})


def test_lineage_tags_spell_unknowns_explicitly() -> None:
    tags = Lineage("churn", None, None, "t", "g", None, "v", "p", "0.1.0").tags()
    assert tags["git_commit"] == "unknown" and tags["git_dirty"] == "unknown"
    assert tags["data.dvc_remote"] == "none"
    evaluated = eval_tags(
        passed=True, env="production", metric="roc_auc", value=0.81234567, golden_md5="g",
        evaluated_at="2026-01-01T00:00:00Z", champion_version=None,
    )  # fmt: skip
    assert evaluated == {
        "eval.passed": "true",
        "eval.env": "production",
        "eval.roc_auc": "0.812346",
        "eval.golden_md5": "g",
        "eval.evaluated_at": "2026-01-01T00:00:00Z",
        "eval.champion_version": "none",
    }
