"""The operators' command line, ``envdesk``: one module per command group, helpers in ``common``.

The processes these commands start are wired in ``service.entrypoints``."""
from __future__ import annotations

import click

from service.cli import (
    accounts, database, environments, health, openapi, policy, prices, processes, secret, users,
)


@click.group(help="envdesk: environment upscale and change requests.")
def cli() -> None:
    pass


for _command in (database.db, accounts.account, accounts.partner, users.user, users.token,
                 environments.env, processes.serve, processes.worker, processes.beat,
                 processes.provisioning_sim, processes.up, health.worker_ping, openapi.openapi,
                 policy.policy, prices.prices, secret.secret):
    cli.add_command(_command)
