"""Status changes: every move goes through the transition table, leaves one audit event, and has
the side effects that the effects table (service.domain.lifecycle.EFFECTS) names for it."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.adapters.db import UnitOfWork
from service.domain.actors import Actor
from service.domain.lifecycle import Action, Effect, Status, effects_of, next_status
from service.adapters.handoff import Dispatch, hand_off
from service.adapters.metrics import observe_decision
from service.adapters.models import Comment, Environment, Ticket, TicketEvent


class StatusListener(Protocol):
    def status_changed(self, session: Session, ticket: Ticket, event: TicketEvent) -> None: ...

    def comment_added(self, session: Session, ticket: Ticket, comment: Comment) -> None: ...


def new_event(ticket: Ticket, *, actor: Actor, now: datetime, before: Status | None,
              reason: str | None) -> TicketEvent:
    return TicketEvent(
        ticket_id=ticket.id, at=now, actor_kind=actor.kind.value, actor_id=actor.id,
        actor_name=actor.name, from_status=before.value if before else None,
        to_status=ticket.status, reason=reason,
    )


def record_creation(
    session: Session, ticket: Ticket, *, actor: Actor, now: datetime,
    listener: StatusListener | None = None,
) -> TicketEvent:
    event = new_event(ticket, actor=actor, now=now, before=None, reason=ticket.summary)
    session.add(event)
    if listener is not None:
        listener.status_changed(session, ticket, event)
    return event


def move(
    uow: UnitOfWork,
    ticket: Ticket,
    action: Action,
    *,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    listener: StatusListener | None = None,
    dispatch: Dispatch | None = None,
    stage: str | None = None,
) -> TicketEvent:
    """Apply ``action`` to ``ticket`` (raises InvalidTransition when the table forbids it).

    The row's version column makes the UPDATE a compare-and-set: a concurrent move of the
    same ticket fails (ConcurrentChange, from the unit of work) instead of winning twice.
    ``dispatch`` and ``stage`` serve a move whose effects hand the ticket to a worker."""
    before = Status(ticket.status)
    after = next_status(before, action)
    ticket.status = after.value
    ticket.updated_at = now
    event = new_event(ticket, actor=actor, now=now, before=before, reason=reason)
    uow.session.add(event)
    effects = effects_of(before, after)
    _update_ticket(ticket, effects, now=now, reason=reason)
    if Effect.HAND_OFF in effects:
        hand_off(uow, ticket, now=now, dispatch=dispatch, stage=stage)
    if Effect.NOTIFY in effects and listener is not None:
        listener.status_changed(uow.session, ticket, event)
    if Effect.DECIDED in effects:
        _observe_decision(uow, ticket, now=now, stage=stage)
    return event


def _observe_decision(uow: UnitOfWork, ticket: Ticket, *, now: datetime, stage: str | None) -> None:
    """Time to decision per type and stage, counted once the decision has committed."""
    if stage is None:
        with uow.session.no_autoflush:  # the versioned UPDATE stays for the guarded flush
            stage = uow.session.scalar(
                select(Environment.stage).where(Environment.id == ticket.environment_id))
    seconds, type_ = (now - ticket.created_at).total_seconds(), ticket.type
    uow.after_commit(lambda: observe_decision(type_, str(stage), seconds))


def _update_ticket(ticket: Ticket, effects: frozenset[Effect], *, now: datetime,
                   reason: str | None) -> None:
    if Effect.FRESH_ATTEMPTS in effects:
        ticket.attempts, ticket.reason = 0, None
    if Effect.NEW_OPERATION in effects:
        ticket.operation_id = None
    if Effect.DECIDED in effects:
        ticket.decided_at = now
        ticket.first_response_at = ticket.first_response_at or now
    if Effect.KEEP_REASON in effects:
        ticket.reason = reason
    if Effect.RELEASE in effects:
        ticket.next_attempt_at = None


def hold(session: Session, ticket: Ticket, due: datetime, *, now: datetime, actor: Actor,
         listener: StatusListener | None = None) -> None:
    """A scheduled ticket stays scheduled until ``due`` (a freeze or maintenance window of its
    environment holds it); an event says so whenever that time changes."""
    if ticket.not_before == due:
        return
    ticket.not_before, ticket.updated_at = due, now
    event = new_event(ticket, actor=actor, now=now, before=Status(ticket.status),
                      reason=f"held by a freeze or maintenance window until {due.isoformat()}")
    session.add(event)
    if listener is not None:
        listener.status_changed(session, ticket, event)
