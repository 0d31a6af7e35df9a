"""The console queue's stage filter reads the environments of that stage from their index, not
the whole table (which grows with every environment hosted): both statements of a queue page."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from service.adapters.db import make_engine
from service.adapters.migrate import upgrade
from service.domain.hosting import AccountKind
from service.adapters.identity import Principal
from service.app.staff.worklist import staff_queue
from tests.support.databases import create_pg_database, drop_pg_database
from tests.support.plans import generic_plan

SUPPORT = Principal(user_id="u", email="s@example.com", account_id="a", account_name="Provider",
                    kind=AccountKind.PROVIDER, role="support")


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A database of this test's own, never analysed: the planner's choice must not follow the
    statistics that earlier tests' rows left in the process's shared database."""
    name = f"envdesk_plans_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = create_pg_database(name)
    upgrade(url)
    yield url
    drop_pg_database(name)


def test_a_stage_filtered_queue_page_reads_the_stages_environments_from_their_index(
        fresh_pg_url: str) -> None:
    engine = make_engine(fresh_pg_url)
    try:
        sent = _statements_of_a_page(engine, {"stage": "prod"})
        plans = []
        with engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))
            for sql, params in sent:
                plans.append("\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, params)))
    finally:
        engine.dispose()
    assert len(plans) == 2
    for plan in plans:
        assert "ix_environments_stage" in plan, plan


def test_a_queue_page_reads_the_partial_queue_indexes_in_a_generic_plan(fresh_pg_url: str) -> None:
    """The statuses are written into the SQL, so a prepared statement's generic plan still
    matches the partial indexes that hold only queued tickets."""
    engine = make_engine(fresh_pg_url)
    try:
        plans = [generic_plan(engine, sql, params) for sql, params in _statements_of_a_page(engine, {})]
    finally:
        engine.dispose()
    assert len(plans) == 2
    for plan in plans:
        assert "ix_tickets_queue" in plan, plan


def _statements_of_a_page(engine: Engine, filters: dict[str, Any]) -> list[tuple[str, Any]]:
    """The SQL and parameters a queue page sends, as the driver gets them."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        sent.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session:
            staff_queue(session, SUPPORT, key=b"k", filters=filters, sla_hours={})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent
