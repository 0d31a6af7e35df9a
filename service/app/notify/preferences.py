"""A person's mail settings: read, change, and the one-click unsubscribe of a signed link."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service.adapters.db import UnitOfWork
from service.adapters.identity import Principal
from service.adapters.models import NotificationPreference, User
from service.adapters.unsubscribe import user_of
from service.domain.errors import Forbidden, NotFound

STAFF_KEYS = ("awaiting_approval", "sla_breach", "failed")


def get_preferences(session: Session, principal: Principal) -> dict[str, Any]:
    """``{email, watch_account, staff?}``; ``staff`` for support staff only."""
    return _body(session.get(NotificationPreference, principal.user_id) or _defaults(principal.user_id),
                 staff=principal.is_support)


def update_preferences(principal: Principal, changes: dict[str, Any], *, uow: UnitOfWork,
                       now: datetime) -> dict[str, Any]:
    """Set what ``changes`` names (the others stay); ``staff`` only for support staff."""
    if "staff" in changes and not principal.is_support:
        raise Forbidden("only support staff choose staff notifications", rule="staff_only",
                        errors={"staff": ["only support staff choose staff notifications"]})
    with uow:
        row = uow.session.get(NotificationPreference, principal.user_id)
        if row is None:
            row = _defaults(principal.user_id)
            uow.session.add(row)
        for key in ("email", "watch_account"):
            if key in changes:
                setattr(row, key, changes[key])
        for key, value in (changes.get("staff") or {}).items():
            setattr(row, f"staff_{key}", value)
        row.updated_at = now
        body = _body(row, staff=principal.is_support)
        uow.commit()
    return body


def unsubscribe(token: str, *, keys: tuple[str, ...], uow: UnitOfWork, now: datetime) -> str:
    """Turn off all mail of the person a signed unsubscribe link names; returns their email."""
    user_id = user_of(token, keys)
    with uow:
        user = uow.session.get(User, user_id) if user_id else None
        if user is None:
            raise NotFound("this unsubscribe link is not valid", errors={"token": ["not a valid unsubscribe link"]})
        row = uow.session.get(NotificationPreference, user.id)
        if row is None:
            row = _defaults(user.id)
            uow.session.add(row)
        row.email, row.updated_at, email = False, now, user.email
        uow.commit()
    return email


def _defaults(user_id: str) -> NotificationPreference:
    return NotificationPreference(user_id=user_id, email=True, watch_account=False, staff_awaiting_approval=False,
                                  staff_sla_breach=False, staff_failed=False)


def _body(row: NotificationPreference, *, staff: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"email": row.email, "watch_account": row.watch_account}
    if staff:
        body["staff"] = {key: getattr(row, f"staff_{key}") for key in STAFF_KEYS}
    return body
