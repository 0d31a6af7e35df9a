"""Racing callers on both databases: exactly one winner, never a 500, never a second row."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable

from sqlalchemy import func, select

from service.models import Ticket, TicketEvent
from tests.helpers import upscale_body
from tests.support.world import World, file_via_api

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
