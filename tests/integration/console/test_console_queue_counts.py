"""The count per status a queue page shows equals the tickets' real count per status: counted
afresh, kept for CONSOLE_COUNTS_SECONDS per filter shape (and then said to be as of when), or
tallied from the page's own rows when they are the whole queue."""
from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from service.api.runtime import Runtime
from service.adapters.models import QUEUE_STATUSES
from service.app.staff.worklist import QUEUE_ORDER, CountsCache, staff_queue
from tests.helpers import change_body
from tests.integration.console.conftest import NOW, file
from tests.support.fakes import Clock
from tests.support.world import World

COUNT = re.compile(r"<li><a href=\"[^\"]*\"\s*(?:aria-current=\"true\")?>\s*([a-z ]+) <strong>(\d+)</strong>")
AS_OF = re.compile(r"Counts as of (\d\d:\d\d:\d\d UTC); the list below is current\.")


def shown(page: str) -> dict[str, int]:
    return {status.replace(" ", "_"): int(n) for status, n in COUNT.findall(page)}


def real(app: Any, stage: str | None = None) -> dict[str, int]:
    """The count per queued status, read from the table as it is now."""
    runtime: Runtime = app.extensions["envdesk"]
    with runtime.sessions() as db:
        found = dict(db.execute(sa.text(
            "SELECT t.status, count(*) FROM tickets t JOIN environments e ON e.id = t.environment_id"
            " WHERE t.status = ANY(:queued) AND (CAST(:stage AS text) IS NULL OR e.stage = :stage)"
            " GROUP BY t.status"), {"queued": sorted(QUEUE_STATUSES), "stage": stage}).all())
    return {status: found.get(status, 0) for status in QUEUE_ORDER}


def _seed(app: Any, world: World, status: str, env: str, n: int, prefix: str) -> None:
    """``n`` tickets of ``status``, each on an environment of its own like ``env``, filed before
    the clock's now (one a minute)."""
    runtime: Runtime = app.extensions["envdesk"]
    account = env.rsplit("_", 1)[0]
    with runtime.sessions() as db, db.begin():
        db.execute(sa.text(
            "INSERT INTO environments (id, account_id, name, stage, sizes, caps, created_at, updated_at)"
            " SELECT :prefix || 'env-' || g, account_id, name || '-' || :prefix || g, stage, sizes,"
            " caps, created_at, updated_at FROM environments, generate_series(1, :n) g WHERE id = :env"),
            {"prefix": prefix, "env": world.envs[env], "n": n})
        db.execute(sa.text(
            "INSERT INTO tickets (id, type, status, version, environment_id, account_id, requester_id,"
            " summary, created_at, updated_at, attempts, round) SELECT"
            " :prefix || lpad(g::text, 3, '0'), 'upscale', :status, 1, :prefix || 'env-' || g,"
            " :account, :user, 'seeded', :at - make_interval(mins => 500 - g), :at, 0, 1"
            " FROM generate_series(1, :n) g"),
            {"prefix": prefix, "status": status, "n": n, "account": world.accounts[account],
             "user": world.users[account], "at": NOW})


def _file_three(api: Any, world: World) -> list[dict[str, Any]]:
    """Three tickets filed through the API: upscales on both stage environments, a dev change."""
    change = api.post("/v1/tickets", json=change_body(world.envs["customer_a_dev"]),
                      headers=world.auth("customer_a"))
    assert change.status_code == 201, change.get_data(as_text=True)
    return [file(api, world), file(api, world, "customer_b_stage", who="customer_b"), change.get_json()]


def _set_status(app: Any, ids: list[str], status: str) -> None:
    runtime: Runtime = app.extensions["envdesk"]
    with runtime.sessions() as db, db.begin():
        db.execute(sa.text("UPDATE tickets SET status = :s, version = version + 1 WHERE id = ANY(:ids)"),
                   {"s": status, "ids": ids})


@pytest.fixture
def big_queue(console_app: Any, world: World) -> None:
    """More queued tickets than a page holds, on two stages and in two statuses."""
    _seed(console_app, world, "pending_approval", "customer_a_stage", 40, "pa-")
    _seed(console_app, world, "failed", "customer_b_prod", 30, "fb-")
    _seed(console_app, world, "approved", "customer_b_stage", 5, "ab-")


def test_kept_counts_say_when_they_were_taken_and_are_real_again_once_they_expire(
        console_app: Any, staff: Any, world: World, clock: Clock, big_queue: None) -> None:
    api = console_app.test_client()
    filed = _file_three(api, world)
    first = staff.get("/console/").get_data(as_text=True)
    assert shown(first) == real(console_app) == {"pending_approval": 43, "failed": 30, "approved": 5,
                                                 "provisioning": 0}
    assert not AS_OF.search(first)  # counted for this page
    taken = real(console_app)
    clock.tick(3)
    for ticket in filed[:2]:  # moves through the use case
        assert api.post(f"/v1/tickets/{ticket['id']}/approve", headers=world.auth("support")).status_code == 200
    _set_status(console_app, ["fb-001", "fb-002"], "completed")  # and behind the console's back
    _set_status(console_app, ["pa-001"], "approved")
    api.post("/v1/tickets", json=change_body(world.envs["customer_b_dev"]), headers=world.auth("customer_b"))
    kept = staff.get("/console/").get_data(as_text=True)
    assert shown(kept) == taken != real(console_app)
    assert AS_OF.search(kept).group(1) == "12:00:00 UTC"  # type: ignore[union-attr]
    assert re.search(r'data-ticket="pa-001">(?:(?!</tr>).)*<td>approved</td>', kept, re.DOTALL)  # rows: as now
    assert 'data-ticket="fb-001"' not in kept
    clock.tick(2)  # CONSOLE_COUNTS_SECONDS (5) after the count
    fresh = staff.get("/console/").get_data(as_text=True)
    assert shown(fresh) == real(console_app) == {"pending_approval": 41, "failed": 28, "approved": 8,
                                                 "provisioning": 0}
    assert not AS_OF.search(fresh)


def test_filters_keep_counts_of_their_own_and_ignore_status_and_cursor(
        console_app: Any, staff: Any, world: World, clock: Clock, big_queue: None) -> None:
    assert shown(staff.get("/console/?stage=prod").get_data(as_text=True)) == real(console_app, "prod")
    assert shown(staff.get("/console/?stage=stage").get_data(as_text=True)) == real(console_app, "stage")
    _set_status(console_app, [f"fb-{i:03d}" for i in range(1, 11)], "approved")
    _set_status(console_app, [f"pa-{i:03d}" for i in range(1, 4)], "provisioning")
    # Status and cursor are not part of the shape: the same counts, kept, as of when taken.
    page = staff.get("/console/?stage=prod&status=failed").get_data(as_text=True)
    assert shown(page) == {"pending_approval": 0, "failed": 30, "approved": 0, "provisioning": 0}
    assert AS_OF.search(page)
    first = staff.get("/console/").get_data(as_text=True)  # not counted before: counted now
    assert shown(first) == real(console_app) and not AS_OF.search(first)
    clock.tick(5)
    for query, stage in (("stage=prod", "prod"), ("stage=stage&status=failed", "stage"), ("", None)):
        page = staff.get("/console/?" + query).get_data(as_text=True)
        assert shown(page) == real(console_app, stage), query
        assert not AS_OF.search(page)


def test_a_page_that_holds_the_whole_queue_counts_its_rows_exactly(
        console_app: Any, staff: Any, world: World) -> None:
    api = console_app.test_client()
    tickets = _file_three(api, world)
    assert shown(staff.get("/console/").get_data(as_text=True)) == real(console_app)
    api.post(f"/v1/tickets/{tickets[0]['id']}/approve", headers=world.auth("support"))
    _set_status(console_app, [tickets[1]["id"]], "failed")
    page = staff.get("/console/").get_data(as_text=True)  # the clock has not moved: no count kept
    assert shown(page) == real(console_app) == {"pending_approval": 1, "failed": 1, "approved": 1,
                                                "provisioning": 0}
    assert not AS_OF.search(page)


@pytest.mark.parametrize("filters", [{}, {"stage": "prod"}, {"stage": "stage"}, {"type": "upscale"},
                                     {"account": "customer_b"}, {"stage": "dev", "type": "change"}])
def test_tallied_kept_and_counted_counts_agree(console_app: Any, world: World, clock: Clock,
                                               filters: dict[str, str], big_queue: None) -> None:
    runtime: Runtime = console_app.extensions["envdesk"]
    support = world.principal("support")
    cache = CountsCache(5, clock=clock)
    for limit in (50, 100):  # a page short of the queue, and one that holds all of it
        with runtime.read_sessions() as db:
            exact = staff_queue(db, support, key=b"k", filters=filters, sla_hours={}, limit=limit)
            cached = staff_queue(db, support, key=b"k", filters=filters, sla_hours={}, limit=limit,
                                 counts=cache)
            again = staff_queue(db, support, key=b"k", filters=filters, sla_hours={}, limit=limit,
                                counts=cache)
        assert cached.counts == exact.counts == again.counts, (filters, limit)
        assert [r.id for r in cached.page.items] == [r.id for r in exact.page.items]
