"""The migrations build exactly the schema the models describe."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.adapters.db import make_engine
from service.adapters.models import Base


def test_the_migrated_database_matches_the_models(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_the_sweep_finds_unaddressed_events_through_their_partial_index(pg_database_url: str) -> None:
    # The index's predicate must be exactly the urls the outbox writes, or PostgreSQL cannot use it.
    from sqlalchemy import select, text

    from service.adapters.models import WebhookDelivery
    from service.app.notify.outbox import UNADDRESSED
    from service.app.notify.staff_alerts import STAFF_UNADDRESSED

    engine = make_engine(pg_database_url)
    query = (select(WebhookDelivery.id).where(WebhookDelivery.url.in_((UNADDRESSED, STAFF_UNADDRESSED)))
             .order_by(WebhookDelivery.created_at).limit(500))
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    try:
        with engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN {sql}")))
    finally:
        engine.dispose()
    assert "ix_webhook_deliveries_unaddressed" in plan, plan
