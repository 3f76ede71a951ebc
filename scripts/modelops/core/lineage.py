"""Lineage: the tags that tie a registered Version to the code, data and parameters that made it.

Every training run AND the Version it registers carry the same lineage tags, so either can answer
"which commit, which data, which parameters?". Evaluation adds `eval.*` tags to the Version: the
gate's verdict travels with the Version, next to what it was judged on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GIT_COMMIT = "git_commit"
GIT_DIRTY = "git_dirty"
TRAIN_MD5 = "data.train_md5"
GOLDEN_MD5 = "data.golden_md5"
DVC_REMOTE = "data.dvc_remote"
DATA_VERSION = "data_version"
PARAMS_HASH = "params_hash"
MODELOPS_VERSION = "modelops_version"
MODEL = "modelops.model"
TRAIN_COMMAND = "train.command"

EVAL_PASSED = "eval.passed"
EVAL_GOLDEN_MD5 = "eval.golden_md5"
EVAL_EVALUATED_AT = "eval.evaluated_at"
EVAL_CHAMPION_VERSION = "eval.champion_version"
EVAL_ENV = "eval.env"

UNKNOWN = "unknown"
NONE = "none"


def eval_metric_tag(metric: str) -> str:
    return f"eval.{metric}"


def params_hash(params: Mapping[str, Any]) -> str:
    """A short, order-independent id of the training parameters."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Lineage:
    model: str
    git_commit: str | None
    git_dirty: bool | None
    train_md5: str
    golden_md5: str
    dvc_remote: str | None
    data_version: str
    params_hash: str
    modelops_version: str
    command: str | None = None

    def tags(self) -> dict[str, str]:
        command = {TRAIN_COMMAND: self.command} if self.command else {}
        return {
            **command,
            MODEL: self.model,
            GIT_COMMIT: self.git_commit or UNKNOWN,
            GIT_DIRTY: UNKNOWN if self.git_dirty is None else str(self.git_dirty).lower(),
            TRAIN_MD5: self.train_md5,
            GOLDEN_MD5: self.golden_md5,
            DVC_REMOTE: self.dvc_remote or NONE,
            DATA_VERSION: self.data_version,
            PARAMS_HASH: self.params_hash,
            MODELOPS_VERSION: self.modelops_version,
        }


def eval_tags(
    *,
    passed: bool,
    env: str,
    metric: str,
    value: float | None,
    golden_md5: str,
    evaluated_at: str,
    champion_version: int | None,
) -> dict[str, str]:
    """The tags a Version receives after the gate judged it (one env at a time)."""
    return {
        EVAL_PASSED: str(passed).lower(),
        EVAL_ENV: env,
        eval_metric_tag(metric): NONE if value is None else f"{value:.6f}",
        EVAL_GOLDEN_MD5: golden_md5,
        EVAL_EVALUATED_AT: evaluated_at,
        EVAL_CHAMPION_VERSION: NONE if champion_version is None else str(champion_version),
    }
