"""The environment registry: accounts' environments and their sizing, as the hosting rules see them."""
from __future__ import annotations

from service.domain import policy
from service.models import Environment


def environment_facts(env: Environment) -> policy.EnvironmentFacts:
    return policy.EnvironmentFacts(
        id=env.id, account_id=env.account_id, stage=policy.Stage(env.stage),
        sizes=dict(env.sizes or {}), caps=dict(env.caps or {}),
        upscale_allowed=env.upscale_allowed,
        requires_staging_verification=env.requires_staging_verification,
    )


def default_sizes(given: dict[str, str] | None = None) -> dict[str, str]:
    sizes = {component: policy.DEFAULT_SIZE for component in policy.COMPONENTS}
    sizes.update(given or {})
    return sizes
