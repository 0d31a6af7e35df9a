"""Webhook signing, verification and delivery (SPEC section 6).

The ``Envdesk-Signature`` header reads ``t=<unix seconds>,v1=<hex HMAC-SHA256>``
where the HMAC covers ``b"<t>." + raw body``. A receiver recomputes it with the
shared secret and rejects timestamps outside its tolerance, which stops replays.
"""

from __future__ import annotations

import hashlib
import hmac

from service.adapters.outbound import HttpClient

SIGNATURE_HEADER = "Envdesk-Signature"
DEFAULT_TOLERANCE = 300


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Envdesk-Signature`` header value for ``body`` sent at ``timestamp``."""
    if not secret:
        raise ValueError("a webhook secret is required")
    return f"t={timestamp},v1={_digest(body, secret, timestamp)}"


def verify(
    header: str, body: bytes, secret: str, *, now: int, tolerance: int = DEFAULT_TOLERANCE
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of ``now``.

    Unknown parts of the header are ignored and any one of several ``v1`` values
    may match, so a sender can rotate secrets or add schemes without breaking
    receivers.
    """
    if not secret or not header:
        return False
    timestamp, candidates = _parse_header(header)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = _digest(body, secret, timestamp)
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)


def send_signed(
    url: str,
    body: bytes,
    secret: str,
    *,
    now: int,
    timeout: tuple[float, float] = (3.05, 10.0),
) -> None:
    """POST one signed webhook; raises ``RetryLater`` or ``GiveUp`` as outbound classifies."""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret, now),
    }
    connect_timeout, read_timeout = timeout
    with HttpClient(
        connect_timeout=connect_timeout, read_timeout=read_timeout, name="the webhook receiver"
    ) as client:
        client.post_bytes(url, body, headers=headers)


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _parse_header(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and timestamp is None:
            timestamp = _int_or_none(value.strip())
        elif key == "v1" and value.strip().isascii() and value.strip():
            candidates.append(value.strip())
    return timestamp, candidates


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() else None
