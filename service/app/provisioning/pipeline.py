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

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload, load_only
from sqlalchemy.orm.attributes import set_committed_value

from service.adapters import tracing
from service.adapters.db import STALE, UnitOfWork
from service.domain.actors import WORKER
from service.domain.errors import ConcurrentChange
from service.domain.lifecycle import (
    PROVISIONING_ACTION_OF, Action, ProvisioningAction, Status, operation_action,
)
from service.domain.hosting import COMPONENTS, DEFAULT_SIZE, SIZES, TicketType, revert_plan
from service.app.billing import ledger
from service.app.calendar import kept as calendar_kept, rules as calendar_rules
from service.app.tickets.moves import StatusListener, move
from service.adapters.writes import save, statement_at_a_time
from service.adapters.handoff import ACTIVE_STATUSES, Dispatch, hand_off
from service.adapters.models import Environment, Ticket
from service.adapters.outbound import GiveUp, RetryLater, backoff_delay
from service.adapters.provisioning import Operation, ProvisioningClient


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
    attempt_round: int
    environment: dict[str, Any]
    request: dict[str, Any]
    trace_context: str | None = None

    @property
    def action(self) -> ProvisioningAction:
        return PROVISIONING_ACTION_OF[Status(self.status)]

    @property
    def gives_nothing_back(self) -> bool:
        """A revert whose every component a later request changed: no operation is needed."""
        return (self.action is ProvisioningAction.REVERT and self.ticket_type == TicketType.UPSCALE
                and not self.request["resources"])


ClientFor = Callable[[str, str], ProvisioningClient]


def advance_ticket(
    ticket_id: str, *, uow: UnitOfWork, client_for: ClientFor, clock: Callable[[], datetime],
    timing: Timing, dispatch: Dispatch | None, listener: StatusListener | None = None,
) -> str:
    """One step for one ticket; returns what happened (for logs and metrics)."""
    claimed = _claim(ticket_id, uow=uow, now=clock(), timing=timing, listener=listener)
    if claimed is None:
        return "skipped"
    work, held = claimed
    record = _Recorder(work, held, uow=uow, clock=clock, timing=timing, dispatch=dispatch, listener=listener)
    # In the trace of the move that handed the ticket over, whoever published it.
    with tracing.resumed(work.trace_context, f"provisioning {work.action.value}",
                         **{"envdesk.ticket_id": ticket_id}):
        return _step(work, record, client_for)


def _step(work: Work, record: "_Recorder", client_for: ClientFor) -> str:
    if work.gives_nothing_back:
        return record.finish()
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
    return client.submit(ticket_id=work.ticket_id, action=operation_action(work.ticket_type, work.action),
                         environment=work.environment,
                         request=work.request, attempt_round=work.attempt_round)


def _claim(ticket_id: str, *, uow: UnitOfWork, now: datetime, timing: Timing,
           listener: StatusListener | None) -> tuple[Work, _Held] | None:
    try:
        with uow:
            statement_at_a_time(uow.session)
            found = _load(uow.session, ticket_id)
            if found is None:
                return None
            ticket, env = found.ticket, found.env
            if ticket.status not in ACTIVE_STATUSES:
                return None
            if ticket.next_attempt_at is not None and ticket.next_attempt_at > now:
                return None
            if ticket.status == Status.APPROVED and _period_over(ticket, now):
                move(uow, ticket, Action.EXPIRE, actor=WORKER, now=now, listener=listener,
                     reason="the period ended before the upscale was applied")
                found.save(uow.session)
                uow.commit()
                return None
            if ticket.status == Status.APPROVED and _held(uow, ticket, env, found.windows, now=now,
                                                          listener=listener):
                found.save(uow.session)
                uow.commit()
                return None
            if ticket.status == Status.APPROVED:
                move(uow, ticket, Action.START, actor=WORKER, now=now,
                     reason="handed to provisioning", listener=listener)
            ticket.next_attempt_at = now + timedelta(seconds=timing.lease)
            work = _snapshot(ticket, env)
            found.save(uow.session)
            uow.commit()
    except ConcurrentChange:
        return None
    return work, found


def _held(uow: UnitOfWork, ticket: Ticket, env: Environment, windows: str | None, *, now: datetime,
          listener: StatusListener | None) -> bool:
    """Nothing is applied inside a freeze or maintenance window of the environment (one declared
    after the approval too): the ticket waits, scheduled, until the window ends. ``windows``: the
    windows' version, read with the ticket."""
    due = calendar_rules.due_at(uow.session, ticket, stage=env.stage, now=now, version=windows)
    if due <= now:
        return False
    ticket.not_before = due
    move(uow, ticket, Action.HOLD, actor=WORKER, now=now, listener=listener,
         reason=f"held by a freeze or maintenance window until {due.isoformat()}")
    return True


_ENV_READ = ("id", "name", "stage", "account_id", "sizes")


def _read_statement(*, lock_environment: bool) -> Select[Any]:
    """The ticket with its approvals (every status change's webhook shows them, oldest first),
    its environment and the windows' version (which the claim's rules of time take the windows
    at), in one statement, built once. Of the environment only the columns a step reads are
    loaded (another is loaded when first read)."""
    query = (select(Ticket, Environment, calendar_kept.version())
             .join(Environment, Environment.id == Ticket.environment_id)
             .where(Ticket.id == bindparam("ticket_id"))
             .options(joinedload(Ticket.approvals), load_only(*(getattr(Environment, name) for name in _ENV_READ))))
    return query.with_for_update(of=Environment) if lock_environment else query


_READ = {lock: _read_statement(lock_environment=lock) for lock in (False, True)}
_SIZES = select(Environment.sizes).where(Environment.id == bindparam("env_id")).with_for_update()


class _Held:
    """One ticket and its environment as loaded in a worker's transaction, and the write that
    stores what the step changed on them: the ticket's columns as a compare-and-set on its
    version, with the environment's and the rows that ``move`` and the listeners added, all or
    nothing (service.adapters.writes)."""

    def __init__(self, ticket: Ticket, env: Environment, windows: str | None = None) -> None:
        self.ticket, self.env, self.windows = ticket, env, windows
        self.version = ticket.version  # as read: what the compare-and-set compares with

    def save(self, session: Session) -> None:
        written = save(session, self.ticket, version=self.version, also=self.env)
        if written is None:
            raise ConcurrentChange(STALE)
        self.version = written

    def attach(self, session: Session, *, lock_environment: bool) -> _Held:
        """The objects as the last ``save`` wrote them, in a new unit of work (``save``'s
        compare-and-set then proves that nobody changed the ticket since); ``lock_environment``
        reads the environment's sizes again and holds its row until the commit."""
        session.autoflush = False
        session.add_all((self.ticket, self.env))
        if lock_environment:
            set_committed_value(self.env, "sizes", session.execute(_SIZES, {"env_id": self.env.id}).scalar_one())
        return self


def _load(session: Session, ticket_id: str, *, lock_environment: bool = False) -> _Held | None:
    """The ticket, its approvals and its environment; ``lock_environment`` holds the
    environment's row until the commit, for a read-modify-write of its sizes. The session does
    not flush by itself: the step's write is ``_Held.save``."""
    session.autoflush = False
    row = session.execute(_READ[lock_environment], {"ticket_id": ticket_id}).unique().one_or_none()
    return None if row is None else _Held(row[0], row[1], row[2])


def _period_over(ticket: Ticket, now: datetime) -> bool:
    """A temporary upscale is never applied after its period's end."""
    return ticket.period_end is not None and ticket.period_end <= now


def _snapshot(ticket: Ticket, env: Environment) -> Work:
    if ticket.type == TicketType.LOAD_TEST:
        request: dict[str, Any] = {"type": ticket.type, "load_test": ticket.load_test}
    elif ticket.status == Status.REVERTING:
        give_back, _ = revert_plan(ticket.baseline or {}, new_sizes(ticket), env.sizes)
        resources = [{"component": c, "size": s} for c, s in give_back.items()]
        request = {"type": ticket.type, "resources": resources}
    elif ticket.type == TicketType.UPSCALE:
        request = {"type": ticket.type, "resources": ticket.resources}
    else:
        request = {"type": ticket.type, "change": ticket.change}
    return Work(
        ticket_id=ticket.id, status=ticket.status, stage=env.stage, ticket_type=ticket.type,
        operation_id=ticket.operation_id, attempt_round=ticket.round,
        environment={"id": env.id, "name": env.name, "stage": env.stage, "account_id": env.account_id},
        request=request, trace_context=ticket.trace_context,
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

    def __init__(self, work: Work, held: _Held | None, *, uow: UnitOfWork, clock: Callable[[], datetime],
                 timing: Timing, dispatch: Dispatch | None, listener: StatusListener | None) -> None:
        self.work, self.held, self.uow, self.clock, self.timing = work, held, uow, clock, timing
        self.dispatch, self.listener = dispatch, listener
        self.operation_id: str | None = None

    def _apply(self, change: Callable[[Session, Ticket, Environment, datetime], str], *,
               lock_environment: bool = False) -> str:
        """First on the objects the claim wrote; if another writer changed the ticket since (the
        write's compare-and-set fails and writes nothing), once more on the ticket as it is now."""
        held, self.held = self.held, None
        try:
            if held is not None:
                try:
                    return self._record(change, held, lock_environment=lock_environment)
                except ConcurrentChange:
                    pass
            return self._record(change, None, lock_environment=lock_environment)
        except ConcurrentChange:
            return "skipped"

    def _record(self, change: Callable[[Session, Ticket, Environment, datetime], str], held: _Held | None,
                *, lock_environment: bool) -> str:
        with self.uow:
            session = self.uow.session
            if not lock_environment:
                statement_at_a_time(session)
            found = (held.attach(session, lock_environment=lock_environment) if held is not None
                     else _load(session, self.work.ticket_id, lock_environment=lock_environment))
            if found is None:
                return "skipped"
            ticket, env = found.ticket, found.env
            if ticket.status != self.work.status or ticket.round != self.work.attempt_round:
                return "skipped"
            # Stored with the outcome it led to, in the transaction right after it became known.
            ticket.operation_id = ticket.operation_id or self.operation_id
            outcome = change(session, ticket, env, self.clock())
            found.save(session)
            self.uow.commit()
        return outcome

    def _move(self, ticket: Ticket, action: Action, now: datetime, reason: str) -> None:
        move(self.uow, ticket, action, actor=WORKER, now=now, reason=reason, listener=self.listener,
             stage=self.work.stage)

    def finish(self) -> str:
        def finish(session: Session, ticket: Ticket, env: Environment, now: datetime) -> str:
            env.updated_at = now
            if ticket.status == Status.REVERTING:
                give_back, keep = revert_plan(ticket.baseline or {}, new_sizes(ticket), env.sizes)
                env.sizes = {**env.sizes, **give_back}
                self._move(ticket, Action.FINISH_REVERT, now, _revert_reason(give_back, keep))
                ledger.record_revert(session, ticket, now)
                return "reverted"
            sizes = new_sizes(ticket)
            ticket.baseline = {c: env.sizes.get(c, DEFAULT_SIZE) for c in sizes}
            ledger.record_completion(session, ticket, env, sizes, ticket.baseline, now)
            env.sizes = {**env.sizes, **sizes}
            self._move(ticket, Action.COMPLETE, now, "provisioning succeeded")
            return "completed"
        return self._apply(finish, lock_environment=True)

    def _mark_failed(self, ticket: Ticket, now: datetime, reason: str) -> str:
        ticket.failed_action = self.work.action.value
        self._move(ticket, Action.FAIL, now, reason)
        return "failed"

    def fail(self, reason: str) -> str:
        """Give up without knowing the operation's end: a retry resumes the same operation
        (or resubmits under the same key, which provisioning answers with the same operation)."""
        return self._apply(lambda _session, ticket, _env, now: self._mark_failed(ticket, now, reason))

    def operation_failed(self, reason: str) -> str:
        """The operation ended ``failed``, so nothing was applied: a retry needs a new operation,
        hence a new round and idempotency key."""
        def fail(_session: Session, ticket: Ticket, _env: Environment, now: datetime) -> str:
            outcome = self._mark_failed(ticket, now, reason)
            ticket.round += 1
            ticket.operation_id = None
            return outcome
        return self._apply(fail)

    def retry_later(self, exc: RetryLater) -> str:
        """Back off and try again; the attempt counter in the row ends a poison ticket."""
        def retry(_session: Session, ticket: Ticket, _env: Environment, now: datetime) -> str:
            ticket.attempts += 1
            if ticket.attempts >= self.timing.max_attempts:
                reason = f"provisioning unavailable after {ticket.attempts} attempts: {exc.reason}"
                return self._mark_failed(ticket, now, reason)
            delay = backoff_delay(ticket.attempts, cap=self.timing.retry_cap, retry_after=exc.retry_after)
            hand_off(self.uow, ticket, now=now, dispatch=self.dispatch, delay=delay,
                     stage=self.work.stage)
            return "retrying"
        return self._apply(retry)

    def poll_later(self) -> str:
        def poll(_s: Session, ticket: Ticket, _env: Environment, now: datetime) -> str:
            hand_off(self.uow, ticket, now=now, dispatch=self.dispatch, delay=self.timing.poll_interval,
                     stage=self.work.stage)
            return "polling"
        return self._apply(poll)


def _revert_reason(give_back: dict[str, str], keep: dict[str, str]) -> str:
    """The revert's event: what it gave back, and which components a later request had changed."""
    parts = ["provisioning succeeded"]
    if give_back:
        parts.append("gave back " + ", ".join(f"{c} to {s}" for c, s in give_back.items()))
    if keep:
        parts.append("left " + ", ".join(f"{c} at {s}" for c, s in keep.items())
                     + " as a later request changed " + ("it" if len(keep) == 1 else "them"))
    return "; ".join(parts)
