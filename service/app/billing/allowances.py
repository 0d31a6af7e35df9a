"""Allowances: an account's included upscale-days per contract year (a calendar year, UTC), set
by an operator (`envdesk account set-allowance`) or by the registry import (``allowance_days``)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from service.adapters.db import UnitOfWork
from service.adapters.models import Account, Allowance
from service.domain.errors import NotFound, RuleViolation

MAX_DAYS = 100_000


def check_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
        raise RuleViolation(f"allowance days must be a whole number from 0 to {MAX_DAYS}",
                            rule="invalid_allowance", errors={"days": ["a whole number of at least 0"]})
    return days


def this_year() -> int:
    return datetime.now(timezone.utc).year


def set_allowance(account_id: str, days: int, *, uow: UnitOfWork, year: int | None = None) -> Allowance:
    year = year or this_year()
    if not 2000 <= year <= 9999:
        raise RuleViolation("the year must be given as YYYY", rule="invalid_allowance")
    check_days(days)
    with uow:
        if uow.session.get(Account, account_id) is None:
            raise NotFound(f"no account {account_id}")
        write_allowances(uow.session.connection(), {account_id: days}, year)
        uow.commit()
    return Allowance(account_id=account_id, year=year, days=days)


def write_allowances(connection: Connection, days: Mapping[str, int], year: int) -> None:
    """Set each account's included days of ``year``, in one statement (an upsert)."""
    if not days:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    table = Allowance.__table__
    statement = dialect.insert(table).values(
        [{"account_id": account_id, "year": year, "days": n} for account_id, n in days.items()])
    connection.execute(statement.on_conflict_do_update(
        index_elements=[table.c.account_id, table.c.year], set_={"days": statement.excluded.days}))
