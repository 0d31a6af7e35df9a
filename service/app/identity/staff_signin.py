"""Use cases of the console's sign-in: who a staff API token or an OIDC identity belongs to.

Only support staff (a provider account's ``support`` or ``admin`` users) get in. An OIDC identity
is known by (issuer, subject); its first sign-in may link it to an existing staff user by email,
only when the issuer vouches for that email (``email_verified``)."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.orm import Session

from service.adapters.db import UnitOfWork
from service.domain.errors import Forbidden, NotFound
from service.domain.hosting import AccountKind
from service.adapters.identity import Principal, authenticate
from service.adapters.models import Account, ConsoleSession, User

NOT_STAFF = ("The console is for support staff. Customers and partners use the portal; "
             "a provider account's member needs a staff role from an operator first.")


class SignInRefused(Forbidden):
    rule = "console_refused"
    title = "Sign-in refused"


def staff_by_token(session: Session, token: str) -> Principal:
    principal = authenticate(session, token.strip())
    if principal is None:
        raise SignInRefused("This token is not valid or has been revoked.")
    return _staff(principal)


@dataclass(frozen=True)
class SessionTimes:
    """How long a console session lasts: ``idle`` since it was last used, ``absolute`` since
    sign-in; its last use is written down at most every ``touch`` (not at every page)."""

    idle: timedelta = timedelta(hours=1)
    absolute: timedelta = timedelta(hours=8)
    touch: timedelta = timedelta(seconds=60)


def _hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(principal: Principal, now: datetime, times: SessionTimes, *, uow: UnitOfWork) -> str:
    """A new session of a staff member who just signed in: its random id (256 bits), which only
    the browser keeps; the server keeps its hash. The member's ended sessions are cleared."""
    session_id = secrets.token_urlsafe(32)
    with uow:
        uow.session.execute(delete(ConsoleSession).where(
            ConsoleSession.user_id == principal.user_id, ConsoleSession.expires_at <= now))
        uow.session.add(ConsoleSession(
            id_hash=_hashed(session_id), user_id=principal.user_id, created_at=now, last_used_at=now,
            idle_expires_at=now + times.idle, expires_at=now + times.absolute))
        uow.commit()
    return session_id


def session_staff(session: Session, session_id: str, now: datetime) -> tuple[Principal, datetime] | None:
    """The staff member of a live session and when it was last used, in one statement that
    reads the user's current role: a session that ended, expired, or whose user is no longer
    staff is None."""
    row = session.connection().execute(_SESSION_STAFF, {"id_hash": _hashed(session_id), "now": now}).first()
    if row is None:
        return None
    user_id, email, role, account_id, account_name, kind, last_used = row
    principal = Principal(user_id=user_id, email=email, account_id=account_id, account_name=account_name,
                          kind=AccountKind(kind), role=role)
    return (principal, last_used) if principal.is_support else None


# Built once, columns only (as the API's token lookup): the compiled cache finds its SQL and no
# ORM objects are made for a page view.
_SESSION_STAFF = (
    select(User.id, User.email, User.role, Account.id, Account.name, Account.kind,
           ConsoleSession.last_used_at)
    .join(ConsoleSession, ConsoleSession.user_id == User.id)
    .join(Account, Account.id == User.account_id)
    .where(ConsoleSession.id_hash == bindparam("id_hash"), ConsoleSession.idle_expires_at > bindparam("now"),
           ConsoleSession.expires_at > bindparam("now"))
)


def touch_session(session_id: str, now: datetime, times: SessionTimes, *, uow: UnitOfWork) -> None:
    """The session was used now: its idle expiry moves on, never past its absolute one."""
    idle_until = now + times.idle
    with uow:
        uow.session.execute(update(ConsoleSession).where(ConsoleSession.id_hash == _hashed(session_id))
                            .values(last_used_at=now, idle_expires_at=case(
                                (ConsoleSession.expires_at < idle_until, ConsoleSession.expires_at),
                                else_=idle_until)))
        uow.commit()


def end_session(session_id: str, *, uow: UnitOfWork) -> None:
    with uow:
        uow.session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == _hashed(session_id)))
        uow.commit()


def end_user_sessions(email: str, *, uow: UnitOfWork) -> int:
    """Sign a user out of the console everywhere; the number of sessions ended."""
    with uow:
        user = uow.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise NotFound(f"no user {email}")
        ended = uow.session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
        uow.commit()
    return ended.rowcount


def staff_by_oidc(issuer: str, claims: Mapping[str, Any], *, uow: UnitOfWork) -> Principal:
    subject = str(claims.get("sub") or "")
    if not subject:
        raise SignInRefused("The identity provider did not say who you are.")
    with uow:
        user = uow.session.scalar(select(User).where(
            User.oidc_issuer == issuer, User.oidc_subject == subject))
        if user is None:
            user = _link_by_email(uow.session, issuer, subject, claims)
        account = uow.session.get(Account, user.account_id)
        principal = _staff(_principal(user, account))
        uow.commit()
    return principal


def _link_by_email(session: Session, issuer: str, subject: str,
                   claims: Mapping[str, Any]) -> User:
    email = str(claims.get("email") or "").strip().lower()
    if not email or claims.get("email_verified") is not True:
        raise SignInRefused("No staff user is known for this identity, and the identity "
                            "provider has not verified an email address to link it by.")
    user = session.scalar(select(User).where(User.email == email, User.oidc_subject.is_(None)))
    account = session.get(Account, user.account_id) if user is not None else None
    if user is None or not _principal(user, account).is_support:
        raise SignInRefused(f"No staff user has the email address {email}. {NOT_STAFF}")
    # Compare-and-set: of two identities racing to link one user, exactly one succeeds.
    linked = session.execute(update(User).where(User.id == user.id, User.oidc_subject.is_(None)).values(
        oidc_issuer=issuer, oidc_subject=subject,
        name=user.name or (str(claims["name"])[:200] if claims.get("name") else None)))
    if linked.rowcount != 1:
        raise SignInRefused("This staff user was just linked to another identity; try again.")
    session.refresh(user)
    return user


def _staff(principal: Principal) -> Principal:
    if not principal.is_support:
        raise SignInRefused(NOT_STAFF)
    return principal


def _principal(user: User, account: Account) -> Principal:
    return Principal(user_id=user.id, email=user.email, account_id=account.id,
                     account_name=account.name, kind=AccountKind(account.kind), role=user.role)
