"""Read-side use cases: what a caller may see, filtered and paged."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import permissions
from service.domain.errors import NotFound
from service.identity import Principal, visible
from service.models import Comment, Environment, Ticket, TicketEvent
from service.pagination import Page, page_of, paginate
from service.tickets import load_visible_ticket


def list_tickets(
    session: Session, principal: Principal, *, key: bytes, filters: dict[str, Any],
    limit: int | None = None, cursor: str | None = None,
) -> Page:
    query = select(Ticket).where(visible(principal, Ticket.account_id))
    for name in ("status", "type", "environment_id"):
        if filters.get(name):
            query = query.where(getattr(Ticket, name) == filters[name])
    if filters.get("updated_since"):
        query = query.where(Ticket.updated_at >= filters["updated_since"])
    if filters.get("stage"):
        query = query.join(Environment, Environment.id == Ticket.environment_id).where(
            Environment.stage == filters["stage"])
    query, size = paginate(query, created=Ticket.created_at, ident=Ticket.id, key=key,
                           limit=limit, cursor=cursor)
    return page_of(session.scalars(query).all(), size, key)


def get_ticket(session: Session, principal: Principal, ticket_id: str) -> Ticket:
    return load_visible_ticket(session, principal, ticket_id)


def list_events(session: Session, principal: Principal, ticket_id: str) -> list[TicketEvent]:
    load_visible_ticket(session, principal, ticket_id)
    return list(session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    ))


def list_comments(session: Session, principal: Principal, ticket_id: str) -> list[Comment]:
    load_visible_ticket(session, principal, ticket_id)
    query = select(Comment).where(Comment.ticket_id == ticket_id)
    if not permissions.may_read_internal_notes(principal.kind, principal.role):
        query = query.where(Comment.internal.is_(False))
    return list(session.scalars(query.order_by(Comment.created_at, Comment.id)))


def list_environments(
    session: Session, principal: Principal, *, key: bytes, limit: int | None = None,
    cursor: str | None = None, account_id: str | None = None, stage: str | None = None,
) -> Page:
    query = select(Environment).where(visible(principal, Environment.account_id))
    if account_id:
        query = query.where(Environment.account_id == account_id)
    if stage:
        query = query.where(Environment.stage == stage)
    query, size = paginate(query, created=Environment.created_at, ident=Environment.id, key=key,
                           limit=limit, cursor=cursor)
    return page_of(session.scalars(query).all(), size, key)


def get_environment(session: Session, principal: Principal, environment_id: str) -> Environment:
    env = session.scalar(select(Environment).where(
        Environment.id == environment_id, visible(principal, Environment.account_id)))
    if env is None:
        raise NotFound("no such environment")
    return env
