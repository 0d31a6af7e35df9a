"""A real OIDC issuer for tests: discovery document and JWKS served over HTTP on 127.0.0.1, with
signing keys generated for each run, and access tokens minted with them.

Used through the ``oidc_issuer`` fixture (tests/conftest.py)."""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class SigningKey:
    kid: str
    private: Any
    algorithm: str

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk = json.loads(algorithm.to_jwk(self.private.public_key()))  # type: ignore[attr-defined]
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


def rsa_key(algorithm: str = "RS256") -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid=uuid.uuid4().hex, private=private, algorithm=algorithm)


def ec_key() -> SigningKey:
    return SigningKey(kid=uuid.uuid4().hex, private=ec.generate_private_key(ec.SECP256R1()),
                      algorithm="ES256")


@dataclass
class TestIssuer:
    """An issuer on 127.0.0.1: ``url`` is its ``iss``; ``published`` are the keys in its JWKS."""

    __test__ = False

    audience: str = "envdesk-api"
    published: list[SigningKey] = field(default_factory=lambda: [rsa_key(), ec_key()])
    down: bool = False
    jwks_requests: int = 0
    url: str = ""

    def start(self) -> "TestIssuer":
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks"

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        if self.down:
            return Response("unavailable", status=503)
        if request.path == "/.well-known/openid-configuration":
            return _json({"issuer": self.url, "jwks_uri": self.jwks_url,
                          "authorization_endpoint": self.url + "/authorize",
                          "token_endpoint": self.url + "/token",
                          "id_token_signing_alg_values_supported": ["RS256", "ES256"]})
        if request.path == "/jwks":
            self.jwks_requests += 1
            return _json({"keys": [key.public_jwk() for key in self.published]})
        return Response("not found", status=404)

    def claims(self, account: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.url, "aud": self.audience, "sub": uuid.uuid4().hex,
                  "iat": now, "nbf": now, "exp": now + 300, "envdesk_account": account,
                  "email": f"{uuid.uuid4().hex[:8]}@portal.example", "name": "Portal User"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, claims: dict[str, Any], key: SigningKey | None = None, **headers: Any) -> str:
        """A token signed with ``key`` (by default the first published key)."""
        key = key or self.published[0]
        return jwt.encode(claims, key.private, algorithm=key.algorithm,
                          headers={"kid": key.kid, **headers})

    def token(self, account: str, **overrides: Any) -> str:
        return self.mint(self.claims(account, **overrides))


def _json(data: Any) -> Response:
    return Response(json.dumps(data), mimetype="application/json")
