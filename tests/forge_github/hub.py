"""A stateful GitHub double: the REST (and one GraphQL) surface the project and its workflows use, and
GitHub's rules for turning events into workflow runs, run through act.

It grows the request-by-request double in double.py into a repository that remembers: pull requests,
reviews, labels, comments, check runs, issues, installation tokens. Every push to the harness's bare
origin passes its pre-receive hook, which asks this double whether the ruleset allows it; the
post-receive hook reports the push, which becomes a `push` event. The rules it keeps:

- an event caused by a run's GITHUB_TOKEN starts no workflow, except workflow_dispatch and
  repository_dispatch;
- a ruleset on main: changes through a pull request, the required checks green on the head, the
  bypass actors (the App) exempt;
- auto-merge only when the repository allows it, merging once the required checks are green;
- installation tokens expire an hour after they are minted (`clock` can be moved on);
- primary (403, x-ratelimit-remaining 0) and secondary (429, retry-after) rate limits on request;
- repository_dispatch's client_payload: at most 10 top-level properties, under 64 KB;
- one running and one pending run per concurrency group: a newer pending run replaces the older;
- a fork runs no workflow until its owner enables Actions, and a disabled workflow starts no run.

Each request and each JSON answer is checked against GitHub's OpenAPI description (and the GraphQL
mutation against the GraphQL schema) when ../shared is present; `violations` lists what did not conform.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from werkzeug import Request, Response
from werkzeug.serving import make_server

from tests.forge_github import contract
from tests.forge_github.double import OWNER, REPO, REPOSITORY

APP_ID = "424242"
APP_CLIENT_ID = "Iv23liHarnessApp"
APP_SLUG = "modelops"
APP_BOT = f"{APP_SLUG}[bot]"
ACTIONS_BOT = "github-actions[bot]"
INSTALLATION_ID = 777
TOKEN_LIFETIME_S = 3600
REQUIRED_CHECKS = (
    "lint and type check",
    "unit tests",
    "desired state and manifests",
    "workflow lint",
    "promotion policy",
)
DISPATCH_EVENTS = ("workflow_dispatch", "repository_dispatch")


@dataclass(frozen=True)
class Actor:
    login: str
    kind: str  # "user", "app" (an installation token) or "actions" (a run's GITHUB_TOKEN)
    expires_at: float | None = None

    @property
    def starts_workflows(self) -> bool:
        return self.kind != "actions"


@dataclass
class Pull:
    number: int
    head: str
    base: str
    title: str
    body: str
    author: str
    head_sha: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    auto_merge_by: Actor | None = None  # auto-merge merges as whoever enabled it


@dataclass
class Run:
    id: int
    workflow: str
    event: str
    payload: dict[str, Any]
    sha: str
    actor: str
    group: str | None
    jobs: list[str] | None = None
    status: str = "queued"  # queued, in_progress, completed, cancelled
    result: Any = None
    pr: int | None = None


def glob_match(pattern: str, path: str) -> bool:
    """GitHub's paths filter: `*` stays within a directory, `**` crosses them."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            regex += ".*"
            i += 2
            if pattern.startswith("/", i):
                regex = regex[:-2] + "(?:.*/)?"
                i += 1
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, path) is not None


def triggers(document: dict[Any, Any]) -> dict[str, Any]:
    """The `on:` of a workflow as a mapping (YAML 1.1 reads a bare `on` key as True)."""
    on = document.get("on", document.get(True))
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {name: {} for name in on}
    return {name: (spec or {}) for name, spec in (on or {}).items()}


def evaluate(expression: str, context: dict[str, Any]) -> str:
    """The subset of the expression language concurrency groups use: paths, 'strings' and ||."""

    def one(expr: str) -> str:
        value: Any = ""
        for alternative in expr.split("||"):
            alternative = alternative.strip()
            if alternative.startswith("'"):
                value = alternative.strip("'")
            else:
                value = context
                for part in alternative.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
            if value:
                return str(value)
        return "" if value is None else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: one(m.group(1)), expression)


class Hub:
    def __init__(
        self,
        origin: Path,
        workdir: Path,
        *,
        execute: Callable[[Run, Path, dict[str, str]], Any],
        owners: tuple[str, ...] = ("alice", "bob"),
        max_parallel_runs: int = 2,
    ) -> None:
        self.origin = origin
        self.workdir = workdir
        self._execute = execute
        self.lock = threading.RLock()
        self.clock_offset = 0.0
        self.allow_auto_merge = True
        # A fork's Actions stay off until its owner enables them (the Actions tab); a workflow can be
        # disabled on its own (PUT /repos/{owner}/{repo}/actions/workflows/{id}/disable).
        self.actions_enabled = True
        self.disabled_workflows: set[str] = set()
        self.ruleset_enforced = False
        self.required_checks = list(REQUIRED_CHECKS)
        self.bypass = {APP_BOT}
        self.app_private_key = "-----BEGIN RSA PRIVATE KEY-----\nharness\n-----END RSA PRIVATE KEY-----"
        self.owners = owners
        self.tokens: dict[str, Actor] = {}
        self.pulls: dict[int, Pull] = {}
        self.comments: list[dict[str, Any]] = []
        self.commit_comments: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.check_runs: list[dict[str, Any]] = []
        self.dispatches: list[dict[str, Any]] = []
        self.runs: list[Run] = []
        self.violations: list[str] = []
        self.requests: list[tuple[str, str, str]] = []
        # (monotonic time, method, path, status) of every API answer: when a client asked again, and why.
        self.answers: list[tuple[float, str, str, int]] = []
        self.refused_pushes: list[str] = []
        self.pushes: list[tuple[str, str, str, str]] = []  # ref, before, after, who
        self.primary_remaining: int | None = None
        self.secondary_limited = 0
        self.secondary_retry_after_s = 1
        self._ids = itertools.count(2000)
        self._numbers = itertools.count(1)
        self._run_ids = itertools.count(9001)
        self._pending: dict[str, Run] = {}
        self._running_groups: set[str] = set()
        self._idle = threading.Condition(self.lock)
        self._slots = threading.Semaphore(max_parallel_runs)
        self.validate = contract.available()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        for login in (*owners, "carol", "mallory"):
            self.tokens[f"ghp_{login}"] = Actor(login, "user")

    # -- the harness's handles ------------------------------------------------------------------------

    def close(self) -> None:
        self._server.shutdown()

    def now(self) -> float:
        return time.time() + self.clock_offset

    def token_of(self, login: str) -> str:
        return f"ghp_{login}"

    def app_token(self) -> str:
        """An installation token, as the App's own services (the relay) mint one."""
        return self._mint(APP_BOT, "app")["token"]

    def _mint(self, login: str, kind: str) -> dict[str, Any]:
        token = f"ghs_{kind}_{next(self._ids)}"
        expires = self.now() + TOKEN_LIFETIME_S
        self.tokens[token] = Actor(login, kind, expires)
        return {"token": token, "expires_at": _iso(expires)}

    def actor(self, token: str) -> Actor | None:
        found = self.tokens.get(token)
        if found is None or (found.expires_at is not None and found.expires_at <= self.now()):
            return None
        return found

    def origin_git(self, *args: str, check: bool = True, input: str | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=self.origin, text=True, capture_output=True, input=input)
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
        return done.stdout.strip()

    def main_sha(self) -> str:
        return self.origin_git("rev-parse", "refs/heads/main")

    # -- events → runs ----------------------------------------------------------------------------

    def _workflows(self, sha: str) -> dict[str, dict[Any, Any]]:
        names = self.origin_git("ls-tree", "--name-only", f"{sha}:.github/workflows").splitlines()
        return {
            name: yaml.safe_load(self.origin_git("show", f"{sha}:.github/workflows/{name}"))
            for name in names
            if name.endswith((".yml", ".yaml"))
        }

    def emit(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        sha: str,
        actor: Actor,
        workflow: str | None = None,
        jobs: list[str] | None = None,
        pr: int | None = None,
    ) -> list[Run]:
        """GitHub's event → workflow runs rule, then the runs are queued (asynchronously, as on GitHub)."""
        if not self.actions_enabled or (not actor.starts_workflows and event not in DISPATCH_EVENTS):
            return []
        payload = {
            **payload,
            "repository": {
                "full_name": REPOSITORY,
                "name": REPO,
                "owner": {"login": OWNER},
                "default_branch": "main",
            },
            "sender": {"login": actor.login},
        }
        started = []
        for name, document in self._workflows(sha).items():
            if (workflow is not None and name != workflow) or name in self.disabled_workflows:
                continue
            on = triggers(document)
            if event not in on or not self._filters_match(event, on[event] or {}, payload):
                continue
            context = {"github": {"event": payload, "event_name": event}, "inputs": payload.get("inputs", {})}
            concurrency = document.get("concurrency")
            group_expr = concurrency.get("group") if isinstance(concurrency, dict) else concurrency
            group = evaluate(str(group_expr), context) if group_expr else None
            run = Run(next(self._run_ids), name, event, payload, sha, actor.login, group, jobs, pr=pr)
            started.append(run)
            self._queue(run)
        return started

    def _filters_match(self, event: str, spec: dict[str, Any], payload: dict[str, Any]) -> bool:
        if event == "push":
            branch = payload["ref"].removeprefix("refs/heads/")
            if "branches" in spec and not any(fnmatch.fnmatch(branch, b) for b in spec["branches"]):
                return False
            if "paths" in spec:
                changed = payload.get("_changed", [])
                return any(glob_match(p, path) for p in spec["paths"] for path in changed)
            return True
        if event in ("pull_request", "pull_request_review"):
            if "types" in spec and payload["action"] not in spec["types"]:
                return False
            base = payload["pull_request"]["base"]["ref"]
            return "branches" not in spec or any(fnmatch.fnmatch(base, b) for b in spec["branches"])
        if event == "repository_dispatch":
            return "types" not in spec or payload["action"] in spec["types"]
        return True

    def _queue(self, run: Run) -> None:
        with self.lock:
            self.runs.append(run)
            if run.group is not None and (run.group in self._running_groups or run.group in self._pending):
                replaced = self._pending.get(run.group)
                if replaced is not None:
                    replaced.status = "cancelled"  # GitHub keeps one pending run per group
                self._pending[run.group] = run
                return
            if run.group is not None:
                self._running_groups.add(run.group)
        threading.Thread(target=self._run, args=(run,), daemon=True).start()

    def _run(self, run: Run) -> None:
        with self._slots:
            with self.lock:
                run.status = "in_progress"
                token = self._mint(ACTIONS_BOT, "actions")["token"]
            try:
                run.result = self._execute(run, self._checkout(run), {"GITHUB_TOKEN": token})
            except BaseException as exc:  # recorded, so that a test sees it rather than a hung wait
                run.result = exc
            finally:
                with self.lock:
                    self.tokens.pop(token, None)  # a job's token ends with the job
                    run.status = "completed"
                self._after(run)
        with self.lock:
            following = self._pending.pop(run.group, None) if run.group else None
            if following is None and run.group:
                self._running_groups.discard(run.group)
            self._idle.notify_all()
        if following is not None:
            threading.Thread(target=self._run, args=(following,), daemon=True).start()

    def _checkout(self, run: Run) -> Path:
        """The commit act reads the workflow from; its remote names the repository as GitHub would."""
        target = self.workdir / f"run-{run.id}" / "event"
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "clone", "--quiet", "--shared", "--no-checkout", str(self.origin), str(target)],
            check=True,
        )
        subprocess.run(["git", "-C", str(target), "checkout", "--quiet", "--detach", run.sha], check=True)
        subprocess.run(
            ["git", "-C", str(target), "remote", "set-url", "origin", f"https://github.com/{REPOSITORY}.git"],
            check=True,
        )
        return target

    def _after(self, run: Run) -> None:
        if run.pr is None or run.result is None or isinstance(run.result, BaseException):
            return
        with self.lock:
            pull = self.pulls[run.pr]
            for name, job in run.result.jobs.items():
                self.check_runs.append(
                    {
                        "id": next(self._ids),
                        "name": name,
                        "head_sha": run.payload["pull_request"]["head"]["sha"],
                        "status": "completed",
                        "conclusion": job.result,
                        "run_id": run.id,
                        "pr": run.pr,
                    }
                )
            if pull.auto_merge_by and pull.state == "open":
                self._try_auto_merge(pull)

    def wait_idle(self, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        with self.lock:
            while any(r.status in ("queued", "in_progress") for r in self.runs):
                left = deadline - time.monotonic()
                assert left > 0, f"runs still going: {[(r.workflow, r.status) for r in self.runs]}"
                self._idle.wait(min(left, 1.0))

    def runs_of(self, workflow: str) -> list[Run]:
        return [r for r in self.runs if r.workflow == workflow]

    # -- git-side rules (from the origin's hooks) -----------------------------------------------------

    def pre_receive(self, token: str | None, updates: list[tuple[str, str, str]]) -> str | None:
        """None when the ruleset allows every update, else GitHub's refusal."""
        actor = self.actor(token or "")
        if actor is None:
            return "remote: Invalid username or token. Password authentication is not supported for Git operations."
        for _old, new, ref in updates:
            if ref != "refs/heads/main" or not self.ruleset_enforced or actor.login in self.bypass:
                continue
            if set(new) == {"0"}:
                return "remote: error: GH013: Repository rule violations found for refs/heads/main.\nremote: - Cannot delete this branch"
            return (
                "remote: error: GH013: Repository rule violations found for refs/heads/main.\n"
                "remote: - Changes must be made through a pull request.\n"
                f"remote: - {len(self.required_checks)} of {len(self.required_checks)} required status checks are expected."
            )
        return None

    def post_receive(self, token: str, updates: list[tuple[str, str, str]]) -> None:
        actor = self.actor(token)
        assert actor is not None
        for old, new, ref in updates:
            if not ref.startswith("refs/heads/") or set(new) == {"0"}:
                continue
            self._pushed(ref, old, new, actor)
            with self.lock:
                for pull in self.pulls.values():
                    if pull.state == "open" and f"refs/heads/{pull.head}" == ref and pull.head_sha != new:
                        pull.head_sha = new
                        self._pull_event(pull, "synchronize", actor)

    def actor_of_push(self, sha: str) -> str | None:
        return next((who for _ref, _old, new, who in reversed(self.pushes) if new == sha), None)

    def _pushed(self, ref: str, old: str, new: str, actor: Actor) -> None:
        self.pushes.append((ref, old, new, actor.login))
        zero = set(old) == {"0"}
        changed = (
            self.origin_git("diff", "--name-only", "--no-renames", f"{old}..{new}").splitlines()
            if not zero
            else []
        )
        payload = {
            "ref": ref,
            "before": old,
            "after": new,
            "_changed": changed,
            "pusher": {"name": actor.login},
        }
        self.emit("push", payload, sha=new, actor=actor)

    # -- pull requests ----------------------------------------------------------------------------

    def _pull_event(
        self, pull: Pull, action: str, actor: Actor, review: dict[str, Any] | None = None
    ) -> list[Run]:
        merge = self._test_merge(pull)
        if merge is None:
            return []
        payload: dict[str, Any] = {
            "action": action,
            "number": pull.number,
            "pull_request": self._pull_json(pull),
        }
        event = "pull_request"
        if review is not None:
            payload["review"] = review
            event = "pull_request_review"
        return self.emit(event, payload, sha=merge, actor=actor, pr=pull.number)

    def _test_merge(self, pull: Pull) -> str | None:
        """refs/pull/N/merge: the head merged into the base, which is what a PR's checks run on."""
        tree = self.origin_git(
            "merge-tree", "--write-tree", f"refs/heads/{pull.base}", pull.head_sha, check=False
        )
        if not tree or "\n" in tree:
            return None  # a conflict: GitHub runs no pull_request workflow on an unmergeable PR
        base_sha = self.origin_git("rev-parse", f"refs/heads/{pull.base}")
        commit = self.origin_git(
            "-c",
            "user.name=GitHub",
            "-c",
            "user.email=noreply@github.com",
            "commit-tree",
            tree,
            "-p",
            base_sha,
            "-p",
            pull.head_sha,
            "-m",
            f"Merge {pull.head_sha} into {base_sha}",
        )
        self.origin_git("update-ref", f"refs/pull/{pull.number}/merge", commit)
        self.origin_git("update-ref", f"refs/pull/{pull.number}/head", pull.head_sha)
        return commit

    def review(self, number: int, login: str, state: str = "APPROVED") -> list[Run]:
        """A person submits a review (in the web UI)."""
        with self.lock:
            pull = self.pulls[number]
            review = {
                "id": next(self._ids),
                "node_id": f"PRR_{number}_{len(pull.reviews)}",
                "user": self._user(login),
                "body": "",
                "state": state,
                "html_url": f"https://github.com/{REPOSITORY}/pull/{number}#pullrequestreview-1",
                "pull_request_url": f"{self.url}/repos/{REPOSITORY}/pulls/{number}",
                "commit_id": pull.head_sha,
                "submitted_at": _iso(self.now()),
                "author_association": "COLLABORATOR",
                "_links": {"html": {"href": "x"}, "pull_request": {"href": "x"}},
            }
            pull.reviews.append(review)
            return self._pull_event(
                pull, "submitted", Actor(login, "user"), review={**review, "state": state.lower()}
            )

    def checks_green(self, pull: Pull) -> tuple[bool, list[str]]:
        latest = {c["name"]: c["conclusion"] for c in self.check_runs if c["head_sha"] == pull.head_sha}
        missing = [name for name in self.required_checks if latest.get(name) != "success"]
        return not missing, missing

    def merge(self, number: int, actor: Actor, sha: str | None = None) -> tuple[int, dict[str, Any]]:
        with self.lock:
            pull = self.pulls[number]
            if pull.state != "open":
                return 405, {"message": "Pull Request is not mergeable"}
            if sha and sha != pull.head_sha:
                return 409, {"message": "Head branch was modified. Review and try the merge again."}
            if self.ruleset_enforced and actor.login not in self.bypass:
                green, missing = self.checks_green(pull)
                if not green:
                    return 405, {
                        "message": f"Repository rule violations found\n\nRequired status checks are expected: {', '.join(missing)}."
                    }
                if not any(r["state"] == "APPROVED" for r in pull.reviews):
                    return 405, {
                        "message": "Repository rule violations found\n\nAt least 1 approving review is required by reviewers with write access."
                    }
            base_sha = (
                self.main_sha()
                if pull.base == "main"
                else self.origin_git("rev-parse", f"refs/heads/{pull.base}")
            )
            tree = self.origin_git("merge-tree", "--write-tree", base_sha, pull.head_sha, check=False)
            if not tree or "\n" in tree:
                return 405, {"message": "Pull Request is not mergeable"}
            commit = self.origin_git(
                "-c",
                f"user.name={actor.login}",
                "-c",
                "user.email=noreply@github.com",
                "commit-tree",
                tree,
                "-p",
                base_sha,
                "-p",
                pull.head_sha,
                "-m",
                f"Merge pull request #{number} from {OWNER}/{pull.head}\n\n{pull.title}",
            )
            self.origin_git("update-ref", f"refs/heads/{pull.base}", commit, base_sha)
            pull.state, pull.merged_at, pull.merge_commit_sha, pull.merged_by = (
                "closed",
                _iso(self.now()),
                commit,
                actor.login,
            )
        self._pushed(f"refs/heads/{pull.base}", base_sha, commit, actor)
        return 200, {"sha": commit, "merged": True, "message": "Pull Request successfully merged"}

    def _mergeable_now(self, pull: Pull) -> bool:
        green, _ = self.checks_green(pull)
        return green and (not self.ruleset_enforced or any(r["state"] == "APPROVED" for r in pull.reviews))

    def _try_auto_merge(self, pull: Pull) -> None:
        if pull.auto_merge_by is not None and self._mergeable_now(pull):
            self.merge(pull.number, pull.auto_merge_by)

    # -- HTTP ------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._answer(request)
        self.answers.append((time.monotonic(), request.method, request.path, response.status_code))
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        raw = request.get_data(as_text=True)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return _json(400, {"message": "Problems parsing JSON"})
        path = request.path
        self.requests.append((request.method, path, request.headers.get("Authorization", "")))
        if path.startswith("/_harness/"):
            return self._harness(path, body)
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        headers = self._rate_headers()
        if self.secondary_limited > 0:
            self.secondary_limited -= 1
            return _json(
                429,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                },
                {"retry-after": str(self.secondary_retry_after_s), **headers},
            )
        if self.primary_remaining is not None:
            if self.primary_remaining <= 0:
                return _json(
                    403,
                    {"message": "API rate limit exceeded for installation."},
                    {**headers, "x-ratelimit-remaining": "0"},
                )
            self.primary_remaining -= 1
        if path == "/graphql":
            return self._graphql(token, body, headers)
        digest = hashlib.sha256(self.app_private_key.encode()).hexdigest()
        if path.startswith("/app/") or path.endswith("/installation"):
            # The JWT's issuer is the App's client ID (or, as before, its App ID).
            if token not in (f"{APP_CLIENT_ID}.{digest}", f"{APP_ID}.{digest}"):
                return _json(401, {"message": "A JSON web token could not be decoded"}, headers)
            actor = Actor(APP_SLUG, "jwt")
        else:
            found = self.actor(token)
            if found is None:
                return _json(
                    401,
                    {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
                    headers,
                )
            actor = found
        with self.lock:
            status, answer = self._route(request.method, path, dict(request.args), body, actor)
        if self.validate:
            try:
                self.violations += contract.rest_errors(request.method, path, status, body, _public(answer))
            except Exception as exc:  # a contract the validator cannot read is a finding, not a 500
                self.violations.append(f"{request.method} {path}: could not validate ({exc!r:.200})")
        return _json(status, answer, headers)

    def _rate_headers(self) -> dict[str, str]:
        remaining = 5000 if self.primary_remaining is None else max(self.primary_remaining, 0)
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(5000 - remaining),
            "x-ratelimit-reset": str(int(time.time()) + 60),
            "x-ratelimit-resource": "core",
        }

    def _harness(self, path: str, body: Any) -> Response:
        updates = [tuple(u) for u in body["updates"]]
        if path == "/_harness/pre-receive":
            refusal = self.pre_receive(body.get("token"), updates)  # type: ignore[arg-type]
            if refusal:
                self.refused_pushes.append(refusal)
                return Response(refusal + "\n", status=403)
            return Response("", status=200)
        self.post_receive(body["token"], updates)
        return Response("", status=200)

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, actor: Actor
    ) -> tuple[int, Any]:
        repo = f"/repos/{REPOSITORY}"
        if path == f"{repo}/installation" and method == "GET":
            return 200, self._installation()
        if m := re.fullmatch(r"/app/installations/(\d+)/access_tokens", path):
            if int(m.group(1)) != INSTALLATION_ID:
                return 404, {"message": "Not Found"}
            minted = self._mint(APP_BOT, "app")
            return 201, {
                **minted,
                "permissions": (body or {}).get("permissions", {}),
                "repository_selection": "selected",
            }
        if not path.startswith(repo):
            return 404, {"message": "Not Found"}
        rest = path[len(repo) :]
        if rest == "" and method == "GET":
            return 200, self._repository()
        if rest == "/dispatches" and method == "POST":
            return self._repository_dispatch(body or {}, actor)
        if m := re.fullmatch(r"/actions/workflows/([^/]+)", rest):
            return 200, self._workflow_json(m.group(1))
        if (m := re.fullmatch(r"/actions/workflows/([^/]+)/(disable|enable)", rest)) and method == "PUT":
            (self.disabled_workflows.add if m.group(2) == "disable" else self.disabled_workflows.discard)(
                m.group(1)
            )
            return 204, None
        if (m := re.fullmatch(r"/actions/workflows/([^/]+)/dispatches", rest)) and method == "POST":
            return self._workflow_dispatch(m.group(1), body or {}, actor)
        if rest == "/pulls" and method == "GET":
            return 200, [self._pull_json(p) for p in self._pulls(query)]
        if rest == "/pulls" and method == "POST":
            return self._open_pull(body or {}, actor)
        if m := re.fullmatch(r"/pulls/(\d+)", rest):
            pull = self.pulls.get(int(m.group(1)))
            if pull is None:
                return 404, {"message": "Not Found"}
            if method == "PATCH":
                for key in ("title", "body", "state"):
                    if key in (body or {}):
                        setattr(pull, key, body[key])
            return 200, self._pull_json(pull)
        if m := re.fullmatch(r"/pulls/(\d+)/reviews", rest):
            return 200, [r for r in self.pulls[int(m.group(1))].reviews]
        if (m := re.fullmatch(r"/pulls/(\d+)/requested_reviewers", rest)) and method == "POST":
            pull = self.pulls[int(m.group(1))]
            pull.requested += [r for r in body.get("reviewers", []) if r not in pull.requested]
            return 201, self._pull_json(pull)
        if (m := re.fullmatch(r"/pulls/(\d+)/merge", rest)) and method == "PUT":
            self.lock.release()
            try:
                return self.merge(int(m.group(1)), actor, (body or {}).get("sha"))
            finally:
                self.lock.acquire()
        if m := re.fullmatch(r"/issues/(\d+)/labels", rest):
            pull = self.pulls[int(m.group(1))]
            names = body.get("labels", body) if isinstance(body, dict) else body
            pull.labels = (
                list(names)
                if method == "PUT"
                else [*pull.labels, *[n for n in names if n not in pull.labels]]
            )
            return 200, [self._label(n) for n in pull.labels]
        if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
            number = int(m.group(1))
            if method == "POST":
                comment = self._comment(number, body["body"], actor.login)
                self.comments.append(comment)
                return 201, comment
            return 200, [c for c in self.comments if c["_number"] == number]
        if (m := re.fullmatch(r"/issues/comments/(\d+)", rest)) and method == "PATCH":
            comment = next(c for c in self.comments if c["id"] == int(m.group(1)))
            comment["body"] = body["body"]
            return 200, comment
        if rest == "/issues" and method == "POST":
            issue = self._issue(body, actor.login)
            self.issues.append(issue)
            return 201, issue
        if (m := re.fullmatch(r"/commits/([^/]+)", rest)) and method == "GET":
            commit = self._commit_json(m.group(1))
            return (200, commit) if commit else (422, {"message": f"No commit found for SHA: {m.group(1)}"})
        if m := re.fullmatch(r"/commits/([^/]+)/comments", rest):
            commit = self._commit_json(m.group(1))
            if commit is None:
                return 422, {"message": f"No commit found for SHA: {m.group(1)}"}
            if method == "POST":
                comment = self._commit_comment(commit["sha"], (body or {}).get("body", ""), actor.login)
                self.commit_comments.append(comment)
                return 201, comment
            return 200, [c for c in self.commit_comments if c["commit_id"] == commit["sha"]]
        if m := re.fullmatch(r"/commits/([^/]+)/check-runs", rest):
            sha = m.group(1)
            runs = [self._check_run_json(c) for c in self.check_runs if c["head_sha"] == sha]
            return 200, {"total_count": len(runs), "check_runs": runs}
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def _repository_dispatch(self, body: dict[str, Any], actor: Actor) -> tuple[int, Any]:
        payload = body.get("client_payload", {})
        if not isinstance(payload, dict) or len(payload) > 10:
            return 422, {
                "message": "Invalid request.\n\nclient_payload: no more than 10 top-level properties"
            }
        if len(json.dumps(payload)) >= 65536:
            return 422, {"message": "client_payload is too large"}
        if not body.get("event_type") or len(body["event_type"]) > 100:
            return 422, {"message": "Invalid request.\n\nevent_type is invalid"}
        self.dispatches.append({"kind": "repository_dispatch", "by": actor.login, **body})
        self.emit(
            "repository_dispatch",
            {"action": body["event_type"], "client_payload": payload, "branch": "main"},
            sha=self.main_sha(),
            actor=actor,
        )
        return 204, None

    def _workflow_dispatch(self, workflow: str, body: dict[str, Any], actor: Actor) -> tuple[int, Any]:
        ref = body.get("ref", "")
        sha = self.origin_git("rev-parse", f"refs/heads/{ref}", check=False)
        if not sha:
            return 422, {"message": f"No ref found for: {ref}"}
        documents = self._workflows(sha)
        if workflow not in documents:
            return 404, {"message": "Not Found"}
        spec = triggers(documents[workflow]).get("workflow_dispatch")
        if spec is None:
            return 422, {"message": "Workflow does not have 'workflow_dispatch' trigger"}
        if workflow in self.disabled_workflows:
            return 422, {"message": "Cannot trigger a 'workflow_dispatch' on a disabled workflow"}
        declared = (spec or {}).get("inputs", {}) or {}
        given = body.get("inputs", {}) or {}
        unexpected = sorted(set(given) - set(declared))
        if unexpected:
            return 422, {"message": f"Unexpected inputs provided: {json.dumps(unexpected)}"}
        if len(given) > 25:
            return 422, {"message": "you may only define up to 25 `inputs` for a `workflow_dispatch` event"}
        inputs = {}
        for name, meta in declared.items():
            value = given.get(name, meta.get("default", ""))
            if meta.get("required") and value in ("", None):
                return 422, {"message": f"Required input '{name}' not provided"}
            if meta.get("type") == "choice" and value not in meta.get("options", []) and value != "":
                return 422, {
                    "message": f"Provided value '{value}' for input '{name}' not in the list of allowed values"
                }
            inputs[name] = (
                "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            )
        self.dispatches.append({"kind": "workflow_dispatch", "workflow": workflow, "by": actor.login, **body})
        self.emit(
            "workflow_dispatch",
            {"inputs": inputs, "ref": f"refs/heads/{ref}", "workflow": f".github/workflows/{workflow}"},
            sha=sha,
            actor=actor,
            workflow=workflow,
        )
        return 204, None

    def _open_pull(self, body: dict[str, Any], actor: Actor) -> tuple[int, Any]:
        head, base = body["head"].split(":")[-1], body["base"]
        head_sha = self.origin_git("rev-parse", f"refs/heads/{head}", check=False)
        if not head_sha:
            return 422, {
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
            }
        if any(p.head == head and p.base == base and p.state == "open" for p in self.pulls.values()):
            return 422, {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {OWNER}:{head}.",
                    }
                ],
            }
        pull = Pull(
            next(self._numbers),
            head,
            base,
            body.get("title", ""),
            body.get("body", ""),
            actor.login,
            head_sha,
        )
        self.pulls[pull.number] = pull
        self.lock.release()
        try:
            self._pull_event(pull, "opened", actor)
        finally:
            self.lock.acquire()
        return 201, self._pull_json(pull)

    def open_pull(
        self, login: str, *, head: str, title: str, body: str = "", base: str = "main"
    ) -> tuple[int, Any]:
        """A person opens a pull request (in the web UI)."""
        with self.lock:
            return self._open_pull(
                {"head": head, "base": base, "title": title, "body": body}, Actor(login, "user")
            )

    def _pulls(self, query: dict[str, str]) -> list[Pull]:
        state = query.get("state", "open")
        found = [p for p in self.pulls.values() if state == "all" or p.state == state]
        if "head" in query:
            found = [p for p in found if f"{OWNER}:{p.head}" == query["head"]]
        if "base" in query:
            found = [p for p in found if p.base == query["base"]]
        return sorted(found, key=lambda p: -p.number if query.get("direction") == "desc" else p.number)

    def _graphql(self, token: str, body: Any, headers: dict[str, str]) -> Response:
        actor = self.actor(token)
        if actor is None:
            return _json(401, {"message": "Bad credentials"}, headers)
        query, variables = body.get("query", ""), body.get("variables") or {}
        if self.validate:
            self.violations += contract.graphql_errors(query, variables)
        if "enablePullRequestAutoMerge" not in query:
            return _json(200, {"errors": [{"message": "unsupported by the double"}]}, headers)
        node = variables.get("pullRequestId") or variables.get("input", {}).get("pullRequestId", "")
        number = int(str(node).removeprefix("PR_kwDOtest"))
        with self.lock:
            pull = self.pulls[number]
            if not self.allow_auto_merge:
                return _json(
                    200,
                    {
                        "data": {"enablePullRequestAutoMerge": None},
                        "errors": [
                            {
                                "type": "UNPROCESSABLE",
                                "message": "Pull request Auto merge is not allowed for this repository",
                            }
                        ],
                    },
                    headers,
                )
            if self._mergeable_now(pull):
                return _json(
                    200,
                    {
                        "data": {"enablePullRequestAutoMerge": None},
                        "errors": [{"type": "UNPROCESSABLE", "message": "Pull request is in clean status"}],
                    },
                    headers,
                )
            pull.auto_merge_by = actor
        return _json(
            200,
            {"data": {"enablePullRequestAutoMerge": {"pullRequest": {"id": node, "number": number}}}},
            headers,
        )

    # -- bodies -----------------------------------------------------------------------------------

    def _user(self, login: str) -> dict[str, Any]:
        uid = int(hashlib.sha256(login.encode()).hexdigest()[:6], 16)
        api = f"{self.url}/users/{login}"
        return {
            "login": login,
            "id": uid,
            "node_id": f"U_{uid}",
            "avatar_url": f"https://avatars.example/{uid}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://github.com/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": "Bot" if login.endswith("[bot]") else "User",
            "site_admin": False,
        }

    def _label(self, name: str) -> dict[str, Any]:
        lid = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
        return {
            "id": lid,
            "node_id": f"LA_{lid}",
            "url": f"{self.url}/repos/{REPOSITORY}/labels/{name}",
            "name": name,
            # GitHub's label in a pull request has a string description (empty when none was given).
            "description": "",
            "color": "ededed",
            "default": False,
        }

    def _repository(self) -> dict[str, Any]:
        api = f"{self.url}/repos/{REPOSITORY}"
        links = (
            "archive_url:/{archive_format}{/ref}",
            "assignees_url:/assignees{/user}",
            "blobs_url:/git/blobs{/sha}",
            "branches_url:/branches{/branch}",
            "collaborators_url:/collaborators{/collaborator}",
            "comments_url:/comments{/number}",
            "commits_url:/commits{/sha}",
            "compare_url:/compare/{base}...{head}",
            "contents_url:/contents/{+path}",
            "contributors_url:/contributors",
            "deployments_url:/deployments",
            "downloads_url:/downloads",
            "events_url:/events",
            "forks_url:/forks",
            "git_commits_url:/git/commits{/sha}",
            "git_refs_url:/git/refs{/sha}",
            "git_tags_url:/git/tags{/sha}",
            "hooks_url:/hooks",
            "issue_comment_url:/issues/comments{/number}",
            "issue_events_url:/issues/events{/number}",
            "issues_url:/issues{/number}",
            "keys_url:/keys{/key_id}",
            "labels_url:/labels{/name}",
            "languages_url:/languages",
            "merges_url:/merges",
            "milestones_url:/milestones{/number}",
            "notifications_url:/notifications{?since,all,participating}",
            "pulls_url:/pulls{/number}",
            "releases_url:/releases{/id}",
            "stargazers_url:/stargazers",
            "statuses_url:/statuses/{sha}",
            "subscribers_url:/subscribers",
            "subscription_url:/subscription",
            "tags_url:/tags",
            "teams_url:/teams",
            "trees_url:/git/trees{/sha}",
        )
        web = f"https://github.com/{REPOSITORY}"
        return {
            **{key: api + tail for key, _, tail in (link.partition(":") for link in links)},
            "id": 1296269,
            "node_id": "R_kgDOtest",
            "name": REPO,
            "full_name": REPOSITORY,
            "private": False,
            "owner": self._user(OWNER),
            "html_url": web,
            "description": None,
            "fork": True,
            "url": api,
            "clone_url": f"{web}.git",
            "git_url": f"git://github.com/{REPOSITORY}.git",
            "ssh_url": f"git@github.com:{REPOSITORY}.git",
            "svn_url": web,
            "mirror_url": None,
            "homepage": None,
            "language": "Python",
            "license": None,
            "default_branch": "main",
            "allow_auto_merge": self.allow_auto_merge,
            "forks": 0,
            "forks_count": 0,
            "open_issues": 0,
            "open_issues_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "size": 1,
            "network_count": 0,
            "subscribers_count": 0,
            "has_downloads": True,
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "pushed_at": "2026-01-05T10:00:00Z",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-05T10:00:00Z",
        }

    def _installation(self) -> dict[str, Any]:
        return {
            "id": INSTALLATION_ID,
            "account": self._user(OWNER),
            "repository_selection": "selected",
            "access_tokens_url": f"{self.url}/app/installations/{INSTALLATION_ID}/access_tokens",
            "repositories_url": f"{self.url}/installation/repositories",
            "html_url": f"https://github.com/settings/installations/{INSTALLATION_ID}",
            "app_id": int(APP_ID),
            "app_slug": APP_SLUG,
            "target_id": 1,
            "target_type": "Organization",
            "permissions": {"contents": "write", "pull_requests": "write", "actions": "write"},
            "events": [],
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "single_file_name": None,
            "suspended_by": None,
            "suspended_at": None,
        }

    def _workflow_json(self, name: str) -> dict[str, Any]:
        wid = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
        return {
            "id": wid,
            "node_id": f"W_{wid}",
            "name": name.removesuffix(".yml"),
            "path": f".github/workflows/{name}",
            "state": "disabled_manually" if name in self.disabled_workflows else "active",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "url": f"{self.url}/repos/{REPOSITORY}/actions/workflows/{name}",
            "html_url": f"https://github.com/{REPOSITORY}/actions/workflows/{name}",
            "badge_url": "https://github.com/badge.svg",
        }

    def _comment(self, number: int, body: str, login: str) -> dict[str, Any]:
        cid = next(self._ids)
        return {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{self.url}/repos/{REPOSITORY}/issues/comments/{cid}",
            "html_url": f"https://github.com/{REPOSITORY}/pull/{number}#issuecomment-{cid}",
            "body": body,
            "user": self._user(login),
            "created_at": _iso(self.now()),
            "updated_at": _iso(self.now()),
            "issue_url": f"{self.url}/repos/{REPOSITORY}/issues/{number}",
            "author_association": "NONE",
            "_number": number,
        }

    def _commit_json(self, ref: str) -> dict[str, Any] | None:
        """GET /repos/{owner}/{repo}/commits/{ref}, from origin's object (without stats and files)."""
        fields = self.origin_git(
            "show",
            "-s",
            "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
            f"{ref}^{{commit}}",
            check=False,
        )
        if not fields:
            return None
        sha, tree, parents, an, ae, ad, cn, ce, cd, message = fields.split("\x00", 9)
        api = f"{self.url}/repos/{REPOSITORY}"
        return {
            "url": f"{api}/commits/{sha}",
            "sha": sha,
            "node_id": f"C_{sha[:12]}",
            "html_url": f"https://github.com/{REPOSITORY}/commit/{sha}",
            "comments_url": f"{api}/commits/{sha}/comments",
            "commit": {
                "url": f"{api}/git/commits/{sha}",
                "author": {"name": an, "email": ae, "date": ad},
                "committer": {"name": cn, "email": ce, "date": cd},
                "message": message.strip(),
                "comment_count": sum(1 for c in self.commit_comments if c["commit_id"] == sha),
                "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
            },
            # A commit's author is a GitHub user only when its email belongs to one (else an empty object).
            "author": {},
            "committer": {},
            "parents": [
                {
                    "sha": p,
                    "url": f"{api}/commits/{p}",
                    "html_url": f"https://github.com/{REPOSITORY}/commit/{p}",
                }
                for p in parents.split()
            ],
        }

    def _commit_comment(self, sha: str, body: str, login: str) -> dict[str, Any]:
        cid = next(self._ids)
        return {
            "html_url": f"https://github.com/{REPOSITORY}/commit/{sha}#commitcomment-{cid}",
            "url": f"{self.url}/repos/{REPOSITORY}/comments/{cid}",
            "id": cid,
            "node_id": f"CC_{cid}",
            "body": body,
            "path": None,
            "position": None,
            "line": None,
            "commit_id": sha,
            "user": self._user(login),
            "created_at": _iso(self.now()),
            "updated_at": _iso(self.now()),
            "author_association": "NONE",
        }

    def _issue(self, body: dict[str, Any], login: str) -> dict[str, Any]:
        number = next(self._numbers)
        api = f"{self.url}/repos/{REPOSITORY}/issues/{number}"
        return {
            "id": next(self._ids),
            "node_id": f"I_{number}",
            "url": api,
            "repository_url": f"{self.url}/repos/{REPOSITORY}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"https://github.com/{REPOSITORY}/issues/{number}",
            "number": number,
            "state": "open",
            "title": body.get("title", ""),
            "body": body.get("body"),
            "user": self._user(login),
            "labels": [self._label(n) for n in body.get("labels", [])],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "comments": 0,
            "closed_at": None,
            "created_at": _iso(self.now()),
            "updated_at": _iso(self.now()),
            "author_association": "NONE",
        }

    def _check_run_json(self, check: dict[str, Any]) -> dict[str, Any]:
        api = f"{self.url}/repos/{REPOSITORY}/check-runs/{check['id']}"
        return {
            "id": check["id"],
            "head_sha": check["head_sha"],
            "node_id": f"CR_{check['id']}",
            "external_id": "",
            "url": api,
            "html_url": f"https://github.com/{REPOSITORY}/actions/runs/{check['run_id']}",
            "details_url": None,
            "status": "completed",
            "conclusion": check["conclusion"],
            "started_at": None,
            "completed_at": None,
            "name": check["name"],
            "output": {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{api}/annotations",
            },
            "check_suite": None,
            "app": None,
            "pull_requests": [],
        }

    def _pull_json(self, pull: Pull) -> dict[str, Any]:
        api = f"{self.url}/repos/{REPOSITORY}"
        number = pull.number
        repo = {**self._repository()}
        return {
            "url": f"{api}/pulls/{number}",
            "id": 5000 + number,
            "node_id": f"PR_kwDOtest{number}",
            "html_url": f"https://github.com/{REPOSITORY}/pull/{number}",
            "diff_url": f"https://github.com/{REPOSITORY}/pull/{number}.diff",
            "patch_url": f"https://github.com/{REPOSITORY}/pull/{number}.patch",
            "issue_url": f"{api}/issues/{number}",
            "commits_url": f"{api}/pulls/{number}/commits",
            "review_comments_url": f"{api}/pulls/{number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{number}/comments",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
            "number": number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "body": pull.body,
            "user": self._user(pull.author),
            "labels": [self._label(n) for n in pull.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": "2026-01-05T10:00:00Z",
            "updated_at": "2026-01-05T10:00:00Z",
            "closed_at": pull.merged_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self._user(r) for r in pull.requested],
            "requested_teams": [],
            "head": {
                "label": f"{OWNER}:{pull.head}",
                "ref": pull.head,
                "sha": pull.head_sha,
                "user": self._user(OWNER),
                "repo": repo,
            },
            "base": {
                "label": f"{OWNER}:{pull.base}",
                "ref": pull.base,
                "sha": self.origin_git("rev-parse", f"refs/heads/{pull.base}"),
                "user": self._user(OWNER),
                "repo": repo,
            },
            "_links": {
                k: {"href": f"{api}/pulls/{number}"}
                for k in (
                    "self",
                    "html",
                    "issue",
                    "comments",
                    "review_comments",
                    "review_comment",
                    "commits",
                    "statuses",
                )
            },
            "author_association": "NONE",
            "auto_merge": (
                {
                    "enabled_by": self._user(pull.auto_merge_by.login),
                    "merge_method": "merge",
                    "commit_title": "",
                    "commit_message": "",
                }
                if pull.auto_merge_by
                else None
            ),
            "draft": False,
            "merged": pull.merged_at is not None,
            "mergeable": True,
            "rebaseable": True,
            "mergeable_state": "clean",
            "merged_by": self._user(pull.merged_by) if pull.merged_by else None,
            "comments": 0,
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": 1,
            "deletions": 1,
            "changed_files": 1,
        }


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _public(body: Any) -> Any:
    """Without the double's own bookkeeping keys (those starting with an underscore, but GitHub's `_links`)."""
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k == "_links" or not k.startswith("_")}
    if isinstance(body, list):
        return [_public(item) for item in body]
    return body


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if body is None:
        return Response(status=status, headers=headers or {})
    return Response(
        json.dumps(_public(body)), status=status, headers=headers or {}, content_type="application/json"
    )


HOOK = """#!/usr/bin/env python3
# The harness's origin asks the GitHub double whether a push is allowed, and tells it what was pushed.
import json, os, sys, urllib.request, urllib.error
updates = [line.split() for line in sys.stdin.read().splitlines() if line.strip()]
options = [os.environ.get(f"GIT_PUSH_OPTION_{{i}}", "") for i in range(int(os.environ.get("GIT_PUSH_OPTION_COUNT", "0")))]
token = next((o.split("=", 1)[1] for o in options if o.startswith("token=")), None)
request = urllib.request.Request(
    os.environ.get("HARNESS_HUB_URL", "{url}") + "/_harness/{hook}",
    data=json.dumps({{"token": token, "updates": updates}}).encode(), method="POST",
)
try:
    urllib.request.urlopen(request, timeout=30).read()
except urllib.error.HTTPError as exc:
    sys.stderr.write(exc.read().decode())
    sys.exit(1)
"""


def install_hooks(origin: Path, hub_url: str) -> None:
    subprocess.run(["git", "-C", str(origin), "config", "receive.advertisePushOptions", "true"], check=True)
    subprocess.run(["git", "-C", str(origin), "config", "uploadpack.allowAnySHA1InWant", "true"], check=True)
    for hook in ("pre-receive", "post-receive"):
        path = origin / "hooks" / hook
        path.write_text(HOOK.format(url=hub_url, hook=hook), encoding="utf-8")
        path.chmod(0o755)
