"""Use case: move one approved ticket through provisioning. Workers call it; it is idempotent.

Each call claims the ticket with a lease (compare-and-set on its version), talks to
provisioning outside any transaction, then records the outcome in a new transaction. A
call for a ticket that has moved on, or that another worker holds, does nothing. The
provisioning idempotency key is stable for the ticket's round, so a repeated submit returns
the same operation and nothing is applied twice."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from service.db import UnitOfWork
from service.domain.lifecycle import Action, Status
from service.domain.policy import COMPONENTS, SIZES, TicketType
from service.events import StatusListener, move
from service.handoff import ACTIVE_STATUSES, Dispatch, hand_off
from service.models import Environment, Ticket
from service.outbound import GiveUp, RetryLater, backoff_delay
from service.provisioning import Operation, ProvisioningClient


@dataclass(frozen=True)
class Timing:
    lease: float = 60.0
    poll_interval: float = 1.0
    retry_cap: float = 60.0
    max_attempts: int = 8


@dataclass(frozen=True)
class Work:
    """A snapshot of the claimed ticket: what provisioning needs, and what must still hold."""

    ticket_id: str
    status: str
    stage: str
    ticket_type: str
    operation_id: str | None
    round: int
    environment: dict[str, Any]
    request: dict[str, Any]

    @property
    def action(self) -> str:
        return "revert" if self.status == Status.REVERTING else "apply"


ClientFor = Callable[[str, str], ProvisioningClient]


def advance_ticket(
    ticket_id: str, *, uow: UnitOfWork, client_for: ClientFor, clock: Callable[[], datetime],
    timing: Timing, dispatch: Dispatch | None, listener: StatusListener | None = None,
) -> str:
    """One step for one ticket; returns what happened (for logs and metrics)."""
    work = _claim(ticket_id, uow=uow, now=clock(), timing=timing, listener=listener)
    if work is None:
        return "skipped"
    record = _Recorder(work, uow=uow, clock=clock, timing=timing, dispatch=dispatch, listener=listener)
    client = client_for(work.ticket_type, work.stage)
    try:
        operation = _operation(client, work)
        record.operation_id = operation.id
        if work.operation_id is None and not operation.finished:
            # Fast operations are often done by now: one look saves a poll through the queue.
            operation = client.get(operation.id)
    except RetryLater as exc:
        return record.retry_later(exc)
    except GiveUp as exc:
        return record.fail(exc.reason)
    if operation.status == "succeeded":
        return record.finish()
    if operation.status == "failed":
        return record.operation_failed(operation.error or "provisioning reported the operation as failed")
    return record.poll_later()


def _operation(client: ProvisioningClient, work: Work) -> Operation:
    if work.operation_id is not None:
        return client.get(work.operation_id)
    return client.submit(ticket_id=work.ticket_id, action=work.action, environment=work.environment,
                         request=work.request, round=work.round)


def _claim(ticket_id: str, *, uow: UnitOfWork, now: datetime, timing: Timing,
           listener: StatusListener | None) -> Work | None:
    with uow:
        ticket = uow.session.get(Ticket, ticket_id)
        if ticket is None or ticket.status not in ACTIVE_STATUSES:
            return None
        if ticket.next_attempt_at is not None and ticket.next_attempt_at > now:
            return None
        env = uow.session.get(Environment, ticket.environment_id)
        if ticket.status == Status.APPROVED:
            move(uow.session, ticket, Action.START, actor_id=None, now=now,
                 reason="handed to provisioning", listener=listener)
        ticket.next_attempt_at = now + timedelta(seconds=timing.lease)
        work = _snapshot(ticket, env)
        try:
            uow.commit()
        except StaleDataError:
            return None
    return work


def _snapshot(ticket: Ticket, env: Environment) -> Work:
    if ticket.status == Status.REVERTING:
        resources = [{"component": c, "size": s} for c, s in sorted((ticket.baseline or {}).items())]
        request: dict[str, Any] = {"type": ticket.type, "resources": resources}
    elif ticket.type == TicketType.UPSCALE:
        request = {"type": ticket.type, "resources": ticket.resources}
    else:
        request = {"type": ticket.type, "change": ticket.change}
    return Work(
        ticket_id=ticket.id, status=ticket.status, stage=env.stage, ticket_type=ticket.type,
        operation_id=ticket.operation_id, round=ticket.round,
        environment={"id": env.id, "name": env.name, "stage": env.stage, "account_id": env.account_id},
        request=request,
    )


def new_sizes(ticket: Ticket) -> dict[str, str]:
    """The component sizes a completed ticket leaves the environment with."""
    if ticket.type == TicketType.UPSCALE:
        return {r["component"]: r["size"] for r in ticket.resources or []}
    change = ticket.change or {}
    if change.get("kind") == "resources":
        params = change.get("parameters") or {}
        return {c: s for c, s in params.items() if c in COMPONENTS and s in SIZES}
    return {}


class _Recorder:
    """Records one outcome for a claimed ticket, only if the ticket is still where the claim left it."""

    def __init__(self, work: Work, *, uow: UnitOfWork, clock: Callable[[], datetime], timing: Timing,
                 dispatch: Dispatch | None, listener: StatusListener | None) -> None:
        self.work, self.uow, self.clock, self.timing = work, uow, clock, timing
        self.dispatch, self.listener = dispatch, listener
        self.operation_id: str | None = None

    def _apply(self, change: Callable[[Session, Ticket, datetime], str]) -> str:
        with self.uow:
            ticket = self.uow.session.get(Ticket, self.work.ticket_id)
            if ticket is None or ticket.status != self.work.status or ticket.round != self.work.round:
                return "skipped"
            # Stored with the outcome it led to, in the transaction right after it became known.
            ticket.operation_id = ticket.operation_id or self.operation_id
            outcome = change(self.uow.session, ticket, self.clock())
            try:
                self.uow.commit()
            except StaleDataError:
                return "skipped"
        return outcome

    def finish(self) -> str:
        def finish(session: Session, ticket: Ticket, now: datetime) -> str:
            env = session.get(Environment, ticket.environment_id, with_for_update=True)
            if ticket.status == Status.REVERTING:
                env.sizes = {**env.sizes, **(ticket.baseline or {})}
                action = Action.FINISH_REVERT
            else:
                sizes = new_sizes(ticket)
                ticket.baseline = {c: env.sizes.get(c, "small") for c in sizes}
                env.sizes = {**env.sizes, **sizes}
                action = Action.COMPLETE
            env.updated_at = now
            ticket.next_attempt_at = None
            move(session, ticket, action, actor_id=None, now=now, listener=self.listener,
                 reason="provisioning succeeded")
            return "completed" if action is Action.COMPLETE else "reverted"
        return self._apply(finish)

    def _mark_failed(self, session: Session, ticket: Ticket, now: datetime, reason: str) -> str:
        ticket.reason, ticket.failed_action, ticket.next_attempt_at = reason, self.work.action, None
        move(session, ticket, Action.FAIL, actor_id=None, now=now, reason=reason, listener=self.listener)
        return "failed"

    def fail(self, reason: str) -> str:
        """Give up without knowing the operation's end: a retry resumes the same operation
        (or resubmits under the same key, which provisioning answers with the same operation)."""
        return self._apply(lambda session, ticket, now: self._mark_failed(session, ticket, now, reason))

    def operation_failed(self, reason: str) -> str:
        """The operation ended ``failed``, so nothing was applied: a retry needs a new operation,
        hence a new round and idempotency key."""
        def fail(session: Session, ticket: Ticket, now: datetime) -> str:
            outcome = self._mark_failed(session, ticket, now, reason)
            ticket.round += 1
            ticket.operation_id = None
            return outcome
        return self._apply(fail)

    def retry_later(self, exc: RetryLater) -> str:
        """Back off and try again; the attempt counter in the row ends a poison ticket."""
        def retry(session: Session, ticket: Ticket, now: datetime) -> str:
            ticket.attempts += 1
            if ticket.attempts >= self.timing.max_attempts:
                reason = f"provisioning unavailable after {ticket.attempts} attempts: {exc.reason}"
                return self._mark_failed(session, ticket, now, reason)
            delay = backoff_delay(ticket.attempts, cap=self.timing.retry_cap, retry_after=exc.retry_after)
            hand_off(self.uow, ticket, now=now, dispatch=self.dispatch, delay=delay,
                     stage=self.work.stage)
            return "retrying"
        return self._apply(retry)

    def poll_later(self) -> str:
        def poll(_s: Session, ticket: Ticket, now: datetime) -> str:
            hand_off(self.uow, ticket, now=now, dispatch=self.dispatch, delay=self.timing.poll_interval,
                     stage=self.work.stage)
            return "polling"
        return self._apply(poll)
