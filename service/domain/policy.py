"""Hosting policy: who may file what, for which environment. Pure rules; time is an argument."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Mapping, Sequence

from service.domain.errors import CustomerOnly, RuleViolation


class AccountKind(StrEnum):
    CUSTOMER = "customer"
    PARTNER = "partner"
    PROVIDER = "provider"


class Stage(StrEnum):
    DEV = "dev"
    STAGE = "stage"
    PROD = "prod"


class TicketType(StrEnum):
    UPSCALE = "upscale"
    CHANGE = "change"


COMPONENTS: tuple[str, ...] = (
    "yves", "zed", "glue", "scheduler", "database", "search", "key_value_store", "broker",
)
SIZES: tuple[str, ...] = ("small", "medium", "large", "xlarge", "2xlarge")
CHANGE_KINDS: tuple[str, ...] = (
    "config", "service_version", "domain", "resources", "data_import", "integration",
)
DEFAULT_SIZE = "small"
PERIOD_START_SKEW = timedelta(seconds=60)
"""How far in the past a period may start, to absorb clock skew between client and server."""


def size_rank(size: str) -> int:
    return SIZES.index(size)


@dataclass(frozen=True)
class EnvironmentFacts:
    """What the registry knows about an environment, and the operator's overrides for it."""

    id: str
    account_id: str
    stage: Stage
    sizes: Mapping[str, str] = field(default_factory=dict)
    upscale_allowed: bool | None = None
    requires_staging_verification: bool | None = None
    caps: Mapping[str, str] = field(default_factory=dict)

    def current_size(self, component: str) -> str:
        return self.sizes.get(component, DEFAULT_SIZE)


@dataclass(frozen=True)
class VerificationFacts:
    """The ticket a prod change names in ``verified_on``, as the registry has it."""

    id: str
    account_id: str
    type: TicketType
    status: str
    stage: Stage
    change: Mapping[str, Any] | None


MUST_BE_FILED_BY_CUSTOMER = (
    "Only customers can request environment changes; "
    "the customer who owns this environment must file this request."
)


def ensure_may_file(kind: AccountKind | str) -> None:
    """Only customers file requests; partners and staff are refused for contractual reasons."""
    if AccountKind(kind) is not AccountKind.CUSTOMER:
        raise CustomerOnly(MUST_BE_FILED_BY_CUSTOMER)


def check_open_ticket_cap(open_tickets: int, cap: int) -> None:
    """An account may hold at most ``cap`` open requests (0: no cap)."""
    if cap and open_tickets >= cap:
        raise RuleViolation(
            f"this account already has {open_tickets} open requests, the most it may have at once; "
            "wait for some to complete or cancel one",
            rule="open_ticket_limit",
        )


def ensure_upscale_allowed(env: EnvironmentFacts) -> None:
    if env.upscale_allowed is True:
        return
    if env.upscale_allowed is False:
        raise RuleViolation(
            "the contract of this environment does not allow upscales", rule="upscale_not_allowed"
        )
    if env.stage is Stage.DEV:
        raise RuleViolation(
            "dev environments have no autoscaling and cannot be increased", rule="dev_not_scalable"
        )
    if env.stage is Stage.PROD:
        raise RuleViolation(
            "prod environments autoscale; file a change request instead", rule="prod_autoscales"
        )


def check_resources(env: EnvironmentFacts, resources: Sequence[Mapping[str, str]]) -> None:
    """Each requested size must grow the component and stay within the contract's cap."""
    errors: dict[str, list[str]] = {}
    rules: list[str] = []
    for index, item in enumerate(resources):
        component, size = item["component"], item["size"]
        current = env.current_size(component)
        where = f"resources.{index}.size"
        if size_rank(size) <= size_rank(current):
            errors[where] = [f"{component} is already {current}; the new size must be larger"]
            rules.append("size_not_larger")
            continue
        cap = env.caps.get(component)
        if cap is not None and size_rank(size) > size_rank(cap):
            errors[where] = [f"the contract caps {component} at {cap}"]
            rules.append("over_contract_limit")
    if errors:
        rule = "over_contract_limit" if "over_contract_limit" in rules else rules[0]
        raise RuleViolation("; ".join(m for ms in errors.values() for m in ms), rule=rule, errors=errors)


def check_period(start: datetime, end: datetime, *, now: datetime) -> None:
    if end <= start:
        raise RuleViolation(
            "the period must end after it starts",
            rule="period_invalid",
            errors={"period.end": ["must be after period.start"]},
        )
    if start < now - PERIOD_START_SKEW:
        raise RuleViolation(
            "the period must not start in the past",
            rule="period_in_past",
            errors={"period.start": ["must not be in the past"]},
        )


def check_upscale(
    env: EnvironmentFacts,
    resources: Sequence[Mapping[str, str]],
    period: tuple[datetime, datetime] | None,
    *,
    now: datetime,
) -> None:
    ensure_upscale_allowed(env)
    if period is not None:
        check_period(*period, now=now)
    check_resources(env, resources)


def needs_staging_verification(env: EnvironmentFacts) -> bool:
    if env.requires_staging_verification is not None:
        return env.requires_staging_verification
    return env.stage is Stage.PROD


def check_change(
    env: EnvironmentFacts,
    change: Mapping[str, Any],
    verified: VerificationFacts | None,
    *,
    verified_on_given: bool,
) -> None:
    """A prod change must name a completed change on a stage environment of the same account."""
    if not needs_staging_verification(env):
        return
    problem = _verification_problem(env, change, verified, verified_on_given)
    if problem:
        raise RuleViolation(
            f"a change to this environment must first be completed on staging: {problem}",
            rule="prod_requires_staging_verification",
            errors={"verified_on": [problem]},
        )


def _verification_problem(
    env: EnvironmentFacts,
    change: Mapping[str, Any],
    verified: VerificationFacts | None,
    verified_on_given: bool,
) -> str | None:
    if not verified_on_given:
        return "name the completed staging ticket in verified_on"
    if verified is None or verified.account_id != env.account_id:
        return "no such ticket in this account"
    if verified.type is not TicketType.CHANGE:
        return "the named ticket is not a change request"
    if verified.stage is not Stage.STAGE:
        return "the named ticket is not for a stage environment"
    if verified.status != "completed":
        return f"the named ticket is {verified.status}, not completed"
    if dict(verified.change or {}) != dict(change):
        return "the named ticket made a different change"
    return None
