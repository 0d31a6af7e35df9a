"""`envdesk account ...` and `envdesk partner ...`: accounts and the partner links between them."""
from __future__ import annotations

import click

from service.app.registry import operators
from service.cli.common import domain_errors, emit, uow
from service.domain.hosting import AccountKind


@click.group(help="Customer, partner and provider accounts.")
def account() -> None:
    pass


@account.command("add", help="Add an account; prints it as one JSON line.")
@click.argument("name")
@click.option("--kind", type=click.Choice([kind.value for kind in AccountKind]), required=True)
@click.option("--external-id", help="The contract system's id; OIDC tokens and env import may name the account by it.")
@domain_errors
def account_add(name: str, kind: str, external_id: str | None) -> None:
    acc = operators.add_account(name, kind, uow=uow(), external_id=external_id)
    emit({"id": acc.id, "name": acc.name, "kind": acc.kind, "external_id": acc.external_id})


@click.group(help="Links between partner agencies and their customers.")
def partner() -> None:
    pass


@partner.command("link", help="Let a partner read and comment on a customer's tickets.")
@click.argument("partner_account_id")
@click.argument("customer_account_id")
@domain_errors
def partner_link(partner_account_id: str, customer_account_id: str) -> None:
    link = operators.link_partner(partner_account_id, customer_account_id, uow=uow())
    emit({"partner_account_id": link.partner_account_id,
          "customer_account_id": link.customer_account_id})
