"""A calendar body the API process keeps (service.app.calendar.bodies) is served only while what
it shows holds: a ticket filed, moved or cancelled and a window declared or withdrawn after the
month was read show at the next read, each tenant reads its own month, and a month read again
unchanged is served without being read again (one statement: its version)."""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.integration.api.test_calendar_feed import NOW, calendar, file, iso, scheduled_change, window
from tests.support.world import World


def items(client: Any, world: World, who: str) -> dict[str, dict[str, Any]]:
    response = calendar(client, world, who)
    assert response.status_code == 200, response.get_json()
    return {entry["id"]: entry for entry in response.get_json()["items"]}


def test_a_ticket_filed_moved_and_cancelled_after_a_read_shows_at_the_next(client: Any, world: World) -> None:
    assert items(client, world, "support") == {}
    moving = file(client, world, "customer_a", scheduled_change(world, "customer_a_stage", 3))
    dropped = file(client, world, "customer_a", scheduled_change(world, "customer_a_dev", 4))
    seen = items(client, world, "support")
    assert {seen[t["id"]]["status"] for t in (moving, dropped)} == {"pending_approval"}
    assert client.post(f"/v1/tickets/{moving['id']}/approve", headers=world.auth("support")).status_code == 200
    assert client.post(f"/v1/tickets/{dropped['id']}/cancel", headers=world.auth("customer_a")).status_code == 200
    now_is = {t["id"]: client.get(f"/v1/tickets/{t['id']}", headers=world.auth("customer_a")).get_json()["status"]
              for t in (moving, dropped)}
    seen = items(client, world, "support")
    assert {t: seen[t]["status"] for t in now_is} == now_is
    assert now_is[moving["id"]] != "pending_approval" and now_is[dropped["id"]] == "cancelled"
    assert items(client, world, "support") == seen


def test_a_window_declared_and_withdrawn_after_a_read_shows_at_the_next(client: Any, world: World) -> None:
    before = items(client, world, "customer_a")
    made = window(client, world, start=iso(NOW + timedelta(days=2)), end=iso(NOW + timedelta(days=2, hours=3)))
    assert set(items(client, world, "customer_a")) - set(before) == {made["id"]}
    assert client.delete(f"/v1/windows/{made['id']}", headers=world.auth("support")).status_code == 204
    assert items(client, world, "customer_a") == before


def test_each_tenant_reads_its_own_kept_month(client: Any, world: World) -> None:
    mine = file(client, world, "customer_a", scheduled_change(world, "customer_a_stage", 3))
    theirs = file(client, world, "customer_b", scheduled_change(world, "customer_b_stage", 4))
    for _ in range(2):
        assert set(items(client, world, "customer_a")) == {mine["id"]}
        assert set(items(client, world, "customer_b")) == {theirs["id"]}
        assert set(items(client, world, "support")) == {mine["id"], theirs["id"]}


def statements(read: Callable[[], Any]) -> tuple[Any, list[str]]:
    """What ``read`` returns, and the SQL statements it ran."""
    counted: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counted.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        return read(), counted
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def test_a_month_read_again_unchanged_is_served_kept_with_one_statement(client: Any, world: World) -> None:
    file(client, world, "customer_a", scheduled_change(world, "customer_a_stage", 3))
    window(client, world, rrule="FREQ=DAILY", timezone="Europe/Berlin")
    reads = [statements(lambda: calendar(client, world, "support").get_data()) for _ in range(3)]
    (first, rendered), (again, kept), (third, kept_again) = reads
    assert first == again == third
    assert len(kept) == len(kept_again) == len(rendered) - 2, kept  # the windows' and the tickets' statements


def test_with_calendar_cache_bytes_0_every_read_renders(settings: Any, world: World) -> None:
    from service.api import create_app
    client = create_app(dataclasses.replace(settings, calendar_cache_bytes=0)).test_client()
    file(client, world, "customer_a", scheduled_change(world, "customer_a_stage", 3))
    counts = []
    for _ in range(2):
        response, counted = statements(lambda: calendar(client, world, "support"))
        assert response.status_code == 200
        counts.append(len([s for s in counted if "change_windows" in s or "calendar_end" in s]))
    assert counts == [2, 2]  # the windows and the tickets, each time; no version read
