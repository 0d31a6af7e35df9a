"""All outbound HTTP: one client with explicit timeouts and two kinds of failure.

Every failure of a call is turned into exactly one of:

* ``RetryLater`` -- the remote side may succeed if asked again later: timeouts,
  connection errors, any 5xx, 429, and a 2xx whose body is not a JSON object.
* ``GiveUp`` -- asking again will not help: any other non-2xx answer, including
  3xx (redirects are never followed), and requests that cannot be built.

Reasons are written for the customer who filed the ticket; credentials sent in
headers are scrubbed from them and from log lines.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

logger = logging.getLogger(__name__)

EXCERPT_LENGTH = 200
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})
_MESSAGE_FIELDS = ("error", "detail", "message", "title")
_INCOMPLETE_RESPONSE = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class RetryLater(Exception):
    """The call failed in a way that may succeed if tried again later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class GiveUp(Exception):
    """The call failed for good; ``reason`` can be shown to the customer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def backoff_delay(
    attempt: int,
    *,
    base: float = 1.0,
    cap: float = 60.0,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry).

    Exponential backoff with full jitter: a uniform draw from
    ``[0, min(cap, base * 2 ** (attempt - 1))]``. When the server sent
    ``Retry-After``, the delay is ``max(retry_after, jittered)`` so the server's
    wish is honoured, and the result is then clamped to ``cap`` so a hostile or
    mistaken header can never stall a retry longer than our own ceiling.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    exponent = min(attempt - 1, 64)
    ceiling = min(cap, base * 2.0**exponent)
    delay = rand() * ceiling
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(0.0, min(cap, delay))


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds from ``now`` named by a Retry-After header (seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until_http_date(value, now=now)
    return seconds if seconds >= 0 else None


def _seconds_until_http_date(value: str, *, now: float) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def _environment_settings(origin: str, session: requests.Session) -> dict[str, Any]:
    """requests' own reading of the environment for ``origin`` (Session.merge_environment_settings),
    made on a throwaway session that trusts the environment and carries the shared session's
    proxies and CA setting: the shared session, in use by other threads, is never changed."""
    probe = requests.Session()
    try:
        probe.proxies, probe.verify = dict(session.proxies), session.verify
        merged = probe.merge_environment_settings(origin, {}, None, None, None)
    finally:
        probe.close()
    return {"proxies": merged["proxies"], "verify": merged["verify"]}


class HttpClient:
    """A ``requests.Session`` with fixed timeouts, no redirects and classified failures."""

    def __init__(
        self,
        base_url: str = "",
        *,
        connect_timeout: float,
        read_timeout: float,
        headers: Mapping[str, str] | None = None,
        name: str = "the remote service",
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.name = name
        self._clock = clock
        self._session = session or requests.Session()
        self._session.headers.update(headers or {})
        self._secrets = _secrets_in(headers or {})
        # The environment's proxy and CA-bundle settings are read once per origin, not on every
        # call: requests scans all of os.environ twice per request to find them (half the CPU
        # of a provisioning call). A .netrc is never consulted: every call carries its own
        # Authorization header, or a signature.
        self._session.trust_env = False
        self._environment: dict[str, dict[str, Any]] = {}

    def post_json(
        self, path_or_url: str, body: dict, headers: Mapping[str, str] | None = None
    ) -> dict:
        response = self._send("POST", path_or_url, json=body, headers=headers)
        return self._json_object(response)

    def get_json(self, path_or_url: str, headers: Mapping[str, str] | None = None) -> dict:
        response = self._send("GET", path_or_url, headers=headers)
        return self._json_object(response)

    def post_bytes(self, url: str, data: bytes, headers: Mapping[str, str] | None = None) -> None:
        self._send("POST", url, data=data, headers=headers)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def url_for(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")) or not self.base_url:
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def environment_for(self, url: str) -> dict[str, Any]:
        """The proxies and CA bundle for ``url``'s origin, as requests reads them from the
        environment (HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE...) merged with the session's."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}/"
        if origin not in self._environment:
            self._environment[origin] = _environment_settings(origin, self._session)
        return self._environment[origin]

    def _send(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        url = self.url_for(path_or_url)
        try:
            response = self._session.request(
                method, url, timeout=self.timeout, allow_redirects=False,
                **self.environment_for(url), **kwargs
            )
        except requests.RequestException as exc:
            raise self._failed(method, url, _transport_failure(exc, self.name)) from exc
        failure = self._classify(response)
        if failure is not None:
            raise self._failed(method, url, failure)
        return response

    def _classify(self, response: requests.Response) -> RetryLater | GiveUp | None:
        status = response.status_code
        if 200 <= status < 300:
            return None
        if status == 429:
            return RetryLater(f"{self.name} is limiting requests: 429", self._retry_after(response))
        if status >= 500:
            reason = _with_excerpt(f"{self.name} is unavailable: {status}", response)
            return RetryLater(reason, self._retry_after(response))
        if 300 <= status < 400:
            target = response.headers.get("Location", "an unknown location")
            return GiveUp(
                f"{self.name} redirected the request ({status} to {target}); "
                "redirects are not followed"
            )
        return GiveUp(_with_excerpt(f"{self.name} rejected the request: {status}", response))

    def _retry_after(self, response: requests.Response) -> float | None:
        return parse_retry_after(response.headers.get("Retry-After"), now=self._clock())

    def _json_object(self, response: requests.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            url = response.url or "(unknown url)"
            raise self._failed(
                response.request.method or "?", url,
                RetryLater(f"{self.name} sent a malformed response: expected a JSON object"),
            )
        return data

    def _failed(self, method: str, url: str, error: RetryLater | GiveUp) -> RetryLater | GiveUp:
        error.reason = _scrub(error.reason, self._secrets)
        error.args = (error.reason,)
        kind = "retry later" if isinstance(error, RetryLater) else "giving up"
        logger.info("%s %s failed, %s: %s", method, url, kind, error.reason)
        return error


def _transport_failure(exc: requests.RequestException, name: str) -> RetryLater | GiveUp:
    if isinstance(exc, requests.ConnectTimeout):
        return RetryLater(f"{name} could not be reached in time")
    if isinstance(exc, requests.Timeout):
        return RetryLater(f"{name} did not answer in time")
    if isinstance(exc, requests.ConnectionError):
        return RetryLater(f"could not connect to {name}")
    if isinstance(exc, _INCOMPLETE_RESPONSE):
        return RetryLater(f"{name} sent an incomplete response")
    return GiveUp(f"the request to {name} could not be sent: {type(exc).__name__}")


def _with_excerpt(prefix: str, response: requests.Response) -> str:
    excerpt = _excerpt(response)
    return f"{prefix} {excerpt}" if excerpt else prefix


def _excerpt(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    text = response.text if data is None else _message_in(data)
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) > EXCERPT_LENGTH:
        text = text[: EXCERPT_LENGTH - 1] + "…"
    return text


def _message_in(data: object) -> str:
    if isinstance(data, dict):
        for field in _MESSAGE_FIELDS:
            if isinstance(data.get(field), str):
                return data[field]
    return str(data)


def _secrets_in(headers: Mapping[str, str]) -> list[str]:
    secrets: list[str] = []
    for key, value in headers.items():
        if key.lower() in _SECRET_HEADERS and value:
            secrets.append(value)
            credential = value.partition(" ")[2]
            if len(credential) >= 4:
                secrets.append(credential)
    return sorted(secrets, key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text
