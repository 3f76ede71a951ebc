"""DVC-tracked data: what the repository declares (dvc.lock, *.dvc) and whether the disk agrees.

The md5s in dvc.lock are the data's identity. Training and evaluation verify the files on disk against
them and refuse to run on anything else: a stale cache or a hand-edited golden set must never train or
gate silently. Reading the declarations needs no DVC call; the CLI is used only to move data
(`pull`/`push`), always with a timeout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from modelops.errors import BadInput, ExternalError

LOCK_FILE = "dvc.lock"
DVC_TIMEOUT_SECONDS = 300
CHUNK = 1 << 20


def _load_yaml(path: Path) -> object:
    import yaml

    try:
        return yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


def _outs_of(entries: object, base: Path, repo: Path, found: dict[str, str]) -> None:
    for out in entries if isinstance(entries, list) else ():
        if not isinstance(out, dict) or "path" not in out or "md5" not in out:
            continue
        rel = (
            os.path.normpath((base / str(out["path"])).relative_to(repo))
            if base != repo
            else str(out["path"])
        )
        found[Path(rel).as_posix()] = str(out["md5"])


def declared_outs(repo: Path) -> dict[str, str]:
    """Repository-relative path → declared md5, from dvc.lock stages and any *.dvc files."""
    found: dict[str, str] = {}
    lock = repo / LOCK_FILE
    if lock.is_file():
        data = _load_yaml(lock)
        stages = data.get("stages", {}) if isinstance(data, dict) else {}
        for stage in stages.values() if isinstance(stages, dict) else ():
            if isinstance(stage, dict):
                _outs_of(stage.get("outs"), repo, repo, found)
    for dvc_file in sorted(repo.rglob("*.dvc")):
        if any(
            part in {".dvc", ".git", ".venv", "node_modules"} for part in dvc_file.relative_to(repo).parts
        ):
            continue
        data = _load_yaml(dvc_file)
        if isinstance(data, dict):
            _outs_of(data.get("outs"), dvc_file.parent.resolve(), repo.resolve(), found)
    return found


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def declared_md5(repo: Path, path: str) -> str:
    outs = declared_outs(repo)
    key = Path(path).as_posix()
    if key not in outs:
        known = ", ".join(sorted(outs)) or "none"
        raise BadInput(f"{repo / LOCK_FILE}: {key} is not a DVC-tracked output (tracked: {known})")
    return outs[key]


def verify(repo: Path, path: str) -> str:
    """The md5 of a tracked file, after checking the disk holds exactly what DVC declares.

    Missing or different data is an ExternalError (exit 3): the remedy is `dvc pull`, not a flag.
    """
    expected = declared_md5(repo, path)
    if expected.endswith(".dir"):
        raise BadInput(f"{path}: is a tracked directory; verify a file inside it instead")
    full = repo / path
    if not full.is_file():
        raise ExternalError(
            f"{path}: missing on disk (DVC declares md5 {expected}); run `dvc pull {path}` and retry"
        )
    actual = md5_of(full)
    if actual != expected:
        raise ExternalError(
            f"{path}: md5 {actual} on disk but DVC declares {expected}; the data is stale or was edited — "
            f"run `dvc pull {path}` (or `dvc repro` and commit dvc.lock) and retry"
        )
    return actual


def data_version(repo: Path) -> str:
    """A short content id of every declared output (changes whenever any tracked file changes)."""
    outs = declared_outs(repo)
    if not outs:
        return "none"
    joined = "".join(f"{path}:{md5}\n" for path, md5 in sorted(outs.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def _read_config(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    from configobj import ConfigObj, ConfigObjError

    try:
        parsed = ConfigObj(str(path), encoding="utf-8", interpolation=False)
    except ConfigObjError as exc:
        raise BadInput(f"{path}: unreadable DVC config ({exc})") from None
    return {
        str(k): {str(kk): str(vv) for kk, vv in v.items()} for k, v in parsed.items() if isinstance(v, dict)
    }


def remotes(repo: Path) -> tuple[dict[str, str], str | None]:
    """(remote name → URL, default remote name), from .dvc/config overridden by .dvc/config.local."""
    urls: dict[str, str] = {}
    default: str | None = None
    for name in ("config", "config.local"):
        for section, values in _read_config(repo / ".dvc" / name).items():
            if section.startswith("remote ") and "url" in values:
                remote = section.split(" ", 1)[1].strip().strip("\"'")
                url = values["url"]
                if "://" not in url and not os.path.isabs(url):
                    url = os.path.normpath(repo / ".dvc" / url)
                urls[remote] = url
            elif section == "core" and values.get("remote"):
                default = values["remote"]
    return urls, default


def remote_url(repo: Path) -> str | None:
    """The URL of the default DVC remote (or of the only remote); None when none is configured."""
    urls, default = remotes(repo)
    if default and default in urls:
        return urls[default]
    if len(urls) == 1:
        return next(iter(urls.values()))
    return None


def _dvc_binary() -> str:
    found = shutil.which("dvc") or shutil.which("dvc", path=str(Path(sys.executable).parent))
    if not found:
        raise ExternalError("dvc: command not found; install the project's requirements (pip install dvc)")
    return found


def run_dvc(repo: Path, *args: str, timeout: float = DVC_TIMEOUT_SECONDS) -> str:
    """Run a DVC command in repo with a timeout; failures are ExternalError with DVC's last line."""
    cmd = [_dvc_binary(), *args]
    try:
        done = subprocess.run(cmd, cwd=repo, text=True, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ExternalError(f"dvc {' '.join(args)} in {repo}: timed out after {timeout:.0f}s") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit {done.returncode}"
        raise ExternalError(f"dvc {' '.join(args)} in {repo}: failed: {reason}")
    return done.stdout


def pull(repo: Path, *paths: str, timeout: float = DVC_TIMEOUT_SECONDS) -> None:
    run_dvc(repo, "pull", "--quiet", *paths, timeout=timeout)


def push(repo: Path, *paths: str, timeout: float = DVC_TIMEOUT_SECONDS) -> None:
    run_dvc(repo, "push", "--quiet", *paths, timeout=timeout)
