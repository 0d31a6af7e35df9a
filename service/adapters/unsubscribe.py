"""Signed one-click unsubscribe links (RFC 8058): the token names the person, signed with
SECRET_KEY (SECRET_KEY_FALLBACKS still verify while a new key rolls out). It never expires: a
message read months later still turns that person's mail off, and nothing else."""
from __future__ import annotations

from itsdangerous import BadData, URLSafeSerializer

_SALT = "envdesk.unsubscribe"


def _serializer(keys: tuple[str, ...]) -> URLSafeSerializer:
    # itsdangerous takes a list of keys, oldest first; the last one signs.
    return URLSafeSerializer(list(reversed(keys)), salt=_SALT)


def token_for(user_id: str, keys: tuple[str, ...]) -> str:
    """``keys``: the current key first, then the fallbacks."""
    return _serializer(keys).dumps(user_id)


def user_of(token: str, keys: tuple[str, ...]) -> str | None:
    """The person a token names, or None when it is not one of ours."""
    try:
        user_id = _serializer(keys).loads(token)
    except (BadData, UnicodeError):
        return None
    return user_id if isinstance(user_id, str) else None
