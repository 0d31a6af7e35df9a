"""Who is told by mail, one row per (recipient kind, event), on both databases (SPEC §10).

A ticket of customer A is drafted by a partner, submitted by the requester, approved and started
through the API; then one event happens — a status change (the provisioning fails), a public
comment by staff, an internal note, or the customer's own comment — and the workers' use cases
address and send it over a socket to an aiosmtpd sink. Each row says whether one kind of person
receives mail for that event; every row also checks the exact set of recipients of the event,
so a message to anyone the table does not name fails too. Internal notes reach no one, nothing
of account A reaches account B, and a partner is told only of what it drafted while linked."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete

from service.adapters.config import Settings
from service.adapters.models import PartnerLink
from service.api import create_app
from service.api.runtime import build_runtime
from service.app.notify.outbox import status_listener
from service.app.registry import operators
from service.domain.lifecycle import Action
from tests.helpers import upscale_body
from tests.integration.test_mail import deliver, worker_moves
from tests.support.world import World

# kind → (address, account, role, preferences the person set)
PEOPLE: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "requester": ("customer_a@example.com", "customer_a", "member", {}),
    "watcher_a": ("watcher@a.example", "customer_a", "member", {"watch_account": True}),
    "watcher_b": ("watcher@b.example", "customer_b", "member", {"watch_account": True}),
    "drafting_partner": ("partner_linked@example.com", "partner_linked", "member", {}),
    "partner_no_longer_linked": ("partner_unlinked@example.com", "partner_unlinked", "member", {}),
    "partner_linked_not_drafter": ("colleague@partner.example", "partner_linked", "member",
                                   {"watch_account": True}),
    "staff_opted_in": ("support@example.com", "provider", "support",
                       {"staff": {"awaiting_approval": True, "sla_breach": True, "failed": True}}),
    "staff_not_opted_in": ("support_2@example.com", "provider", "support", {}),
}
EVENTS = ("status_change", "staff_comment", "internal_note", "customer_comment")

# kind,                         event,              told
MATRIX: list[tuple[str, str, bool]] = [
    ("requester",                  "status_change",    True),
    ("requester",                  "staff_comment",    True),
    ("requester",                  "internal_note",    False),
    ("requester",                  "customer_comment", False),
    ("watcher_a",                  "status_change",    True),
    ("watcher_a",                  "staff_comment",    True),
    ("watcher_a",                  "internal_note",    False),
    ("watcher_a",                  "customer_comment", False),
    ("watcher_b",                  "status_change",    False),
    ("watcher_b",                  "staff_comment",    False),
    ("watcher_b",                  "internal_note",    False),
    ("watcher_b",                  "customer_comment", False),
    ("drafting_partner",           "status_change",    True),
    ("drafting_partner",           "staff_comment",    True),
    ("drafting_partner",           "internal_note",    False),
    ("drafting_partner",           "customer_comment", False),
    ("partner_no_longer_linked",   "status_change",    False),
    ("partner_no_longer_linked",   "staff_comment",    False),
    ("partner_no_longer_linked",   "internal_note",    False),
    ("partner_no_longer_linked",   "customer_comment", False),
    ("partner_linked_not_drafter", "status_change",    False),
    ("partner_linked_not_drafter", "staff_comment",    False),
    ("partner_linked_not_drafter", "internal_note",    False),
    ("partner_linked_not_drafter", "customer_comment", False),
    ("staff_opted_in",             "status_change",    True),
    ("staff_opted_in",             "staff_comment",    False),
    ("staff_opted_in",             "internal_note",    False),
    ("staff_opted_in",             "customer_comment", False),
    ("staff_not_opted_in",         "status_change",    False),
    ("staff_not_opted_in",         "staff_comment",    False),
    ("staff_not_opted_in",         "internal_note",    False),
    ("staff_not_opted_in",         "customer_comment", False),
]
SUBJECTS = {"status_change": "Upscale failed", "staff_comment": "Upscale new comment"}
STAFF_NOTE = "staff-only: the customer's contract ends soon"


@pytest.fixture
def api(mail_settings: Settings) -> Any:
    app = create_app(mail_settings, build_runtime(mail_settings, listener=status_listener(mail_settings)))
    app.config["TESTING"] = True
    return app.test_client()


def _people(api: Any, world: World, uow_factory: Any) -> dict[str, str]:
    """Every kind's bearer token; the people the world lacks are added, and each sets its wishes."""
    tokens = {}
    for kind, (address, account, role, wishes) in PEOPLE.items():
        who = address.split("@")[0]
        if who in world.tokens:
            tokens[kind] = world.tokens[who]
        else:
            operators.add_user(address, world.accounts[account], role, uow=uow_factory())
            tokens[kind] = operators.issue_user_token(address, uow=uow_factory())
        if wishes:
            response = api.patch("/v1/me/notifications", json=wishes, headers=_bearer(tokens[kind]))
            assert response.status_code == 200, response.get_json()
    return tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ticket(api: Any, world: World, uow_factory: Any, settings: Settings, tokens: dict[str, str],
            drafter: str) -> str:
    """Drafted by ``drafter`` for customer A, submitted by the requester, approved, started."""
    draft = api.post("/v1/drafts", json=upscale_body(world.envs["customer_a_stage"]), headers=_bearer(tokens[drafter]))
    assert draft.status_code == 201, draft.get_json()
    ticket = api.post(f"/v1/drafts/{draft.get_json()['id']}/submit", headers=_bearer(tokens["requester"]))
    assert ticket.status_code == 201, ticket.get_json()
    ticket_id = ticket.get_json()["id"]
    approved = api.post(f"/v1/tickets/{ticket_id}/approve", headers=_bearer(tokens["staff_not_opted_in"]))
    assert approved.status_code == 200, approved.get_json()
    worker_moves(uow_factory, settings, ticket_id, Action.START)
    return ticket_id


def _happen(event: str, api: Any, uow_factory: Any, settings: Settings, tokens: dict[str, str], ticket_id: str) -> None:
    if event == "status_change":
        worker_moves(uow_factory, settings, ticket_id, Action.FAIL, reason="quota exceeded")
        return
    who, body = {"staff_comment": ("staff_not_opted_in", {"body": "We are on it."}),
                 "internal_note": ("staff_not_opted_in", {"body": STAFF_NOTE, "internal": True}),
                 "customer_comment": ("requester", {"body": "Any news?"})}[event]
    response = api.post(f"/v1/tickets/{ticket_id}/comments", json=body, headers=_bearer(tokens[who]))
    assert response.status_code == 201, response.get_json()


def _row_id(row: tuple[str, str, bool]) -> str:
    kind, event, told = row
    return f"{kind}-{event}-{'told' if told else 'not_told'}"


@pytest.mark.parametrize("row", MATRIX, ids=_row_id)
def test_mail_recipients_matrix_row(row: tuple[str, str, bool], api, world, uow_factory, mail_settings,
                                    sink) -> None:
    kind, event, told = row
    tokens = _people(api, world, uow_factory)
    drafter = "partner_no_longer_linked" if kind == "partner_no_longer_linked" else "drafting_partner"
    if drafter == "partner_no_longer_linked":  # linked when it drafted, unlinked by an operator since
        operators.link_partner(world.accounts["partner_unlinked"], world.accounts["customer_a"], uow=uow_factory())
    ticket_id = _ticket(api, world, uow_factory, mail_settings, tokens, drafter)
    if drafter == "partner_no_longer_linked":
        with uow_factory() as uow:
            uow.session.execute(delete(PartnerLink).where(
                PartnerLink.partner_account_id == world.accounts["partner_unlinked"]))
            uow.commit()
    deliver(uow_factory, mail_settings)
    sink.received.clear()

    _happen(event, api, uow_factory, mail_settings, tokens, ticket_id)
    assert set(deliver(uow_factory, mail_settings)) <= {"sent"}

    address = PEOPLE[kind][0]
    got = [m["Subject"] for m in sink.messages(address)]
    assert len(got) == (1 if told else 0), f"{kind} for {event}: {got}"
    if told:
        assert got[0].startswith("[ENV-") and f"] {SUBJECTS[event]}: customer_a-stage" in got[0]
    expected = {PEOPLE[k][0] for k, e, t in MATRIX if e == event and t and k != "drafting_partner"}
    if SUBJECTS.get(event) and drafter == "drafting_partner":
        expected.add(PEOPLE["drafting_partner"][0])  # told only when it is this ticket's linked drafter
    assert sorted(r for m in sink.received for r in m.to) == sorted(expected)
    assert not any(STAFF_NOTE in m.message.as_string() for m in sink.received)
