"""The approval policy at work inside the filing and approval use cases: what a request needs,
approval by the policy itself, and counting staff approvals (four eyes)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from service.adapters.db import STALE, UnitOfWork
from service.domain.approval_policy import (
    ApprovalPolicy, Decision, RequestFacts, ensure_second_approver, within_every_cap,
)
from service.domain.actors import POLICY, Actor
from service.domain.scheduling import approvals_needed
from service.domain.errors import ConcurrentChange
from service.domain.lifecycle import Action, Status, action_for
from service.domain.hosting import Stage, TicketType
from service.app.tickets.moves import StatusListener, move, new_event
from service.adapters.handoff import Dispatch
from service.adapters.identity import Principal
from service.adapters.models import Account, Environment, Ticket, TicketApproval
from service.adapters.registry import environment_facts


def decide(session: Session, approval: ApprovalPolicy, env: Environment, *, type_: str,
           change_kind: str | None = None, period: tuple[datetime, datetime] | None = None) -> Decision:
    """The policy's decision for a request of ``type_`` (``change_kind``, ``period``) about to
    be filed."""
    external_id = session.scalar(select(Account.external_id).where(Account.id == env.account_id))
    return decide_for(approval, env, type_=type_, change_kind=change_kind, period=period,
                      external_id=external_id)


def decide_for(approval: ApprovalPolicy, env: Environment, *, type_: str, change_kind: str | None = None,
               period: tuple[datetime, datetime] | None = None, external_id: str | None,
               within_allowance: bool | None = None) -> Decision:
    """``decide`` with the account's external id already read, for a request with ``period``
    (``within_allowance``: whether its quote charges nothing)."""
    return approval.decide(RequestFacts(
        type=TicketType(type_), stage=Stage(env.stage),
        account_ids=frozenset(filter(None, (env.account_id, external_id))),
        change_kind=change_kind, period=period, within_allowance=within_allowance,
    ))


def stamp(ticket: Ticket, decision: Decision, env: Environment, *, drafter_id: str | None = None,
          emergency: bool = False) -> None:
    """Record on a new ticket how many approvals it needs, and who drafted it; the policy
    approves on its own only what is within every cap of the contract, anything else waits for
    a person."""
    needed = decision.approvals_needed
    if needed == 0 and not within_every_cap(environment_facts(env), ticket.resources):
        needed = 1
    ticket.approvals_required = approvals_needed(needed, emergency=emergency)
    ticket.approval_rule = decision.rule
    # None yet, known without a query: set as loaded (an assignment fires the collection's
    # events and cascades for an empty list), so the ticket's body reads it once detached too.
    set_committed_value(ticket, "approvals", [])
    ticket.drafter_id = drafter_id


def approve_at_filing(uow: UnitOfWork, ticket: Ticket, *, now: datetime,
                      listener: StatusListener | None, dispatch: Dispatch | None,
                      stage: str | None = None, due: datetime | None = None) -> None:
    """A ticket that needs no staff approval is approved by the policy rule, in the filing's
    transaction, like an approval by a person: a temporary upscale whose period starts later
    is scheduled, anything else is handed to the workers once the filing commits; so is work
    whose time (``due``: apply_at, or the end of a window that holds it) has not come."""
    if ticket.approvals_required > 0:
        return
    action = action_for(Action.APPROVE, status=ticket.status, failed=None,
                        period=(due or ticket.period_start, ticket.period_end), now=now)
    if action is Action.SCHEDULE:
        ticket.not_before = due or ticket.period_start
    move(uow, ticket, action, actor=POLICY, now=now, listener=listener, dispatch=dispatch,
         reason=f"approved by the approval policy, rule {ticket.approval_rule!r}", stage=stage)


def record_approval(session: Session, principal: Principal, ticket: Ticket, *, now: datetime,
                    reason: str | None = None, listener: StatusListener | None = None) -> bool:
    """Count ``principal``'s approval; True when the ticket now has every approval it needs
    and moves to approved. Short of that it stays pending, with an event saying so."""
    if ticket.status != Status.PENDING_APPROVAL:
        return True  # the transition table answers 409 invalid_transition
    given_by = [a.user_id for a in ticket.approvals]
    if len(given_by) >= ticket.approvals_required:
        # The approvals were read after the status: a concurrent approval completed it meanwhile.
        raise ConcurrentChange(STALE)
    ensure_second_approver(given_by, principal.user_id)
    ticket.approvals.append(TicketApproval(ticket_id=ticket.id, user_id=principal.user_id, at=now))
    given, needed = len(ticket.approvals), ticket.approvals_required
    if given >= needed:
        return True
    # Touching the row bumps its version: of two racing approvals, one transition happens.
    ticket.updated_at = now
    event = new_event(
        ticket, actor=Actor.user(principal.user_id), now=now, before=Status(ticket.status),
        reason=reason or f"approval {given} of {needed}; another support engineer must approve",
    )
    session.add(event)
    if listener is not None:
        listener.status_changed(session, ticket, event)
    return False
