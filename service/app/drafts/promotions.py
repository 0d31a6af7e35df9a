"""Promotions: the account's completed stage changes that no completed prod change has cited
in ``verified_on`` yet — verified, and waiting to be promoted to production."""
from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from service.domain.errors import RuleViolation
from service.domain.lifecycle import Status
from service.domain.hosting import Stage, TicketType
from service.adapters.identity import Principal
from service.adapters.models import Environment, Ticket
from service.adapters.pagination import Page, page_of, paginate
from service.app.tickets.queries import get_environment


def list_promotions(session: Session, principal: Principal, environment_id: str, *, key: bytes,
                    limit: int | None = None, cursor: str | None = None) -> Page:
    env = get_environment(session, principal, environment_id)
    if env.stage != Stage.PROD:
        raise RuleViolation("promotions are listed for prod environments; this one is "
                            f"{env.stage}", rule="not_prod", params={"stage": env.stage})
    query = _completed_changes(env.account_id, Stage.STAGE).where(
        Ticket.id.not_in(_cited(session, env.account_id)))
    query, size = paginate(query, created=Ticket.created_at, ident=Ticket.id, key=key,
                           limit=limit, cursor=cursor)
    return page_of(session.scalars(query).all(), size, key)


def _completed_changes(account_id: str, stage: Stage) -> Select[tuple[Ticket]]:
    return (select(Ticket).join(Environment, Environment.id == Ticket.environment_id).where(
        Ticket.account_id == account_id, Ticket.type == TicketType.CHANGE.value,
        Ticket.status == Status.COMPLETED.value, Environment.stage == stage.value))


def _cited(session: Session, account_id: str) -> list[str]:
    rows = session.execute(
        _completed_changes(account_id, Stage.PROD).with_only_columns(
            Ticket.verified_on, Ticket.verified_on_ids)).all()
    cited = {ticket_id for verified_on, ids in rows for ticket_id in [verified_on, *(ids or [])]}
    return sorted(cited - {None})
