"""The sweep's queries reach what is still owed through partial indexes, in every plan PostgreSQL may
choose: a long-running worker's statements are prepared after a few runs, and a generic plan can
use a partial index only if the query names the index's predicate in its SQL, not as parameters."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import Engine, event

from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.app.notify.outbox import claim_due_deliveries
from service.app.notify.staff_alerts import StaffAlerts, alert_overdue
from tests.support.plans import generic_plan

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def _sent(engine: Engine, run: Callable[[UnitOfWork], Any], start: str) -> tuple[str, dict[str, Any]]:
    """The first SELECT that ``run`` sends whose FROM clause starts with ``start``, with its parameters."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(_conn: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run(UnitOfWork(make_session_factory(engine)))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return next((s, p) for s, p in seen
                if s.lstrip().startswith("SELECT") and f"FROM {start}" in " ".join(s.split()))


def test_the_sla_alert_looks_only_at_tickets_staff_were_not_yet_told_about(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url)
    try:
        statement, params = _sent(engine, lambda uow: alert_overdue(
            StaffAlerts(), uow=uow, now=NOW, sla_hours={"prod": 4.0}), "tickets")
        plan = generic_plan(engine, statement, params)
    finally:
        engine.dispose()
    assert "ix_tickets_sla_owed" in plan, plan


def _claim(uow: UnitOfWork) -> list[str]:
    return claim_due_deliveries(uow, now=NOW, lease=60, urls=["https://portal.example/hooks"])


def test_the_sweep_hands_out_deliveries_from_the_ones_still_owed(pg_database_url: str) -> None:
    engine = make_engine(pg_database_url)
    try:
        owed = generic_plan(engine, *_sent(engine, _claim, "webhook_deliveries WHERE (webhook_deliveries.url NOT IN"))
        unaddressed = generic_plan(engine, *_sent(engine, _claim, "webhook_deliveries WHERE webhook_deliveries.url IN"))
    finally:
        engine.dispose()
    assert "ix_webhook_deliveries_owed" in owed, owed
    assert "ix_webhook_deliveries_unaddressed" in unaddressed, unaddressed


def test_the_sweep_releases_scheduled_work_from_the_not_before_index(pg_database_url: str) -> None:
    from service.app.provisioning.sweep import _scheduled_due

    engine = make_engine(pg_database_url)
    try:
        plan = generic_plan(engine, *_sent(engine, lambda uow: _scheduled_due(uow, NOW), "tickets"))
    finally:
        engine.dispose()
    assert "ix_tickets_not_before" in plan, plan


def test_the_calendar_reads_tickets_through_its_indexes(pg_database_url: str) -> None:
    from datetime import timedelta

    from service.adapters.identity import Principal
    from service.app.calendar.feed import read_calendar
    from service.domain.hosting import AccountKind

    # Either calendar index serves support on an empty table; a customer's needs its account's.
    who = {"support": ("provider", "support", "calendar "),
           "customer": ("customer", "member", "ix_tickets_account_calendar")}
    engine = make_engine(pg_database_url)
    try:
        for kind, role, index in who.values():
            principal = Principal(user_id="u", email="u@example.com", account_id="a", account_name="a",
                                  kind=AccountKind(kind), role=role)

            def run(uow: UnitOfWork, principal: Principal = principal) -> Any:
                with uow:
                    return read_calendar(uow.session, principal, since=NOW, until=NOW + timedelta(days=30))

            plan = generic_plan(engine, *_sent(engine, run, "tickets"))
            assert index in plan and "Seq Scan on tickets" not in plan, plan
    finally:
        engine.dispose()
