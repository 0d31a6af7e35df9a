"""Who an OIDC identity is: (issuer, subject) first, a verified email only to link a staff user once."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from service.app.registry import operators
from service.adapters.models import User
from service.app.identity.staff_signin import SignInRefused, staff_by_oidc
from tests.support.world import World

ISSUER = "https://id.example"


def test_a_linked_identity_is_known_by_issuer_and_subject(uow_factory_pg: Any, world: World) -> None:
    first = staff_by_oidc(ISSUER, {"sub": "s-1", "email": "support@example.com", "email_verified": True},
                          uow=uow_factory_pg())
    again = staff_by_oidc(ISSUER, {"sub": "s-1", "email": "renamed@elsewhere.example"},
                          uow=uow_factory_pg())
    assert first.user_id == again.user_id == world.users["support"]


def test_the_same_subject_at_another_issuer_is_someone_else(uow_factory_pg: Any, world: World) -> None:
    staff_by_oidc(ISSUER, {"sub": "s-1", "email": "support@example.com", "email_verified": True},
                  uow=uow_factory_pg())
    with pytest.raises(SignInRefused, match="has not verified an email"):
        staff_by_oidc("https://other.example", {"sub": "s-1"}, uow=uow_factory_pg())


def test_an_already_linked_user_is_not_linked_again_by_email(uow_factory_pg: Any, world: World) -> None:
    staff_by_oidc(ISSUER, {"sub": "s-1", "email": "support@example.com", "email_verified": True},
                  uow=uow_factory_pg())
    with pytest.raises(SignInRefused, match="No staff user has the email address"):
        staff_by_oidc(ISSUER, {"sub": "s-2", "email": "support@example.com", "email_verified": True},
                      uow=uow_factory_pg())


def test_a_linked_user_who_loses_the_staff_role_is_refused(uow_factory_pg: Any, world: World) -> None:
    operators.add_user("ops@example.com", world.accounts["provider"], "admin", uow=uow_factory_pg())
    claims = {"sub": "s-9", "email": "ops@example.com", "email_verified": True}
    assert staff_by_oidc(ISSUER, claims, uow=uow_factory_pg()).role == "admin"
    with uow_factory_pg() as uow:
        uow.session.scalar(select(User).where(User.email == "ops@example.com")).role = "member"
        uow.commit()
    with pytest.raises(SignInRefused, match="The console is for support staff"):
        staff_by_oidc(ISSUER, claims, uow=uow_factory_pg())
