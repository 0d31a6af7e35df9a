"""Read-side use case of the staff console's queue: open work oldest first, counts, SLA.

Every query is bounded and indexed: the list seeks the partial index of queued tickets (or the
(status, created_at, id) index for one status) to its cursor, and the counts read only the
partial (status, environment_id) index of queued tickets, joining nothing but the environments of
a stage filter, so the page costs the same with a million closed tickets behind it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from service.domain.errors import Forbidden
from service.identity import Principal
from service.models import QUEUE_STATUSES, Account, Environment, Ticket
from service.pagination import Page, encode_cursor, paginate

QUEUE_ORDER = ("pending_approval", "failed", "approved", "provisioning")


@dataclass(frozen=True)
class QueueRow:
    id: str
    created_at: datetime
    type: str
    status: str
    summary: str
    account_name: str
    environment_name: str
    stage: str
    due_at: datetime | None

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and self.status == "pending_approval" and now > self.due_at


@dataclass(frozen=True)
class Queue:
    page: Page
    counts: dict[str, int]


def due_at(created_at: datetime, stage: str, sla_hours: Mapping[str, float]) -> datetime | None:
    hours = sla_hours.get(stage)
    return None if hours is None else created_at + timedelta(hours=hours)


def ensure_staff(principal: Principal) -> None:
    if not principal.is_support:
        raise Forbidden("only support staff work the queue", rule="support_only")


def staff_queue(
    session: Session, principal: Principal, *, key: bytes, filters: Mapping[str, Any],
    sla_hours: Mapping[str, float], limit: int | None = None, cursor: str | None = None,
) -> Queue:
    """Queued tickets (or those of one status) oldest first, with the count per queued status."""
    ensure_staff(principal)
    statuses = [filters["status"]] if filters.get("status") else sorted(QUEUE_STATUSES)
    # Only the columns a row shows: a page of ORM objects would cost more than the query.
    query = _filtered(select(*ROW_COLUMNS, Environment.name, Environment.stage, Account.name).join(
        Environment, Environment.id == Ticket.environment_id).join(
        Account, Account.id == Ticket.account_id), filters)
    query, size = paginate(query.where(Ticket.status.in_(statuses)), created=Ticket.created_at,
                           ident=Ticket.id, key=key, limit=limit, cursor=cursor, oldest_first=True)
    rows = [_row(*found, sla_hours=sla_hours) for found in session.execute(query).all()]
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor(key, rows[-1].created_at, rows[-1].id) if more else None
    return Queue(page=Page(items=rows, next_cursor=next_cursor),
                 counts=_counts(session, filters))


def _filtered(query: Select[Any], filters: Mapping[str, Any]) -> Select[Any]:
    if filters.get("type"):
        query = query.where(Ticket.type == filters["type"])
    if filters.get("stage"):  # a semi-join: the counts need no columns of the environment
        query = query.where(Ticket.environment_id.in_(
            select(Environment.id).where(Environment.stage == filters["stage"])))
    if filters.get("account"):
        query = query.where(Ticket.account_id.in_(_accounts_named(filters["account"])))
    return query


def _accounts_named(text: str) -> Select[Any]:
    """Accounts the staff member means: by id, by the contract system's id, or by the start of
    their name (any case)."""
    return select(Account.id).where(or_(Account.id == text, Account.external_id == text,
                                        Account.name.istartswith(text, autoescape=True)))


ROW_COLUMNS = (Ticket.id, Ticket.created_at, Ticket.type, Ticket.status, Ticket.summary)


def _row(id_: str, created_at: datetime, type_: str, status: str, summary: str, env_name: str,
         stage: str, account_name: str, *, sla_hours: Mapping[str, float]) -> QueueRow:
    return QueueRow(id=id_, created_at=created_at, type=type_, status=status, summary=summary,
                    account_name=account_name, environment_name=env_name, stage=stage,
                    due_at=due_at(created_at, stage, sla_hours))


def _counts(session: Session, filters: Mapping[str, Any]) -> dict[str, int]:
    """Tickets per queued status under the filters but the status filter (an index-only scan of
    ix_tickets_queue_status: no join with accounts, environments only for a stage)."""
    query = _filtered(select(Ticket.status, func.count()), filters).where(
        Ticket.status.in_(sorted(QUEUE_STATUSES))).group_by(Ticket.status)
    found = dict(session.execute(query).all())
    return {status: found.get(status, 0) for status in QUEUE_ORDER}
