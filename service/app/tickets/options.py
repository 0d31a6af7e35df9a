"""What a caller may ask for on one environment: the filing path's own checks, asked in advance,
and what the approval policy will ask of a request (the same ``approvals.decide`` that filing
runs)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.app.calendar import rules as calendar_rules
from service.app.tickets import approvals
from service.domain import hosting
from service.domain.approval_policy import ApprovalPolicy, Decision
from service.domain.prices import PriceList
from service.app.billing.quotes import step_prices
from service.domain.lifecycle import Status
from service.adapters.identity import Principal
from service.adapters.models import Environment, Ticket
from service.app.tickets.queries import get_environment
from service.adapters.registry import environment_facts
# The same duplicate and open-request checks that filing runs.
from service.app.tickets.actions import ensure_no_open_request, open_count

MAX_CANDIDATES = 20


def environment_options(session: Session, principal: Principal, environment_id: str, *,
                        max_open: int = 0, approval: ApprovalPolicy = ApprovalPolicy(),
                        now: datetime | None = None, prices: PriceList | None = None) -> dict[str, Any]:
    env = get_environment(session, principal, environment_id)
    facts = environment_facts(env)

    def refusal(type_: hosting.TicketType) -> hosting.Refusal | None:
        return hosting.filing_refusal(principal.kind, facts, type_) or hosting.refusal_of(
            lambda: ensure_no_open_request(session, env.id, type_.value)) or hosting.refusal_of(
            lambda: hosting.check_open_ticket_cap(open_count(session, env.account_id), max_open))

    upscale, temporary, change = _decisions(session, approval, env, now)
    verify = hosting.needs_staging_verification(facts)
    kinds = [(kind, approvals.decide(session, approval, env, type_=hosting.TicketType.CHANGE.value,
                                     change_kind=kind))
             for kind in hosting.CHANGE_KINDS]
    cited = sorted({stage for _, decision in kinds for stage in decision.verify_on} | set(change.verify_on))
    return {
        "environment_id": env.id,
        "upscale": {**_verdict(refusal(hosting.TicketType.UPSCALE), upscale),
                    "min_notice_hours": temporary.min_notice_hours or 0,
                    "components": _priced(hosting.component_options(facts), prices, env.stage)},
        "change": {**_verdict(refusal(hosting.TicketType.CHANGE), change),
                   "verified_on_required": verify,
                   "verified_on_stages": _stages(change, verify),
                   "kinds": [{"kind": kind, "approval": decision.approval.value,
                              "verified_on_stages": _stages(decision, verify)} for kind, decision in kinds],
                   "verified_on_candidates": _candidates(session, env, cited) if verify else []},
        "calendar": calendar_rules.ahead(session, env, now=now or datetime.now(timezone.utc)),
    }


def _priced(components: Sequence[hosting.ComponentOptions], prices: PriceList | None,
            stage: str) -> list[dict[str, Any]]:
    """Each component's raisable sizes with the price per day of the step reaching each (SPEC §12)."""
    return [{"component": item.component, "current_size": item.current_size, "cap": item.cap,
             "raisable_sizes": list(item.raisable_sizes),
             "prices": step_prices(prices, stage, item.component, item.raisable_sizes)}
            for item in components]


def _stages(decision: Decision, verify: bool) -> list[str]:
    return [stage.value for stage in decision.verify_on] if verify else []


def _decisions(session: Session, approval: ApprovalPolicy, env: Environment,
               now: datetime | None) -> tuple[Decision, Decision, Decision]:
    """The policy's decision for an upscale, a temporary upscale of one day and a change (of no
    particular kind) on this environment."""
    start = now or datetime.min
    day = (start, start + timedelta(days=1))
    return (approvals.decide(session, approval, env, type_=hosting.TicketType.UPSCALE.value),
            approvals.decide(session, approval, env, type_=hosting.TicketType.UPSCALE.value, period=day),
            approvals.decide(session, approval, env, type_=hosting.TicketType.CHANGE.value))


def _verdict(refused: hosting.Refusal | None, decision: Decision) -> dict[str, Any]:
    return {"allowed": refused is None, "rule": refused.rule if refused else None,
            "detail": refused.detail if refused else None, "approval": decision.approval.value}


def _candidates(session: Session, env: Environment, stages: Sequence[hosting.Stage]) -> list[Ticket]:
    """Completed changes on the account's environments of the stages the policy asks to cite,
    newest first: what verified_on may name (it must also be the identical change)."""
    return list(session.scalars(
        select(Ticket).join(Environment, Environment.id == Ticket.environment_id).where(
            Ticket.account_id == env.account_id, Ticket.type == hosting.TicketType.CHANGE.value,
            Ticket.status == Status.COMPLETED.value, Environment.stage.in_([s.value for s in stages]),
        ).order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(MAX_CANDIDATES)))
