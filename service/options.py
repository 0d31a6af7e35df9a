"""What a caller may ask for on one environment: the filing path's own checks, asked in advance."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import policy
from service.domain.lifecycle import Status
from service.identity import Principal
from service.models import Environment, Ticket
from service.queries import get_environment
from service.registry import environment_facts
# The same duplicate and open-request checks that filing runs.
from service.tickets import _ensure_no_open_request, _open_count

MAX_CANDIDATES = 20


def environment_options(session: Session, principal: Principal, environment_id: str, *,
                        max_open: int = 0) -> dict[str, Any]:
    env = get_environment(session, principal, environment_id)
    facts = environment_facts(env)

    def refusal(type_: policy.TicketType) -> policy.Refusal | None:
        return policy.filing_refusal(principal.kind, facts, type_) or policy.refusal_of(
            lambda: _ensure_no_open_request(session, env.id, type_.value)) or policy.refusal_of(
            lambda: policy.check_open_ticket_cap(_open_count(session, env.account_id), max_open))

    needs_verification = policy.needs_staging_verification(facts)
    return {
        "environment_id": env.id,
        "upscale": {**_verdict(refusal(policy.TicketType.UPSCALE)),
                    "min_notice_hours": policy.DEFAULT_MIN_NOTICE_HOURS,
                    "components": policy.component_options(facts)},
        "change": {**_verdict(refusal(policy.TicketType.CHANGE)),
                   "verified_on_required": needs_verification,
                   "verified_on_candidates": _candidates(session, env) if needs_verification else []},
    }


def _verdict(refused: policy.Refusal | None) -> dict[str, Any]:
    return {"allowed": refused is None, "rule": refused.rule if refused else None,
            "detail": refused.detail if refused else None, "approval": policy.DEFAULT_APPROVAL}


def _candidates(session: Session, env: Environment) -> list[Ticket]:
    """Completed changes on the account's stage environments, newest first: what verified_on may
    name (it must also be the identical change)."""
    return list(session.scalars(
        select(Ticket).join(Environment, Environment.id == Ticket.environment_id).where(
            Ticket.account_id == env.account_id, Ticket.type == policy.TicketType.CHANGE.value,
            Ticket.status == Status.COMPLETED.value, Environment.stage == policy.Stage.STAGE.value,
        ).order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(MAX_CANDIDATES)))
