"""Read-side use case of the console's ticket page: the request beside the environment as it
is, the verification ticket, the audit trail and conversation with names, and what staff may do."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.lifecycle import TRANSITIONS, Action, Status
from service.domain.hosting import DEFAULT_SIZE
from service.adapters.identity import Principal
from service.adapters.models import Account, Comment, Environment, Ticket, TicketEvent, User
from service.app.tickets.actions import load_visible_ticket
from service.app.staff.worklist import due_at, ensure_staff

SYSTEM = "system"


@dataclass(frozen=True)
class ComponentLine:
    component: str
    current: str
    requested: str
    cap: str | None


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str
    text: str | None
    from_status: str | None = None
    to_status: str | None = None
    internal: bool = False


@dataclass(frozen=True)
class TicketDetails:
    ticket: Ticket
    environment: Environment
    account_name: str
    requester: str
    components: list[ComponentLine]
    verification: Ticket | None
    events: list[Entry]
    comments: list[Entry]
    actions: frozenset[str]
    due_at: datetime | None


def allowed_actions(status: str) -> frozenset[str]:
    """The staff actions the transition table allows from ``status``."""
    here = Status(status)
    staff = (Action.APPROVE, Action.REJECT, Action.RETRY)
    found = {a.value for a in staff if (here, a) in TRANSITIONS}
    if (here, Action.RETRY_REVERT) in TRANSITIONS:
        found.add(Action.RETRY.value)
    return frozenset(found)


def ticket_details(session: Session, principal: Principal, ticket_id: str, *,
                   sla_hours: Mapping[str, float]) -> TicketDetails:
    ensure_staff(principal)
    ticket = load_visible_ticket(session, principal, ticket_id)
    env = session.get(Environment, ticket.environment_id)
    account = session.get(Account, ticket.account_id)
    events = list(session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)))
    comments = list(session.scalars(select(Comment).where(
        Comment.ticket_id == ticket.id).order_by(Comment.created_at, Comment.id)))
    names = _names(session, {ticket.requester_id} | {e.actor_id for e in events if e.actor_id}
                   | {c.author_id for c in comments})
    return TicketDetails(
        ticket=ticket, environment=env, account_name=account.name,
        requester=names.get(ticket.requester_id, ticket.requester_id),
        components=_components(ticket, env), verification=_verification(session, ticket),
        events=[Entry(at=e.at, who=_actor(e, names),
                      text=e.reason, from_status=e.from_status, to_status=e.to_status)
                for e in events],
        comments=[Entry(at=c.created_at, who=names.get(c.author_id, c.author_id), text=c.body,
                        internal=c.internal) for c in comments],
        actions=allowed_actions(ticket.status),
        due_at=due_at(ticket.created_at, env.stage, sla_hours),
    )


def _names(session: Session, user_ids: set[Any]) -> dict[str, str]:
    rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(user_ids)))
    return {uid: name or email for uid, name, email in rows}


def _components(ticket: Ticket, env: Environment) -> list[ComponentLine]:
    """Each requested component: its size before this ticket (its baseline once applied)."""
    before = ticket.baseline or env.sizes or {}
    return [ComponentLine(component=r["component"],
                          current=before.get(r["component"], DEFAULT_SIZE),
                          requested=r["size"], cap=(env.caps or {}).get(r["component"]))
            for r in ticket.resources or []]


def _verification(session: Session, ticket: Ticket) -> Ticket | None:
    if not ticket.verified_on:
        return None
    return session.scalar(select(Ticket).where(Ticket.id == ticket.verified_on,
                                               Ticket.account_id == ticket.account_id))


def _actor(event: TicketEvent, names: dict[str, str]) -> str:
    """A user by email, or the part of the system that made the move (``system: sweep``)."""
    if event.actor_id:
        return names.get(event.actor_id, event.actor_id)
    return f"{SYSTEM}: {event.actor_name}" if event.actor_name else SYSTEM
