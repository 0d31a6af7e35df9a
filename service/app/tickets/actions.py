"""Use cases on tickets: file, approve, reject, cancel, retry. The API and the workers share them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from service.app.billing import consent
from service.app.calendar import kept as calendar_kept, rules as calendar_rules
from service.app.tickets import approvals, filing, load_test_rules
from service.app.commands import ChangeStatus, FileTicket
from service.adapters import writes
from service.adapters.db import STALE, UnitOfWork
from service.domain import lifecycle, permissions, hosting
from service.domain.actors import Actor
from service.domain.case_numbers import parse_case_number
from service.domain.approval_policy import ApprovalPolicy, Decision, check_lead_time
from service.domain.errors import (
    ConcurrentChange, DuplicateOpenRequest, IdempotencyMismatch, InvalidTransition, NotFound,
    PreconditionFailed,
)
from service.domain.lifecycle import OPEN_STATUSES, Action, Status
from service.domain.prices import PriceList, Quote
from service.domain.scheduling import CalendarConflict, calendar_span
from service.domain.verification import check_verification
from service.app.tickets.moves import StatusListener, move, record_creation
from service.adapters.handoff import Dispatch
from service.adapters.identity import Principal, visible
from service.adapters.models import Environment, Ticket, new_id
from service.adapters.registry import environment_facts


def etag(ticket: Ticket) -> str:
    return f'"{ticket.id}.{ticket.version}"'


def etag_listed(header: str, ticket: Ticket) -> bool:
    """Whether an If-Match or If-None-Match value names the ticket's ETag, or ``*`` (weak
    comparison: ``W/"x"`` names ``"x"``)."""
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag(ticket) in tags



def named(ticket_id: str) -> ColumnElement[bool]:
    """The ticket ``ticket_id`` names: its id, or its case number (``ENV-42``)."""
    number = parse_case_number(ticket_id)
    return Ticket.id == ticket_id if number is None else Ticket.number == number


def load_visible_ticket(session: Session, principal: Principal, ticket_id: str) -> Ticket:
    """The ticket as ``principal`` may see it, with its approvals, in one statement (the
    relationship's own "selectin" loading would send a second: one more round trip a request,
    and through PgBouncer one more transaction to route)."""
    ticket = session.execute(
        select(Ticket).where(named(ticket_id), visible(principal, Ticket.account_id))
        .options(joinedload(Ticket.approvals))
    ).unique().scalar_one_or_none()
    if ticket is None:
        raise NotFound("no such ticket")
    return ticket


def file_ticket(
    principal: Principal, command: FileTicket, *, uow: UnitOfWork, now: datetime,
    listener: StatusListener | None = None, max_open: int = 0,
    approval: ApprovalPolicy = ApprovalPolicy(), dispatch: Dispatch | None = None,
    drafter_id: str | None = None, prices: PriceList | None = None,
    conflicts: list[CalendarConflict] | None = None,
) -> tuple[Ticket, bool]:
    """File a request; returns the ticket and whether it was created now. ``max_open`` caps the
    account's open requests (0: no cap; racing requests may overshoot it); ``approval`` decides
    what it needs (``drafter_id``: the partner's user who drafted it), ``prices`` what it costs
    (service.app.billing.consent). One SELECT reads what the rules need (with the version of the
    live windows when one may cover the environment: they are kept in the process while it
    holds, service.app.calendar.kept; a freeze refuses; ``conflicts`` gains what the request
    overlaps: service.app.calendar.rules; for a priced temporary upscale, the account's included
    days of the contract year), and one INSERT writes the ticket with its events and
    outbox rows (service.app.tickets.filing); the unique indexes decide races. Nothing locks, so
    on PostgreSQL ``uow`` may run in autocommit (service.api.runtime.filing_uow)."""
    hosting.ensure_may_file(principal.kind)
    key, digest = command.idempotency_key, command.request_hash  # only a key's replay compares it
    with uow:
        facts = filing.read_facts(uow.session, account_id=principal.account_id,
                                  environment_id=command.environment_id, type_=command.type,
                                  key=key, max_open=max_open, now=now,
                                  allowance_year=consent.allowance_year(prices, command, now))
        earlier = _replayed(uow.session, principal, facts, key, digest)
        if earlier is not None:
            return earlier, False
        env = _found(facts.environment)
        quoted, decision = _quote_and_decide(command, env, facts, prices=prices, approval=approval)
        _check_rules(uow.session, env, command, now=now, decision=decision, open_ticket=facts.open_ticket)
        due = calendar_rules.check_filing(uow.session, env, command, now=now, conflicts=conflicts,
                                          version=facts.windows_version)
        hosting.check_open_ticket_cap(facts.open_count, max_open)
        ticket = _new_ticket(principal, env, command, now=now, number=filing.number_for(uow.session, facts))
        ticket.charges = consent.charges_for(quoted, env, command, user_id=principal.user_id, now=now)
        approvals.stamp(ticket, decision, env, drafter_id=drafter_id, emergency=command.emergency)
        return _insert(uow, principal, ticket, now=now, key=key, digest=digest,
                       listener=listener, dispatch=dispatch, stage=env.stage, due=due)


def _found(env: Environment | None) -> Environment:
    if env is None:
        raise NotFound("no such environment", errors={"environment_id": ["no such environment"]})
    return env


def _quote_and_decide(command: FileTicket, env: Environment, facts: filing.FilingFacts,
                      *, prices: PriceList | None, approval: ApprovalPolicy) -> tuple[Quote | None, Decision]:
    """The request's quote (by the price list) and what the approval policy asks of it, which
    may depend on whether the quote charges anything (``within_allowance``)."""
    quoted = consent.quote_filing(prices, env, command, allowance=facts.allowance)
    return quoted, approvals.decide_for(
        approval, env, type_=command.type, change_kind=command.change_kind, period=command.window,
        external_id=facts.external_id, within_allowance=consent.within_allowance(command, quoted))


def _replayed(session: Session, principal: Principal, facts: filing.FilingFacts, key: str | None,
              digest: str) -> Ticket | None:
    """The ticket an earlier request with this Idempotency-Key filed, if the body is the same."""
    if not key:
        return None
    if facts.environment is None:  # no such environment: the key may still name another body
        return _replay(session, principal, key, digest)
    if facts.earlier is None:
        return None
    if facts.earlier[1] != digest:
        raise _mismatch()
    return session.get(Ticket, facts.earlier[0])


def _insert(uow: UnitOfWork, principal: Principal, ticket: Ticket, *, now: datetime,
            key: str | None, digest: str, listener: StatusListener | None,
            dispatch: Dispatch | None = None, stage: str | None = None,
            due: datetime | None = None) -> tuple[Ticket, bool]:
    """Insert with its creation event; a unique index that a concurrent request won decides."""
    session = uow.session
    with session.no_autoflush:
        session.add(ticket)
        created = record_creation(session, ticket, actor=Actor.user(principal.user_id), now=now,
                                  listener=listener)
        if ticket.drafter_id:
            created.reason = f"filed from a draft prepared by user {ticket.drafter_id}: {ticket.summary}"
        accepted = consent.acceptance_sentence(ticket.charges)
        if accepted:
            created.reason = f"{created.reason}; {accepted}"
        approvals.approve_at_filing(uow, ticket, now=now, listener=listener, dispatch=dispatch,
                                    stage=stage, due=due)
    try:
        filing.insert_new(session)
        uow.commit()
    except IntegrityError:
        uow.rollback()
        return _resolve_conflict(session, principal, ticket, key, digest), False
    return ticket, True


def _check_rules(session: Session, env: Environment, command: FileTicket, *, now: datetime,
                 decision: Decision = Decision(), open_ticket: tuple[str, str] | None = None) -> None:
    """Every rule of the request, in order; ``open_ticket`` (id, status): the open request of the
    same type on ``env`` that filing it would duplicate."""
    facts = environment_facts(env)
    if command.type == hosting.TicketType.LOAD_TEST:
        load_test_rules.check(session, facts, command, now=now, decision=decision)
    elif command.type == hosting.TicketType.UPSCALE:
        hosting.check_upscale(facts, command.resources, command.window, now=now)
        if command.period and not command.emergency:
            check_lead_time(decision, command.period.start, now=now)
    else:
        cited = [(ticket_id, _verification_facts(session, env.account_id, ticket_id))
                 for ticket_id in command.verified_on]
        check_verification(facts, command.change, cited, required=decision.verify_on,
                           stages_in_account=_stages(session, env.account_id))
    if command.apply_at is not None and not command.emergency:
        check_lead_time(decision, command.apply_at, now=now, field="apply_at")
    if open_ticket is not None:
        raise _duplicate_of(*open_ticket)


def _verification_facts(
    session: Session, account_id: str, ticket_id: str | None
) -> hosting.VerificationFacts | None:
    if not ticket_id:
        return None
    row = session.execute(
        select(Ticket, Environment.stage)
        .join(Environment, Environment.id == Ticket.environment_id)
        .where(Ticket.id == ticket_id, Ticket.account_id == account_id)
    ).first()
    if row is None:
        return None
    ticket, stage = row
    return hosting.VerificationFacts(
        id=ticket.id, account_id=ticket.account_id, type=hosting.TicketType(ticket.type),
        status=ticket.status, stage=hosting.Stage(stage), change=ticket.change,
    )


def _stages(session: Session, account_id: str) -> frozenset[hosting.Stage]:
    return frozenset(hosting.Stage(stage) for stage in session.scalars(
        select(Environment.stage).where(Environment.account_id == account_id).distinct()))


def open_count(session: Session, account_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.account_id == account_id,
        Ticket.status.in_([s.value for s in OPEN_STATUSES]),
    )) or 0


def _open_request(session: Session, environment_id: str, type_: str) -> Ticket | None:
    return session.scalar(
        select(Ticket).where(
            Ticket.environment_id == environment_id,
            Ticket.type == type_,
            Ticket.status.in_([s.value for s in OPEN_STATUSES]),
        )
    )


def ensure_no_open_request(session: Session, environment_id: str, type_: str) -> None:
    open_ticket = _open_request(session, environment_id, type_)
    if open_ticket is not None:
        raise _duplicate(open_ticket)


def _duplicate(open_ticket: Ticket) -> DuplicateOpenRequest:
    return _duplicate_of(open_ticket.id, open_ticket.status)


def _duplicate_of(ticket_id: str, status: str) -> DuplicateOpenRequest:
    return DuplicateOpenRequest(
        f"ticket {ticket_id} is still {status} for this environment",
        open_ticket_id=ticket_id, params={"open_ticket_status": status},
    )


def _new_ticket(principal: Principal, env: Environment, command: FileTicket, *, now: datetime,
                number: int) -> Ticket:
    period, cited, key = command.period, command.verified_on, command.idempotency_key
    shown = calendar_span(command.apply_at, command.window)
    return Ticket(
        apply_at=command.apply_at, emergency=command.emergency, load_test=load_test_rules.stored(command),
        emergency_reason=command.emergency_reason if command.emergency else None,
        calendar_start=shown[0] if shown else None, calendar_end=shown[1] if shown else None,
        type=command.type, status=Status.PENDING_APPROVAL.value,
        environment_id=env.id, account_id=env.account_id, requester_id=principal.user_id,
        summary=command.summary, resources=command.resources, change=command.change,
        verified_on=next(iter(cited), None), verified_on_ids=list(cited) or None,
        period_start=period.start if period else None, period_end=period.end if period else None,
        idempotency_key=key, request_hash=command.request_hash if key else None,
        created_at=now, updated_at=now, id=new_id(), version=1, number=number,
    )


def _replay(session: Session, principal: Principal, key: str, digest: str) -> Ticket | None:
    earlier = session.scalar(
        select(Ticket).where(Ticket.account_id == principal.account_id, Ticket.idempotency_key == key)
    )
    if earlier is not None and earlier.request_hash != digest:
        raise _mismatch()
    return earlier


def _mismatch() -> IdempotencyMismatch:
    return IdempotencyMismatch(
        "this Idempotency-Key was already used with a different request body",
        errors={"Idempotency-Key": ["already used with a different request body"]},
    )


def _resolve_conflict(
    session: Session, principal: Principal, ticket: Ticket, key: str | None, digest: str
) -> Ticket:
    """A concurrent insert won a unique index: replay its key, or name the open ticket."""
    if key:
        earlier = _replay(session, principal, key, digest)
        if earlier is not None:
            return earlier
    open_ticket = _open_request(session, ticket.environment_id, ticket.type)
    if open_ticket is not None:
        raise _duplicate(open_ticket)
    raise InvalidTransition("the request conflicted with a concurrent change; try again")


def change_status(
    principal: Principal,
    command: ChangeStatus,
    *,
    uow: UnitOfWork,
    now: datetime,
    listener: StatusListener | None = None,
    dispatch: Dispatch | None = None,
) -> Ticket:
    """Approve, reject, cancel or retry a ticket on behalf of a person. Exactly one of several
    racing callers wins; the others get 409 invalid_transition, or 412 if they sent If-Match.
    An approval counts towards the approvals the policy asked for; the last one approves. One
    read without a lock, and one write: what the move changed, as a compare-and-set on the
    version read, with the rows it added, all or nothing (service.adapters.writes.save)."""
    action, reason, if_match = command.action, command.reason, command.if_match
    lifecycle.ensure_reason(action, reason)
    try:
        with uow:
            ticket, stage, windows = _ticket_to_change(uow.session, principal, command.ticket_id)
            version = ticket.version
            permissions.ensure_may_act(action, kind=principal.kind, role=principal.role,
                                       owns_ticket=principal.account_id == ticket.account_id)
            if if_match is not None and not etag_listed(if_match, ticket):
                raise PreconditionFailed("the ticket changed since you read it", etag=etag(ticket))
            if action is not Action.APPROVE or approvals.record_approval(
                    uow.session, principal, ticket, now=now, reason=reason, listener=listener):
                move(uow, ticket, _move_for(uow.session, action, ticket, now, stage, windows),
                     actor=Actor.user(principal.user_id), now=now, reason=reason, listener=listener,
                     dispatch=dispatch, stage=stage)
            if writes.save(uow.session, ticket, version=version) is None:
                raise ConcurrentChange(STALE)
            uow.commit()
    except IntegrityError:
        # One person's two approvals at once: the unique index lets one of them count.
        raise ConcurrentChange(STALE) from None
    except ConcurrentChange:
        if if_match is not None:
            raise PreconditionFailed("the ticket changed since you read it") from None
        raise
    return ticket


def _ticket_to_change(session: Session, principal: Principal, ticket_id: str) -> tuple[Ticket, str, str]:
    """The ticket as ``principal`` may see it, with its approvals, its environment's stage
    (which the hand-off and the decision metrics name) and the windows' version (which an
    approval's rules of time take the windows at), in one statement."""
    writes.statement_at_a_time(session)  # its first statement
    session.autoflush = False  # the write is writes.save's, once the move is worked out
    row = session.execute(
        select(Ticket, Environment.stage, calendar_kept.version())
        .join(Environment, Environment.id == Ticket.environment_id)
        .where(named(ticket_id), visible(principal, Ticket.account_id))
        .options(joinedload(Ticket.approvals))
    ).unique().one_or_none()
    if row is None:
        raise NotFound("no such ticket")
    return row[0], row[1], row[2]


def _move_for(session: Session, action: Action, ticket: Ticket, now: datetime, stage: str,
              windows: str) -> Action:
    """The move an action makes; an approval of work whose time (apply_at, a period's start)
    has not come, or that a freeze or maintenance window holds, schedules it until then."""
    due = None
    if action is Action.APPROVE and ticket.status == Status.PENDING_APPROVAL:
        due = calendar_rules.due_at(session, ticket, stage=stage, now=now, version=windows)
    move_ = lifecycle.action_for(action, status=ticket.status, failed=ticket.failed_action,
                                 period=(due or ticket.period_start, ticket.period_end), now=now)
    if move_ is Action.SCHEDULE:
        ticket.not_before = due
    return move_
