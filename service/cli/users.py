"""`envdesk user ...` and `envdesk token ...`: users of accounts and their API tokens."""
from __future__ import annotations

import click

from service.app.registry import operators
from service.app.identity import staff_signin
from service.cli.common import domain_errors, emit, uow


@click.group(help="Users of accounts.")
def user() -> None:
    pass


@user.command("add", help="Add a user to an account; prints it as one JSON line.")
@click.argument("email")
@click.option("--account", "account_id", required=True)
@click.option("--role", type=click.Choice(list(operators.ROLES)), default="member", show_default=True)
@domain_errors
def user_add(email: str, account_id: str, role: str) -> None:
    new = operators.add_user(email, account_id, role, uow=uow())
    emit({"id": new.id, "email": new.email, "account_id": new.account_id, "role": new.role})


@user.command("role", help="Grant a user a role (staff roles only in provider accounts); prints the user.")
@click.argument("email")
@click.argument("role", type=click.Choice(list(operators.ROLES)))
@domain_errors
def user_role(email: str, role: str) -> None:
    changed = operators.set_role(email, role, uow=uow())
    emit({"id": changed.id, "email": changed.email, "account_id": changed.account_id,
          "role": changed.role})


@user.group("sessions", help="A user's console sessions.")
def user_sessions() -> None:
    pass


@user_sessions.command("revoke", help="Sign a user out of the console everywhere, at once; "
                       "prints how many sessions ended.")
@click.argument("email")
@domain_errors
def user_sessions_revoke(email: str) -> None:
    emit({"revoked": staff_signin.end_user_sessions(email, uow=uow()), "email": email.lower()})


@click.group(help="API tokens (only their hashes are stored).")
def token() -> None:
    pass


@token.command("issue", help="Issue a token for a user; it is shown once, here.")
@click.argument("email")
@domain_errors
def token_issue(email: str) -> None:
    emit({"token": operators.issue_user_token(email, uow=uow()), "email": email.lower()})


@token.command("revoke", help="Revoke a user's tokens (all, or the one starting with --prefix).")
@click.argument("email")
@click.option("--prefix", help="the first 10 characters of the token to revoke")
@domain_errors
def token_revoke(email: str, prefix: str | None) -> None:
    emit({"revoked": operators.revoke_user_tokens(email, uow=uow(), prefix=prefix)})
