"""Read-side use case of the staff console's queue: open work oldest first, counts, SLA.

Every query is bounded and indexed: the list seeks the partial index of queued tickets (or the
(status, created_at, id) index for one status) to its cursor, and the counts read only the
partial (status, environment_id) index of queued tickets, joining nothing but the environments of
a stage filter, so the page costs the same with a million closed tickets behind it.

The counts read every queued ticket under the filters, so they are kept for a few seconds per
filter shape (``CountsCache``) rather than taken at every page view; a page that holds the whole
queue under its filters counts its own rows instead, exactly."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Callable, Mapping

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from service.domain.errors import Forbidden
from service.adapters.expiring import Expiring
from service.adapters.identity import Principal
from service.adapters.models import QUEUE_STATUSES, Account, Environment, Ticket
from service.adapters.pagination import Page, encode_cursor, keyset, keyset_params

QUEUE_ORDER = ("pending_approval", "failed", "approved", "provisioning")


@dataclass(frozen=True)
class QueueRow:
    id: str
    number: int
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
    counted_at: datetime | None = None  # when the counts were taken, if earlier than the page


Shape = tuple[tuple[str, str], ...]


class CountsCache(Expiring[Shape, tuple[datetime, dict[str, int]]]):
    """The count per status of each recent filter shape (the filters but status and cursor), for
    ``ttl`` seconds, in this process: counting reads every queued ticket under the filters, so
    at most one count per shape and process every ``ttl`` seconds, whatever the page views. Only
    staff read the queue and staff see every ticket, so a count is the same for each of them."""

    def __init__(self, ttl: float, *, clock: Callable[[], datetime], max_entries: int = 1000) -> None:
        super().__init__(timedelta(seconds=ttl), max_entries=max_entries, clock=clock)

    def put(self, shape: Shape, counts: dict[str, int]) -> datetime:  # type: ignore[override]
        """Keep ``counts``; when they were taken (the page says so)."""
        counted_at = self.clock()
        super().put(shape, (counted_at, counts))
        return counted_at


def due_at(created_at: datetime, stage: str, sla_hours: Mapping[str, float]) -> datetime | None:
    hours = sla_hours.get(stage)
    return None if hours is None else created_at + timedelta(hours=hours)


def ensure_staff(principal: Principal) -> None:
    if not principal.is_support:
        raise Forbidden("only support staff work the queue", rule="support_only")


def staff_queue(
    session: Session, principal: Principal, *, key: bytes, filters: Mapping[str, Any],
    sla_hours: Mapping[str, float], limit: int | None = None, cursor: str | None = None,
    counts: CountsCache | None = None,
) -> Queue:
    """Queued tickets (or those of one status) oldest first, with the count per queued status;
    two statements, each built once per shape (filters given, first page or not). With
    ``counts``, the count is the one kept for the shape if it is recent (``Queue.counted_at``
    says when it was taken), or the page's own rows when they are the whole queue."""
    ensure_staff(principal)
    given = tuple(name for name in QUEUE_FILTERS if filters.get(name))
    params, size = keyset_params(key, limit, cursor)
    params.update(_filter_params(filters, given), queued=sorted(QUEUE_STATUSES),
                  statuses=[filters["status"]] if filters.get("status") else sorted(QUEUE_STATUSES))
    connection = session.connection()
    found = connection.execute(_queue_statement(given, bool(cursor)), params).all()
    rows = [_row(*values, sla_hours=sla_hours) for values in found]
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor(key, rows[-1].created_at, rows[-1].id) if more else None
    page = Page(items=rows, next_cursor=next_cursor)
    if counts is None:
        return Queue(page=page, counts=_counted(connection, given, params))
    shape = tuple((name, str(filters[name])) for name in given)
    if not (more or cursor or filters.get("status")):  # the page is every queued ticket
        tally = Counter(row.status for row in rows)
        counts.put(shape, {status: tally[status] for status in QUEUE_ORDER})
        return Queue(page=page, counts={status: tally[status] for status in QUEUE_ORDER})
    kept = counts.get(shape)
    if kept is not None:
        return Queue(page=page, counts=kept[1], counted_at=kept[0])
    counted = _counted(connection, given, params)
    counts.put(shape, counted)
    return Queue(page=page, counts=counted)


def _counted(connection: Any, given: tuple[str, ...], params: Mapping[str, Any]) -> dict[str, int]:
    counted = dict(connection.execute(_counts_statement(given), params).all())
    return {status: counted.get(status, 0) for status in QUEUE_ORDER}


def _QUEUED_STATUSES(name: str) -> Any:  # noqa: N802 - reads as the constant list it stands for
    """The statuses, written into the SQL at execution (not bound), so that PostgreSQL can match
    the partial queue indexes' predicate in any plan, generic prepared ones included."""
    return bindparam(name, expanding=True, literal_execute=True)


# The filters besides status, each compared with bind parameters (see _filter_params).
QUEUE_FILTERS = ("type", "stage", "account")


def _filter_params(filters: Mapping[str, Any], given: tuple[str, ...]) -> dict[str, Any]:
    params = {name: filters[name] for name in given}
    if "account" in given:  # the start of a name: % and _ are characters, escaped by /
        params["account_prefix"] = (filters["account"].replace("/", "//").replace("%", "/%")
                                    .replace("_", "/_"))
    return params


@cache
def _queue_statement(given: tuple[str, ...], after: bool) -> Select[Any]:
    """Only the columns a row shows: a page of ORM objects would cost more than the query."""
    query = _filtered(select(*ROW_COLUMNS, Environment.name, Environment.stage, Account.name).join(
        Environment, Environment.id == Ticket.environment_id).join(
        Account, Account.id == Ticket.account_id), given)
    return keyset(query.where(Ticket.status.in_(_QUEUED_STATUSES("statuses"))),
                  created=Ticket.created_at, ident=Ticket.id, after=after, oldest_first=True)


def _filtered(query: Select[Any], given: tuple[str, ...]) -> Select[Any]:
    if "type" in given:
        query = query.where(Ticket.type == bindparam("type"))
    if "stage" in given:  # a semi-join: the counts need no columns of the environment
        query = query.where(Ticket.environment_id.in_(
            select(Environment.id).where(Environment.stage == bindparam("stage"))))
    if "account" in given:
        query = query.where(Ticket.account_id.in_(_accounts_named()))
    return query


def _accounts_named() -> Select[Any]:
    """Accounts the staff member means: by id, by the contract system's id, or by the start of
    their name (any case)."""
    return select(Account.id).where(or_(
        Account.id == bindparam("account"), Account.external_id == bindparam("account"),
        Account.name.istartswith(bindparam("account_prefix"), escape="/")))


ROW_COLUMNS = (Ticket.id, Ticket.number, Ticket.created_at, Ticket.type, Ticket.status, Ticket.summary)


def _row(id_: str, number: int, created_at: datetime, type_: str, status: str, summary: str, env_name: str,
         stage: str, account_name: str, *, sla_hours: Mapping[str, float]) -> QueueRow:
    return QueueRow(id=id_, number=number, created_at=created_at, type=type_, status=status, summary=summary,
                    account_name=account_name, environment_name=env_name, stage=stage,
                    due_at=due_at(created_at, stage, sla_hours))


@cache
def _counts_statement(given: tuple[str, ...]) -> Select[Any]:
    """Tickets per queued status under the filters but the status filter (an index-only scan of
    ix_tickets_queue_status: no join with accounts, environments only for a stage)."""
    return _filtered(select(Ticket.status, func.count()), given).where(
        Ticket.status.in_(_QUEUED_STATUSES("queued"))).group_by(Ticket.status)
