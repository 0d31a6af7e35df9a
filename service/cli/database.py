"""`envdesk db ...`: the database schema."""
from __future__ import annotations

import click

from service.cli.common import settings


@click.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or upgrade the schema to the latest revision.")
def db_upgrade() -> None:
    from service.adapters.migrate import upgrade

    conf = settings()
    upgrade(conf.database_url, pooler=conf.database_pooler)
    click.echo("database is at the latest revision", err=True)
