"""Load-test announcements (SPEC section 11): a customer tells when test traffic comes, how much,
and from where. Pure rules; the time is an argument."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.domain.approval_policy import Decision
from service.domain.errors import RuleViolation
from service.domain.hosting import EnvironmentFacts, Stage, TicketType

DEFAULT_NOTICE_HOURS = 72.0
"""The provider asks for three days' notice of a load test, unless the approval policy says otherwise."""
START_SKEW = timedelta(seconds=60)
ENDED = frozenset({"rejected", "cancelled", "expired", "failed", "reverted"})


@dataclass(frozen=True)
class UpscaleFacts:
    """The upscale a load test names in ``upscale_ticket_id``."""

    id: str
    environment_id: str
    type: str
    status: str
    period: tuple[datetime, datetime] | None


def notice_hours(decision: Decision) -> float:
    return DEFAULT_NOTICE_HOURS if decision.min_notice_hours is None else decision.min_notice_hours


def check_load_test(env: EnvironmentFacts, window: tuple[datetime, datetime], *, now: datetime) -> None:
    if env.stage is Stage.DEV:
        raise RuleViolation("dev environments are not for load tests; test on stage",
                            rule="dev_not_for_load_tests", params={"stage": env.stage.value})
    start, end = window
    if end <= start:
        raise RuleViolation("the load test's window must end after it starts", rule="period_invalid",
                            errors={"window.end": ["must be after window.start"]})
    if start < now - START_SKEW:
        raise RuleViolation("the load test's window must not start in the past", rule="period_in_past",
                            errors={"window.start": ["must not be in the past"]},
                            params={"earliest_start": now.isoformat()})


def check_upscale(environment_id: str, window: tuple[datetime, datetime], upscale: UpscaleFacts | None,
                  cited: str) -> None:
    """The upscale a load test names must be a live temporary upscale of the same environment
    whose period covers the window."""
    fits = (upscale is not None and upscale.type == TicketType.UPSCALE and upscale.status not in ENDED
            and upscale.environment_id == environment_id and upscale.period is not None
            and upscale.period[0] <= window[0] and window[1] <= upscale.period[1])
    if not fits:
        raise RuleViolation(
            "upscale_ticket_id must name an open temporary upscale of the same environment whose "
            "period covers the load test's window", rule="load_test_upscale_mismatch",
            errors={"upscale_ticket_id": ["no such upscale covering the window"]},
            params={"upscale_ticket_id": cited})
