"""The package's layers, read from its imports (ast only: nothing here is imported or run).

    core/      pure: imports only the core, errors and the standard library's pure parts
    adapters/  one per external system; never a flow, a command or the sandbox wing
    flows/     use cases: core + adapters; a flow never imports another flow, except the one
               composition module, flows/chains.py, which nothing else in flows/ imports
    sandbox/   the one-machine world and the demo; production code never imports it
    commands/, relay/, cli.py   entry points

Every import counts, including those inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "scripts" / "modelops"
COMPOSITION = "modelops.flows.chains"
# The commands that are the sandbox wing's own entry points.
SANDBOX_ENTRY_POINTS = {"modelops.commands.demo", "modelops.commands.sandbox", "modelops.commands.data"}
CORE_MAY_IMPORT = ("modelops.core", "modelops.errors")
FORBIDDEN_IN_CORE = ("mlflow", "github", "kubernetes", "dvc", "requests", "sklearn", "pandas", "subprocess")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def parsed(name: str) -> ast.Module:
    path = modules()[name]
    return ast.parse(path.read_text("utf-8"), filename=str(path))


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".")
    is_package = modules()[importer].name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(name: str) -> Iterator[tuple[str, int]]:
    """Every module `name` imports, with its line; `from pkg import mod` counts as `pkg.mod`."""
    for node in ast.walk(parsed(name)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in modules() else base), node.lineno


def internal_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name in modules():
        graph[name] = {target for target, _ in imports_of(name) if target in modules() and target != name}
    return graph


def is_flow(name: str) -> bool:
    return name.startswith("modelops.flows.")


def _core_may_not(name: str, target: str) -> bool:
    top = target.split(".")[0]
    if top == "modelops":
        return not target.startswith(CORE_MAY_IMPORT)
    return top in FORBIDDEN_IN_CORE


RULES = {
    "flow-to-flow": lambda name, target: is_flow(name) and is_flow(target) and name != COMPOSITION,
    "composition": lambda name, target: is_flow(name) and target == COMPOSITION,
    "sandbox": lambda name, target: _is_sandbox(target) and not _may_use_sandbox(name),
    "core": lambda name, target: name.startswith("modelops.core") and _core_may_not(name, target),
    "adapters": lambda name, target: (
        name.startswith("modelops.adapters.")
        and target.startswith(("modelops.flows", "modelops.commands", "modelops.relay", "modelops.cli"))
    ),
}


def violations(rule: str) -> list[str]:
    """`file:line imports module` for every import that breaks `rule`."""
    broken = RULES[rule]
    return [
        f"{modules()[name].relative_to(PACKAGE.parent)}:{line} imports {target}"
        for name in modules()
        for target, line in imports_of(name)
        if broken(name, target)
    ]


def _is_sandbox(name: str) -> bool:
    return name == "modelops.sandbox" or name.startswith("modelops.sandbox.")


def _may_use_sandbox(name: str) -> bool:
    return _is_sandbox(name) or name in SANDBOX_ENTRY_POINTS


def test_the_package_is_read_where_it_lives() -> None:
    # Guards the other tests: an empty walk would pass every rule.
    names = modules()
    assert {"modelops.flows.train", COMPOSITION, "modelops.core.gate", "modelops.sandbox.demo"} <= set(names)
    assert "modelops.core.document" in {t for t, _ in imports_of("modelops.flows.propose")}


def test_no_flow_imports_another_flow_except_the_composition_module() -> None:
    assert violations("flow-to-flow") == []


def test_no_flow_imports_the_composition_module() -> None:
    assert violations("composition") == []


def test_the_composition_module_imports_the_flows_it_chains_by_name() -> None:
    chained = {t for t, _ in imports_of(COMPOSITION) if is_flow(t)}
    assert chained == {
        "modelops.flows.train",
        "modelops.flows.evaluate",
        "modelops.flows.propose",
        "modelops.flows.policy",
        "modelops.flows.retrain",
        "modelops.flows.analyze",
        "modelops.flows.rollback",
    }


def test_production_code_never_imports_the_sandbox_wing() -> None:
    assert violations("sandbox") == []


def test_the_core_imports_only_the_core() -> None:
    assert violations("core") == []


def test_adapters_never_import_a_use_case_or_an_entry_point() -> None:
    assert violations("adapters") == []


def test_no_circle_between_modules() -> None:
    graph = internal_graph()
    circles = []
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" → ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert circles == []


@pytest.mark.parametrize("call", ["import_module", "__import__"])
def test_modules_are_imported_by_name_not_looked_up(call: str) -> None:
    # cli.py discovers the command modules in their directory; nothing else loads a module by a string.
    found = []
    for name in modules():
        if name == "modelops.cli":
            continue
        for node in ast.walk(parsed(name)):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == call:
                    found.append(f"{name}:{node.lineno}")
    assert found == []
