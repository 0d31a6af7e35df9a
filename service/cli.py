"""The operators' command line: `envdesk ...`."""
from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import click

from service import operators
from service.config import Settings
from service.db import UnitOfWork, make_engine, make_session_factory
from service.domain.errors import DomainError
from service.domain.policy import COMPONENTS, SIZES


def _settings() -> Settings:
    return Settings.from_env()


@functools.cache
def _sessions(database_url: str) -> Any:
    return make_session_factory(make_engine(database_url))


def _uow() -> UnitOfWork:
    return UnitOfWork(_sessions(_settings().database_url))


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, default=str, sort_keys=True))


def _domain_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DomainError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    return wrapper


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        component, sep, size = value.partition("=")
        if not sep or component not in COMPONENTS or size not in SIZES:
            raise click.BadParameter(
                f"{value!r}: expected component=size with component in {', '.join(COMPONENTS)} "
                f"and size in {', '.join(SIZES)}", param_hint=what)
        out[component] = size
    return out


@click.group(help="envdesk: environment upscale and change requests.")
def cli() -> None:
    pass


@cli.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or upgrade the schema to the latest revision.")
def db_upgrade() -> None:
    from service.migrate import upgrade

    upgrade(_settings().database_url)
    click.echo("database is at the latest revision", err=True)


@cli.group(help="Customer, partner and provider accounts.")
def account() -> None:
    pass


@account.command("add", help="Add an account; prints it as one JSON line.")
@click.argument("name")
@click.option("--kind", type=click.Choice(["customer", "partner", "provider"]), required=True)
@_domain_errors
def account_add(name: str, kind: str) -> None:
    acc = operators.add_account(name, kind, uow=_uow())
    _emit({"id": acc.id, "name": acc.name, "kind": acc.kind})


@cli.group(help="Links between partner agencies and their customers.")
def partner() -> None:
    pass


@partner.command("link", help="Let a partner read and comment on a customer's tickets.")
@click.argument("partner_account_id")
@click.argument("customer_account_id")
@_domain_errors
def partner_link(partner_account_id: str, customer_account_id: str) -> None:
    link = operators.link_partner(partner_account_id, customer_account_id, uow=_uow())
    _emit({"partner_account_id": link.partner_account_id,
           "customer_account_id": link.customer_account_id})


@cli.group(help="Users of accounts.")
def user() -> None:
    pass


@user.command("add", help="Add a user to an account; prints it as one JSON line.")
@click.argument("email")
@click.option("--account", "account_id", required=True)
@click.option("--role", type=click.Choice(list(operators.ROLES)), default="member", show_default=True)
@_domain_errors
def user_add(email: str, account_id: str, role: str) -> None:
    new = operators.add_user(email, account_id, role, uow=_uow())
    _emit({"id": new.id, "email": new.email, "account_id": new.account_id, "role": new.role})


@cli.group(help="API tokens (only their hashes are stored).")
def token() -> None:
    pass


@token.command("issue", help="Issue a token for a user; it is shown once, here.")
@click.argument("email")
@_domain_errors
def token_issue(email: str) -> None:
    _emit({"token": operators.issue_user_token(email, uow=_uow()), "email": email.lower()})


@token.command("revoke", help="Revoke a user's tokens (all, or the one starting with --prefix).")
@click.argument("email")
@click.option("--prefix", help="the first 10 characters of the token to revoke")
@_domain_errors
def token_revoke(email: str, prefix: str | None) -> None:
    _emit({"revoked": operators.revoke_user_tokens(email, uow=_uow(), prefix=prefix)})


from service import cli_env  # noqa: E402  (registers `envdesk env ...`)
from service import cli_run  # noqa: E402  (registers `envdesk serve` and friends)
from service import cli_health  # noqa: E402  (registers `envdesk worker-ping`)
from service import cli_openapi  # noqa: E402  (registers `envdesk openapi`)
from service import cli_policy  # noqa: E402  (registers `envdesk policy check`)

cli_env.register(cli, uow=_uow, emit=_emit, pairs=_pairs, domain_errors=_domain_errors)
cli_run.register(cli, settings=_settings)
cli_health.register(cli, settings=_settings)
cli_openapi.register(cli)
cli_policy.register(cli)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli())
