"""The filing's facts, read in one statement without the ORM (service.app.tickets.filing.read_facts), are
what the ORM reads: the same environment columns, external id, open count, open request and
earlier ticket, for every shape of the statement; and the environment is in the session as if
loaded, so the staff alert reads it without a query."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, update

from service.app.tickets import filing
from service.app.commands import FileTicket
from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.domain.lifecycle import OPEN_STATUSES
from service.adapters.models import Account, Environment, Ticket
from service.adapters.registry import FACT_KEYS
from service.app.tickets.actions import file_ticket
from tests.helpers import change_body, upscale_body, new_secret
from tests.support.world import build_world

NOW = datetime(2031, 3, 1, 8, 0, tzinfo=timezone.utc)
ENV_COLUMNS = FACT_KEYS


@pytest.fixture
def pg(pg_database_url: str) -> Any:
    engine = make_engine(pg_database_url)
    yield make_session_factory(engine), make_session_factory(engine, autocommit=True)
    engine.dispose()


def _both(sessions: Any, params: dict[str, Any], with_key: bool, capped: bool) -> tuple[Any, Any]:
    with sessions() as orm_session, sessions() as facts_session:
        by_orm = _read_orm(orm_session, params, with_key, capped)
        facts = filing.read_facts(facts_session, account_id=params["account_id"],
                                  environment_id=params["environment_id"], type_=params["type"],
                                  key=params["key"], max_open=params["max_open"],
                                  now=datetime.now(timezone.utc))
        by_facts = None if facts.environment is None else (
            facts.environment, [facts.external_id, facts.open_count,
                                *(facts.open_ticket or (None, None)),
                                *((facts.earlier or (None, None)) if with_key else ())])
        return _plain(by_orm), _plain(by_facts)


def _read_orm(session: Any, params: dict[str, Any], with_key: bool, capped: bool) -> Any:
    """The same facts, each read by the ORM on its own."""
    env = session.scalar(select(Environment).where(Environment.id == params["environment_id"],
                                                   Environment.account_id == params["account_id"]))
    if env is None:
        return None
    external_id = session.scalar(select(Account.external_id).where(Account.id == env.account_id))
    open_ = [s.value for s in OPEN_STATUSES]
    count = min(params["max_open"], session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.account_id == params["account_id"], Ticket.status.in_(open_))) or 0) if capped else 0
    dup = session.execute(select(Ticket.id, Ticket.status).where(
        Ticket.environment_id == env.id, Ticket.type == params["type"], Ticket.status.in_(open_))).first()
    rest = [external_id, count, *(dup or (None, None))]
    if with_key:
        earlier = session.execute(select(Ticket.id, Ticket.request_hash).where(
            Ticket.account_id == params["account_id"], Ticket.idempotency_key == params["key"])).first()
        rest += [*(earlier or (None, None))]
    return env, rest


def _plain(row: Any) -> Any:
    if row is None:
        return None
    env, rest = row
    return {k: getattr(env, k) for k in ENV_COLUMNS}, list(rest)


def test_filing_facts_equal_the_orms_for_every_shape(pg: Any) -> None:
    sessions, filing_sessions = pg
    world = build_world(lambda: UnitOfWork(sessions))
    with sessions() as s:  # an external id, caps and a refusal flag: every column has a value
        s.execute(update(Account).where(Account.id == world.accounts["customer_a"])
                  .values(external_id="crm-42"))
        s.execute(update(Environment).where(Environment.id == world.envs["customer_a_prod"])
                  .values(caps={"yves": "xl"}, upscale_allowed=False,
                          requires_staging_verification=True))
        s.commit()
    principal = world.principal("customer_a")
    file_ticket(principal, FileTicket.from_body(upscale_body(world.envs["customer_a_stage"]), idempotency_key="k-1"),
                uow=UnitOfWork(filing_sessions), now=NOW)
    file_ticket(principal, FileTicket.from_body(change_body(world.envs["customer_a_stage"])),
                uow=UnitOfWork(sessions), now=NOW)
    account = world.accounts["customer_a"]
    cases = [(env, type_, key, cap)
             for env in ("customer_a_stage", "customer_a_prod", "customer_b_stage")
             for type_ in ("upscale", "change") for key in (None, "k-1", "k-2") for cap in (0, 1, 100)]
    seen = set()
    for env, type_, key, cap in cases:
        params = {"account_id": account, "environment_id": world.envs[env], "type": type_,
                  "key": key, "max_open": cap}
        by_orm, by_facts = _both(sessions, params, bool(key), bool(cap))
        assert by_facts == by_orm, (env, type_, key, cap)
        seen.add(None if by_orm is None else (bool(by_orm[1][2]), len(by_orm[1]) > 4 and bool(by_orm[1][4])))
    # The cases reached: no such environment, an open request, none, and an earlier ticket.
    assert {None, (True, True), (False, False), (True, False)} <= seen


def test_the_environment_read_with_the_facts_is_in_the_session_as_loaded(pg: Any) -> None:
    sessions, _ = pg
    world = build_world(lambda: UnitOfWork(sessions))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    params = {"account_id": world.accounts["customer_a"], "environment_id": world.envs["customer_a_stage"],
              "type": "upscale", "key": None, "max_open": 0}
    with sessions() as session:
        facts = filing.read_facts(session, account_id=params["account_id"],
                                  environment_id=params["environment_id"], type_="upscale", key=None,
                                  max_open=0, now=datetime.now(timezone.utc))
        assert facts.environment is not None
        event.listen(Engine, "before_cursor_execute", count)
        try:
            env = session.get(Environment, world.envs["customer_a_stage"])
            assert env is facts.environment
            assert (env.name, env.stage, env.sizes["yves"]) == ("customer_a-stage", "stage", "medium")
            assert not session.dirty and not session.new
            assert statements == []
            assert env.created_at.tzinfo is not None  # a column not read is loaded on access
            assert len(statements) == 1
        finally:
            event.remove(Engine, "before_cursor_execute", count)


def _api(database_url: str, tmp_path: Any) -> tuple[Any, Any, Any]:
    """A test client of the whole app (with the webhook and staff listeners), its world, and an
    engine of its own to look at what was stored."""
    from service.adapters.config import Settings
    from service.entrypoints.wsgi import build_app

    settings = Settings(database_url=database_url, broker_url="memory://", home=tmp_path,
                        secret_key=new_secret(), write_rate_limit="", max_open_tickets=100,
                        auth_cache_seconds=0)
    engine = make_engine(database_url)
    world = build_world(lambda: UnitOfWork(make_session_factory(engine)))
    return build_app(settings).test_client(), world, engine


def _sent(act: Any) -> tuple[Any, list[tuple[str, bool]]]:
    """What ``act`` returns, and each statement it sent: its first word and whether the
    connection was in autocommit."""
    sent: list[tuple[str, bool]] = []

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append((statement.split()[0], conn.connection.driver_connection.autocommit))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        return act(), sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_a_filing_through_the_api_is_one_select_and_one_insert_in_autocommit(
        pg_database_url: str, tmp_path: Any) -> None:
    """The filing's only write is one statement, so on PostgreSQL it runs without BEGIN and
    COMMIT: what it sends is the token lookup, the SELECT and the INSERT, each in autocommit."""
    from service.adapters.models import Ticket, TicketEvent, WebhookDelivery

    client, world, engine = _api(pg_database_url, tmp_path)
    response, sent = _sent(lambda: client.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]),
                                               headers=world.auth("customer_a")))
    assert response.status_code == 201, response.get_json()
    assert sent == [("SELECT", True), ("SELECT", True), ("WITH", True)]
    with make_session_factory(engine)() as session:  # the ticket, its event and outbox rows
        ticket_id = response.get_json()["id"]
        assert session.get(Ticket, ticket_id) is not None
        assert session.query(TicketEvent).filter_by(ticket_id=ticket_id).count() == 1
        assert session.query(WebhookDelivery).count() == 2
    engine.dispose()


def test_an_approval_through_the_api_is_one_select_and_one_write_in_autocommit(
        pg_database_url: str, tmp_path: Any) -> None:
    """An approval reads the ticket (with its approvals, its stage and the windows' version) and
    writes its move as one statement, so on PostgreSQL it runs without BEGIN and COMMIT; the
    move, its event, the approval and the outbox rows are all written."""
    from service.adapters.models import Ticket, TicketApproval, TicketEvent, WebhookDelivery

    client, world, engine = _api(pg_database_url, tmp_path)
    filed = [client.post("/v1/tickets", json=body, headers=world.auth("customer_a")) for body in
             (change_body(world.envs["customer_a_stage"]), upscale_body(world.envs["customer_a_stage"]))]
    assert [r.status_code for r in filed] == [201, 201], [r.get_json() for r in filed]
    first, ticket_id = (r.get_json()["id"] for r in filed)
    # The first approval of a process reads the live windows, and keeps them while they hold.
    assert client.post(f"/v1/tickets/{first}/approve", headers=world.auth("support")).status_code == 200
    response, sent = _sent(lambda: client.post(f"/v1/tickets/{ticket_id}/approve", headers=world.auth("support")))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "approved" and response.get_json()["version"] == 2
    assert sent == [("SELECT", True), ("SELECT", True), ("WITH", True)]  # token, ticket, write
    with make_session_factory(engine)() as session:
        stored = session.get(Ticket, ticket_id)
        assert stored is not None and stored.status == "approved" and stored.version == 2
        assert stored.decided_at is not None and stored.next_attempt_at is not None
        assert [e.to_status for e in session.query(TicketEvent).filter_by(ticket_id=ticket_id)
                .order_by(TicketEvent.id)] == ["pending_approval", "approved"]
        assert session.query(TicketApproval).filter_by(ticket_id=ticket_id).count() == 1
        assert session.query(WebhookDelivery).count() == 6  # a filing: portal and staff; an approval: portal
    engine.dispose()
