"""Who is told what by mail (SPEC §10), as data and pure functions.

An event (a status move or a comment) is one ``Notice`` kind; ``recipients`` says, from the
ticket and the people who might care, who gets a message: the customer side (the requester, the
account's users who watch it, the partner who drafted the request for its linked customer) or
the staff side (staff who opted in to that kind). Nothing about one account reaches another
account's users, and an internal note reaches nobody by mail."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Notice(StrEnum):
    RECEIVED = "received"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    REJECTED = "rejected"
    COMPLETED = "completed"
    FAILED = "failed"
    REVERTED = "reverted"
    EXPIRED = "expired"
    COMMENT = "comment"
    AWAITING_APPROVAL = "awaiting_approval"
    SECOND_APPROVAL = "second_approval"
    SLA_BREACH = "sla_breach"


# A status move → what it tells (the customer side's notice; staff are told of some as well).
MOVES: dict[tuple[str | None, str], Notice] = {
    (None, "pending_approval"): Notice.RECEIVED,
    ("pending_approval", "pending_approval"): Notice.SECOND_APPROVAL,  # one approval of several
    ("pending_approval", "approved"): Notice.APPROVED,
    ("pending_approval", "scheduled"): Notice.SCHEDULED,
    ("pending_approval", "rejected"): Notice.REJECTED,
    ("provisioning", "completed"): Notice.COMPLETED,
    ("approved", "failed"): Notice.FAILED,
    ("provisioning", "failed"): Notice.FAILED,
    ("reverting", "failed"): Notice.FAILED,
    ("reverting", "reverted"): Notice.REVERTED,
    ("pending_approval", "expired"): Notice.EXPIRED,
    ("scheduled", "expired"): Notice.EXPIRED,
    ("approved", "expired"): Notice.EXPIRED,
}

CUSTOMER_SIDE = frozenset({Notice.RECEIVED, Notice.APPROVED, Notice.SCHEDULED, Notice.REJECTED,
                           Notice.COMPLETED, Notice.FAILED, Notice.REVERTED, Notice.EXPIRED,
                           Notice.COMMENT})
STAFF_SIDE: dict[Notice, str] = {
    # notice → the preference that opts a staff member in
    Notice.RECEIVED: "awaiting_approval", Notice.SECOND_APPROVAL: "awaiting_approval",
    Notice.SLA_BREACH: "sla_breach", Notice.FAILED: "failed",
}
STAFF_ROLES = frozenset({"support", "admin"})


THREAD_ORDER: dict[str, int] = {notice.value: rank for rank, notice in enumerate(Notice)}
"""Of two messages to one person about one ticket recorded at the same instant, which is sent
first: a filing that the policy approves at once tells "received" before "approved" or
"scheduled". Later instants go later whatever their kind."""


def notice_of_move(from_status: str | None, to_status: str) -> Notice | None:
    """What a move tells, or None when it tells nobody by mail."""
    return MOVES.get((from_status, to_status))


@dataclass(frozen=True)
class Preferences:
    email: bool = True
    watch_account: bool = False
    awaiting_approval: bool = False
    sla_breach: bool = False
    failed: bool = False


@dataclass(frozen=True)
class Person:
    id: str
    account_id: str
    account_kind: str
    role: str
    preferences: Preferences = Preferences()

    @property
    def is_staff(self) -> bool:
        return self.account_kind == "provider" and self.role in STAFF_ROLES


@dataclass(frozen=True)
class TicketParties:
    """Who a ticket concerns: its account, requester, drafter (and whether the drafter's partner
    account is linked to the ticket's account), and its status as the mail goes out."""

    account_id: str
    requester_id: str
    status: str
    drafter_id: str | None = None
    drafter_linked: bool = False


@dataclass(frozen=True)
class Event:
    notice: Notice
    actor_id: str | None = None
    internal: bool = False
    """An internal note: never mailed to anyone."""
    by_staff: bool = False
    """A comment written by support staff (only those reach the customer side)."""


def recipients(event: Event, ticket: TicketParties, people: list[Person]) -> list[tuple[Person, str]]:
    """(person, side) of everyone this event tells, side "customer" or "staff", each once."""
    if event.internal:
        return []
    told: dict[str, tuple[Person, str]] = {}
    for person in people:
        if not person.preferences.email or person.id in told:
            continue
        if _customer_side(event, ticket, person):
            told[person.id] = (person, "customer")
        elif _staff_side(event, ticket, person):
            told[person.id] = (person, "staff")
    return list(told.values())


def _customer_side(event: Event, ticket: TicketParties, person: Person) -> bool:
    if event.notice not in CUSTOMER_SIDE or (event.notice is Notice.COMMENT and not event.by_staff):
        return False
    if person.id == ticket.requester_id:
        return person.account_id == ticket.account_id
    if person.id == ticket.drafter_id:
        return person.account_kind == "partner" and ticket.drafter_linked
    return person.account_id == ticket.account_id and person.preferences.watch_account


def _staff_side(event: Event, ticket: TicketParties, person: Person) -> bool:
    wish = STAFF_SIDE.get(event.notice)
    if wish is None or not person.is_staff or not getattr(person.preferences, wish):
        return False
    if wish == "awaiting_approval":  # still waiting, and not for this person's own approval
        return ticket.status == "pending_approval" and person.id != event.actor_id
    return True
