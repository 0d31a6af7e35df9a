"""Use case: add a comment (or, for support, an internal note) to a ticket."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from service.db import UnitOfWork
from service.domain.errors import Forbidden
from service.identity import Principal
from service.models import Comment, Ticket
from service.tickets import load_visible_ticket


def add_comment(
    principal: Principal, ticket_id: str, *, body: str, internal: bool, uow: UnitOfWork,
    now: datetime,
) -> Comment:
    with uow:
        load_visible_ticket(uow.session, principal, ticket_id)
        if internal and not principal.is_support:
            raise Forbidden("only support staff may post internal notes", rule="support_only")
        comment = Comment(ticket_id=ticket_id, author_id=principal.user_id, body=body,
                          internal=internal, created_at=now)
        uow.session.add(comment)
        if principal.is_support:
            _start_response_clock(uow, ticket_id, now)
        uow.commit()
    return comment


def _start_response_clock(uow: UnitOfWork, ticket_id: str, now: datetime) -> None:
    """Staff's first comment is their first response. A plain UPDATE keeps the ticket's version,
    so a comment never makes someone's open page stale."""
    uow.session.execute(update(Ticket).where(Ticket.id == ticket_id, Ticket.first_response_at.is_(None))
                        .values(first_response_at=now))
