"""`envdesk account ...` and `envdesk partner ...`: accounts and the partner links between them."""
from __future__ import annotations

import click

from service.app.billing import allowances
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


@account.command("set-allowance", help="Set an account's included upscale-days for a contract "
                 "year (a calendar year, UTC; default: this year), counted per component and day; "
                 "prints it as one JSON line.")
@click.argument("account_id")
@click.option("--days", type=click.IntRange(0, allowances.MAX_DAYS), required=True)
@click.option("--year", type=click.IntRange(2000, 9999), help="YYYY; default: this year")
@domain_errors
def account_set_allowance(account_id: str, days: int, year: int | None) -> None:
    found = allowances.set_allowance(account_id, days, uow=uow(), year=year)
    emit({"account_id": found.account_id, "year": found.year, "days": found.days})


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
