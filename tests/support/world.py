"""A small world of tenants for the tests: two customers, a linked and an unlinked partner, and
support staff, each with a token; and the one way each layer files a ticket in it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from service.app.registry import operators
from service.domain.hosting import AccountKind
from service.adapters.identity import Principal
from tests.helpers import upscale_body

PEOPLE = {"customer_a": ("customer_a", "member"), "customer_b": ("customer_b", "member"),
          "partner_linked": ("partner_linked", "member"),
          "partner_unlinked": ("partner_unlinked", "member"),
          "support": ("provider", "support"), "support_2": ("provider", "support")}
KINDS = {"customer_a": AccountKind.CUSTOMER, "customer_b": AccountKind.CUSTOMER,
         "partner_linked": AccountKind.PARTNER, "partner_unlinked": AccountKind.PARTNER,
         "provider": AccountKind.PROVIDER}


@dataclass
class World:
    """Two customers, a linked and an unlinked partner, support staff; each with a token."""

    tokens: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    envs: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def principal(self, who: str) -> Principal:
        """``who`` as the use cases see them once authenticated."""
        account, role = PEOPLE[who]
        return Principal(user_id=self.users[who], email=f"{who}@example.com",
                         account_id=self.accounts[account], account_name=account,
                         kind=KINDS[account], role=role)


def build_world(new_uow: Callable[[], Any]) -> World:
    world = World()
    for name, kind in KINDS.items():
        world.accounts[name] = operators.add_account(name, kind.value, uow=new_uow()).id
    operators.link_partner(world.accounts["partner_linked"], world.accounts["customer_a"], uow=new_uow())
    for who, (account, role) in PEOPLE.items():
        user = operators.add_user(f"{who}@example.com", world.accounts[account], role, uow=new_uow())
        world.users[who] = user.id
        world.tokens[who] = operators.issue_user_token(user.email, uow=new_uow())
    for account in ("customer_a", "customer_b"):
        for stage in ("dev", "stage", "prod"):
            env = operators.add_environment(world.accounts[account], f"{account}-{stage}", stage,
                                            uow=new_uow(), sizes={"yves": "medium"})
            world.envs[f"{account}_{stage}"] = env.id
    return world


def file_via_api(client: Any, world: World, *, who: str = "customer_a", env: str = "customer_a_stage",
                 body: dict[str, Any] | None = None) -> Any:
    """File a ticket through the HTTP API (a Flask test client); the 201 response."""
    response = client.post("/v1/tickets", json=body or upscale_body(world.envs[env]),
                           headers=world.auth(who))
    assert response.status_code == 201, response.get_json()
    return response


def file_via_use_case(world: World, *, uow: Any, now: Any, listener: Any = None,
                      who: str = "customer_a", env: str = "customer_a_stage",
                      body: dict[str, Any] | None = None) -> str:
    """File a ticket through the use case (as a view would, without HTTP); return its id."""
    from service.app.commands import FileTicket
    from service.app.tickets.actions import file_ticket

    command = FileTicket.from_body(body or upscale_body(world.envs[env]))
    ticket, created = file_ticket(world.principal(who), command, uow=uow, now=now, listener=listener)
    assert created
    return ticket.id
