"""The pure tests mirror the core, and the pull-request check runs all of them.

tests/core/test_<module>.py specifies scripts/modelops/core/<module>.py: one file per module, each with
tests, none reaching past the core (no adapter, flow, command, subprocess or git repository), and
`make unit`, which the pr.yml "unit tests" job runs, runs the whole directory.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from tests.helpers import REPO_ROOT

CORE = REPO_ROOT / "scripts" / "modelops" / "core"
CORE_TESTS = REPO_ROOT / "tests" / "core"
PURE_MODELOPS = ("modelops.core", "modelops.errors")
# Helpers that start processes or build git repositories: not for a pure test.
IMPURE_NAMES = {"modelops", "run", "make_repo", "require_binary", "git", "write_models"}
IMPURE_MODULES = {"subprocess", "multiprocessing", "socket", "http.server"}
# Tests outside tests/core that use only the core, and why they live elsewhere.
ELSEWHERE = {
    "tests/architecture/test_imports.py": "reads the package's source",
    "tests/architecture/test_layout.py": "reads the test tree, the Makefile and pr.yml",
}


# Core modules whose rules are specified, for now, only through their flows' and commands' tests
# (tests/board, tests/forge_github/test_doctor.py, tests/pipeline): each still owes tests/core a file.
# The list may only shrink: a new core module comes with its specification.
NOT_YET_SPECIFIED = {"board_html", "doctor", "notifications", "verification"}


def core_modules() -> set[str]:
    return {p.stem for p in CORE.glob("*.py") if p.stem != "__init__"}


def imports(path: Path) -> tuple[set[str], set[str]]:
    modules, names = set(), set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            names |= {a.name for a in node.names}
    return modules, names


def specs_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def is_pure(path: Path) -> bool:
    modules, names = imports(path)
    ours = [m for m in modules if m.startswith("modelops")]
    return (
        all(m.startswith(PURE_MODELOPS) for m in ours)
        and not modules & IMPURE_MODULES
        and not names & IMPURE_NAMES
        and all(
            not m.startswith("tests.")
            or m in ("tests.helpers",)
            or m.startswith("tests.core")
            or m == "tests.manifests.fixtures"
            for m in modules
        )
    )


def test_every_core_module_has_its_specification_and_nothing_else_lives_there() -> None:
    specified = {p.stem.removeprefix("test_") for p in CORE_TESTS.glob("test_*.py")}
    assert specified == core_modules() - NOT_YET_SPECIFIED
    assert core_modules() >= NOT_YET_SPECIFIED
    assert len(specified) >= 24


def test_every_specification_has_tests() -> None:
    counts = {p.name: len(specs_in(p)) for p in CORE_TESTS.glob("test_*.py")}
    assert all(counts.values()), [name for name, n in counts.items() if not n]
    # As many pure tests as there are modules, and then some: the count the closing note reports.
    assert sum(counts.values()) >= 2 * len(counts)


def test_the_core_specifications_stay_pure() -> None:
    impure = [p.name for p in CORE_TESTS.glob("*.py") if not is_pure(p)]
    assert impure == []


def test_no_pure_test_lives_outside_tests_core() -> None:
    outside = [
        p.relative_to(REPO_ROOT).as_posix()
        for p in (REPO_ROOT / "tests").rglob("test_*.py")
        if CORE_TESTS not in p.parents and is_pure(p)
    ]
    assert sorted(outside) == sorted(ELSEWHERE)


def test_make_unit_and_the_pull_request_check_run_every_pure_test() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text("utf-8")
    unit = re.search(r"^unit:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert unit is not None and re.search(r"pytest tests/core(\s|$)", unit.group(1))
    pr = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "pr.yml").read_text("utf-8"))
    steps = pr["jobs"]["unit"]["steps"]
    assert any(step.get("run", "").strip() == "make unit" for step in steps)


def test_pure_tests_read_the_repositorys_models_yaml_only_as_the_template() -> None:
    """A fork's pins must not fail its own `unit tests` check: tests/core reads models.yaml only through
    tests/core/template.py, which blanks what a fork has promoted."""
    direct = re.compile(r"""REPO_ROOT\s*/\s*["']models\.yaml["']""")
    readers = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in sorted(CORE_TESTS.rglob("*.py"))
        if path.name != "template.py" and direct.search(path.read_text("utf-8"))
    ]
    assert readers == []
