"""The stand-ins for third-party actions, one subcommand each; stdlib only (the runner's python3).

They read what the harness gives every run (HARNESS_ORIGIN, HARNESS_ARTIFACTS, HARNESS_BIN,
HARNESS_KUBE_URL) and what the runner gives every step (GITHUB_*), and write GITHUB_ENV,
GITHUB_PATH and GITHUB_OUTPUT as the real actions do.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path


def env(name: str) -> str:
    return os.environ.get(name, "")


def append(file_var: str, line: str) -> None:
    with open(os.environ[file_var], "a", encoding="utf-8") as out:
        out.write(line + "\n")


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)


def git(*args: str, cwd: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, text=True, capture_output=True)
    if done.returncode != 0:
        fail(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def api(method: str, path: str, token: str, body: object = None) -> object:
    request = urllib.request.Request(
        env("GITHUB_API_URL").rstrip("/") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        fail(f"{method} {path}: HTTP {exc.code} {exc.read().decode(errors='replace')[:300]}")
    return json.loads(raw) if raw else None


def checkout() -> None:
    """actions/checkout: the event's commit (refs/pull/N/merge for a PR), or `ref`; shallow unless asked."""
    workspace = env("GITHUB_WORKSPACE")
    origin = env("HARNESS_ORIGIN")
    ref = env("REF")
    if ref:
        wanted = ref if ref.startswith("refs/") or len(ref) == 40 else f"refs/heads/{ref}"
    elif env("GITHUB_REF").startswith("refs/pull/"):
        wanted = env("GITHUB_REF")
    else:
        wanted = env("GITHUB_SHA")
    Path(workspace).mkdir(parents=True, exist_ok=True)
    for leftover in Path(workspace).iterdir():
        shutil.rmtree(leftover) if leftover.is_dir() and not leftover.is_symlink() else leftover.unlink()
    git("init", "--quiet", "-b", "main", cwd=workspace)
    git("remote", "add", "origin", f"file://{origin}", cwd=workspace)
    shallow = [] if env("FETCH_DEPTH") == "0" else ["--depth=1"]
    if not shallow:
        git("fetch", "--quiet", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*", cwd=workspace)
    git("fetch", "--quiet", "--no-tags", *shallow, "origin", wanted, cwd=workspace)
    git("checkout", "--quiet", "--detach", "FETCH_HEAD", cwd=workspace)
    if env("PERSIST") == "true" and env("TOKEN"):
        # GitHub sees the token as the pusher; the harness's origin reads it from a push option.
        git("config", "push.pushOption", f"token={env('TOKEN')}", cwd=workspace)
    print(f"checked out {wanted} at {git('rev-parse', 'HEAD', cwd=workspace)}")


def app_token() -> None:
    """create-github-app-token: the installation of this repository, then a token for it."""
    app_id, key = env("APP_ID"), env("PRIVATE_KEY")
    if not app_id or not key:
        fail("[@octokit/auth-app] clientId (or appId) and privateKey options are required")
    # The double knows the App's key: a digest stands in for the JWT the real action signs.
    jwt = f"{app_id}.{hashlib.sha256(key.encode()).hexdigest()}"
    repository = env("GITHUB_REPOSITORY")
    installation = api("GET", f"/repos/{repository}/installation", jwt)
    permissions = {k: v for k, v in json.loads(env("PERMISSIONS")).items() if v}
    minted = api(
        "POST",
        f"/app/installations/{installation['id']}/access_tokens",  # type: ignore[index]
        jwt,
        {"repositories": [repository.split("/")[1]], "permissions": permissions},
    )
    token = minted["token"]  # type: ignore[index]
    print(f"::add-mask::{token}")
    append("GITHUB_OUTPUT", f"token={token}")
    print(f"minted an installation token expiring {minted['expires_at']}")  # type: ignore[index]


def _artifact_dir(name: str) -> Path:
    return Path(env("HARNESS_ARTIFACTS")) / env("GITHUB_RUN_ID") / name


def upload() -> None:
    """upload-artifact: files under the paths, relative to the paths' least common ancestor."""
    workspace = Path(env("GITHUB_WORKSPACE"))
    found: list[Path] = []
    roots: list[Path] = []
    for line in env("PATHS").splitlines():
        if not line.strip():
            continue
        path = (workspace / line.strip()).resolve()
        if path.is_dir():
            roots.append(path)
            found += [p for p in path.rglob("*") if p.is_file()]
        elif path.is_file():
            roots.append(path.parent)
            found.append(path)
    if not found:
        message = f"No files were found with the provided path: {env('PATHS')}."
        if env("IF_NO_FILES") == "error":
            fail(message)
        print(message)
        return
    root = Path(os.path.commonpath([str(r) for r in roots]))
    target = _artifact_dir(env("NAME"))
    if target.exists():
        fail(f"an artifact named {env('NAME')} already exists in this run")
    for path in found:
        (target / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / path.relative_to(root))
    print(f"uploaded {len(found)} files as {env('NAME')}")


def download() -> None:
    source = _artifact_dir(env("NAME"))
    if not source.is_dir():
        fail(f"Unable to download artifact(s): Artifact not found for name: {env('NAME')}")
    dest = Path(env("GITHUB_WORKSPACE")) / env("DEST")
    shutil.copytree(source, dest, dirs_exist_ok=True)
    print(f"downloaded {env('NAME')} to {dest}")


def setup_python() -> None:
    """setup-python: the host's interpreter of that version; uv (from the harness) on PATH."""
    version = env("VERSION")
    found = shutil.which(f"python{version}")
    if not found:
        fail(f"The version '{version}' with architecture 'x64' was not found for this operating system.")
    append("GITHUB_PATH", env("HARNESS_BIN"))
    append("GITHUB_ENV", f"pythonLocation={Path(found).parent}")
    append("GITHUB_OUTPUT", f"python-version={version}")


def aws_credentials() -> None:
    """configure-aws-credentials: credentials for the role, accepted by the local S3 server."""
    if not env("ROLE"):
        fail(
            "Credentials could not be loaded, please check your action inputs: Could not load credentials from any providers"
        )
    session = hashlib.sha256(f"{env('ROLE')}{env('GITHUB_RUN_ID')}".encode()).hexdigest()[:16]
    for name, value in (
        ("AWS_ACCESS_KEY_ID", f"ASIA{session.upper()}"),
        ("AWS_SECRET_ACCESS_KEY", session),
        ("AWS_SESSION_TOKEN", f"session-{session}"),
        ("AWS_REGION", env("REGION")),
        ("AWS_DEFAULT_REGION", env("REGION")),
    ):
        if "REGION" not in name:
            print(f"::add-mask::{value}")
        append("GITHUB_ENV", f"{name}={value}")
    append("GITHUB_PATH", str(Path(__file__).resolve().parent / "aws-cli"))


def sticky_comment() -> None:
    """marocchino/sticky-pull-request-comment: one comment per header, updated in place."""
    event = json.loads(Path(env("GITHUB_EVENT_PATH")).read_text())
    number = event["pull_request"]["number"]
    marker = f"<!-- Sticky Pull Request Comment{env('HEADER')} -->"
    body = f"{env('MESSAGE')}\n{marker}"
    repository, token = env("GITHUB_REPOSITORY"), env("TOKEN")
    comments = api("GET", f"/repos/{repository}/issues/{number}/comments", token)
    mine = [c for c in comments if marker in c["body"]]  # type: ignore[union-attr,index]
    if mine:
        api("PATCH", f"/repos/{repository}/issues/comments/{mine[0]['id']}", token, {"body": body})
    else:
        api("POST", f"/repos/{repository}/issues/{number}/comments", token, {"body": body})


COMMANDS = {
    "checkout": checkout,
    "app-token": app_token,
    "upload": upload,
    "download": download,
    "setup-python": setup_python,
    "aws-credentials": aws_credentials,
    "sticky-comment": sticky_comment,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]]()
