"""Where a ticket's case number comes from, the one place the databases differ in it.

PostgreSQL: the sequence ``ticket_numbers`` (unique, increasing, never reused, no lock held), its
``nextval`` read in the SELECT a filing already runs (service.app.tickets.filing), so numbering
costs no statement of its own; the column's default is the same ``nextval`` for rows written
otherwise. SQLite, which has no sequences: a one-row counter table, taken inside the filing's
transaction (SQLite writes one transaction at a time anyway), and a trigger for rows written
without a number."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Sequence, text

SEQUENCE = "ticket_numbers"
COUNTER_TABLE = "ticket_number_counter"
_SEQUENCE = Sequence(SEQUENCE)
_TAKE = text(f"UPDATE {COUNTER_TABLE} SET last = last + 1 RETURNING last")


def read_with_facts(dialect: str) -> bool:
    """Whether the next number is read in the filing's SELECT (else ``take_number``)."""
    return dialect == "postgresql"


def next_number() -> Any:
    """The column expression that draws the next number (PostgreSQL)."""
    return _SEQUENCE.next_value()


def take_number(connection: Connection) -> int:
    """The next number from the counter table (SQLite), inside the caller's transaction."""
    return int(connection.execute(_TAKE).scalar_one())
