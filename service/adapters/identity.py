"""Who is calling: API tokens (stored only as hashes) and the principal they resolve to."""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import ColumnElement, Connection, bindparam, false, select, true
from sqlalchemy.orm import Session

from service.domain import permissions
from service.adapters.expiring import Expiring
from service.domain.permissions import STAFF_ROLES  # noqa: F401  (re-exported)
from service.domain.hosting import AccountKind
from service.adapters.models import Account, ApiToken, PartnerLink, User, utcnow

TOKEN_PREFIX = "edk_"


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    account_id: str
    account_name: str
    kind: AccountKind
    role: str

    @property
    def is_provider(self) -> bool:
        return self.kind is AccountKind.PROVIDER

    @property
    def is_support(self) -> bool:
        return permissions.is_staff(self.kind, self.role)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue_token(session: Session, user: User) -> str:
    """Create a token for ``user`` and return it; only its hash is stored."""
    token = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=token[:10]))
    return token


class PrincipalCache(Expiring[str, Principal]):
    """Who recent tokens belong to, for ``ttl`` seconds, keyed by the token's hash.

    Spares the API a database round trip per request; a revoked token keeps working in a
    process for at most ``ttl`` seconds. Unknown tokens are never cached."""

    def __init__(self, ttl: float, *, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl, max_entries=max_entries, clock=clock)

    def get(self, token: str) -> Principal | None:  # type: ignore[override]
        return super().get(hash_token(token))

    def put(self, token: str, principal: Principal, *,  # type: ignore[override]
            valid_for: float | None = None) -> None:
        """Remember ``principal`` for ``ttl`` seconds, or less when the token expires sooner."""
        super().put(hash_token(token), principal, ttl=valid_for)


def authenticate(session: Session, token: str) -> Principal | None:
    return token_owner(session.connection(), token)


def token_owner(connection: Connection, token: str) -> Principal | None:
    """``authenticate`` on a connection: no session needed for one statement."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = connection.execute(_OWNER, {"token_hash": hash_token(token)}).first()
    if row is None:
        return None
    user_id, email, role, account_id, account_name, kind = row
    return Principal(user_id=user_id, email=email, account_id=account_id, account_name=account_name,
                     kind=AccountKind(kind), role=role)


# Built once, columns only: SQLAlchemy's compiled cache finds its SQL, and no ORM objects are
# made per request.
_OWNER = (
    select(User.id, User.email, User.role, Account.id, Account.name, Account.kind)
    .join(ApiToken, ApiToken.user_id == User.id)
    .join(Account, Account.id == User.account_id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)


def revoke_tokens(session: Session, user: User, prefix: str | None = None) -> int:
    query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if prefix:
        query = query.where(ApiToken.prefix == prefix[:10])
    tokens = session.scalars(query).all()
    for token in tokens:
        token.revoked_at = utcnow()
    return len(tokens)


def visibility(principal: Principal) -> str:
    """Which accounts' objects the principal reads: ``every``, ``none``, ``partner`` (its
    customers) or ``own``. The shape of its tenant-isolation clause depends on nothing else."""
    if permissions.sees_every_account(principal.kind, principal.role):
        return "every"
    if permissions.sees_no_account(principal.kind, principal.role):
        return "none"
    return "partner" if principal.kind is AccountKind.PARTNER else "own"


def visible_to(scope: str, account_column: ColumnElement[str], account: Any) -> ColumnElement[bool]:
    """The tenant-isolation clause of a ``visibility`` scope for the principal's ``account`` (a
    value, or a bind parameter so that one statement serves every caller of that scope)."""
    if scope == "every":
        return true()
    if scope == "none":
        return account_column.in_(select(Account.id).where(false()).scalar_subquery())
    if scope == "partner":
        return account_column.in_(select(PartnerLink.customer_account_id).where(
            PartnerLink.partner_account_id == account).scalar_subquery())
    return account_column == account


def visible(principal: Principal, account_column: ColumnElement[str]) -> ColumnElement[bool]:
    """A WHERE clause for tenant isolation on any table with an account column."""
    return visible_to(visibility(principal), account_column, principal.account_id)
