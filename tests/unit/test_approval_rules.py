"""The approval policy: rules read strictly from plain data, the first match decides."""
from __future__ import annotations

from datetime import timedelta

import pytest

from service.adapters.policy_file import parse_text
from service.domain.approval_policy import (
    Approval, ApprovalPolicy, PolicyError, RequestFacts, check_lead_time, to_data,
)
from service.domain.approval_policy_parse import parse_policy
from service.domain.errors import RuleViolation
from service.domain.hosting import Stage, TicketType
from tests.helpers import utc

NOW = utc(2030, 1, 1, 12)


def request(type_: str = "upscale", stage: str = "stage", *, days: float | None = None,
            kind: str | None = None, accounts: tuple[str, ...] = ("acc-1",)) -> RequestFacts:
    period = (NOW + timedelta(days=1), NOW + timedelta(days=1 + days)) if days is not None else None
    return RequestFacts(type=TicketType(type_), stage=Stage(stage), account_ids=frozenset(accounts),
                        change_kind=kind, period=period)


def policy(*rules: dict) -> ApprovalPolicy:
    return parse_policy({"rules": list(rules)})


def test_without_rules_every_request_needs_one_support_approval() -> None:
    decision = ApprovalPolicy().decide(request())
    assert decision.approval is Approval.SINGLE
    assert decision.approvals_needed == 1
    assert decision.rule is None
    assert decision.min_notice_hours is None
    assert decision.verify_on == (Stage.STAGE,)


def test_first_matching_rule_wins_over_later_ones() -> None:
    rules = policy({"name": "prod", "match": {"stage": "prod"}, "approval": "dual"},
                   {"name": "all", "approval": "auto"},
                   {"name": "never", "match": {"stage": "prod"}, "approval": "single"})
    assert rules.decide(request("change", "prod")).rule == "prod"
    assert rules.decide(request("change", "prod")).approval is Approval.DUAL
    assert rules.decide(request("upscale", "stage")).rule == "all"
    assert rules.decide(request("upscale", "stage")).approval is Approval.AUTO


def test_a_rule_without_a_name_is_called_by_its_position() -> None:
    rules = policy({"match": {"stage": "dev"}, "approval": "single"}, {"approval": "auto"})
    assert rules.decide(request(stage="stage")).rule == "2"


@pytest.mark.parametrize(("match", "fits", "misses"), [
    ({"type": "change"}, request("change"), request("upscale")),
    ({"type": ["change", "upscale"]}, request("upscale"), None),
    ({"stage": "stage"}, request(stage="stage"), request(stage="dev")),
    ({"stage": ["dev", "stage"]}, request(stage="dev"), request(stage="prod")),
    ({"change_kind": "data_import"}, request("change", kind="data_import"), request("change", kind="config")),
    ({"change_kind": "integration"}, request("change", kind="integration"), request("upscale")),
    ({"temporary": True}, request(days=2), request()),
    ({"temporary": False}, request(), request(days=2)),
    ({"max_days": 3}, request(days=3), request(days=3.01)),
    ({"max_days": 3}, request(days=0.5), request()),
    ({"account": "ext-42"}, request(accounts=("acc-1", "ext-42")), request(accounts=("acc-1",))),
    ({"account": ["acc-9", "acc-1"]}, request(accounts=("acc-1",)), request(accounts=("acc-2",))),
    ({"type": "upscale", "stage": "stage", "temporary": True, "max_days": 7},
     request(days=7), request(stage="prod", days=7)),
])
def test_each_match_key_selects_the_requests_it_names(match, fits, misses) -> None:
    rules = policy({"name": "r", "match": match, "approval": "auto"})
    assert rules.decide(fits).approval is Approval.AUTO
    if misses is not None:
        assert rules.decide(misses).approval is Approval.SINGLE


def test_effects_reach_the_decision() -> None:
    rules = policy({"name": "prod changes", "match": {"stage": "prod"}, "approval": "dual",
                    "min_notice_hours": 48, "verify_on": ["stage", "dev"]})
    decision = rules.decide(request("change", "prod"))
    assert decision.approval is Approval.DUAL
    assert decision.approvals_needed == 2
    assert decision.min_notice_hours == 48
    assert decision.verify_on == (Stage.DEV, Stage.STAGE)
    assert policy({"approval": "auto"}).decide(request()).approvals_needed == 0


def test_a_period_starting_before_the_notice_is_refused_with_the_earliest_start() -> None:
    decision = policy({"approval": "single", "min_notice_hours": 24}).decide(request(days=1))
    with pytest.raises(RuleViolation) as caught:
        check_lead_time(decision, NOW + timedelta(hours=23, minutes=59), now=NOW)
    assert caught.value.rule == "lead_time"
    assert caught.value.extra["errors"] == {"period.start": ["must be at or after 2030-01-02T12:00:00Z"]}
    assert "2030-01-02T12:00:00Z" in caught.value.detail
    check_lead_time(decision, NOW + timedelta(hours=24), now=NOW)


def test_a_rule_without_approval_asks_for_one_support_approval_as_no_policy_does() -> None:
    rules = parse_text("rules:\n  - name: notice only\n    min_notice_hours: 24\n")

    decision = rules.decide(request(days=1))
    assert (decision.approval, decision.rule, decision.min_notice_hours) == \
        (Approval.SINGLE, "notice only", 24)
    assert decision.approval == ApprovalPolicy().decide(request()).approval


def test_no_notice_is_needed_without_min_notice_hours() -> None:
    check_lead_time(ApprovalPolicy().decide(request()), NOW, now=NOW)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("rules:\n  - name: a\n    approval: sometimes\n", 3, "auto, single or dual"),
    ("rules:\n  - name: a\n    match:\n      stage: qa\n    approval: auto\n", 4, "'qa'"),
    ("rules:\n  - name: a\n    match: {colour: red}\n    approval: auto\n", 3, "unknown key 'colour'"),
    ("rules:\n  - name: a\n    approval: auto\n    notice: 3\n", 4, "unknown key 'notice'"),
    ("rules:\n  - approval: auto\n    min_notice_hours: -1\n", 3, "at least 0"),
    ("rules:\n  - approval: auto\n    min_notice_hours: soon\n", 3, "number"),
    ("rules:\n  - approval: auto\n    match: {max_days: true}\n", 3, "number"),
    ("rules:\n  - approval: auto\n    match: {temporary: yes please}\n", 3, "true or false"),
    ("rules:\n  - approval: auto\n    verify_on: [prod]\n", 3, "[dev, stage]"),
    ("rules:\n  - approval: auto\n    match:\n      account: []\n", 4, "account"),
    ("rules:\n  - name: x\n    approval: auto\n  - name: x\n    approval: dual\n", 4, "used twice"),
    ("rules:\n  - approval: auto\n    approval: dual\n", 3, "appears twice"),
    ("rules:\n  - approval: auto\n   match: {}\n", 3, "not valid YAML"),
    ("rules: {approval: auto}\n", 1, "list"),
    ("- approval: auto\n", 1, "mapping"),
    ("version: 2\nrules: []\n", 1, "unknown key 'version'"),
])
def test_an_invalid_policy_is_refused_naming_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_text(text)
    assert caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")
    assert words in str(caught.value)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(PolicyError, match="mapping"):
        parse_text("")


def test_plain_data_round_trips() -> None:
    rules = policy({"name": "a", "match": {"stage": ["dev", "stage"], "account": "x"},
                    "approval": "auto", "min_notice_hours": 1.5},
                   {"name": "b", "approval": "dual", "verify_on": ["dev", "stage"]})
    assert parse_policy(to_data(rules)) == rules


def test_the_policy_approves_alone_only_upscales_whose_every_component_is_capped() -> None:
    from service.domain.approval_policy import within_every_cap
    from service.domain.hosting import EnvironmentFacts

    env = EnvironmentFacts(id="e", account_id="a", stage=Stage.STAGE, caps={"yves": "xlarge"})
    assert within_every_cap(env, [{"component": "yves", "size": "large"}])
    assert not within_every_cap(env, [{"component": "yves", "size": "large"},
                                      {"component": "zed", "size": "large"}])
    assert within_every_cap(env, None)  # a change request has no sizes to cap


def test_the_same_engineer_cannot_approve_twice() -> None:
    from service.domain.approval_policy import ensure_second_approver
    from service.domain.errors import Conflict

    ensure_second_approver(["u1"], "u2")
    with pytest.raises(Conflict) as caught:
        ensure_second_approver(["u1"], "u1")
    assert caught.value.rule == "already_approved"
