"""Access tokens from the configured OIDC issuer: signature, issuer, audience and time checked
with PyJWT against the issuer's JWKS, which is cached and refetched (at most every
``refetch_interval`` seconds) when a token names a key it does not hold.

Failures are one of two kinds: ``InvalidToken`` (the caller's fault: 401) or ``KeysUnavailable``
(the issuer's JWKS cannot be fetched and the token's key is not cached: 503)."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Mapping

import jwt

from service.adapters.outbound import GiveUp, HttpClient, RetryLater

logger = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
})
LEEWAY_SECONDS = 60
DISCOVERY_PATH = "/.well-known/openid-configuration"


class InvalidToken(Exception):
    """The token is not a valid access token of the configured issuer for this API."""


class KeysUnavailable(Exception):
    """The issuer's keys cannot be fetched, and the token's key is not among the cached ones."""


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and len(token) <= 16_384


class KeySet:
    """The issuer's signing keys by ``kid``, fetched lazily and kept until an unknown one shows up."""

    def __init__(self, *, issuer: str, jwks_url: str = "", http: HttpClient,
                 refetch_interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.issuer, self.jwks_url, self.http = issuer, jwks_url, http
        self.refetch_interval, self.clock = refetch_interval, clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._fetch_failed = False
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        key = self._match(kid)
        if key is not None:
            return key
        with self._lock:
            key = self._match(kid)
            if key is None and self._may_refetch():
                self._refetch()
                key = self._match(kid)
        if key is None and self._fetch_failed:
            raise KeysUnavailable("the identity provider's keys cannot be fetched")
        if key is None:
            raise InvalidToken("the token is signed with a key the issuer does not publish")
        return key

    def _match(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid) if kid is not None else None

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or self.clock() - self._fetched_at >= self.refetch_interval

    def _refetch(self) -> None:
        self._fetched_at = self.clock()
        try:
            url = self.jwks_url or self._discover_jwks_url()
            self._keys = _signing_keys(self.http.get_json(url))
            self._fetch_failed = False
        except (RetryLater, GiveUp) as exc:
            # Keys fetched before stay in use; unknown ones wait for the next allowed fetch.
            logger.warning("cannot fetch the OIDC issuer's keys: %s", exc)
            self._fetch_failed = True

    def _discover_jwks_url(self) -> str:
        document = self.http.get_json(self.issuer + DISCOVERY_PATH)
        if str(document.get("issuer", "")).rstrip("/") != self.issuer or not document.get("jwks_uri"):
            raise GiveUp("the discovery document names another issuer or no jwks_uri")
        self.jwks_url = str(document["jwks_uri"])
        return self.jwks_url


def _signing_keys(document: Mapping[str, Any]) -> dict[str | None, jwt.PyJWK]:
    """Public signing keys of the set; symmetric, encryption and unusable keys are left out."""
    keys: dict[str | None, jwt.PyJWK] = {}
    for data in document.get("keys") or []:
        if not isinstance(data, dict) or data.get("kty") == "oct" or data.get("use") == "enc":
            continue
        try:
            keys[data.get("kid")] = jwt.PyJWK(data)
        except jwt.PyJWTError as exc:
            logger.info("skipping an unusable key in the issuer's JWKS: %s", exc)
    return keys


class AccessTokenVerifier:
    """Checks an access token and returns its claims; ``sub`` and the account claim are required."""

    def __init__(self, *, issuer: str, audience: str, account_claim: str, keys: KeySet,
                 leeway: float = LEEWAY_SECONDS) -> None:
        self.issuer, self.audience, self.account_claim = issuer, audience, account_claim
        self.keys, self.leeway = keys, min(leeway, LEEWAY_SECONDS)

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not a well-formed JWT") from exc
        algorithm = header.get("alg")
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted")
        key = self.keys.key_for(header.get("kid"))
        try:
            claims = jwt.decode(
                token, key.key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": ["iss", "aud", "exp", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(f"the token was refused: {exc}") from exc
        self._ensure_identity_claims(claims)
        return claims

    def _ensure_identity_claims(self, claims: Mapping[str, Any]) -> None:
        for name in ("sub", self.account_claim):
            value = claims.get(name)
            if not isinstance(value, str) or not value.strip() or len(value) > 255:
                raise InvalidToken(f"the token has no usable {name!r} claim")


def build_verifier(*, issuer: str, audience: str, account_claim: str,
                   jwks_url: str = "") -> AccessTokenVerifier | None:
    """The verifier for the configured issuer, or ``None`` when no issuer is configured."""
    if not issuer:
        return None
    http = HttpClient(connect_timeout=3.05, read_timeout=5.0, name="the identity provider")
    keys = KeySet(issuer=issuer, jwks_url=jwks_url, http=http)
    return AccessTokenVerifier(issuer=issuer, audience=audience, account_claim=account_claim,
                               keys=keys)
