"""Who is told what by mail (service.domain.notice): a table of recipient kinds and events."""
from __future__ import annotations

import pytest

from service.domain.notice import (
    MOVES, Event, Notice, Person, Preferences, TicketParties, notice_of_move, recipients,
)

TICKET = TicketParties(account_id="A", requester_id="requester", status="pending_approval",
                       drafter_id="drafter", drafter_linked=True)
STAFF_ALL = Preferences(awaiting_approval=True, sla_breach=True, failed=True)
PEOPLE = {
    "requester": Person("requester", "A", "customer", "member"),
    "watcher": Person("watcher", "A", "customer", "member", Preferences(watch_account=True)),
    "colleague": Person("colleague", "A", "customer", "member"),
    "watcher_of_b": Person("watcher_of_b", "B", "customer", "member", Preferences(watch_account=True)),
    "drafter": Person("drafter", "P", "partner", "member"),
    "partner_watcher": Person("partner_watcher", "P", "partner", "member", Preferences(watch_account=True)),
    "staff_opted_in": Person("staff_opted_in", "S", "provider", "support", STAFF_ALL),
    "staff": Person("staff", "S", "provider", "support"),
    "provider_member": Person("provider_member", "S", "provider", "member", STAFF_ALL),
    "unsubscribed": Person("unsubscribed", "A", "customer", "member", Preferences(email=False, watch_account=True)),
}

# event, who is told (and on which side)
TABLE = [
    (Event(Notice.RECEIVED, actor_id="requester"),
     {"requester": "customer", "watcher": "customer", "drafter": "customer", "staff_opted_in": "staff"}),
    (Event(Notice.APPROVED, actor_id="staff"), {"requester": "customer", "watcher": "customer", "drafter": "customer"}),
    (Event(Notice.REJECTED), {"requester": "customer", "watcher": "customer", "drafter": "customer"}),
    (Event(Notice.FAILED), {"requester": "customer", "watcher": "customer", "drafter": "customer",
                            "staff_opted_in": "staff"}),
    (Event(Notice.SLA_BREACH), {"staff_opted_in": "staff"}),
    (Event(Notice.SECOND_APPROVAL, actor_id="staff"), {"staff_opted_in": "staff"}),
    (Event(Notice.SECOND_APPROVAL, actor_id="staff_opted_in"), {}),
    (Event(Notice.COMMENT, by_staff=True), {"requester": "customer", "watcher": "customer", "drafter": "customer"}),
    (Event(Notice.COMMENT, by_staff=False, actor_id="requester"), {}),
    (Event(Notice.COMMENT, by_staff=True, internal=True), {}),
]


@pytest.mark.parametrize("event, told", TABLE, ids=lambda v: getattr(v, "notice", ""))
def test_each_event_tells_exactly_these_people(event: Event, told: dict[str, str]) -> None:
    got = {person.id: side for person, side in recipients(event, TICKET, list(PEOPLE.values()))}
    assert got == told


def test_a_drafter_whose_partner_is_no_longer_linked_is_not_told() -> None:
    unlinked = TicketParties(account_id="A", requester_id="requester", status="approved",
                             drafter_id="drafter", drafter_linked=False)
    got = {p.id for p, _ in recipients(Event(Notice.APPROVED), unlinked, list(PEOPLE.values()))}
    assert got == {"requester", "watcher"}


def test_staff_are_not_asked_to_approve_what_is_no_longer_waiting() -> None:
    approved = TicketParties(account_id="A", requester_id="requester", status="approved")
    got = {p.id for p, _ in recipients(Event(Notice.RECEIVED), approved, list(PEOPLE.values()))}
    assert got == {"requester", "watcher"}


def test_a_requester_who_moved_to_another_account_is_not_told() -> None:
    moved = Person("requester", "B", "customer", "member")
    assert recipients(Event(Notice.APPROVED), TICKET, [moved]) == []


@pytest.mark.parametrize("move", sorted(MOVES, key=str))
def test_every_mailed_move_names_a_notice(move: tuple[str | None, str]) -> None:
    assert notice_of_move(*move) in set(Notice)


def test_moves_nobody_is_mailed_about() -> None:
    for move in (("approved", "provisioning"), ("completed", "reverting"), ("failed", "approved"),
                 ("scheduled", "approved"), ("pending_approval", "cancelled")):
        assert notice_of_move(*move) is None
