"""Read-side use cases: what a caller may see, filtered and paged."""
from __future__ import annotations

from collections import namedtuple
from functools import cache
from typing import Any, NamedTuple, Sequence

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from service.domain import permissions
from service.domain.errors import NotFound
from service.adapters.identity import Principal, visibility, visible, visible_to
from service.adapters.models import Comment, Environment, Ticket, TicketApproval, TicketEvent
from service.adapters.pagination import Page, encode_cursor, keyset, keyset_params, page_of, paginate
from service.app.tickets.actions import load_visible_ticket


# The columns a ticket's body reads (TicketSchema, its methods included): a page of rows of these
# columns costs a fraction of a page of ORM objects. tests/integration/api/test_list_bodies.py holds
# a listed ticket equal to the ticket itself.
FIELDS = (
    "id", "type", "status", "environment_id", "account_id", "requester_id", "drafter_id", "summary",
    "resources", "period_start", "period_end", "change", "verified_on", "verified_on_ids", "baseline",
    "reason", "approvals_required", "approval_rule", "version", "created_at", "updated_at", "number", "charges",
    "apply_at", "not_before", "emergency", "emergency_reason", "load_test",
)
TICKET_BODY_COLUMNS = tuple(getattr(Ticket, name) for name in FIELDS)
ListedTicket = namedtuple("ListedTicket", (*FIELDS, "approvals"))  # type: ignore[misc]
"""A listed ticket: its body's columns and its approvals oldest first."""


class Approval(NamedTuple):
    user_id: str
    at: Any


# The list's filters, each compared with a bind parameter of its own name.
LIST_FILTERS = ("status", "type", "environment_id", "updated_since", "stage")


def list_tickets(
    session: Session, principal: Principal, *, key: bytes, filters: dict[str, Any],
    limit: int | None = None, cursor: str | None = None,
) -> Page:
    """The caller's tickets newest first (ListedTicket), in one statement built once per shape (visibility, filters given, first page or not)."""
    given = tuple(name for name in LIST_FILTERS if filters.get(name))
    params, size = keyset_params(key, limit, cursor)
    params.update({name: filters[name] for name in given}, visible_account=principal.account_id)
    statement = _list_statement(visibility(principal), given, bool(cursor))
    tickets = _with_approvals(session.connection().execute(statement, params).all())
    if len(tickets) <= size:
        return Page(items=tickets, next_cursor=None)
    last = tickets[size - 1]
    return Page(items=tickets[:size], next_cursor=encode_cursor(key, last.created_at, last.id))


@cache
def _list_statement(scope: str, given: tuple[str, ...], after: bool) -> Select[Any]:
    """The page (the keyset query, on the list indexes), then each ticket's approvals."""
    page = select(*TICKET_BODY_COLUMNS).where(
        visible_to(scope, Ticket.account_id, bindparam("visible_account")))
    for name in given:
        if name == "updated_since":
            page = page.where(Ticket.updated_at >= bindparam(name))
        elif name == "stage":
            page = page.join(Environment, Environment.id == Ticket.environment_id).where(
                Environment.stage == bindparam(name))
        else:
            page = page.where(getattr(Ticket, name) == bindparam(name))
    page = keyset(page, created=Ticket.created_at, ident=Ticket.id, after=after).subquery("page")
    return (select(TicketApproval.user_id, TicketApproval.at, *page.c)
            .outerjoin(TicketApproval, TicketApproval.ticket_id == page.c.id)
            .order_by(page.c.created_at.desc(), page.c.id.desc(), TicketApproval.at, TicketApproval.id))


def _with_approvals(rows: Sequence[Row[Any]]) -> list[Any]:
    """A ListedTicket per ticket, from the page joined to its approvals."""
    tickets: list[Any] = []
    last_id = None
    for user_id, at, *values in rows:
        if values[0] != last_id:
            last_id = values[0]
            tickets.append(ListedTicket(*values, []))
        if user_id is not None:
            tickets[-1].approvals.append(Approval(user_id, at))
    return tickets


def get_ticket(session: Session, principal: Principal, ticket_id: str) -> Ticket:
    return load_visible_ticket(session, principal, ticket_id)


def list_events(session: Session, principal: Principal, ticket_id: str) -> list[TicketEvent]:
    ticket_id = load_visible_ticket(session, principal, ticket_id).id
    return list(session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    ))


def list_comments(session: Session, principal: Principal, ticket_id: str) -> list[Comment]:
    ticket_id = load_visible_ticket(session, principal, ticket_id).id
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
