"""Verification depth: a prod change repeats completed identical changes on the stages the
approval policy names (``verify_on``: stage, or dev and stage). Pure; facts come as arguments."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from service.domain.errors import RuleViolation
from service.domain.hosting import (
    EnvironmentFacts, Stage, TicketType, VerificationFacts, needs_staging_verification,
)

RULE = "prod_requires_staging_verification"


def check_verification(
    env: EnvironmentFacts,
    change: Mapping[str, Any],
    cited: Sequence[tuple[str, VerificationFacts | None]],
    *,
    required: Sequence[Stage] = (Stage.STAGE,),
    stages_in_account: frozenset[Stage] = frozenset(Stage),
) -> None:
    """``cited`` pairs each id given in ``verified_on`` with what the registry knows of it
    (None: no such ticket in this account). Raises RuleViolation naming what is missing."""
    if not needs_staging_verification(env):
        return
    problem = _problem(env, change, cited, tuple(required), stages_in_account)
    if problem:
        where = " and ".join(stage.value for stage in required)
        raise RuleViolation(
            f"a change to this environment must first be completed on {_words(required)}: {problem}",
            rule=RULE, errors={"verified_on": [problem]}, params={"verify_on": where},
        )


def _words(required: Sequence[Stage]) -> str:
    return "staging" if tuple(required) == (Stage.STAGE,) else " and ".join(s.value for s in required)


def _problem(env: EnvironmentFacts, change: Mapping[str, Any],
             cited: Sequence[tuple[str, VerificationFacts | None]], required: tuple[Stage, ...],
             stages_in_account: frozenset[Stage]) -> str | None:
    absent = [stage.value for stage in required if stage not in stages_in_account]
    if absent:
        return (f"this account has no {' or '.join(absent)} environment, and prod changes must be "
                f"verified on {' and '.join(s.value for s in required)} first; ask support to add one")
    if not cited:
        return ("name the completed staging ticket in verified_on" if required == (Stage.STAGE,)
                else f"name the completed {' and '.join(s.value for s in required)} tickets in verified_on")
    seen: dict[Stage, str] = {}
    for ticket_id, facts in cited:
        problem = _ticket_problem(env, change, facts, required)
        if problem:
            return problem if len(cited) == 1 else f"{ticket_id}: {problem}"
        if facts.stage in seen:
            return f"{seen[facts.stage]} and {ticket_id} are both on {facts.stage.value}; cite one per stage"
        seen[facts.stage] = ticket_id
    missing = [stage.value for stage in required if stage not in seen]
    if missing:
        return f"also name the completed {' and '.join(missing)} ticket with the same change"
    return None


def _ticket_problem(env: EnvironmentFacts, change: Mapping[str, Any], facts: VerificationFacts | None,
                    required: tuple[Stage, ...]) -> str | None:
    if facts is None or facts.account_id != env.account_id:
        return "no such ticket in this account"
    if facts.type is not TicketType.CHANGE:
        return "the named ticket is not a change request"
    if facts.stage not in required:
        stages = " or ".join(stage.value for stage in required)
        return f"the named ticket is not for a {stages} environment"
    if facts.status != "completed":
        return f"the named ticket is {facts.status}, not completed"
    if dict(facts.change or {}) != dict(change):
        return "the named ticket made a different change"
    return None
