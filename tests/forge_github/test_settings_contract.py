"""The settings and App doubles answer as GitHub's OpenAPI description says (../shared/contracts/github),
so `modelops doctor github` and the relay's token minting are tested against GitHub's real shapes.

Each answer of a complete setup is validated against the response schema of its path and method
(OpenAPI 3.0: `nullable` read as JSON Schema's null type). Without ../shared there is nothing to check.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import cache
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.forge_github.app_double import INSTALLATION_ID, AppDouble, app_key_pair
from tests.forge_github.double import REPOSITORY, GitHubDouble
from tests.forge_github.settings_double import Settings
from tests.helpers import SHARED

REST = SHARED / "contracts" / "github" / "api.github.com.json.gz"
pytestmark = pytest.mark.skipif(not REST.is_file(), reason="GitHub's OpenAPI description is in ../shared")


@cache
def spec() -> dict[str, Any]:
    with gzip.open(REST, "rt", encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return _nullable(loaded)


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if out.pop("nullable", False) is True:
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
            elif "type" not in out:
                return {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


def template(path: str) -> str:
    candidates = []
    for t in spec()["paths"]:
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(t)), path):
            candidates.append(t)
    assert candidates, f"{path}: not a path of GitHub's REST API"
    return min(candidates, key=lambda t: t.count("{"))


def errors(method: str, path: str, status: int, body: Any) -> list[str]:
    from jsonschema import Draft4Validator

    t = template(path)
    responses = spec()["paths"][t][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {t}: GitHub never answers {status}"
    pointer = f"#/paths/{t.replace('~', '~0').replace('/', '~1')}/{method.lower()}/responses/{status}"
    response = responses[str(status)]
    if "$ref" in response:
        pointer = response["$ref"]
    schema = {**spec(), "$ref": f"{pointer}/content/application~1json/schema"}
    found = sorted(Draft4Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:160]}" for e in found[:5]]


def test_every_settings_answer_has_githubs_shape(github: GitHubDouble, httpserver: HTTPServer) -> None:
    import urllib.request

    Settings.complete().serve(httpserver)
    base = f"/repos/{REPOSITORY}"
    paths = [
        "",
        "/rulesets",
        "/rulesets/1",
        "/rulesets/2",
        "/environments",
        "/environments/production/secrets",
        "/environments/production/deployment-branch-policies",
        "/actions/variables",
        "/codeowners/errors",
    ]
    problems = {}
    for path in paths:
        with urllib.request.urlopen(httpserver.url_for(base + path), timeout=10) as answer:
            found = errors("GET", base + path, answer.status, json.loads(answer.read()))
        if found:
            problems[path or "/"] = found
    assert problems == {}


def test_the_app_doubles_answers_have_githubs_shape(github: GitHubDouble, httpserver: HTTPServer) -> None:
    import time

    import jwt

    pem, public = app_key_pair()
    AppDouble(httpserver, public, REPOSITORY).install()
    now = int(time.time())
    token = jwt.encode(
        {"iat": now - 60, "exp": now + 540, "iss": "Iv23liTestClient0001"}, pem, algorithm="RS256"
    )
    import urllib.request

    for method, path, status in (
        ("GET", f"/repos/{REPOSITORY}/installation", 200),
        ("POST", f"/app/installations/{INSTALLATION_ID}/access_tokens", 201),
    ):
        request = urllib.request.Request(
            httpserver.url_for(path),
            method=method,
            headers={"Authorization": f"Bearer {token}"},
            data=b"{}" if method == "POST" else None,
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == status
            assert errors(method, path, status, json.loads(answer.read())) == []
