"""Partner drafts: a linked partner prepares a request for its customer; only a user of the
customer account files it, and every filing rule is run then. Drafts are seen by the customer
and the drafting partner only."""
from __future__ import annotations

import dataclasses

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, select
from sqlalchemy.orm import Session

from service.app.commands import FileTicket, SubmitDraft
from service.adapters.db import UnitOfWork
from service.domain.errors import Conflict, Forbidden, NotFound
from service.domain.hosting import AccountKind
from service.adapters.identity import Principal, visible
from service.adapters.models import Draft, Environment, Ticket
from service.adapters.pagination import Page, page_of, paginate
from service.app.tickets.actions import file_ticket

OPEN, SUBMITTED = "open", "submitted"
SUBMIT_BY_CUSTOMER = ("Only customers can request environment changes; a user of the customer "
                      "account must submit this draft.")


def visible_drafts(principal: Principal) -> ColumnElement[bool]:
    if principal.kind is AccountKind.CUSTOMER:
        return Draft.account_id == principal.account_id
    if principal.kind is AccountKind.PARTNER:
        return and_(Draft.drafter_account_id == principal.account_id,
                    visible(principal, Draft.account_id))
    return false()


def load_visible_draft(session: Session, principal: Principal, draft_id: str) -> Draft:
    draft = session.scalar(select(Draft).where(Draft.id == draft_id, visible_drafts(principal)))
    if draft is None:
        raise NotFound("no such draft")
    return draft


def create_draft(principal: Principal, data: dict[str, Any], *, uow: UnitOfWork, now: datetime) -> Draft:
    """A partner's draft for an environment of a customer it is linked to."""
    if principal.kind is not AccountKind.PARTNER:
        raise Forbidden("drafts are prepared by a partner agency for its customer; "
                        "customers file their requests directly", rule="partner_only")
    with uow:
        env = uow.session.scalar(select(Environment).where(
            Environment.id == data["environment_id"], visible(principal, Environment.account_id)))
        if env is None:
            raise NotFound("no such environment", errors={"environment_id": ["no such environment"]})
        draft = Draft(account_id=env.account_id, environment_id=env.id, drafter_id=principal.user_id,
                      drafter_account_id=principal.account_id, status=OPEN, request=_to_json(data),
                      created_at=now, updated_at=now)
        uow.session.add(draft)
        uow.commit()
    return draft


def list_drafts(session: Session, principal: Principal, *, key: bytes, limit: int | None = None,
                cursor: str | None = None, status: str | None = None) -> Page:
    query = select(Draft).where(visible_drafts(principal))
    if status:
        query = query.where(Draft.status == status)
    query, size = paginate(query, created=Draft.created_at, ident=Draft.id, key=key, limit=limit,
                           cursor=cursor)
    return page_of(session.scalars(query).all(), size, key)


def submit_draft(principal: Principal, command: SubmitDraft, *, uow: UnitOfWork, now: datetime,
                 **filing: Any) -> tuple[Ticket, bool]:
    """File the draft as the customer's ticket, with its drafter. Submitting again returns the
    same ticket (the draft's id is the filing's idempotency key)."""
    draft_id = command.draft_id
    with uow:
        draft = load_visible_draft(uow.session, principal, draft_id)
        if principal.kind is not AccountKind.CUSTOMER:
            raise Forbidden(SUBMIT_BY_CUSTOMER, rule="customer_only")
        request, drafter_id = dict(draft.request), draft.drafter_id
    # Only the customer accepts a charge: the partner's draft cannot do it for them.
    filed = dataclasses.replace(FileTicket.from_stored(request, idempotency_key=f"draft:{draft_id}"),
                                accept_charges=command.accept_charges)
    ticket, created = file_ticket(principal, filed, uow=uow, now=now, drafter_id=drafter_id, **filing)
    with uow:
        draft = uow.session.get(Draft, draft_id)
        if draft is not None and draft.status == OPEN:
            draft.status, draft.ticket_id, draft.submitted_by = SUBMITTED, ticket.id, principal.user_id
            draft.updated_at = now
            uow.commit()
    return ticket, created


def delete_draft(principal: Principal, draft_id: str, *, uow: UnitOfWork) -> None:
    """The drafting partner or the customer throws an unsubmitted draft away."""
    with uow:
        draft = load_visible_draft(uow.session, principal, draft_id)
        if draft.status != OPEN:
            raise Conflict(f"the draft was submitted as ticket {draft.ticket_id} and is kept with it",
                           rule="draft_submitted", params={"ticket_id": draft.ticket_id})
        uow.session.delete(draft)
        uow.commit()


def _to_json(data: dict[str, Any]) -> dict[str, Any]:
    for span in ("period", "window"):
        if data.get(span):
            data = {**data, span: {name: when.isoformat() for name, when in data[span].items()}}
    if data.get("apply_at"):
        data = {**data, "apply_at": data["apply_at"].isoformat()}
    return data
