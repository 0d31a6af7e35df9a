"""Use case: add a comment (or, for support staff, an internal note) to a ticket."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from service.app.commands import AddComment
from service.adapters.db import UnitOfWork
from service.domain import permissions
from service.app.tickets.moves import StatusListener
from service.adapters.identity import Principal
from service.adapters.models import Comment, Ticket
from service.app.tickets.actions import load_visible_ticket


def add_comment(
    principal: Principal, command: AddComment, *, uow: UnitOfWork,
    now: datetime, listener: StatusListener | None = None,
) -> Comment:
    """Staff's first public comment is the ticket's first response (an internal note, which the
    customer never sees, is not); the portal hears of every comment but never of a note."""
    ticket_id, body, internal = command.ticket_id, command.body, command.internal
    with uow:
        ticket = load_visible_ticket(uow.session, principal, ticket_id)
        if internal:
            permissions.ensure_may_post_internal_note(principal.kind, principal.role)
        comment = Comment(ticket_id=ticket.id, author_id=principal.user_id, body=body,
                          internal=internal, created_at=now)
        uow.session.add(comment)
        if principal.is_support and not internal:
            _first_response(uow, ticket.id, now)
        if listener is not None and not internal:
            uow.session.flush()
            listener.comment_added(uow.session, ticket, comment)
        uow.commit()
    return comment


def _first_response(uow: UnitOfWork, ticket_id: str, now: datetime) -> None:
    # A plain UPDATE, not a versioned one: a comment never races an approval into a 409.
    uow.session.execute(
        update(Ticket).where(Ticket.id == ticket_id, Ticket.first_response_at.is_(None))
        .values(first_response_at=now).execution_options(synchronize_session=False))
