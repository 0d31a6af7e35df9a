"""Use cases of the console's sign-in: who a staff API token or an OIDC identity belongs to.

Only support staff (a provider account's ``support`` or ``admin`` users) get in. An OIDC identity
is known by (issuer, subject); its first sign-in may link it to an existing staff user by email,
only when the issuer vouches for that email (``email_verified``)."""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.db import UnitOfWork
from service.domain.errors import Forbidden
from service.domain.policy import AccountKind
from service.identity import Principal, authenticate
from service.models import Account, User

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


def staff_by_id(session: Session, user_id: str) -> Principal | None:
    """The staff principal of a signed-in session, read afresh so a revoked role ends it."""
    row = session.execute(select(User, Account).join(Account, Account.id == User.account_id)
                          .where(User.id == user_id)).first()
    if row is None:
        return None
    principal = _principal(*row)
    return principal if principal.is_support else None


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
