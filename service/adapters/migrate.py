"""Schema migrations (Alembic), run by `envdesk db upgrade`."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str, pooler: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["pooler"] = pooler
    return config


def upgrade(database_url: str, revision: str = "head", *, pooler: str = "") -> None:
    """Migrations run in one transaction, so they may go through PgBouncer (``pooler``) too."""
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url, pooler), revision)
