"""`envdesk secret new`: a value for SECRET_KEY, PROVISIONING_TOKEN, WEBHOOK_SECRET, METRICS_TOKEN
or a database password."""
from __future__ import annotations

import secrets

import click


@click.group(help="Secrets the processes need (docs/operations.md#secrets).")
def secret() -> None:
    pass


@secret.command("new", help="Print a new random secret (43 URL-safe characters, 256 bits).")
def secret_new() -> None:
    click.echo(secrets.token_urlsafe(32))
