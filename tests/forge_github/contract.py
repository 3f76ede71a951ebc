"""GitHub's own contract, when ../shared is present: the REST OpenAPI description and the GraphQL schema.

A double validates what it receives and what it answers against these, so a double that drifts from
GitHub (a missing required field, a wrong status, an unknown GraphQL argument) fails the test.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import cache
from typing import Any

from tests.helpers import SHARED

CONTRACTS = SHARED / "contracts" / "github"
REST = CONTRACTS / "api.github.com.json.gz"
GRAPHQL = CONTRACTS / "schema.graphql.gz"


def available() -> bool:
    return REST.is_file() and GRAPHQL.is_file()


@cache
def _spec() -> dict[str, Any]:
    with gzip.open(REST, "rt", encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    return spec


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """Concrete path → template; literal segments win over parameters (/pulls/1/merge vs /pulls/{n})."""
    found = []
    for template in _spec()["paths"]:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        found.append((re.compile(pattern), template))
    found.sort(key=lambda item: item[1].count("{"))
    return found


def template_for(path: str) -> str | None:
    return next((t for pattern, t in _templates() if pattern.match(path)), None)


def _validator(schema: dict[str, Any]) -> Any:
    from openapi_schema_validator import OAS30Validator

    # The description's $refs point into its own components: carry them, so "#/components/..." resolves.
    return OAS30Validator({**schema, "components": _spec()["components"]})


def _schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    errors = sorted(_validator(schema).iter_errors(document), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:200]}" for e in errors[:5]]


def rest_errors(method: str, path: str, status: int, request: Any, response: Any) -> list[str]:
    """What in this exchange GitHub's description does not allow; empty when it conforms."""
    template = template_for(path)
    where = f"{method} {path}"
    if template is None:
        return [f"{where}: no such path in GitHub's REST description"]
    operation = _spec()["paths"][template].get(method.lower())
    if operation is None:
        return [f"{where}: GitHub's REST description has no {method} on {template}"]
    problems = []
    body_schema = (
        operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    )
    if body_schema is not None and request is not None:
        problems += [f"{where} request {e}" for e in _schema_errors(body_schema, request)]
    answers = operation.get("responses", {})
    if str(status) not in answers:
        problems.append(f"{where}: status {status} is not one GitHub documents ({', '.join(answers)})")
        return problems
    content = answers[str(status)].get("content", {}).get("application/json", {})
    if "schema" in content and response is not None:
        problems += [f"{where} {status} {e}" for e in _schema_errors(content["schema"], response)]
    return problems


@cache
def _graphql_schema() -> Any:
    from graphql import build_schema

    with gzip.open(GRAPHQL, "rt", encoding="utf-8") as handle:
        return build_schema(handle.read(), assume_valid_sdl=True)


def graphql_errors(query: str, variables: dict[str, Any] | None) -> list[str]:
    """Errors of a GraphQL document (and its variables) against GitHub's schema."""
    from graphql import GraphQLError, parse, validate
    from graphql.execution.values import get_variable_values

    try:
        document = parse(query)
    except GraphQLError as exc:
        return [f"graphql: {exc.message}"]
    schema = _graphql_schema()
    problems = [f"graphql: {e.message}" for e in validate(schema, document)]
    if problems:
        return problems
    from graphql import OperationDefinitionNode

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            coerced = get_variable_values(schema, definition.variable_definitions or [], variables or {})
            if isinstance(coerced, list):
                problems += [f"graphql variables: {e.message}" for e in coerced]
    return problems
