"""Who may act on tickets: every (kind, role, action) is decided by one rule, walked here."""
from __future__ import annotations

from itertools import product

import pytest

from service.domain.errors import Forbidden
from service.domain.lifecycle import Action
from service.domain.permissions import (
    ensure_may_act, ensure_may_post_internal_note, is_staff, may_read_internal_notes, sees_every_account,
    sees_no_account,
)
from service.domain.hosting import AccountKind

ROLES = ("member", "support", "admin")
PEOPLE = list(product(AccountKind, ROLES))


@pytest.mark.parametrize("kind,role", PEOPLE, ids=[f"{k.value}-{r}" for k, r in PEOPLE])
def test_only_provider_users_with_a_staff_role_are_staff(kind: AccountKind, role: str) -> None:
    staff = kind is AccountKind.PROVIDER and role in ("support", "admin")

    assert is_staff(kind, role) is staff
    assert sees_every_account(kind, role) is staff
    assert may_read_internal_notes(kind, role) is staff
    assert sees_no_account(kind, role) is (kind is AccountKind.PROVIDER and not staff)


@pytest.mark.parametrize("kind,role", PEOPLE, ids=[f"{k.value}-{r}" for k, r in PEOPLE])
@pytest.mark.parametrize("action", [Action.APPROVE, Action.REJECT, Action.RETRY])
def test_staff_actions_need_a_staff_role(kind: AccountKind, role: str, action: Action) -> None:
    if is_staff(kind, role):
        ensure_may_act(action, kind=kind, role=role, owns_ticket=False)
        return
    with pytest.raises(Forbidden) as raised:
        ensure_may_act(action, kind=kind, role=role, owns_ticket=True)
    assert raised.value.rule == "support_only"


@pytest.mark.parametrize("kind,role", PEOPLE, ids=[f"{k.value}-{r}" for k, r in PEOPLE])
@pytest.mark.parametrize("owns", [True, False], ids=["own", "other"])
def test_only_the_customer_whose_ticket_it_is_cancels_it(kind: AccountKind, role: str, owns: bool) -> None:
    if kind is AccountKind.CUSTOMER and owns:
        ensure_may_act(Action.CANCEL, kind=kind, role=role, owns_ticket=owns)
        return
    with pytest.raises(Forbidden) as raised:
        ensure_may_act(Action.CANCEL, kind=kind, role=role, owns_ticket=owns)
    assert raised.value.rule == "customer_only"


def test_a_provider_member_may_not_post_internal_notes() -> None:
    with pytest.raises(Forbidden):
        ensure_may_post_internal_note(AccountKind.PROVIDER, "member")
    ensure_may_post_internal_note(AccountKind.PROVIDER, "support")
