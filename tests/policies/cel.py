"""Evaluate ValidatingAdmissionPolicy validations with cel-python, as the API server would.

What differs from Kubernetes, and how the policies stay inside the common ground:
- cel-python has the standard CEL functions and macros (has, in, size, matches, startsWith,
  endsWith, contains, all, exists); it lacks the Kubernetes extension libraries (optionals `?.`,
  strings split/lowerAscii/indexOf, lists, quantity, url, authz). The policies use none of them;
  `compile()` fails a test on any expression cel-python cannot parse, and calling an extension
  function fails evaluation (reported as an error, i.e. a denial).
- `has(a.b.c)` with `a.b` missing is an error in Kubernetes but false in cel-python, so the
  policies guard every level (`has(a.b) && has(a.b.c)`), and `unguarded_has()` checks they do.
- `matches()` is RE2 in Kubernetes and Python `re.search` here; the patterns use the common subset.
- Policy `variables` are evaluated in order and exposed as `variables.<name>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import celpy


@dataclass(frozen=True)
class Verdict:
    rule: str  # the message's first word, e.g. "pinned-version"
    passed: bool
    error: str | None = None


_env = celpy.Environment()


def compile_expression(expression: str) -> Any:
    return _env.program(_env.compile(expression))


def rule_of(validation: dict[str, Any]) -> str:
    return str(validation.get("message", "")).split(":", 1)[0].strip()


def matches_resource(policy: dict[str, Any], obj: dict[str, Any]) -> bool:
    group, _, _version = obj["apiVersion"].rpartition("/")
    plural = obj["kind"].lower() + "s"
    for rule in policy["spec"]["matchConstraints"]["resourceRules"]:
        if group in rule["apiGroups"] and plural in rule["resources"] and "CREATE" in rule["operations"]:
            return True
    return False


def evaluate(policy: dict[str, Any], obj: dict[str, Any]) -> list[Verdict]:
    activation: dict[str, Any] = {"object": celpy.json_to_cel(obj)}
    variables: dict[str, Any] = {}
    for variable in policy["spec"].get("variables") or ():
        variables[variable["name"]] = compile_expression(variable["expression"]).evaluate(
            {**activation, "variables": celpy.celtypes.MapType(variables)}
        )
    if variables:
        activation["variables"] = celpy.celtypes.MapType(variables)
    verdicts = []
    for validation in policy["spec"]["validations"]:
        try:
            value = compile_expression(validation["expression"]).evaluate(activation)
        except celpy.CELEvalError as exc:
            value = exc
        if isinstance(value, celpy.CELEvalError | Exception):
            # failurePolicy: Fail - an evaluation error denies.
            verdicts.append(Verdict(rule_of(validation), False, str(value)))
        else:
            verdicts.append(Verdict(rule_of(validation), bool(value)))
    return verdicts


def failing_rules(policy: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    return [v.rule for v in evaluate(policy, obj) if not v.passed]


_HAS = re.compile(r"has\(([A-Za-z_][\w.]*)\)")


def unguarded_has(expression: str) -> list[str]:
    """has(a.b.c) calls whose parent a.b is neither a root variable, a macro variable nor guarded."""
    guarded = set(_HAS.findall(expression))
    problems = []
    for path in guarded:
        parts = path.split(".")
        parent = ".".join(parts[:-1])
        if len(parts) <= 2:
            continue
        if parent not in guarded:
            problems.append(path)
    return problems
