"""`modelops sandbox create DIR`: a whole delivery world on one machine, with no accounts.

    DIR/origin.git   bare git repository, the sandbox's "GitHub"
    DIR/repo         working clone whose origin is DIR/origin.git
    DIR/mlflow       MLflow registry: SQLite backend + local artifact directory
    DIR/dvc-remote   DVC remote (a local directory)
    DIR/forge        local pull-request state (the embedded stand-in for GitHub PRs)
    DIR/state        relay incidents, retrain ledger, notifications

The clone carries `.modelops/sandbox.json` (git-ignored), so every `modelops` command run inside it
uses these with no flags or variables, and never the user's own checkout or registry.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from modelops.adapters.git import Git
from modelops.context import SANDBOX_FILE, Context
from modelops.errors import BadInput, ExternalError
from modelops.output import progress

SANDBOX_USER = {"user.name": "modelops-sandbox", "user.email": "sandbox@modelops.invalid"}


@dataclass(frozen=True)
class Sandbox:
    workdir: str
    repo: str
    origin: str
    tracking_uri: str
    artifact_root: str
    dvc_remote: str
    forge: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _tracked_files(source: Path) -> list[Path]:
    git = Git(source)
    listing = git.run("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return [Path(p) for p in listing.split("\0") if p and (source / p).is_file()]


def _dvc(repo: Path, *args: str) -> str:
    from modelops.adapters.dvc_data import run_dvc

    # dvc.yaml's stages call `modelops`; make sure they find this installation's.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return run_dvc(repo, *args)


def create_sandbox(directory: Path, source: Path) -> Sandbox:
    workdir = directory.resolve()
    if workdir.exists() and not workdir.is_dir():
        raise BadInput(f"{workdir}: is a file, not a directory; choose a new directory")
    if workdir.exists() and any(workdir.iterdir()):
        raise BadInput(f"{workdir}: already exists and is not empty; choose a new directory")
    if not (source / ".git").exists():
        raise BadInput(f"{source}: not a git checkout; run sandbox create from the repository")
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(
            f"{workdir}: cannot create it ({exc.strerror or exc}); choose another directory"
        ) from None
    try:
        return _build(workdir, source)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _build(workdir: Path, source: Path) -> Sandbox:
    origin, repo = workdir / "origin.git", workdir / "repo"
    mlflow_dir, remote, forge = workdir / "mlflow", workdir / "dvc-remote", workdir / "forge"
    for d in (mlflow_dir / "artifacts", remote, forge, workdir / "state"):
        d.mkdir(parents=True)
    # The sandbox's registry: an empty SQLite database, whose tables MLflow makes on first use (the
    # registry adapter names a missing one instead of making it again empty).
    (mlflow_dir / "mlflow.db").touch()

    progress(f"seeding {origin} from {source}")
    source_git = Git(source)
    source_rev = source_git.head() + ("+dirty" if source_git.is_dirty() else "")
    with tempfile.TemporaryDirectory(prefix="modelops-seed-") as seed_dir:
        seed = Path(seed_dir)
        for rel in _tracked_files(source):
            (seed / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, seed / rel)
        g = Git(seed)
        g.run("init", "--quiet", "-b", "main")
        for key, value in SANDBOX_USER.items():
            g.run("config", key, value)
        g.run("add", "-A")
        g.run("commit", "--quiet", "-m", f"sandbox: seed from {source_rev}")
        Git(workdir).run("init", "--quiet", "--bare", "-b", "main", str(origin))
        g.run("push", "--quiet", str(origin), "main")
    Git(workdir).run("clone", "--quiet", str(origin), str(repo))
    clone = Git(repo)
    for key, value in SANDBOX_USER.items():
        clone.run("config", key, value)

    sandbox = Sandbox(
        workdir=str(workdir),
        repo=str(repo),
        origin=str(origin),
        tracking_uri=f"sqlite:///{mlflow_dir / 'mlflow.db'}",
        artifact_root=(mlflow_dir / "artifacts").as_uri(),
        dvc_remote=str(remote),
        forge=str(forge),
    )
    (repo / SANDBOX_FILE).parent.mkdir(parents=True, exist_ok=True)
    (repo / SANDBOX_FILE).write_text(json.dumps(sandbox.as_dict(), indent=2) + "\n", encoding="utf-8")

    progress("materialising the DVC data and pushing it to the sandbox remote")
    _dvc(repo, "remote", "add", "--local", "--default", "sandbox", str(remote))
    _materialise_data(source, repo)
    _dvc(repo, "push", "--quiet")
    if Git(repo).is_dirty():
        raise ExternalError(f"{repo}: DVC changed tracked files while materialising the data")
    return sandbox


def _materialise_data(source: Path, repo: Path) -> None:
    """Reuse the source checkout's data when it is at the declared md5s; otherwise regenerate it."""
    from modelops.adapters.dvc_data import declared_outs, md5_of

    outs = declared_outs(repo)
    reusable = all((source / p).is_file() and md5_of(source / p) == md5 for p, md5 in outs.items())
    if outs and reusable:
        for rel in outs:
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, repo / rel)
        _dvc(repo, "commit", "--force", "--quiet")
    else:
        _dvc(repo, "repro", "--quiet")


def sandbox_context(sandbox: Sandbox) -> Context:
    return Context(repo=Path(sandbox.repo))
