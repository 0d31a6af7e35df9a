"""The hosting rules, on plain data: no database, the time passed in as ``now``."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from service.domain import hosting
from service.domain.errors import CustomerOnly, RuleViolation
from service.domain.verification import check_verification
from service.domain.hosting import (
    AccountKind, EnvironmentFacts, Stage, TicketType, VerificationFacts,
    check_period, check_resources, check_upscale, ensure_may_file, ensure_upscale_allowed,
)

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
ACCOUNT = "acct-a"
CHANGE = {"kind": "config", "parameters": {"PHP_MEMORY_LIMIT": "1G"}}
YVES_LARGE = [{"component": "yves", "size": "large"}]


def env(stage: Stage, **overrides: Any) -> EnvironmentFacts:
    facts: dict[str, Any] = {"id": f"env-{stage.value}", "account_id": ACCOUNT, "stage": stage,
                             "sizes": {"yves": "medium"}}
    facts.update(overrides)
    return EnvironmentFacts(**facts)


def staging_change(**overrides: Any) -> VerificationFacts:
    facts: dict[str, Any] = {"id": "T-stage", "account_id": ACCOUNT, "type": TicketType.CHANGE,
                             "status": "completed", "stage": Stage.STAGE, "change": dict(CHANGE)}
    facts.update(overrides)
    return VerificationFacts(**facts)


def rule_of(call: Any, *args: Any, **kwargs: Any) -> RuleViolation:
    with pytest.raises(RuleViolation) as raised:
        call(*args, **kwargs)
    return raised.value


# --- who may file -------------------------------------------------------------------------

def test_customer_may_file() -> None:
    ensure_may_file(AccountKind.CUSTOMER)
    ensure_may_file("customer")


@pytest.mark.parametrize("kind", ["partner", "provider"])
def test_only_customers_may_file_and_are_told_the_customer_must(kind: str) -> None:
    with pytest.raises(CustomerOnly) as raised:
        ensure_may_file(kind)

    assert raised.value.rule == "customer_only"
    assert "customer" in raised.value.detail and "must file" in raised.value.detail


# --- which stages may be scaled up --------------------------------------------------------

def test_dev_cannot_be_scaled_up() -> None:
    assert rule_of(ensure_upscale_allowed, env(Stage.DEV)).rule == "dev_not_scalable"


def test_prod_autoscales_so_upscale_is_refused() -> None:
    problem = rule_of(ensure_upscale_allowed, env(Stage.PROD))

    assert problem.rule == "prod_autoscales"
    assert "change request" in problem.detail


def test_stage_may_be_scaled_up() -> None:
    ensure_upscale_allowed(env(Stage.STAGE))
    check_upscale(env(Stage.STAGE), YVES_LARGE, None, now=NOW)


def test_contract_override_lets_dev_scale_up() -> None:
    check_upscale(env(Stage.DEV, upscale_allowed=True), YVES_LARGE, None, now=NOW)


def test_contract_override_lets_prod_scale_up() -> None:
    check_upscale(env(Stage.PROD, upscale_allowed=True), YVES_LARGE, None, now=NOW)


def test_contract_override_refuses_stage_upscale() -> None:
    problem = rule_of(check_upscale, env(Stage.STAGE, upscale_allowed=False), YVES_LARGE, None, now=NOW)

    assert problem.rule == "upscale_not_allowed"


# --- sizes and caps -----------------------------------------------------------------------

@pytest.mark.parametrize("size", ["medium", "small"])
def test_size_must_be_larger_than_current(size: str) -> None:
    resources = [{"component": "zed", "size": "large"}, {"component": "yves", "size": size}]

    problem = rule_of(check_resources, env(Stage.STAGE), resources)

    assert problem.rule == "size_not_larger"
    assert list(problem.extra["errors"]) == ["resources.1.size"]
    assert "already medium" in problem.extra["errors"]["resources.1.size"][0]


def test_component_without_recorded_size_counts_as_small() -> None:
    problem = rule_of(check_resources, env(Stage.STAGE), [{"component": "search", "size": "small"}])

    assert problem.rule == "size_not_larger"
    check_resources(env(Stage.STAGE), [{"component": "search", "size": "medium"}])


def test_size_above_the_contract_cap_is_over_contract_limit() -> None:
    facts = env(Stage.STAGE, caps={"yves": "large"})
    resources = [{"component": "zed", "size": "medium"}, {"component": "yves", "size": "xlarge"}]

    problem = rule_of(check_resources, facts, resources)

    assert problem.rule == "over_contract_limit"
    assert problem.extra["errors"] == {"resources.1.size": ["the contract caps yves at large"]}


def test_size_equal_to_the_cap_is_allowed() -> None:
    check_resources(env(Stage.STAGE, caps={"yves": "large"}), YVES_LARGE)


def test_every_offending_resource_is_named() -> None:
    facts = env(Stage.STAGE, caps={"zed": "medium"})
    resources = [{"component": "yves", "size": "medium"}, {"component": "zed", "size": "2xlarge"}]

    problem = rule_of(check_resources, facts, resources)

    assert set(problem.extra["errors"]) == {"resources.0.size", "resources.1.size"}
    assert problem.rule == "over_contract_limit"


# --- temporary upscale periods ------------------------------------------------------------

@pytest.mark.parametrize("length", [timedelta(0), timedelta(hours=-1)])
def test_period_must_end_after_it_starts(length: timedelta) -> None:
    start = NOW + timedelta(days=1)

    problem = rule_of(check_period, start, start + length, now=NOW)

    assert problem.rule == "period_invalid"
    assert "period.end" in problem.extra["errors"]


def test_period_must_not_start_in_the_past() -> None:
    problem = rule_of(check_period, NOW - timedelta(hours=1), NOW + timedelta(hours=1), now=NOW)

    assert problem.rule == "period_in_past"
    assert "period.start" in problem.extra["errors"]


def test_period_starting_now_or_later_is_accepted() -> None:
    check_period(NOW, NOW + timedelta(hours=2), now=NOW)
    check_period(NOW + timedelta(days=3), NOW + timedelta(days=4), now=NOW)


def test_past_is_judged_by_the_given_time_not_the_clock() -> None:
    start = datetime(2001, 1, 1, tzinfo=timezone.utc)

    check_period(start, start + timedelta(hours=1), now=start)


def test_upscale_checks_the_period() -> None:
    start = NOW + timedelta(days=1)

    problem = rule_of(check_upscale, env(Stage.STAGE), YVES_LARGE, (start, start), now=NOW)

    assert problem.rule == "period_invalid"


# --- prod changes need a verified staging change ------------------------------------------

def check_change(facts: EnvironmentFacts, change: dict[str, Any], verified: VerificationFacts | None,
                 *, verified_on_given: bool) -> None:
    """The default depth (stage only), citing one ticket or none."""
    cited = [(verified.id if verified else "T-unknown", verified)] if verified_on_given else []
    check_verification(facts, change, cited)


def verification_rule(verified: VerificationFacts | None, *, given: bool = True,
                      change: dict[str, Any] = CHANGE, facts: EnvironmentFacts | None = None) -> RuleViolation:
    problem = rule_of(check_change, facts or env(Stage.PROD), change, verified, verified_on_given=given)
    assert problem.rule == "prod_requires_staging_verification"
    assert "verified_on" in problem.extra["errors"]
    return problem


def test_prod_change_without_verified_on_is_refused() -> None:
    problem = verification_rule(None, given=False)

    assert "verified_on" in problem.extra["errors"]["verified_on"][0]


def test_prod_change_naming_an_unknown_ticket_is_refused() -> None:
    assert verification_rule(None).extra["errors"]["verified_on"] == ["no such ticket in this account"]


def test_prod_change_naming_another_accounts_ticket_is_refused() -> None:
    problem = verification_rule(staging_change(account_id="acct-b"))

    assert problem.extra["errors"]["verified_on"] == ["no such ticket in this account"]


def test_prod_change_naming_an_upscale_is_refused() -> None:
    problem = verification_rule(staging_change(type=TicketType.UPSCALE, change=None))

    assert "not a change request" in problem.extra["errors"]["verified_on"][0]


@pytest.mark.parametrize("stage", [Stage.DEV, Stage.PROD])
def test_prod_change_naming_a_change_not_on_stage_is_refused(stage: Stage) -> None:
    problem = verification_rule(staging_change(stage=stage))

    assert "not for a stage environment" in problem.extra["errors"]["verified_on"][0]


@pytest.mark.parametrize("status", ["pending_approval", "approved", "provisioning", "failed",
                                    "rejected", "cancelled"])
def test_prod_change_naming_an_unfinished_staging_change_is_refused(status: str) -> None:
    problem = verification_rule(staging_change(status=status))

    assert f"is {status}, not completed" in problem.extra["errors"]["verified_on"][0]


@pytest.mark.parametrize("other", [
    {"kind": "config", "parameters": {"PHP_MEMORY_LIMIT": "2G"}},
    {"kind": "domain", "parameters": {"PHP_MEMORY_LIMIT": "1G"}},
])
def test_prod_change_naming_a_different_staging_change_is_refused(other: dict[str, Any]) -> None:
    problem = verification_rule(staging_change(change=other))

    assert "different change" in problem.extra["errors"]["verified_on"][0]


def test_prod_change_repeating_a_completed_staging_change_is_accepted() -> None:
    check_change(env(Stage.PROD), CHANGE, staging_change(), verified_on_given=True)


@pytest.mark.parametrize("stage", [Stage.DEV, Stage.STAGE])
def test_changes_outside_prod_need_no_verification(stage: Stage) -> None:
    check_change(env(stage), CHANGE, None, verified_on_given=False)


def test_override_can_require_verification_outside_prod() -> None:
    verification_rule(None, given=False, facts=env(Stage.STAGE, requires_staging_verification=True))


def test_override_can_waive_verification_on_prod() -> None:
    check_change(env(Stage.PROD, requires_staging_verification=False), CHANGE, None,
                 verified_on_given=False)


# --- what a temporary upscale gives back at its end ------------------------------------------


def test_the_revert_gives_back_every_component_still_at_the_size_it_set() -> None:
    give_back, keep = hosting.revert_plan({"yves": "medium", "zed": "small"},
                                         {"yves": "large", "zed": "medium"},
                                         {"yves": "large", "zed": "medium", "glue": "xlarge"})

    assert give_back == {"yves": "medium", "zed": "small"} and keep == {}


def test_the_revert_keeps_a_component_a_later_request_changed() -> None:
    give_back, keep = hosting.revert_plan({"yves": "medium", "zed": "small"},
                                         {"yves": "large", "zed": "medium"},
                                         {"yves": "xlarge", "zed": "medium"})

    assert give_back == {"zed": "small"} and keep == {"yves": "xlarge"}

