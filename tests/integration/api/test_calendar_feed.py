"""GET /v1/calendar and its iCalendar feed: what the caller may see happen when, nothing of
another tenant; the feed parsed back with icalendar and its recurrences expanded with
recurring-ical-events, as calendar programs do; feed keys stored as hashes and revocable."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import select

from service.adapters.models import CalendarKey
from tests.helpers import assert_problem, change_body, upscale_body
from tests.support.world import World

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def window(client: Any, world: World, **body: Any) -> dict[str, Any]:
    base = {"kind": "maintenance", "title": "Nightly", "start": iso(NOW + timedelta(days=1)),
            "end": iso(NOW + timedelta(days=1, hours=2))}
    response = client.post("/v1/windows", json={**base, **body}, headers=world.auth("support"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def file(client: Any, world: World, who: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/tickets", json=body, headers=world.auth(who))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def calendar(client: Any, world: World, who: str, **query: str) -> Any:
    query = {"from": iso(NOW), "to": iso(NOW + timedelta(days=14)), **query}
    return client.get("/v1/calendar", query_string=query, headers=world.auth(who))


def scheduled_change(world: World, env: str, days: int) -> dict[str, Any]:
    return change_body(world.envs[env], apply_at=iso(NOW + timedelta(days=days)))


def two_tenants(client: Any, world: World) -> dict[str, Any]:
    made = {
        "everywhere": window(client, world, rrule="FREQ=DAILY", timezone="Europe/Berlin"),
        "theirs": window(client, world, kind="freeze", title="B only",
                         scope={"account_id": world.accounts["customer_b"]}),
        "their_env": window(client, world, title="B stage", scope={"environment_id": world.envs["customer_b_stage"]}),
        "mine": file(client, world, "customer_a", scheduled_change(world, "customer_a_stage", 3)),
        "upscale": file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"], period={
            "start": iso(NOW + timedelta(days=2)), "end": iso(NOW + timedelta(days=4))})),
        "other": file(client, world, "customer_b", scheduled_change(world, "customer_b_stage", 3)),
    }
    return made


def test_a_customer_sees_windows_over_its_environments_and_its_own_tickets_only(client: Any, world: World) -> None:
    made = two_tenants(client, world)
    response = calendar(client, world, "customer_a")
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    ids = {item["id"] for item in items}
    assert {made["everywhere"]["id"], made["mine"]["id"], made["upscale"]["id"]} <= ids
    assert not ids & {made["theirs"]["id"], made["their_env"]["id"], made["other"]["id"]}
    nightly = [i for i in items if i["id"] == made["everywhere"]["id"]]
    assert 13 <= len(nightly) <= 14  # one entry per night of the fortnight
    ticket = next(i for i in items if i["id"] == made["mine"]["id"])
    assert (ticket["kind"], ticket["ticket_id"], ticket["status"]) == ("ticket", made["mine"]["id"],
                                                                       "pending_approval")
    starts = [i["start"] for i in items]
    assert starts == sorted(starts)


def test_support_sees_every_tenant_and_a_customer_the_other_tenants_environment_not_at_all(
        client: Any, world: World) -> None:
    made = two_tenants(client, world)
    ids = {item["id"] for item in calendar(client, world, "support").get_json()["items"]}
    assert {made[k]["id"] for k in made} <= ids
    assert_problem(calendar(client, world, "customer_a", environment_id=world.envs["customer_b_stage"]),
                   404, "not_found")
    narrowed = calendar(client, world, "customer_b", environment_id=world.envs["customer_b_stage"]).get_json()
    assert {made["theirs"]["id"], made["their_env"]["id"], made["other"]["id"]} <= {
        i["id"] for i in narrowed["items"]}


def test_a_range_backwards_or_too_long_is_refused(client: Any, world: World) -> None:
    assert_problem(calendar(client, world, "customer_a", to=iso(NOW - timedelta(days=1))), 422, "range_invalid")
    assert_problem(calendar(client, world, "customer_a", to=iso(NOW + timedelta(days=500))), 422, "range_invalid")


def feed(client: Any, world: World, who: str) -> tuple[str, Calendar]:
    issued = client.post("/v1/me/calendar-key", headers=world.auth(who))
    assert issued.status_code == 201, issued.get_json()
    key = issued.get_json()["key"]
    assert issued.get_json()["url"].endswith(f"/v1/calendar.ics?key={key}")
    return key, read_feed(client, key)


def read_feed(client: Any, key: str) -> Calendar:
    response = client.get("/v1/calendar.ics", query_string={"key": key})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.get_data())


def events(cal: Calendar) -> dict[str, Any]:
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_the_feed_has_one_event_per_visible_entry_and_nothing_of_another_tenant(client: Any, world: World) -> None:
    made = two_tenants(client, world)
    _, cal = feed(client, world, "customer_a")
    found = events(cal)
    assert set(found) == {f"window-{made['everywhere']['id']}@envdesk", f"ticket-{made['mine']['id']}@envdesk",
                          f"ticket-{made['upscale']['id']}@envdesk"}
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    nights = recurring_ical_events.of(cal).between(NOW, NOW + timedelta(days=7))
    nightly = [e for e in nights if str(e["UID"]).startswith("window-")]
    assert 6 <= len(nightly) <= 7
    for occurrence in nightly:  # 22:00 wall-clock in Berlin, whatever the offset
        assert occurrence.decoded("DTSTART").astimezone(timezone.utc) >= NOW - timedelta(hours=3)


def test_a_cancelled_ticket_and_a_withdrawn_window_are_cancelled_with_a_higher_sequence(
        client: Any, world: World) -> None:
    made = two_tenants(client, world)
    key, before = feed(client, world, "customer_a")
    mine = f"ticket-{made['mine']['id']}@envdesk"
    nightly = f"window-{made['everywhere']['id']}@envdesk"
    assert str(events(before)[mine]["STATUS"]) == "TENTATIVE"
    assert client.post(f"/v1/tickets/{made['mine']['id']}/cancel", headers=world.auth("customer_a")).status_code == 200
    assert client.delete(f"/v1/windows/{made['everywhere']['id']}", headers=world.auth("support")).status_code == 204
    after = events(read_feed(client, key))
    for uid in (mine, nightly):
        assert str(after[uid]["STATUS"]) == "CANCELLED"
        assert int(after[uid]["SEQUENCE"]) > int(events(before)[uid]["SEQUENCE"])


def test_an_emergency_is_marked_in_the_feed_and_the_calendar(client: Any, world: World) -> None:
    body = scheduled_change(world, "customer_a_stage", 2) | {"emergency": True, "emergency_reason": "outage"}
    ticket = file(client, world, "customer_a", body)
    _, cal = feed(client, world, "customer_a")
    assert str(events(cal)[f"ticket-{ticket['id']}@envdesk"]["SUMMARY"]).startswith("EMERGENCY")
    entry = next(i for i in calendar(client, world, "customer_a").get_json()["items"] if i["id"] == ticket["id"])
    assert entry["emergency"] is True


def test_a_new_key_revokes_the_old_and_only_a_hash_is_stored(client: Any, world: World, uow_factory: Any) -> None:
    old, _ = feed(client, world, "customer_a")
    new, _ = feed(client, world, "customer_a")
    assert_problem(client.get("/v1/calendar.ics", query_string={"key": old}), 401, "unauthenticated")
    with uow_factory() as uow:
        stored = list(uow.session.scalars(select(CalendarKey.key_hash)))
    assert len(stored) == 1 and new not in stored[0] and len(stored[0]) == 64
    assert client.delete("/v1/me/calendar-key", headers=world.auth("customer_a")).status_code == 204
    assert_problem(client.get("/v1/calendar.ics", query_string={"key": new}), 401, "unauthenticated")
    assert "key" in assert_problem(client.get("/v1/calendar.ics"), 422, "validation_failed")["errors"]
