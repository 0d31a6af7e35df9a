"""The rules of a load-test announcement at filing (service.domain.load_tests), and what of it
the ticket keeps; its window is the ticket's period, so the sweep announces it at the start and
withdraws it at the end through the apply and revert machinery."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.adapters.models import Ticket
from service.app.commands import FileTicket
from service.domain import load_tests
from service.domain.approval_policy import Decision, check_lead_time
from service.domain.hosting import EnvironmentFacts


def check(session: Session, env: EnvironmentFacts, command: FileTicket, *, now: datetime,
          decision: Decision) -> None:
    window = command.window
    assert window is not None  # the schema requires it
    load_tests.check_load_test(env, window, now=now)
    if not command.emergency:
        notice = Decision(min_notice_hours=load_tests.notice_hours(decision))
        check_lead_time(notice, window[0], now=now, field="window.start")
    cited = (command.load_test or {}).get("upscale_ticket_id")
    if cited:
        load_tests.check_upscale(env.id, window, _upscale(session, env.account_id, cited), cited)


def _upscale(session: Session, account_id: str, ticket_id: str) -> load_tests.UpscaleFacts | None:
    row = session.execute(select(Ticket.id, Ticket.environment_id, Ticket.type, Ticket.status,
                                 Ticket.period_start, Ticket.period_end)
                          .where(Ticket.id == ticket_id, Ticket.account_id == account_id)).first()
    if row is None:
        return None
    period = (row[4], row[5]) if row[4] is not None else None
    return load_tests.UpscaleFacts(id=row[0], environment_id=row[1], type=row[2], status=row[3], period=period)


def stored(command: FileTicket) -> dict[str, Any] | None:
    """What provisioning is told of a load test: its window, peak and sources."""
    if command.load_test is None or command.period is None:
        return None
    return {"window": {"start": command.period.start.isoformat(), "end": command.period.end.isoformat()},
            **command.load_test}
