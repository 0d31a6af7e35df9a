"""Who may act on tickets: staff roles and the actions each kind of user may take. Pure rules."""
from __future__ import annotations

from service.domain.errors import Forbidden
from service.domain.lifecycle import Action
from service.domain.hosting import AccountKind

STAFF_ROLES = frozenset({"support", "admin"})
"""Roles that make a user of a provider account support staff; other provider users see nothing."""

STAFF_ACTIONS = frozenset({Action.APPROVE, Action.REJECT, Action.RETRY})
CUSTOMER_ACTIONS = frozenset({Action.CANCEL})


def is_staff(kind: AccountKind | str, role: str) -> bool:
    """Support staff: a user of a provider account with a staff role."""
    return AccountKind(kind) is AccountKind.PROVIDER and role in STAFF_ROLES


def sees_every_account(kind: AccountKind | str, role: str) -> bool:
    return is_staff(kind, role)


def sees_no_account(kind: AccountKind | str, role: str) -> bool:
    """Provider users without a staff role see no tickets, environments or notes."""
    return AccountKind(kind) is AccountKind.PROVIDER and role not in STAFF_ROLES


def may_read_internal_notes(kind: AccountKind | str, role: str) -> bool:
    return is_staff(kind, role)


def ensure_may_act(action: Action, *, kind: AccountKind | str, role: str, owns_ticket: bool) -> None:
    """Staff approve, reject and retry; only the customer whose ticket it is cancels it."""
    if action in STAFF_ACTIONS and not is_staff(kind, role):
        raise Forbidden(f"only support staff may {action.value} tickets", rule="support_only",
                        params={"action": action.value})
    if action in CUSTOMER_ACTIONS and not (AccountKind(kind) is AccountKind.CUSTOMER and owns_ticket):
        raise Forbidden("only the customer who filed the request may cancel it", rule="customer_only",
                        params={"kind": AccountKind(kind).value})


def ensure_may_post_internal_note(kind: AccountKind | str, role: str) -> None:
    if not is_staff(kind, role):
        raise Forbidden("only support staff may post internal notes", rule="support_only",
                        params={"action": "post_internal_note"})
