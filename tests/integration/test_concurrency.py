"""Racing callers on both databases: exactly one winner, never a 500, never a second row."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import event, func, select

from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.domain.actors import WORKER
from service.domain.errors import ConcurrentChange, PreconditionFailed
from service.domain.hosting import AccountKind
from service.adapters.identity import Principal
from service.app.commands import STATUS_COMMANDS, FileTicket, Reject
from service.app.tickets.actions import change_status, file_ticket
from service.domain.lifecycle import Action
from service.app.tickets.moves import move
from service.adapters.models import ChangeWindow, Ticket, TicketEvent
from tests.helpers import upscale_body, utc
from tests.support.world import World, build_world, file_via_api

THREADS = 8


def race(app: Any, calls: list[Callable[[Any], Any]]) -> list[Any]:
    """Run each call on its own thread with its own test client, all released at once."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[Any], Any]) -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        try:
            results[index] = call(client)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racing request hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _file(client: Any, world: World, env: str = "customer_a_stage") -> str:
    return file_via_api(client, world, env=env).get_json()["id"]


def _statuses(responses: list[Any]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def _rules(responses: list[Any], status: int) -> set[str]:
    return {r.get_json()["rule"] for r in responses if r.status_code == status}


def _events(uow_factory: Any, ticket_id: str, to_status: str) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.to_status == to_status))


def test_eight_simultaneous_approvals_make_exactly_one_approval(
    app: Any, client: Any, world: World, uow_factory: Any
) -> None:
    ticket_id = _file(client, world)
    staff = ("support", "support_2")
    responses = race(app, [
        lambda c, who=staff[i % 2]: c.post(f"/v1/tickets/{ticket_id}/approve", headers=world.auth(who))
        for i in range(THREADS)])

    assert _statuses(responses) == {200: 1, 409: THREADS - 1}, [r.get_json() for r in responses]
    assert _rules(responses, 409) == {"invalid_transition"}
    assert _events(uow_factory, ticket_id, "approved") == 1
    assert client.get(f"/v1/tickets/{ticket_id}", headers=world.auth("support")).get_json()[
        "status"] == "approved"


def test_approve_and_reject_at_once_has_exactly_one_winner(
    app: Any, client: Any, world: World, uow_factory: Any
) -> None:
    ticket_id = _file(client, world)

    def approve(c: Any) -> Any:
        return c.post(f"/v1/tickets/{ticket_id}/approve", headers=world.auth("support"))

    def reject(c: Any) -> Any:
        return c.post(f"/v1/tickets/{ticket_id}/reject", json={"reason": "no budget"},
                      headers=world.auth("support_2"))

    responses = race(app, [approve if i % 2 else reject for i in range(THREADS)])

    assert _statuses(responses) == {200: 1, 409: THREADS - 1}, [r.get_json() for r in responses]
    assert _rules(responses, 409) == {"invalid_transition"}
    winner = next(r for r in responses if r.status_code == 200).get_json()["status"]
    final = client.get(f"/v1/tickets/{ticket_id}/events", headers=world.auth("support")).get_json()
    assert [e["to_status"] for e in final["items"]] == ["pending_approval", winner]


def test_same_idempotency_key_at_once_files_one_ticket(
    app: Any, world: World, uow_factory: Any
) -> None:
    body = upscale_body(world.envs["customer_a_stage"])
    headers = {**world.auth("customer_a"), "Idempotency-Key": "load-test-2024-06"}
    responses = race(app, [lambda c: c.post("/v1/tickets", json=body, headers=headers)] * THREADS)

    assert _statuses(responses) == {201: THREADS}, [r.get_json() for r in responses]
    assert len({r.get_json()["id"] for r in responses}) == 1
    with uow_factory() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Ticket)) == 1
        (ticket_id,) = {r.get_json()["id"] for r in responses}
    assert _events(uow_factory, ticket_id, "pending_approval") == 1


def test_simultaneous_requests_for_one_environment_leave_one_open(
    app: Any, world: World, uow_factory: Any
) -> None:
    body = upscale_body(world.envs["customer_a_stage"])
    responses = race(app, [
        lambda c, i=i: c.post("/v1/tickets", json=body,
                              headers={**world.auth("customer_a"), "Idempotency-Key": f"key-{i}"})
        for i in range(THREADS)])

    assert _statuses(responses) == {201: 1, 409: THREADS - 1}, [r.get_json() for r in responses]
    winner = next(r for r in responses if r.status_code == 201).get_json()["id"]
    for response in responses:
        if response.status_code == 409:
            problem = response.get_json()
            assert problem["rule"] == "duplicate_open_request"
            assert problem["open_ticket_id"] == winner
            assert winner in problem["detail"]
    with uow_factory() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Ticket)) == 1


def _fail(uow_factory: Any, ticket_id: str) -> None:
    """What the worker does when provisioning gives up on the ticket."""
    with uow_factory() as uow:
        ticket = uow.session.get(Ticket, ticket_id)
        move(uow, ticket, Action.START, actor=WORKER, now=ticket.updated_at)
        move(uow, ticket, Action.FAIL, actor=WORKER, now=ticket.updated_at, reason="provisioning said no")
        uow.commit()


def _all_events(uow_factory: Any, ticket_id: str) -> list[str]:
    with uow_factory() as uow:
        return list(uow.session.scalars(select(TicketEvent.to_status).where(
            TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


@pytest.fixture
def queued_app(settings: Any) -> Any:
    """The API with a queue to hand approved tickets to, as in production (a hand-off reads the
    environment's stage, which flushes the move before the commit)."""
    from service.api import create_app
    from service.api.runtime import build_runtime

    application = create_app(settings, build_runtime(settings, dispatch=lambda *_a, **_k: True))
    application.config["TESTING"] = True
    return application


def test_sixteen_simultaneous_approve_reject_cancel_retry_have_one_winner_and_no_500(
    queued_app: Any, client: Any, world: World, uow_factory: Any
) -> None:
    app = queued_app
    ticket_id = _file(client, world)
    etag = client.get(f"/v1/tickets/{ticket_id}", headers=world.auth("support")).headers["ETag"]
    moves = [("support", "approve", None), ("support_2", "reject", {"reason": "no budget"}),
             ("customer_a", "cancel", {"reason": "not needed"}), ("support", "retry", None)]

    def call(index: int) -> Callable[[Any], Any]:
        who, action, body = moves[index % 4]
        headers = world.auth(who) | ({"If-Match": etag} if index >= 8 else {})
        return lambda c: c.post(f"/v1/tickets/{ticket_id}/{action}", json=body, headers=headers)

    responses = race(app, [call(i) for i in range(16)])

    statuses = _statuses(responses)
    assert statuses[200] == 1 and set(statuses) <= {200, 409, 412}, [r.get_json() for r in responses]
    for response in responses:
        if response.status_code != 200:
            assert response.mimetype == "application/problem+json"
            assert response.get_json()["rule"] in ("invalid_transition", "precondition_failed")
    winner = next(r for r in responses if r.status_code == 200).get_json()["status"]
    assert _all_events(uow_factory, ticket_id) == ["pending_approval", winner]


def test_sixteen_simultaneous_retries_of_a_failed_ticket_send_it_round_once(
    queued_app: Any, client: Any, world: World, uow_factory: Any
) -> None:
    app = queued_app
    ticket_id = _file(client, world)
    assert client.post(f"/v1/tickets/{ticket_id}/approve", headers=world.auth("support")).status_code == 200
    _fail(uow_factory, ticket_id)
    etag = client.get(f"/v1/tickets/{ticket_id}", headers=world.auth("support")).headers["ETag"]

    responses = race(app, [
        lambda c, i=i: c.post(f"/v1/tickets/{ticket_id}/retry", json={"reason": f"try {i}"},
                              headers=world.auth(("support", "support_2")[i % 2])
                              | ({"If-Match": etag} if i % 3 == 0 else {}))
        for i in range(16)])

    statuses = _statuses(responses)
    assert statuses[200] == 1 and set(statuses) <= {200, 409, 412}, [r.get_json() for r in responses]
    assert _all_events(uow_factory, ticket_id) == [
        "pending_approval", "approved", "provisioning", "failed", "approved"]


@pytest.fixture
def pg_world(pg_database_url: str) -> Iterator[tuple[World, Any, str]]:
    engine = make_engine(pg_database_url)
    sessions = make_session_factory(engine)
    world = build_world(lambda: UnitOfWork(sessions))
    yield world, sessions, pg_database_url
    engine.dispose()


def _support(world: World) -> Principal:
    return Principal(user_id=world.users["support"], email="support@example.com",
                     account_id=world.accounts["provider"], account_name="provider",
                     kind=AccountKind.PROVIDER, role="support")


@pytest.mark.parametrize("action,if_match,expected", [
    (Action.APPROVE, None, ConcurrentChange), (Action.APPROVE, "*", PreconditionFailed),
    (Action.REJECT, None, ConcurrentChange), (Action.REJECT, "*", PreconditionFailed),
])
def test_a_move_overtaken_between_read_and_write_is_a_conflict_not_an_error(
    pg_world: tuple[World, Any, str], action: Action, if_match: str | None, expected: type
) -> None:
    """Someone else commits after our read and before our write (one compare-and-set statement
    with the rows the move adds): the loser gets a conflict, nothing of it is written."""
    world, sessions, _ = pg_world
    customer = Principal(user_id=world.users["customer_a"], email="customer_a@example.com",
                         account_id=world.accounts["customer_a"], account_name="customer_a",
                         kind=AccountKind.CUSTOMER, role="member")
    ticket, _ = file_ticket(customer, FileTicket.from_body(upscale_body(world.envs["customer_a_stage"])),
                            uow=UnitOfWork(sessions), now=utc(2030, 1, 1))
    with sessions() as probe:
        engine = probe.get_bind()
    overtook: list[bool] = []

    def someone_else_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if overtook or not statement.startswith("WITH row_written"):
            return
        overtook.append(True)
        change_status(_support(world), Reject(ticket.id, reason="first"),
                      uow=UnitOfWork(sessions), now=utc(2030, 1, 1))

    event.listen(engine, "before_cursor_execute", someone_else_first)
    try:
        with pytest.raises(expected):
            change_status(_support(world), STATUS_COMMANDS[action](ticket.id, reason="second", if_match=if_match),
                          uow=UnitOfWork(sessions), now=utc(2030, 1, 1), dispatch=lambda *_a, **_k: True)
    finally:
        event.remove(engine, "before_cursor_execute", someone_else_first)
    assert overtook == [True]

    with UnitOfWork(sessions) as uow:
        events = uow.session.scalars(select(TicketEvent.reason).where(
            TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)).all()
    assert events == [ticket.summary, "first"]


def test_eight_simultaneous_deletes_of_a_window_withdraw_it_once(app: Any, client: Any, world: World,
                                                                 uow_factory: Any) -> None:
    body = {"kind": "freeze", "title": "peak week", "start": "2031-11-24T00:00:00+00:00",
            "end": "2031-12-01T00:00:00+00:00"}
    window = client.post("/v1/windows", json=body, headers=world.auth("support")).get_json()
    responses = race(app, [lambda c: c.delete(f"/v1/windows/{window['id']}", headers=world.auth("support"))
                           for _ in range(THREADS)])

    assert _statuses(responses) == {204: 1, 404: THREADS - 1}, [r.get_json() for r in responses]
    with uow_factory() as uow:
        # One withdrawal: the feed's SEQUENCE moved once.
        assert uow.session.get(ChangeWindow, window["id"]).sequence == window["sequence"] + 1
