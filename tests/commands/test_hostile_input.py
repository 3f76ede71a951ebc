"""Hostile or odd input is refused in one line, fast: versions are plain decimals, YAML is bounded."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelops.cli import build_parser
from modelops.core.document import MAX_BYTES, ModelsDocument
from modelops.core.version import parse_version
from modelops.errors import BadInput
from tests.helpers import REPO_ROOT

# -- versions ---------------------------------------------------------------------------------------

NOT_VERSIONS = ["٣", "²", "３", "2.0", "+3", " 3", "3 ", "1_0", "0", "-1", "03", "v3", "0x3", "", "1e3"]


@pytest.mark.parametrize("text", NOT_VERSIONS)
def test_only_a_plain_positive_decimal_integer_is_a_version(text: str) -> None:
    with pytest.raises(ValueError, match="not a registry version"):
        parse_version(text)


def test_a_plain_version_is_read() -> None:
    assert [parse_version(t) for t in ("1", "7", "120")] == [1, 7, 120]


@pytest.mark.parametrize(
    "argv",
    [
        ["rollback", "--model", "churn", "--env", "production", "--reason", "r", "--version", "٣"],
        ["rollback", "--model", "churn", "--env", "production", "--reason", "r", "--version", "2.0"],
        ["propose", "--model", "churn", "--env", "production", "--version", "+3"],
        ["evaluate", "--model", "churn", "--candidate", "0"],
        ["serve", "--model", "churn", "--env", "production", "--version", "1_0"],
    ],
)
def test_a_version_flag_that_is_not_a_plain_decimal_is_exit_2_naming_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert f"{argv[-1]!r} is not a registry version" in capsys.readouterr().err


# -- YAML bounds ------------------------------------------------------------------------------------


def alias_bomb() -> str:
    """Nine levels of nine aliases: a 1 kB file that expands to 9**9 values."""
    lines = ["apiVersion: modelops/v1", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\nmodels: {}\n"


HOSTILE = {
    "alias bomb": (alias_bomb(), "values once its aliases are expanded"),
    "deep flow nesting": ("models: " + "[" * 50_000 + "]" * 50_000 + "\n", "nested deeper than 32 levels"),
    "deep block nesting": ("".join(" " * i + f"k{i}:\n" for i in range(400)), "nested deeper than 32 levels"),
    "too large": ("# " + "x" * MAX_BYTES + "\nmodels: {}\n", "byte limit for models.yaml"),
}


@pytest.mark.parametrize("scanner", ["libyaml", "ruamel"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_models_yaml_is_bad_input_naming_the_bound(
    name: str, scanner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With libyaml's scanner, and with ruamel's where PyYAML was built without libyaml."""
    if scanner == "ruamel":
        import yaml

        monkeypatch.delattr(yaml, "CSafeLoader")
    text, message = HOSTILE[name]
    with pytest.raises(BadInput, match=message):
        ModelsDocument(text, filename="models.yaml")


def _limited() -> None:
    # Without the bounds these cost gigabytes: fail fast with MemoryError instead of swapping.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.fixture(scope="module")
def hostile_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("hostile")
    shutil.copytree(REPO_ROOT / "applications", repo / "applications")
    return repo


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("alias bomb", "validate"),
        ("alias bomb", "status"),
        ("deep flow nesting", "render"),
        ("too large", "validate"),
        ("deep flow nesting", "board"),
    ],
)
def test_every_command_refuses_a_hostile_models_yaml_in_one_line_with_exit_2(
    hostile_repo: Path, name: str, command: str
) -> None:
    text, message = HOSTILE[name]
    (hostile_repo / "models.yaml").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "modelops", command, "--repo", str(hostile_repo)]
        + (["--out", str(hostile_repo / "site"), "--offline"] if command == "board" else []),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limited,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "models.yaml" in lines[0], result.stderr
