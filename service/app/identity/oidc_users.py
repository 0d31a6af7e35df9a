"""Users known by the OIDC issuer's (iss, sub): the registry's user for verified claims, created
on first sight in the account the account claim names. Kind and role come from the registry."""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.adapters.db import UnitOfWork
from service.domain.errors import UnknownAccount
from service.domain.hosting import AccountKind
from service.adapters.identity import Principal
from service.adapters.models import Account, User


def principal_for_claims(claims: Mapping[str, Any], *, account_claim: str, session: Session,
                         uow: UnitOfWork) -> Principal:
    """The caller the verified ``claims`` name; their user is created the first time."""
    found = _known(session, claims["iss"], claims["sub"])
    if found is not None:
        return found
    with uow:
        account = _account(uow.session, claims[account_claim])
        user = _new_user(uow.session, claims, account)
        uow.session.add(user)
        try:
            uow.commit()
            return _principal(user, account)
        except IntegrityError:  # a concurrent first request created this user
            uow.rollback()
            found = _known(uow.session, claims["iss"], claims["sub"])
    if found is None:
        raise UnknownAccount("this identity cannot be registered; ask an operator")
    return found


def _known(session: Session, issuer: str, subject: str) -> Principal | None:
    row = session.execute(
        select(User, Account).join(Account, Account.id == User.account_id)
        .where(User.oidc_issuer == issuer, User.oidc_subject == subject)
    ).first()
    if row is None:
        return None
    return _principal(*row)


def _principal(user: User, account: Account) -> Principal:
    return Principal(user_id=user.id, email=user.email, account_id=account.id,
                     account_name=account.name, kind=AccountKind(account.kind), role=user.role)


def _account(session: Session, reference: str) -> Account:
    account = session.scalar(select(Account).where(
        or_(Account.external_id == reference, Account.id == reference)))
    if account is None:
        raise UnknownAccount(
            "the account named by your sign-in is not known to envdesk; "
            "ask the provider to register it")
    return account


def _new_user(session: Session, claims: Mapping[str, Any], account: Account) -> User:
    return User(
        email=_email(session, claims), account_id=account.id, role="member",
        name=_text(claims.get("name"), 200), oidc_issuer=claims["iss"], oidc_subject=claims["sub"],
    )


def _email(session: Session, claims: Mapping[str, Any]) -> str:
    """The ``email`` claim, or, when it is missing or another user has it, ``sub@issuer-host``:
    an existing user is never taken over by a token that merely carries the same address."""
    email = (_text(claims.get("email"), 320) or "").lower()
    if "@" in email and session.scalar(select(User.id).where(User.email == email)) is None:
        return email
    return f"{claims['sub']}@{urlsplit(claims['iss']).hostname or 'oidc'}".lower()[:320]


def _text(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None
