"""Operator use cases behind the CLI: accounts, users, tokens, partner links, environments."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.adapters.db import UnitOfWork
from service.domain.errors import Conflict, NotFound, RuleViolation
from service.domain.hosting import COMPONENTS, SIZES, AccountKind, Stage
from service.adapters.identity import issue_token, revoke_tokens
from service.adapters.models import Account, Environment, PartnerLink, User
from service.adapters.registry import default_sizes

ROLES = ("member", "support", "admin")


def add_account(name: str, kind: str, *, uow: UnitOfWork, external_id: str | None = None) -> Account:
    with uow:
        if external_id and uow.session.scalar(select(Account).where(Account.external_id == external_id)):
            raise Conflict(f"an account with external id {external_id} exists already",
                           rule="duplicate_external_id")
        account = Account(name=name, kind=AccountKind(kind).value, external_id=external_id or None)
        uow.session.add(account)
        uow.commit()
    return account


def _account(uow: UnitOfWork, account_id: str, kind: AccountKind | None = None) -> Account:
    account = uow.session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    if kind is not None and account.kind != kind:
        raise RuleViolation(f"account {account_id} is a {account.kind}, not a {kind.value}",
                            rule="wrong_account_kind")
    return account


def link_partner(partner_id: str, customer_id: str, *, uow: UnitOfWork) -> PartnerLink:
    with uow:
        _account(uow, partner_id, AccountKind.PARTNER)
        _account(uow, customer_id, AccountKind.CUSTOMER)
        link = uow.session.get(PartnerLink, (partner_id, customer_id))
        if link is None:
            link = PartnerLink(partner_account_id=partner_id, customer_account_id=customer_id)
            uow.session.add(link)
        uow.commit()
    return link


def add_user(email: str, account_id: str, role: str, *, uow: UnitOfWork) -> User:
    if role not in ROLES:
        raise RuleViolation(f"role must be one of {', '.join(ROLES)}", rule="invalid_role")
    with uow:
        account = _account(uow, account_id)
        if role == "support" and account.kind != AccountKind.PROVIDER:
            raise RuleViolation("only provider accounts have support staff", rule="invalid_role")
        if uow.session.scalar(select(User).where(User.email == email.lower())):
            raise Conflict(f"a user {email} exists already", rule="duplicate_user")
        user = User(email=email.lower(), account_id=account_id, role=role)
        uow.session.add(user)
        uow.commit()
    return user


def set_role(email: str, role: str, *, uow: UnitOfWork) -> User:
    """Grant a role; staff roles only to users of provider accounts."""
    if role not in ROLES:
        raise RuleViolation(f"role must be one of {', '.join(ROLES)}", rule="invalid_role")
    with uow:
        user = _user(uow, email)
        if role != "member" and _account(uow, user.account_id).kind != AccountKind.PROVIDER:
            raise RuleViolation("only provider accounts have staff roles", rule="invalid_role")
        user.role = role
        uow.commit()
    return user


def _user(uow: UnitOfWork, email: str) -> User:
    user = uow.session.scalar(select(User).where(User.email == email.lower()))
    if user is None:
        raise NotFound(f"no user {email}")
    return user


def issue_user_token(email: str, *, uow: UnitOfWork) -> str:
    with uow:
        token = issue_token(uow.session, _user(uow, email))
        uow.commit()
    return token


def revoke_user_tokens(email: str, *, uow: UnitOfWork, prefix: str | None = None) -> int:
    with uow:
        count = revoke_tokens(uow.session, _user(uow, email), prefix)
        uow.commit()
    return count


def check_sizes(sizes: dict[str, str], what: str = "size") -> dict[str, str]:
    for component, size in sizes.items():
        if component not in COMPONENTS or size not in SIZES:
            raise RuleViolation(f"invalid {what} {component}={size}", rule="invalid_size")
    return sizes


def add_environment(
    account_id: str, name: str, stage: str, *, uow: UnitOfWork, sizes: dict[str, str] | None = None,
    caps: dict[str, str] | None = None, upscale_allowed: bool | None = None,
    requires_staging_verification: bool | None = None,
) -> Environment:
    with uow:
        _account(uow, account_id, AccountKind.CUSTOMER)
        env = Environment(
            account_id=account_id, name=name, stage=Stage(stage).value,
            sizes=default_sizes(check_sizes(sizes or {})), caps=check_sizes(caps or {}, "cap"),
            upscale_allowed=upscale_allowed,
            requires_staging_verification=requires_staging_verification,
        )
        if uow.session.scalar(select(Environment.id).where(
                Environment.account_id == account_id, Environment.name == name)):
            raise Conflict(f"environment {name} exists already in this account",
                           rule="duplicate_environment")
        uow.session.add(env)
        uow.commit()
    return env


def set_environment_rules(environment_id: str, *, uow: UnitOfWork, **changes: Any) -> Environment:
    """Operator overrides of the default stage rules and per-component caps."""
    with uow:
        env = uow.session.get(Environment, environment_id)
        if env is None:
            raise NotFound(f"no environment {environment_id}")
        if "caps" in changes:
            changes["caps"] = check_sizes(changes["caps"], "cap")
        for key, value in changes.items():
            setattr(env, key, value)
        uow.commit()
    return env
