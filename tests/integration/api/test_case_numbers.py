"""Case numbers (SPEC §10): every ticket gets ENV-<n> at filing, increasing and never reused, and
the number is accepted wherever a ticket id is, with the same tenant rules — on PostgreSQL and
SQLite."""
from __future__ import annotations

import os
import re
from typing import Any

import sqlalchemy as sa

from service.adapters.db import make_engine
from service.adapters.migrate import upgrade
from tests.helpers import change_body, upscale_body
from tests.support.databases import create_pg_database, drop_pg_database


def file(client: Any, world: Any, env: str = "customer_a_stage", who: str = "customer_a",
         body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/v1/tickets", json=body or upscale_body(world.envs[env]), headers=world.auth(who))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def number_of(ticket: dict[str, Any]) -> int:
    assert re.fullmatch(r"ENV-[1-9][0-9]*", ticket["number"]), ticket["number"]
    return int(ticket["number"].removeprefix("ENV-"))


def test_each_filed_ticket_gets_the_next_case_number(client, world) -> None:
    first = file(client, world, "customer_a_stage")
    second = file(client, world, "customer_b_stage", who="customer_b")
    third = file(client, world, "customer_a_dev", body=change_body(world.envs["customer_a_dev"]))

    assert number_of(first) < number_of(second) < number_of(third)
    listed = client.get("/v1/tickets", headers=world.auth("support")).get_json()["items"]
    assert {t["id"]: t["number"] for t in listed} == {
        t["id"]: t["number"] for t in (first, second, third)}


def test_a_replayed_filing_keeps_its_number(client, world) -> None:
    headers = {**world.auth("customer_a"), "Idempotency-Key": "k-1"}
    body = upscale_body(world.envs["customer_a_stage"])
    first = client.post("/v1/tickets", json=body, headers=headers).get_json()
    again = client.post("/v1/tickets", json=body, headers=headers)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["number"] == first["number"]


def test_the_case_number_reads_the_ticket_like_its_id(client, world) -> None:
    ticket = file(client, world)
    for name in (ticket["number"], ticket["number"].lower()):
        response = client.get(f"/v1/tickets/{name}", headers=world.auth("customer_a"))
        assert response.status_code == 200
        assert response.get_json()["id"] == ticket["id"]
        assert response.headers["ETag"] == client.get(
            f"/v1/tickets/{ticket['id']}", headers=world.auth("customer_a")).headers["ETag"]
    events = client.get(f"/v1/tickets/{ticket['number']}/events", headers=world.auth("customer_a"))
    assert [e["to_status"] for e in events.get_json()["items"]] == ["pending_approval"]


def test_another_accounts_case_number_is_not_found(client, world) -> None:
    ticket = file(client, world)
    for who in ("customer_b", "partner_unlinked"):
        response = client.get(f"/v1/tickets/{ticket['number']}", headers=world.auth(who))
        assert response.status_code == 404, who
    assert client.get(f"/v1/tickets/{ticket['number']}", headers=world.auth("partner_linked")).status_code == 200
    assert client.post(f"/v1/tickets/{ticket['number']}/cancel", json={},
                       headers=world.auth("customer_b")).status_code == 404


def test_staff_act_and_comment_by_case_number(client, world) -> None:
    ticket = file(client, world)
    comment = client.post(f"/v1/tickets/{ticket['number']}/comments", json={"body": "looking"},
                          headers=world.auth("support"))
    approved = client.post(f"/v1/tickets/{ticket['number']}/approve", json={}, headers=world.auth("support"))

    assert comment.status_code == 201 and comment.get_json()["ticket_id"] == ticket["id"]
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    comments = client.get(f"/v1/tickets/{ticket['id']}/comments", headers=world.auth("customer_a"))
    assert [c["body"] for c in comments.get_json()["items"]] == ["looking"]


def test_an_unknown_case_number_is_not_found(client, world) -> None:
    for name in ("ENV-999999999", "ENV-0", "ENV-x"):
        response = client.get(f"/v1/tickets/{name}", headers=world.auth("support"))
        assert response.status_code == 404, name


def test_the_migration_numbers_existing_tickets_in_filing_order(tmp_path) -> None:
    for url, drop in (_pg_database(f"envdesk_test_case_numbers_{os.getpid()}"), (f"sqlite:///{tmp_path / 'n.db'}", None)):
        try:
            upgrade(url, "0014")
            engine = make_engine(url)
            with engine.begin() as conn:
                _seed(conn)
            upgrade(url)
            with engine.begin() as conn:
                numbers = dict(conn.execute(sa.text("SELECT id, number FROM tickets")).all())
                conn.execute(sa.text(
                    "INSERT INTO tickets (id, type, status, version, environment_id, account_id, requester_id,"
                    " summary, created_at, updated_at, attempts, round, approvals_required) SELECT 'late',"
                    " type, status, 1, environment_id, account_id, requester_id, summary, created_at,"
                    " updated_at, 0, 1, 1 FROM tickets WHERE id = 't-b'"))
                late = conn.execute(sa.text("SELECT number FROM tickets WHERE id = 'late'")).scalar_one()
            engine.dispose()
            assert numbers == {"t-b": 1, "t-a": 2, "t-c": 3}, url
            assert late == 4, url
        finally:
            if drop:
                drop()


def _pg_database(name: str) -> tuple[str, Any]:
    drop_pg_database(name)
    return create_pg_database(name), lambda: drop_pg_database(name)


def _seed(conn: Any) -> None:
    conn.execute(sa.text("INSERT INTO accounts (id, name, kind, created_at) VALUES ('a', 'a', 'customer', '2026-01-01')"))
    conn.execute(sa.text("INSERT INTO users (id, email, account_id, role, created_at) "
                         "VALUES ('u', 'u@example.com', 'a', 'member', '2026-01-01')"))
    conn.execute(sa.text("INSERT INTO environments (id, account_id, name, stage, sizes, caps, created_at, updated_at) "
                         "VALUES ('e', 'a', 'e', 'stage', '{}', '{}', '2026-01-01', '2026-01-01')"))
    for ticket_id, at in (("t-a", "2026-01-02 10:00:00"), ("t-b", "2026-01-01 10:00:00"), ("t-c", "2026-01-02 10:00:00")):
        conn.execute(sa.text(
            "INSERT INTO tickets (id, type, status, version, environment_id, account_id, requester_id, summary,"
            " created_at, updated_at, attempts, round, approvals_required) VALUES"
            " (:id, 'change', 'completed', 1, 'e', 'a', 'u', 's', :at, :at, 0, 1, 1)"), {"id": ticket_id, "at": at})
