"""Approval policy: ordered rules, the first whose ``match`` fits a request decides.

Pure: the policy arrives as plain data (what a YAML file holds) with an optional map from
each key's path to its line in the file, so that every complaint can name the line at fault.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Mapping, Sequence

from service.domain.errors import Conflict, RuleViolation
from service.domain.hosting import CHANGE_KINDS, EnvironmentFacts, Stage, TicketType

Path = tuple[str | int, ...]


class Approval(StrEnum):
    AUTO = "auto"
    SINGLE = "single"
    DUAL = "dual"


APPROVALS_NEEDED = {Approval.AUTO: 0, Approval.SINGLE: 1, Approval.DUAL: 2}
VERIFY_ON_CHOICES: tuple[tuple[Stage, ...], ...] = ((Stage.STAGE,), (Stage.DEV, Stage.STAGE))
DEFAULT_VERIFY_ON: tuple[Stage, ...] = (Stage.STAGE,)
CHOICE_KEYS: dict[str, tuple[str, ...]] = {
    "type": tuple(t.value for t in TicketType),
    "stage": tuple(s.value for s in Stage),
    "change_kind": CHANGE_KINDS,
}
MATCH_KEYS = ("type", "stage", "change_kind", "temporary", "max_days", "account", "within_allowance")
RULE_KEYS = ("name", "match", "approval", "min_notice_hours", "verify_on")


class PolicyError(ValueError):
    """The policy file is not valid; the message names the line at fault when it is known."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class RequestFacts:
    """What a rule may look at in a request."""

    type: TicketType
    stage: Stage
    account_ids: frozenset[str]
    change_kind: str | None = None
    period: tuple[datetime, datetime] | None = None
    within_allowance: bool | None = None
    """An upscale that costs nothing beyond the included days (by the price list); None: not
    known (a change, or not yet quoted)."""


@dataclass(frozen=True)
class Match:
    type: frozenset[str] | None = None
    stage: frozenset[str] | None = None
    change_kind: frozenset[str] | None = None
    temporary: bool | None = None
    max_days: float | None = None
    account: frozenset[str] | None = None
    within_allowance: bool | None = None

    def fits(self, request: RequestFacts) -> bool:
        return all((
            self.type is None or request.type.value in self.type,
            self.stage is None or request.stage.value in self.stage,
            self.change_kind is None or request.change_kind in self.change_kind,
            self.temporary is None or self.temporary == (request.period is not None),
            self.max_days is None or _within_days(request.period, self.max_days),
            self.account is None or bool(self.account & request.account_ids),
            self.within_allowance is None or self.within_allowance == request.within_allowance,
        ))


def _within_days(period: tuple[datetime, datetime] | None, days: float) -> bool:
    return period is not None and period[1] - period[0] <= timedelta(days=days)


@dataclass(frozen=True)
class Rule:
    name: str
    match: Match = field(default_factory=Match)
    approval: Approval = Approval.SINGLE
    min_notice_hours: float | None = None
    verify_on: tuple[Stage, ...] | None = None


@dataclass(frozen=True)
class Decision:
    """What the policy asks of one request."""

    approval: Approval = Approval.SINGLE
    rule: str | None = None
    min_notice_hours: float | None = None
    verify_on: tuple[Stage, ...] = DEFAULT_VERIFY_ON

    @property
    def approvals_needed(self) -> int:
        return APPROVALS_NEEDED[self.approval]


@dataclass(frozen=True)
class ApprovalPolicy:
    rules: tuple[Rule, ...] = ()

    def decide(self, request: RequestFacts) -> Decision:
        """The first rule that fits decides; without one, a single support approval."""
        for rule in self.rules:
            if rule.match.fits(request):
                return Decision(approval=rule.approval, rule=rule.name,
                                min_notice_hours=rule.min_notice_hours,
                                verify_on=rule.verify_on or DEFAULT_VERIFY_ON)
        return Decision()


def check_lead_time(decision: Decision, start: datetime, *, now: datetime,
                    field: str = "period.start") -> None:
    """A period (or a request's ``apply_at``: ``field``) must start at least
    ``min_notice_hours`` after filing."""
    if not decision.min_notice_hours:
        return
    earliest = now + timedelta(hours=decision.min_notice_hours)
    if start < earliest:
        allowed = earliest.isoformat().replace("+00:00", "Z")
        raise RuleViolation(
            f"this request needs {decision.min_notice_hours:g} hours' notice; "
            f"the period may start at {allowed} at the earliest",
            rule="lead_time", params={"earliest_start": allowed},
            errors={field: [f"must be at or after {allowed}"]},
        )


def within_every_cap(env: EnvironmentFacts, resources: Sequence[Mapping[str, str]] | None) -> bool:
    """Whether the policy may approve on its own: an upscale only of components whose contract
    names a cap (sizes above a cap are refused anyway); without a cap a person decides."""
    return all(item["component"] in env.caps for item in resources or ())


def ensure_second_approver(approvers: Sequence[str], user_id: str) -> None:
    """Four eyes: the same person may not approve a ticket twice."""
    if user_id in approvers:
        raise Conflict("you have already approved this ticket; it needs another support engineer",
                       rule="already_approved")


def to_data(policy: ApprovalPolicy) -> dict[str, Any]:
    """The policy as plain data that ``parse_policy`` reads back to an equal policy."""
    return {"rules": [_rule_data(rule) for rule in policy.rules]}


def _rule_data(rule: Rule) -> dict[str, Any]:
    match: dict[str, Any] = {}
    for key in MATCH_KEYS:
        value = getattr(rule.match, key)
        if value is not None:
            match[key] = sorted(value) if isinstance(value, frozenset) else value
    data: dict[str, Any] = {"name": rule.name, "match": match, "approval": rule.approval.value}
    if rule.min_notice_hours is not None:
        data["min_notice_hours"] = rule.min_notice_hours
    if rule.verify_on is not None:
        data["verify_on"] = [stage.value for stage in rule.verify_on]
    return data

