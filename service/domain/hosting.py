"""Hosting policy: who may file what, for which environment. Pure rules; time is an argument."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Callable, Mapping, Sequence

from service.domain.errors import CustomerOnly, DomainError, RuleViolation


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
    LOAD_TEST = "load_test"


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
        raise CustomerOnly(MUST_BE_FILED_BY_CUSTOMER, params={"kind": str(kind)})


def check_open_ticket_cap(open_tickets: int, cap: int) -> None:
    """An account may hold at most ``cap`` open requests (0: no cap)."""
    if cap and open_tickets >= cap:
        raise RuleViolation(
            f"this account already has {open_tickets} open requests, the most it may have at once; "
            "wait for some to complete or cancel one",
            rule="open_ticket_limit", params={"open_tickets": open_tickets, "max_open": cap},
        )


def ensure_upscale_allowed(env: EnvironmentFacts) -> None:
    if env.upscale_allowed is True:
        return
    if env.upscale_allowed is False:
        raise RuleViolation(
            "the contract of this environment does not allow upscales", rule="upscale_not_allowed",
            params={"stage": env.stage.value},
        )
    if env.stage is Stage.DEV:
        raise RuleViolation(
            "dev environments have no autoscaling and cannot be increased", rule="dev_not_scalable",
            params={"stage": env.stage.value},
        )
    if env.stage is Stage.PROD:
        raise RuleViolation(
            "prod environments autoscale; file a change request instead", rule="prod_autoscales",
            params={"stage": env.stage.value},
        )


def check_resources(env: EnvironmentFacts, resources: Sequence[Mapping[str, str]]) -> None:
    """Each requested size must grow the component and stay within the contract's cap."""
    errors: dict[str, list[str]] = {}
    rules: list[str] = []
    refused: list[dict[str, object]] = []
    for index, item in enumerate(resources):
        component, size = item["component"], item["size"]
        current, cap = env.current_size(component), env.caps.get(component)
        where = f"resources.{index}.size"
        if size_rank(size) <= size_rank(current):
            errors[where] = [f"{component} is already {current}; the new size must be larger"]
            rules.append("size_not_larger")
        elif cap is not None and size_rank(size) > size_rank(cap):
            errors[where] = [f"the contract caps {component} at {cap}"]
            rules.append("over_contract_limit")
        else:
            continue
        refused.append({"index": index, "component": component, "current_size": current,
                        "requested_size": size, "cap": cap})
    if errors:
        rule = "over_contract_limit" if "over_contract_limit" in rules else rules[0]
        raise RuleViolation("; ".join(m for ms in errors.values() for m in ms), rule=rule,
                            errors=errors, params={"resources": refused})


def check_period(start: datetime, end: datetime, *, now: datetime) -> None:
    if end <= start:
        raise RuleViolation(
            "the period must end after it starts",
            rule="period_invalid",
            errors={"period.end": ["must be after period.start"]},
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
    if start < now - PERIOD_START_SKEW:
        raise RuleViolation(
            "the period must not start in the past",
            rule="period_in_past",
            errors={"period.start": ["must not be in the past"]},
            params={"earliest_start": now.isoformat()},
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


# --- what a caller may ask for: the checks above, asked in advance --------------------------

@dataclass(frozen=True)
class Refusal:
    rule: str
    detail: str


def refusal_of(check: Callable[[], None]) -> Refusal | None:
    """The refusal a check raises, or ``None`` when it passes."""
    try:
        check()
    except DomainError as exc:
        return Refusal(rule=exc.rule, detail=exc.detail)
    return None


def filing_refusal(kind: AccountKind | str, env: EnvironmentFacts, type_: TicketType) -> Refusal | None:
    """Why ``kind`` may not file ``type_`` for ``env`` at all, whatever the request says."""
    refused = refusal_of(lambda: ensure_may_file(kind))
    if refused is None and type_ is TicketType.UPSCALE:
        refused = refusal_of(lambda: ensure_upscale_allowed(env))
    return refused


@dataclass(frozen=True)
class ComponentOptions:
    component: str
    current_size: str
    cap: str | None
    raisable_sizes: tuple[str, ...]


def component_options(env: EnvironmentFacts) -> tuple[ComponentOptions, ...]:
    """Per component, the sizes an upscale may ask for: exactly those ``check_resources`` accepts."""
    return tuple(
        ComponentOptions(
            component=component, current_size=env.current_size(component), cap=env.caps.get(component),
            raisable_sizes=tuple(size for size in SIZES if refusal_of(
                lambda size=size, component=component: check_resources(
                    env, [{"component": component, "size": size}])) is None),
        )
        for component in COMPONENTS
    )


def revert_plan(baseline: Mapping[str, str], raised_to: Mapping[str, str],
                current: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """What a temporary upscale gives back at its end: each component it raised returns to its
    size before the upscale, unless a later request changed it since (it no longer has the size
    this upscale set); those keep their size. Returns (give back, keep)."""
    give_back: dict[str, str] = {}
    keep: dict[str, str] = {}
    for component, before in sorted(baseline.items()):
        now_size = current.get(component, DEFAULT_SIZE)
        if now_size == raised_to.get(component, now_size):
            give_back[component] = before
        else:
            keep[component] = now_size
    return give_back, keep
