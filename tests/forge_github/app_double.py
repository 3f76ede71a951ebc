"""GitHub Apps on the REST double: the installation lookup and installation tokens, with GitHub's rules.

- `GET /repos/{owner}/{repo}/installation` and `POST /app/installations/{id}/access_tokens` accept
  only a JWT signed RS256 with the App's private key, issued by the App's client ID (or App ID), with
  `exp` at most 10 minutes after `iat`;
- an installation token expires one hour after it was minted, by the double's clock, and is refused
  (401 "Bad credentials") after that.
Kept apart from double.py: these routes register on the same pytest-httpserver.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

CLIENT_ID = "Iv23liTestClient0001"
INSTALLATION_ID = 4242
TOKEN_LIFETIME_S = 3600
JWT_MAX_LIFETIME_S = 600


def app_key_pair() -> tuple[str, Any]:
    """A fresh RSA key: (the PEM private key an App owner downloads, the public key GitHub keeps)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


def _error(status: int, message: str) -> Response:
    body = {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)}
    return Response(json.dumps(body), status=status, content_type="application/json")


@dataclass
class AppDouble:
    server: HTTPServer
    public_key: Any
    repository: str
    client_id: str = CLIENT_ID
    installed: bool = True
    clock: Callable[[], float] = time.time
    permissions: dict[str, str] = field(default_factory=lambda: {"contents": "write", "metadata": "read"})
    minted: list[tuple[str, float]] = field(default_factory=list)  # (token, expires at)
    jwts: list[dict[str, Any]] = field(default_factory=list)
    # Further Apps installed on the same repository: client ID -> (public key, permissions).
    others: dict[str, tuple[Any, dict[str, str]]] = field(default_factory=dict)

    def _app(self, issuer: str) -> tuple[Any, dict[str, str]] | None:
        if issuer == self.client_id:
            return self.public_key, self.permissions
        return self.others.get(issuer)

    def install(self, prefix: str = "") -> AppDouble:
        self.server.expect_request(
            f"{prefix}/repos/{self.repository}/installation", method="GET"
        ).respond_with_handler(self._installation)
        self.server.expect_request(
            f"{prefix}/app/installations/{INSTALLATION_ID}/access_tokens", method="POST"
        ).respond_with_handler(self._access_token)
        return self

    # -- what a repository route asks ---------------------------------------------------------------

    def refusal(self, request: Request) -> Response | None:
        """None when the request carries a live installation token; GitHub's 401 otherwise."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return _error(401, "Requires authentication")
        expiry = dict(self.minted).get(token)
        if expiry is None or self.clock() >= expiry:
            return _error(401, "Bad credentials")
        return None

    # -- handlers ------------------------------------------------------------------------------------

    def _jwt(self, request: Request) -> Response | dict[str, str]:
        """GitHub's 401, or the permissions of the App whose JWT this is."""
        import jwt

        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return _error(401, "A JSON web token could not be decoded")
        try:
            issuer = str(jwt.decode(token, options={"verify_signature": False}).get("iss"))
        except jwt.PyJWTError:
            return _error(401, "A JSON web token could not be decoded")
        app = self._app(issuer)
        if app is None:
            return _error(401, "Integration not found")
        try:
            claims = jwt.decode(
                token, app[0], algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}
            )
        except jwt.PyJWTError:
            return _error(401, "A JSON web token could not be decoded")
        if claims["exp"] - claims["iat"] > JWT_MAX_LIFETIME_S + 60:
            return _error(401, "'Expiration time' claim ('exp') is too far in the future")
        self.jwts.append(claims)
        return app[1]

    def _installation(self, request: Request) -> Response:
        permissions = self._jwt(request)
        if isinstance(permissions, Response):
            return permissions
        if not self.installed:
            return _error(404, "Not Found")
        owner = self.repository.split("/")[0]
        from tests.forge_github.settings_double import simple_user

        body = {
            "id": INSTALLATION_ID,
            "app_id": 1001,
            "client_id": self.client_id,
            "app_slug": "modelops-relay",
            "target_id": 1,
            "target_type": "Organization",
            "account": simple_user(owner),
            "single_file_name": None,
            "html_url": f"https://github.com/organizations/{owner}/settings/installations/{INSTALLATION_ID}",
            "repositories_url": f"{self.server.url_for('/')}installation/repositories",
            "suspended_by": None,
            "suspended_at": None,
            "repository_selection": "selected",
            "access_tokens_url": f"{self.server.url_for('/')}app/installations/{INSTALLATION_ID}/access_tokens",
            "permissions": permissions,
            "events": [],
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
        return Response(json.dumps(body), status=200, content_type="application/json")

    def _access_token(self, request: Request) -> Response:
        permissions = self._jwt(request)
        if isinstance(permissions, Response):
            return permissions
        expires = self.clock() + TOKEN_LIFETIME_S
        token = f"ghs_double{len(self.minted) + 1:04d}"
        self.minted.append((token, expires))
        body = {
            "token": token,
            "expires_at": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": permissions,
            "repository_selection": "selected",
        }
        return Response(json.dumps(body), status=201, content_type="application/json")
