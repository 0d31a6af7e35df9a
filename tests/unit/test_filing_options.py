"""What may be asked for, in advance: the same answers the filing checks give."""
from __future__ import annotations

from hypothesis import given, strategies as st

from service.domain.hosting import (
    COMPONENTS, SIZES, AccountKind, EnvironmentFacts, Stage, TicketType, component_options, filing_refusal,
    size_rank,
)

FACTS = st.builds(
    EnvironmentFacts, id=st.just("env"), account_id=st.just("acct"), stage=st.sampled_from(list(Stage)),
    sizes=st.dictionaries(st.sampled_from(COMPONENTS), st.sampled_from(SIZES)),
    caps=st.dictionaries(st.sampled_from(COMPONENTS), st.sampled_from(SIZES)),
    upscale_allowed=st.sampled_from([None, True, False]),
)


@given(FACTS)
def test_raisable_sizes_are_above_current_and_within_the_cap(env: EnvironmentFacts) -> None:
    for option in component_options(env):
        cap = env.caps.get(option.component, SIZES[-1])
        expected = [s for s in SIZES if size_rank(env.current_size(option.component)) < size_rank(s) <= size_rank(cap)]
        assert list(option.raisable_sizes) == expected
        assert option.current_size == env.current_size(option.component)


def test_only_customers_may_file() -> None:
    env = EnvironmentFacts(id="e", account_id="a", stage=Stage.STAGE)
    assert filing_refusal(AccountKind.CUSTOMER, env, TicketType.UPSCALE) is None
    for kind in (AccountKind.PARTNER, AccountKind.PROVIDER):
        refused = filing_refusal(kind, env, TicketType.CHANGE)
        assert refused is not None and refused.rule == "customer_only"


def test_stage_defaults_and_contract_overrides_decide_upscales() -> None:
    def rule(stage: Stage, override: bool | None) -> str | None:
        env = EnvironmentFacts(id="e", account_id="a", stage=stage, upscale_allowed=override)
        refused = filing_refusal(AccountKind.CUSTOMER, env, TicketType.UPSCALE)
        return refused.rule if refused else None

    assert rule(Stage.DEV, None) == "dev_not_scalable"
    assert rule(Stage.PROD, None) == "prod_autoscales"
    assert rule(Stage.STAGE, None) is None
    assert rule(Stage.DEV, True) is None
    assert rule(Stage.STAGE, False) == "upscale_not_allowed"
