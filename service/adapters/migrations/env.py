"""Alembic environment: the URL comes from the caller's settings, the metadata from the models."""
from __future__ import annotations

from alembic import context

from service.adapters.db import make_engine
from service.adapters.models import Base

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    connectable = config.attributes.get("connection") or make_engine(
        url, pooler=config.attributes.get("pooler", ""))
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
