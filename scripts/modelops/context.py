"""Where a command runs: the repository, its models.yaml, and which registry, remote and forge serve it.

Resolution, most specific first:
1. explicit flags (`--repo`, `--tracking-uri`);
2. a sandbox's `.modelops/sandbox.json` in the working clone: inside a sandbox every command uses
   the sandbox's registry, DVC remote and forge, even when the shell exports production variables,
   so a sandbox can never write to a real registry by accident;
3. the standard variables: MLFLOW_TRACKING_URI, GITHUB_TOKEN + GITHUB_REPOSITORY;
4. embedded defaults under `<repo>/.modelops/` (git-ignored), except on GitHub Actions, where a
   missing MLFLOW_TRACKING_URI is bad input rather than a registry that dies with the runner.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from modelops.errors import BadInput

SANDBOX_FILE = Path(".modelops") / "sandbox.json"
MODELS_FILE = "models.yaml"


def find_repo_root(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / MODELS_FILE).is_file():
            return candidate
    raise BadInput(f"{start}: no {MODELS_FILE} here or in any parent directory; pass --repo DIR")


@dataclass
class Context:
    repo: Path
    tracking_uri_override: str | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def discover(cls, repo: str | None = None, tracking_uri: str | None = None) -> Context:
        root = Path(repo).resolve() if repo else find_repo_root(Path.cwd().resolve())
        if repo and not (root / MODELS_FILE).is_file():
            raise BadInput(f"{root}: --repo has no {MODELS_FILE}")
        return cls(repo=root, tracking_uri_override=tracking_uri)

    @property
    def models_path(self) -> Path:
        return self.repo / MODELS_FILE

    @cached_property
    def sandbox(self) -> dict[str, Any] | None:
        path = self.repo / SANDBOX_FILE
        if not path.is_file():
            return None
        try:
            loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInput(f"{path}: unreadable sandbox file ({exc})") from None
        return loaded

    @property
    def state_dir(self) -> Path:
        """Local, git-ignored state: the relay's incident log, the retrain ledger, the default registry."""
        if self.sandbox:
            return Path(self.sandbox["workdir"]) / "state"
        return self.repo / ".modelops"

    @property
    def tracking_uri(self) -> str:
        if self.tracking_uri_override:
            return self.tracking_uri_override
        if self.sandbox:
            return str(self.sandbox["tracking_uri"])
        if self.env.get("MLFLOW_TRACKING_URI"):
            return self.env["MLFLOW_TRACKING_URI"]
        if self.env.get("GITHUB_ACTIONS") == "true":
            # A runner is thrown away with its disk: a registry there would register versions nobody sees.
            raise BadInput(
                "MLFLOW_TRACKING_URI is not set: on GitHub Actions the registry must be a tracking server; "
                "set the repository variable MLFLOW_TRACKING_URI (docs/github.md)"
            )
        return f"sqlite:///{self.repo / '.modelops' / 'mlflow.db'}"

    @property
    def artifact_root(self) -> str | None:
        """Where new experiments keep artifacts; None lets a tracking server decide."""
        if self.sandbox:
            return str(self.sandbox["artifact_root"])
        if self.tracking_uri.startswith("sqlite:"):
            return (self.repo / ".modelops" / "mlartifacts").as_uri()
        return None

    @property
    def forge_kind(self) -> str:
        if self.sandbox:
            return "local"
        # A token, or a GitHub App whose installation tokens are minted as needed.
        credentials = self.env.get("GITHUB_TOKEN") or self.env.get("MODELOPS_APP_CLIENT_ID")
        if credentials and self.env.get("GITHUB_REPOSITORY"):
            return "github"
        return "none"

    @property
    def actor(self) -> str:
        """Who acts: the GitHub actor in a workflow, the login of whoever runs the command otherwise."""
        return self.env.get("GITHUB_ACTOR") or getpass.getuser()

    @property
    def local_forge_dir(self) -> Path | None:
        return Path(self.sandbox["forge"]) if self.sandbox else None

    @property
    def dvc_remote(self) -> str | None:
        return str(self.sandbox["dvc_remote"]) if self.sandbox else None

    def ensure_state_dir(self) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return self.state_dir
