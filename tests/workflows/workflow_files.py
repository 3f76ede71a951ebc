"""Reading the GitHub Actions files: workflows, composite actions, their run scripts and modelops calls."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import REPO_ROOT

GITHUB_DIR = REPO_ROOT / ".github"
WORKFLOWS_DIR = GITHUB_DIR / "workflows"
ACTIONS_DIR = GITHUB_DIR / "actions"

# Values that stand in for variables filled from `${{ }}` expressions (inputs, event payloads, step outputs):
# the shape a real run would see, so that typed flags (int, choices) parse as they would there.
SAMPLE_VALUES = {
    "MODEL": "churn",
    "ENVIRONMENT": "production",
    "VERSION": "7",
    "CANDIDATE": "7",
    "KNOWN_GOOD": "6",
    "REASON": "ModelErrorRateHigh fired",
    "INCIDENT": "INC-42",
    "ALERTNAME": "ModelErrorRateHigh",
    "BAD_VERSION": "7",
    "TRIGGER": "schedule",
    "SEVERITY": "major",
    "BASE_REF": "main",
    "BASE_SHA": "0123456789abcdef0123456789abcdef01234567",
    "PR_NUMBER": "12",
    "RUN_URL": "https://github.com/org/repo/actions/runs/1",
    "GITHUB_RUN_ID": "1",
}


def workflow_paths() -> list[Path]:
    return sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])


def action_paths() -> list[Path]:
    return sorted([*ACTIONS_DIR.glob("*/action.yml"), *ACTIONS_DIR.glob("*/action.yaml")])


def load(path: Path) -> dict[str, Any]:
    """A workflow as a dict; YAML 1.1 reads the key `on` as the boolean True, so it is put back."""
    doc: dict[Any, Any] = yaml.safe_load(path.read_text("utf-8"))
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def triggers(doc: dict[str, Any]) -> dict[str, Any]:
    on = doc["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


@dataclass(frozen=True)
class RunStep:
    file: Path
    job: str  # "" for a composite action
    index: int
    name: str
    script: str
    env: dict[str, str]  # workflow, job and step env merged, innermost wins

    @property
    def where(self) -> str:
        job = f"{self.job}/" if self.job else ""
        return f"{self.file.relative_to(REPO_ROOT)}:{job}{self.name or self.index}"


def _str_env(mapping: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (mapping or {}).items()}


def run_steps() -> Iterator[RunStep]:
    """Every `run:` step of every workflow and composite action."""
    for path in workflow_paths():
        doc = load(path)
        for job_id, job in doc["jobs"].items():
            for i, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    env = {
                        **_str_env(doc.get("env")),
                        **_str_env(job.get("env")),
                        **_str_env(step.get("env")),
                    }
                    yield RunStep(path, job_id, i, step.get("name", ""), step["run"], env)
    for path in action_paths():
        doc = load(path)
        for i, step in enumerate(doc["runs"].get("steps", [])):
            if "run" in step:
                yield RunStep(path, "", i, step.get("name", ""), step["run"], _str_env(step.get("env")))


def logical_lines(script: str) -> list[str]:
    """Shell lines with backslash continuations joined."""
    return script.replace("\\\n", " ").splitlines()


_SHELL_OPERATORS = set("|&;()<>")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def modelops_calls(script: str) -> list[list[str]]:
    """The argument lists of the `modelops` commands in a script (tokens after the program name,
    up to the next shell operator or redirection)."""
    calls = []
    for line in logical_lines(script):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token == "modelops" or token.endswith("/modelops"):
                args: list[str] = []
                for arg in tokens[i + 1 :]:
                    if set(arg) <= _SHELL_OPERATORS:
                        break
                    args.append(arg)
                # "2>file" splits into "2", ">": the descriptor belongs to the redirection.
                if args and args[-1].isdigit() and len(tokens) > i + 1 + len(args):
                    args.pop()
                calls.append(args)
    return calls


def substitute(arg: str, env: dict[str, str]) -> str:
    """Replace $VAR with the literal value from env:, or a sample value when env: fills it from ${{ }}."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        literal = env.get(name)
        if literal is not None and "${{" not in literal:
            return literal
        return SAMPLE_VALUES.get(name, match.group(0))

    return _VARIABLE.sub(value, arg)


def raw_uses(path: Path) -> list[tuple[int, str, str]]:
    """(line number, action reference, trailing comment) for every `uses:` line, read as text because
    YAML drops the version comments."""
    found = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        match = re.match(r"^\s*(?:-\s+)?uses:\s*([^\s#]+)\s*(?:#\s*(.*))?$", line)
        if match:
            found.append((number, match.group(1).strip("'\""), (match.group(2) or "").strip()))
    return found
