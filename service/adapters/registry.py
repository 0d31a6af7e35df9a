"""The environment registry: accounts' environments and their sizing, as the hosting rules see them."""
from __future__ import annotations

from service.domain import hosting
from service.adapters.models import Environment


FACT_KEYS = ("id", "account_id", "name", "stage", "sizes", "caps", "upscale_allowed",
             "requires_staging_verification")
"""The environment's columns that the hosting rules, the approval policy, the staff alert and a
quote read: statements that read an environment for them select these, not the entity."""


def environment_facts(env: Environment) -> hosting.EnvironmentFacts:
    return hosting.EnvironmentFacts(
        id=env.id, account_id=env.account_id, stage=hosting.Stage(env.stage),
        sizes=dict(env.sizes or {}), caps=dict(env.caps or {}),
        upscale_allowed=env.upscale_allowed,
        requires_staging_verification=env.requires_staging_verification,
    )


def default_sizes(given: dict[str, str] | None = None) -> dict[str, str]:
    sizes = {component: hosting.DEFAULT_SIZE for component in hosting.COMPONENTS}
    sizes.update(given or {})
    return sizes
