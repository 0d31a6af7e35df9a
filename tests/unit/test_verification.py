"""Verification depth: which completed changes a prod change must cite, checked without I/O."""
from __future__ import annotations

import pytest

from service.domain.errors import RuleViolation
from service.domain.hosting import EnvironmentFacts, Stage, TicketType, VerificationFacts
from service.domain.verification import check_verification

PROD = EnvironmentFacts(id="p", account_id="acc", stage=Stage.PROD)
CHANGE = {"kind": "data_import", "parameters": {"source": "s3://x"}}
BOTH = (Stage.DEV, Stage.STAGE)


def done(ticket_id: str, stage: Stage, **overrides: object) -> tuple[str, VerificationFacts]:
    facts = dict(id=ticket_id, account_id="acc", type=TicketType.CHANGE, status="completed",
                 stage=stage, change=CHANGE)
    facts.update(overrides)
    return ticket_id, VerificationFacts(**facts)  # type: ignore[arg-type]


def problem(cited, **kw) -> str:
    with pytest.raises(RuleViolation) as caught:
        check_verification(PROD, CHANGE, cited, **kw)
    assert caught.value.rule == "prod_requires_staging_verification"
    return caught.value.extra["errors"]["verified_on"][0]


def test_default_depth_takes_one_completed_identical_stage_change() -> None:
    check_verification(PROD, CHANGE, [done("s", Stage.STAGE)])
    assert problem([done("d", Stage.DEV)]) == "the named ticket is not for a stage environment"


def test_dev_and_stage_depth_needs_both_in_any_order() -> None:
    check_verification(PROD, CHANGE, [done("s", Stage.STAGE), done("d", Stage.DEV)], required=BOTH)
    assert problem([done("s", Stage.STAGE)], required=BOTH) == \
        "also name the completed dev ticket with the same change"
    assert problem([], required=BOTH) == "name the completed dev and stage tickets in verified_on"


def test_an_account_without_dev_is_told_so_rather_than_let_through() -> None:
    message = problem([done("s", Stage.STAGE)], required=BOTH,
                      stages_in_account=frozenset({Stage.STAGE, Stage.PROD}))
    assert message.startswith("this account has no dev environment")


@pytest.mark.parametrize(("cited", "message"), [
    ([("x", None)], "no such ticket in this account"),
    ([done("s", Stage.STAGE, status="failed")], "the named ticket is failed, not completed"),
    ([done("s", Stage.STAGE, change={"kind": "config", "parameters": {}})],
     "the named ticket made a different change"),
    ([done("s", Stage.STAGE, type=TicketType.UPSCALE)], "the named ticket is not a change request"),
    ([done("s", Stage.STAGE, account_id="other")], "no such ticket in this account"),
])
def test_each_cited_ticket_must_qualify(cited, message) -> None:
    assert problem(cited) == message


def test_environments_that_need_no_verification_pass() -> None:
    stage_env = EnvironmentFacts(id="s", account_id="acc", stage=Stage.STAGE)
    check_verification(stage_env, CHANGE, [], required=BOTH)
